//! Who sees which contacts. With the setting *Everyone* (the default, the
//! reference product's rule) every member sees every contact. With
//! *Restricted* an agent sees a contact they own, that is shared with them,
//! or whose enquiry they are handling; administrators see all. The rule is written once, as SQL, here: every
//! query that returns contacts applies it, never a filter in Rust afterwards.

use std::collections::HashSet;

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt};

use crate::schema::settings;

pub const EVERYONE: &str = "everyone";
pub const RESTRICTED: &str = "restricted";

/// A signed-in member as the rule needs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    pub id: i64,
    pub admin: bool,
}

impl Member {
    pub fn of(me: &crate::auth::CurrentStaff) -> Member {
        Member {
            id: me.staff.id,
            admin: me.staff.is_admin(),
        }
    }
}

/// The setting as it stands now; read on every request, so that a change
/// holds at once on every instance.
pub fn setting(conn: &mut PgConnection) -> QueryResult<String> {
    settings::table
        .select(settings::contact_visibility)
        .first(conn)
        .optional()
        .map(|v| v.unwrap_or_else(|| EVERYONE.to_string()))
}

pub fn set(conn: &mut PgConnection, value: &str, by: i64) -> QueryResult<()> {
    diesel::update(settings::table)
        .set((
            settings::contact_visibility.eq(value),
            settings::updated_by.eq(Some(by)),
            settings::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .map(drop)
}

/// `Some(member)` when `member` sees only the contacts the rule gives them;
/// `None` when they see every contact.
pub fn limited_to(conn: &mut PgConnection, member: Member) -> QueryResult<Option<i64>> {
    if member.admin {
        return Ok(None);
    }
    Ok((setting(conn)? == RESTRICTED).then_some(member.id))
}

/// SQL that is true for a contact row `alias` that member `$param` owns or
/// has been shared. Written as membership in the member's own contacts
/// (owned, from the owner index, and shared), so that the work grows with
/// what the member may see, not with the table: walking a million contacts
/// in name order for the few that are theirs took 300 ms and more. A contact
/// in the trash counts as not owned: the trash is for administrators.
pub fn predicate(alias: &str, param: usize) -> String {
    format!(
        "{alias}.id IN (SELECT vo.id FROM contacts vo WHERE vo.owner_id = ${param} AND vo.deleted_at IS NULL \
         UNION ALL SELECT vis.contact_id FROM contact_shares vis WHERE vis.staff_id = ${param} \
         UNION ALL {HANDLED} = ${param})"
    )
}

/// The contacts of enquiries a member handles; `= $n` completes it.
const HANDLED: &str =
    "SELECT vq.contact_id FROM enquiries vq WHERE vq.status = 'handling' AND vq.handler_id";

/// SQL that is true for a row `alias` found otherwise (by a rare search
/// word, say) that member `$param` owns or has been shared: the member's
/// shares are read once into a hash, and each row is tested against it.
pub fn row_check(alias: &str, param: usize) -> String {
    format!(
        "({alias}.owner_id = ${param} OR {alias}.id IN \
         (SELECT vis.contact_id FROM contact_shares vis WHERE vis.staff_id = ${param} \
          UNION ALL {HANDLED} = ${param}))"
    )
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Those of `ids` that `member` may see (all of them when not limited).
pub fn visible_ids(
    conn: &mut PgConnection,
    limited: Option<i64>,
    ids: &[i64],
) -> QueryResult<HashSet<i64>> {
    let Some(member) = limited else {
        return Ok(ids.iter().copied().collect());
    };
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    // A few given rows: checked one by one, not against the member's whole
    // set as `predicate` does.
    Ok(diesel::sql_query(
        "SELECT c.id FROM contacts c WHERE c.id = ANY($1) AND (c.owner_id = $2 OR EXISTS \
         (SELECT 1 FROM contact_shares vis WHERE vis.contact_id = c.id AND vis.staff_id = $2) OR EXISTS \
         (SELECT 1 FROM enquiries vq WHERE vq.contact_id = c.id AND vq.status = 'handling' AND vq.handler_id = $2))",
    )
    .bind::<Array<BigInt>, _>(ids)
    .bind::<BigInt, _>(member)
    .load::<Id>(conn)?
    .into_iter()
    .map(|r| r.id)
    .collect())
}

/// Whether `member` may see contact `id` (which may not exist).
pub fn sees(conn: &mut PgConnection, member: Member, id: i64) -> QueryResult<bool> {
    let limited = limited_to(conn, member)?;
    Ok(limited.is_none() || visible_ids(conn, limited, &[id])?.contains(&id))
}
