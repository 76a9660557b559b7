//! The `imports` jobs, their failed rows, and the `exports` record.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::schema::{exports, import_errors, imports, staff};

#[derive(Queryable, Selectable, Identifiable, Clone, Debug)]
#[diesel(table_name = imports, check_for_backend(diesel::pg::Pg))]
pub struct Import {
    pub id: i64,
    pub staff_id: i64,
    pub file_name: String,
    pub stored_path: String,
    pub file_size: i64,
    pub header: Vec<Option<String>>,
    pub mode: String,
    pub owner_id: Option<i64>,
    pub label_ids: Vec<Option<i64>>,
    pub status: String,
    pub total_rows: i64,
    pub preview_failed: i64,
    pub preview_errors: String,
    pub rows_read: i64,
    pub imported: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub failed: i64,
    pub byte_offset: i64,
    pub record_no: i64,
    pub attempts: i32,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub queued_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub preview_plan: String,
}

/// A failed row: record number, errors, the values as uploaded.
pub type FailedRow = (i64, String, Vec<Option<String>>);

pub mod status {
    pub const PREVIEW: &str = "preview";
    pub const QUEUED: &str = "queued";
    pub const RUNNING: &str = "running";
    pub const DONE: &str = "done";
    pub const FAILED: &str = "failed";
    pub const CANCELLED: &str = "cancelled";
}

/// What the upload and its full checking pass found.
pub struct NewImport<'a> {
    pub staff_id: i64,
    pub file_name: &'a str,
    pub stored_path: &'a str,
    pub file_size: i64,
    pub header: &'a [String],
    pub mode: &'a str,
    pub owner_id: Option<i64>,
    pub label_ids: &'a [i64],
    pub total_rows: i64,
    pub preview_failed: i64,
    pub preview_errors: &'a str,
    pub preview_plan: &'a str,
    /// Where the first data record starts.
    pub data_offset: i64,
}

impl Import {
    pub fn header(&self) -> Vec<String> {
        self.header
            .iter()
            .map(|h| h.clone().unwrap_or_default())
            .collect()
    }

    pub fn labels(&self) -> Vec<i64> {
        self.label_ids.iter().flatten().copied().collect()
    }

    pub fn is_finished(&self) -> bool {
        matches!(
            self.status.as_str(),
            status::DONE | status::FAILED | status::CANCELLED
        )
    }

    pub fn insert(conn: &mut PgConnection, new: &NewImport<'_>) -> QueryResult<i64> {
        diesel::insert_into(imports::table)
            .values((
                imports::staff_id.eq(new.staff_id),
                imports::file_name.eq(new.file_name),
                imports::stored_path.eq(new.stored_path),
                imports::file_size.eq(new.file_size),
                imports::header.eq(new.header),
                imports::mode.eq(new.mode),
                imports::owner_id.eq(new.owner_id),
                imports::label_ids.eq(new.label_ids),
                imports::total_rows.eq(new.total_rows),
                imports::preview_failed.eq(new.preview_failed),
                imports::preview_errors.eq(new.preview_errors),
                imports::preview_plan.eq(new.preview_plan),
                imports::byte_offset.eq(new.data_offset),
            ))
            .returning(imports::id)
            .get_result(conn)
    }

    pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<Import> {
        imports::table
            .find(id)
            .select(Import::as_select())
            .first(conn)
    }

    /// Queues a previewed import with the options confirmed; false when it
    /// was no longer waiting for confirmation.
    pub fn queue(
        conn: &mut PgConnection,
        id: i64,
        mode: &str,
        owner_id: Option<i64>,
        label_ids: &[i64],
    ) -> QueryResult<bool> {
        let n = diesel::update(
            imports::table
                .find(id)
                .filter(imports::status.eq(status::PREVIEW)),
        )
        .set((
            imports::status.eq(status::QUEUED),
            imports::mode.eq(mode),
            imports::owner_id.eq(owner_id),
            imports::label_ids.eq(label_ids),
            imports::queued_at.eq(diesel::dsl::sql::<
                diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
            >("now()")),
        ))
        .execute(conn)?;
        Ok(n == 1)
    }

    /// Keeps the options and what the preview's pass found for them, while
    /// the import still waits for confirmation.
    pub fn replan(
        conn: &mut PgConnection,
        id: i64,
        options: (&str, Option<i64>, &[i64]),
        failed: i64,
        errors: &str,
        plan: &str,
    ) -> QueryResult<bool> {
        let (mode, owner_id, label_ids) = options;
        let n = diesel::update(
            imports::table
                .find(id)
                .filter(imports::status.eq(status::PREVIEW)),
        )
        .set((
            imports::mode.eq(mode),
            imports::owner_id.eq(owner_id),
            imports::label_ids.eq(label_ids),
            imports::preview_failed.eq(failed),
            imports::preview_errors.eq(errors),
            imports::preview_plan.eq(plan),
        ))
        .execute(conn)?;
        Ok(n == 1)
    }

    /// What the preview's dry run found.
    pub fn plan(&self) -> crate::import::matching::PlanSummary {
        serde_json::from_str(&self.preview_plan).unwrap_or_default()
    }

    /// Cancels an import still waiting for confirmation: nothing was written.
    pub fn cancel(conn: &mut PgConnection, id: i64) -> QueryResult<bool> {
        Self::end_as_cancelled(conn, id, &[status::PREVIEW])
    }

    /// Stops a queued or running import after the batch in progress; what
    /// was written stays. False when it was not queued or running.
    pub fn stop(conn: &mut PgConnection, id: i64) -> QueryResult<bool> {
        Self::end_as_cancelled(conn, id, &[status::QUEUED, status::RUNNING])
    }

    fn end_as_cancelled(conn: &mut PgConnection, id: i64, from: &[&str]) -> QueryResult<bool> {
        let n = diesel::update(imports::table.find(id).filter(imports::status.eq_any(from)))
            .set((
                imports::status.eq(status::CANCELLED),
                imports::finished_at.eq(diesel::dsl::sql::<
                    diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
                >("now()")),
            ))
            .execute(conn)?;
        Ok(n == 1)
    }

    /// The newest imports with who started them.
    pub fn recent(conn: &mut PgConnection, limit: i64) -> QueryResult<Vec<(Import, String)>> {
        imports::table
            .inner_join(staff::table.on(staff::id.eq(imports::staff_id)))
            .order((imports::created_at.desc(), imports::id.desc()))
            .limit(limit)
            .select((Import::as_select(), staff::display_name))
            .load(conn)
    }

    /// Failed rows in file order, from `after_row`, at most `limit`.
    pub fn errors(
        conn: &mut PgConnection,
        id: i64,
        after_row: i64,
        limit: i64,
    ) -> QueryResult<Vec<FailedRow>> {
        import_errors::table
            .filter(import_errors::import_id.eq(id))
            .filter(import_errors::row_no.gt(after_row))
            .order(import_errors::row_no)
            .limit(limit)
            .select((
                import_errors::row_no,
                import_errors::errors,
                import_errors::fields,
            ))
            .load(conn)
    }

    /// Previews nobody confirmed within a day: their files are deleted.
    pub fn stale_previews(conn: &mut PgConnection) -> QueryResult<Vec<(i64, String)>> {
        diesel::update(
            imports::table
                .filter(imports::status.eq(status::PREVIEW))
                .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                    "created_at < now() - interval '1 day'",
                )),
        )
        .set((
            imports::status.eq(status::CANCELLED),
            imports::finished_at.eq(diesel::dsl::sql::<
                diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
            >("now()")),
        ))
        .returning((imports::id, imports::stored_path))
        .get_results(conn)
    }
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = exports, check_for_backend(diesel::pg::Pg))]
pub struct Export {
    pub id: i64,
    pub staff_id: i64,
    pub scope: String,
    pub row_count: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl Export {
    pub fn start(conn: &mut PgConnection, staff_id: i64, scope: &str) -> QueryResult<i64> {
        diesel::insert_into(exports::table)
            .values((exports::staff_id.eq(staff_id), exports::scope.eq(scope)))
            .returning(exports::id)
            .get_result(conn)
    }

    pub fn finish(conn: &mut PgConnection, id: i64, rows: i64) -> QueryResult<()> {
        diesel::update(exports::table.find(id))
            .set((
                exports::row_count.eq(rows),
                exports::finished_at.eq(diesel::dsl::sql::<
                    diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
                >("now()")),
            ))
            .execute(conn)
            .map(drop)
    }

    pub fn recent(conn: &mut PgConnection, limit: i64) -> QueryResult<Vec<(Export, String)>> {
        exports::table
            .inner_join(staff::table)
            .order((exports::created_at.desc(), exports::id.desc()))
            .limit(limit)
            .select((Export::as_select(), staff::display_name))
            .load(conn)
    }
}
