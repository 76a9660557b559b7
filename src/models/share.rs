//! The `contact_shares` table: colleagues a contact is shared with, by whom,
//! when and with what message. Shares and their ends are on the change log.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::models::contact::{Event, log_event};
use crate::schema::{contact_shares, staff};

/// A share as the Sharing tab lists it.
#[derive(Queryable, Clone, Debug)]
pub struct Share {
    pub staff_id: i64,
    pub name: String,
    pub avatar_version: i32,
    pub shared_by: Option<String>,
    pub message: String,
    pub shared_at: DateTime<Utc>,
}

pub fn of_contact(conn: &mut PgConnection, contact_id: i64) -> QueryResult<Vec<Share>> {
    let (with, by) = diesel::alias!(staff as with, staff as by);
    contact_shares::table
        .inner_join(with.on(with.field(staff::id).eq(contact_shares::staff_id)))
        .left_join(by.on(contact_shares::shared_by.eq(by.field(staff::id).nullable())))
        .filter(contact_shares::contact_id.eq(contact_id))
        .order((contact_shares::shared_at.desc(), contact_shares::staff_id))
        .select((
            contact_shares::staff_id,
            with.field(staff::display_name),
            with.field(staff::avatar_version),
            by.field(staff::display_name).nullable(),
            contact_shares::message,
            contact_shares::shared_at,
        ))
        .load(conn)
}

pub fn count(conn: &mut PgConnection, contact_id: i64) -> QueryResult<i64> {
    contact_shares::table
        .filter(contact_shares::contact_id.eq(contact_id))
        .count()
        .get_result(conn)
}

/// Shares the contact with each of `with` (active staff, checked by the
/// caller) not yet sharing it; returns how many were added.
pub fn share(
    conn: &mut PgConnection,
    contact_id: i64,
    with: &[(i64, String)],
    by: i64,
    message: &str,
) -> QueryResult<usize> {
    let mut added = 0;
    for (staff_id, name) in with {
        let n = diesel::insert_into(contact_shares::table)
            .values((
                contact_shares::contact_id.eq(contact_id),
                contact_shares::staff_id.eq(staff_id),
                contact_shares::shared_by.eq(by),
                contact_shares::message.eq(message),
            ))
            .on_conflict_do_nothing()
            .execute(conn)?;
        if n == 1 {
            added += 1;
            log_event(
                conn,
                Event {
                    contact_id,
                    staff_id: Some(by),
                    action: "share",
                    field: Some("Shared with"),
                    old_value: None,
                    new_value: Some(name),
                },
            )?;
        }
    }
    Ok(added)
}

/// Stops sharing the contact with `staff_id`; false when it was not shared.
pub fn unshare(
    conn: &mut PgConnection,
    contact_id: i64,
    staff_id: i64,
    by: i64,
) -> QueryResult<bool> {
    let name: Option<String> = staff::table
        .find(staff_id)
        .select(staff::display_name)
        .first(conn)
        .optional()?;
    let n = diesel::delete(
        contact_shares::table
            .filter(contact_shares::contact_id.eq(contact_id))
            .filter(contact_shares::staff_id.eq(staff_id)),
    )
    .execute(conn)?;
    if n == 0 {
        return Ok(false);
    }
    log_event(
        conn,
        Event {
            contact_id,
            staff_id: Some(by),
            action: "unshare",
            field: Some("Shared with"),
            old_value: name.as_deref(),
            new_value: None,
        },
    )?;
    Ok(true)
}
