//! The `staff` and `staff_avatars` tables.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::{
    domain::staff::{Availability, Role},
    models::like_escape,
    schema::{staff, staff_avatars},
};

/// Also read as JSON with the session (see `db::session_store`), where the
/// password hash is never included.
#[derive(Queryable, Selectable, Identifiable, Clone, Debug, serde::Deserialize)]
#[diesel(table_name = staff, check_for_backend(diesel::pg::Pg))]
pub struct Staff {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    #[serde(skip)]
    pub password_hash: Option<String>,
    pub role: String,
    pub department: String,
    pub job_title: String,
    pub time_zone: String,
    pub extension: Option<String>,
    pub phone: Option<String>,
    pub availability: String,
    pub active: bool,
    pub avatar_version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = staff)]
pub struct NewStaff<'a> {
    pub email: &'a str,
    pub display_name: &'a str,
    pub password_hash: Option<&'a str>,
    pub role: &'a str,
    pub department: &'a str,
    pub job_title: &'a str,
    pub time_zone: &'a str,
    pub extension: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub availability: &'a str,
}

/// What an administrator may change on an account (not the password).
#[derive(AsChangeset)]
#[diesel(table_name = staff, treat_none_as_null = true)]
pub struct StaffChanges<'a> {
    pub email: &'a str,
    pub display_name: &'a str,
    pub role: &'a str,
    pub department: &'a str,
    pub job_title: &'a str,
    pub time_zone: &'a str,
    pub extension: Option<&'a str>,
    pub phone: Option<&'a str>,
}

/// What members may change on their own profile.
#[derive(AsChangeset)]
#[diesel(table_name = staff, treat_none_as_null = true)]
pub struct ProfileChanges<'a> {
    pub display_name: &'a str,
    pub time_zone: &'a str,
    pub phone: Option<&'a str>,
}

#[derive(Queryable)]
pub struct Avatar {
    pub content_type: String,
    pub data: Vec<u8>,
}

impl Staff {
    pub fn role(&self) -> Role {
        self.role.parse().unwrap_or(Role::Agent)
    }

    pub fn is_admin(&self) -> bool {
        self.role() == Role::Admin
    }

    pub fn availability(&self) -> Availability {
        self.availability.parse().unwrap_or(Availability::Offline)
    }

    pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<Staff> {
        staff::table.find(id).select(Staff::as_select()).first(conn)
    }

    pub fn find_active(conn: &mut PgConnection, id: i64) -> QueryResult<Option<Staff>> {
        staff::table
            .find(id)
            .filter(staff::active.eq(true))
            .select(Staff::as_select())
            .first(conn)
            .optional()
    }

    /// Case-insensitive, as the unique index is.
    pub fn find_by_email(conn: &mut PgConnection, email: &str) -> QueryResult<Option<Staff>> {
        use diesel::dsl::sql;
        use diesel::sql_types::{Bool, Text};
        staff::table
            .filter(
                sql::<Bool>("lower(email) = lower(")
                    .bind::<Text, _>(email)
                    .sql(")"),
            )
            .select(Staff::as_select())
            .first(conn)
            .optional()
    }

    /// True once an administrator who can sign in exists: until then the app
    /// shows the first-run setup page.
    pub fn setup_done(conn: &mut PgConnection) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            staff::table
                .filter(staff::role.eq(Role::Admin.as_str()))
                .filter(staff::active.eq(true))
                .filter(staff::password_hash.is_not_null()),
        ))
        .get_result(conn)
    }

    pub fn count_active_admins(conn: &mut PgConnection) -> QueryResult<i64> {
        staff::table
            .filter(staff::role.eq(Role::Admin.as_str()))
            .filter(staff::active.eq(true))
            .count()
            .get_result(conn)
    }

    /// Every active member as (id, display name), by name: what pickers offer.
    pub fn active_choices(conn: &mut PgConnection) -> QueryResult<Vec<(i64, String)>> {
        staff::table
            .filter(staff::active.eq(true))
            .order((staff::display_name, staff::id))
            .select((staff::id, staff::display_name))
            .load(conn)
    }

    /// Active members in name order, to narrow down.
    fn active_by_name()
    -> staff::BoxedQuery<'static, diesel::pg::Pg, diesel::dsl::AsSelect<Staff, diesel::pg::Pg>>
    {
        staff::table
            .filter(staff::active.eq(true))
            .select(Staff::as_select())
            .order((
                diesel::dsl::sql::<diesel::sql_types::Text>("lower(display_name)"),
                staff::id,
            ))
            .into_boxed()
    }

    /// The directory: active members matching `query` by name, extension or
    /// department, sorted by name.
    pub fn directory(conn: &mut PgConnection, query: &str) -> QueryResult<Vec<Staff>> {
        let mut q = Self::active_by_name();
        let query = query.trim();
        if !query.is_empty() {
            let pattern = format!("%{}%", like_escape(query));
            q = q.filter(
                staff::display_name
                    .ilike(pattern.clone())
                    .or(staff::extension.ilike(pattern.clone()))
                    .or(staff::department.ilike(pattern)),
            );
        }
        q.load(conn)
    }

    /// Active members whose name holds every word of `query`, by name; the
    /// header's search box.
    pub fn by_name(conn: &mut PgConnection, query: &str, limit: i64) -> QueryResult<Vec<Staff>> {
        let mut q = Self::active_by_name().limit(limit);
        for word in query.split_whitespace().take(8) {
            q = q.filter(staff::display_name.ilike(format!("%{}%", like_escape(word))));
        }
        q.load(conn)
    }

    /// Every account, active first, for administrators.
    pub fn all(conn: &mut PgConnection) -> QueryResult<Vec<Staff>> {
        staff::table
            .select(Staff::as_select())
            .order((
                staff::active.desc(),
                diesel::dsl::sql::<diesel::sql_types::Text>("lower(display_name)"),
                staff::id,
            ))
            .load(conn)
    }

    pub fn insert(conn: &mut PgConnection, new: &NewStaff<'_>) -> QueryResult<Staff> {
        diesel::insert_into(staff::table)
            .values(new)
            .returning(Staff::as_returning())
            .get_result(conn)
    }

    pub fn update(
        conn: &mut PgConnection,
        id: i64,
        changes: &StaffChanges<'_>,
    ) -> QueryResult<Staff> {
        diesel::update(staff::table.find(id))
            .set((changes, staff::updated_at.eq(diesel::dsl::now)))
            .returning(Staff::as_returning())
            .get_result(conn)
    }

    pub fn update_profile(
        conn: &mut PgConnection,
        id: i64,
        changes: &ProfileChanges<'_>,
    ) -> QueryResult<Staff> {
        diesel::update(staff::table.find(id))
            .set((changes, staff::updated_at.eq(diesel::dsl::now)))
            .returning(Staff::as_returning())
            .get_result(conn)
    }

    pub fn set_availability(
        conn: &mut PgConnection,
        id: i64,
        a: Availability,
    ) -> QueryResult<usize> {
        diesel::update(staff::table.find(id))
            .set(staff::availability.eq(a.as_str()))
            .execute(conn)
    }

    pub fn set_password_hash(conn: &mut PgConnection, id: i64, hash: &str) -> QueryResult<usize> {
        diesel::update(staff::table.find(id))
            .set((
                staff::password_hash.eq(hash),
                staff::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
    }

    pub fn set_active(conn: &mut PgConnection, id: i64, active: bool) -> QueryResult<usize> {
        let mut availability = None;
        if !active {
            availability = Some(Availability::Offline.as_str());
        }
        diesel::update(staff::table.find(id))
            .set((
                staff::active.eq(active),
                availability.map(|a| staff::availability.eq(a)),
                staff::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
    }

    pub fn avatar(conn: &mut PgConnection, id: i64) -> QueryResult<Option<Avatar>> {
        staff_avatars::table
            .find(id)
            .select((staff_avatars::content_type, staff_avatars::data))
            .first(conn)
            .optional()
    }

    pub fn set_avatar(
        conn: &mut PgConnection,
        id: i64,
        content_type: &str,
        data: &[u8],
    ) -> QueryResult<()> {
        diesel::insert_into(staff_avatars::table)
            .values((
                staff_avatars::staff_id.eq(id),
                staff_avatars::content_type.eq(content_type),
                staff_avatars::data.eq(data),
            ))
            .on_conflict(staff_avatars::staff_id)
            .do_update()
            .set((
                staff_avatars::content_type.eq(content_type),
                staff_avatars::data.eq(data),
                staff_avatars::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        Self::set_avatar_version(conn, id, "abs(avatar_version) + 1")
    }

    pub fn remove_avatar(conn: &mut PgConnection, id: i64) -> QueryResult<()> {
        diesel::delete(staff_avatars::table.find(id)).execute(conn)?;
        Self::set_avatar_version(conn, id, "-abs(avatar_version)")
    }

    /// The version is positive while an avatar exists and its magnitude only
    /// grows, so an avatar URL (`?v=N`) never points at a different picture.
    fn set_avatar_version(conn: &mut PgConnection, id: i64, expr: &'static str) -> QueryResult<()> {
        diesel::update(staff::table.find(id))
            .set(staff::avatar_version.eq(diesel::dsl::sql::<diesel::sql_types::Integer>(expr)))
            .execute(conn)
            .map(drop)
    }

    pub fn has_avatar(&self) -> bool {
        self.avatar_version > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exactly what PostgreSQL's json_build_object gives the session store.
    #[test]
    fn reads_the_row_loaded_with_the_session() {
        let json = r#"{"id" : 1, "email" : "bench@example.com", "display_name" : "Bench Admin", "role" : "admin", "department" : "", "job_title" : "", "time_zone" : "UTC", "extension" : null, "phone" : null, "availability" : "available", "active" : true, "avatar_version" : 0, "created_at" : "2026-11-22T12:42:28.017328+00:00", "updated_at" : "2026-11-22T12:42:28.017328+00:00"}"#;
        let staff: Staff = serde_json::from_str(json).expect("deserializes");
        assert_eq!(
            (staff.id, staff.is_admin(), staff.password_hash),
            (1, true, None)
        );
    }
}
