//! `ownership_transfers`: giving all of a member's contacts to a colleague
//! (or to nobody), worked in batches by any instance. See the migration for
//! why no claim is needed.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use crate::schema::{contacts, ownership_transfers, staff};

/// Contacts moved per transaction: small enough that a batch takes well
/// under the statement timeout and holds its row locks only briefly.
pub const BATCH: i64 = 2_000;

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = ownership_transfers, check_for_backend(diesel::pg::Pg))]
pub struct Transfer {
    pub id: i64,
    pub from_staff: i64,
    pub to_staff: Option<i64>,
    pub requested_by: Option<i64>,
    pub status: String,
    pub total: i64,
    pub moved: i64,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// How many contacts (trashed ones included) `staff_id` owns.
pub fn owned_by(conn: &mut PgConnection, staff_id: i64) -> QueryResult<i64> {
    contacts::table
        .filter(contacts::owner_id.eq(staff_id))
        .count()
        .get_result(conn)
}

/// Queues the transfer of everything `from` owns; `None` when they own
/// nothing.
pub fn queue(
    conn: &mut PgConnection,
    from: i64,
    to: Option<i64>,
    by: i64,
) -> QueryResult<Option<i64>> {
    let total = owned_by(conn, from)?;
    if total == 0 {
        return Ok(None);
    }
    diesel::insert_into(ownership_transfers::table)
        .values((
            ownership_transfers::from_staff.eq(from),
            ownership_transfers::to_staff.eq(to),
            ownership_transfers::requested_by.eq(by),
            ownership_transfers::total.eq(total),
        ))
        .returning(ownership_transfers::id)
        .get_result(conn)
        .map(Some)
}

/// The transfers still waiting or in progress, oldest first.
pub fn pending(conn: &mut PgConnection) -> QueryResult<Vec<Transfer>> {
    ownership_transfers::table
        .filter(ownership_transfers::status.eq("queued"))
        .order(ownership_transfers::id)
        .select(Transfer::as_select())
        .load(conn)
}

/// The latest transfer away from `staff_id`, for the account page.
pub fn latest_from(conn: &mut PgConnection, staff_id: i64) -> QueryResult<Option<Transfer>> {
    ownership_transfers::table
        .filter(ownership_transfers::from_staff.eq(staff_id))
        .order(ownership_transfers::id.desc())
        .select(Transfer::as_select())
        .first(conn)
        .optional()
}

#[derive(QueryableByName)]
struct Moved {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Moves the next batch of `t`, logging each contact's transfer, and marks
/// the transfer done when nothing is left. Returns how many moved.
pub fn run_batch(conn: &mut PgConnection, t: &Transfer) -> QueryResult<i64> {
    conn.transaction(|conn| {
        let name = |conn: &mut PgConnection, id: Option<i64>| -> QueryResult<String> {
            Ok(match id {
                Some(id) => staff::table
                    .find(id)
                    .select(staff::display_name)
                    .first(conn)?,
                None => String::new(),
            })
        };
        let from_name = name(conn, Some(t.from_staff))?;
        let to_name = name(conn, t.to_staff)?;
        // Rows another instance is moving right now are skipped, not waited for.
        let moved: Moved = diesel::sql_query(
            "WITH batch AS (SELECT id FROM contacts WHERE owner_id = $1 ORDER BY id LIMIT $2 \
                            FOR UPDATE SKIP LOCKED), \
                  moved AS (UPDATE contacts c SET owner_id = $3, version = c.version + 1, \
                              updated_at = now(), updated_by = $4 \
                            FROM batch WHERE c.id = batch.id RETURNING c.id, c.version), \
                  logged AS (INSERT INTO contact_changes \
                               (contact_id, staff_id, source, action, field, old_value, new_value, version) \
                             SELECT id, $4, 'bulk', 'transfer', 'Owner', $5, $6, version FROM moved \
                             RETURNING 1) \
             SELECT count(*) AS n FROM logged",
        )
        .bind::<BigInt, _>(t.from_staff)
        .bind::<BigInt, _>(BATCH)
        .bind::<Nullable<BigInt>, _>(t.to_staff)
        .bind::<Nullable<BigInt>, _>(t.requested_by)
        .bind::<Text, _>(&from_name)
        .bind::<Text, _>(&to_name)
        .get_result(conn)?;
        if moved.n > 0 {
            diesel::update(ownership_transfers::table.find(t.id))
                .set(ownership_transfers::moved.eq(ownership_transfers::moved + moved.n))
                .execute(conn)?;
        } else if owned_by(conn, t.from_staff)? == 0 {
            diesel::update(ownership_transfers::table.find(t.id))
                .set((
                    ownership_transfers::status.eq("done"),
                    ownership_transfers::finished_at.eq(Some(Utc::now())),
                ))
                .execute(conn)?;
        }
        Ok(moved.n)
    })
}

/// One batch of every pending transfer; true when any contact moved, so the
/// runner comes straight back for more.
pub fn work_pending(conn: &mut PgConnection) -> QueryResult<bool> {
    let mut moved = 0;
    for t in pending(conn)? {
        moved += run_batch(conn, &t)?;
    }
    Ok(moved > 0)
}
