//! "All N that match" bulk edits, moves to the trash and restores, run as
//! background jobs. They live in `bulk_jobs` and are claimed as imports are
//! (`FOR UPDATE SKIP LOCKED`, then a session-level advisory lock held while
//! the job runs, so a crashed instance frees it at once). The view is walked
//! in id order; each batch commits together with the job's new position, so
//! a resumed job neither skips a contact nor changes one (or logs it) twice.

use std::sync::{Arc, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::AppState;
use crate::db::DbPool;
use crate::import::job::{JobError, Wake, now, release_job_lock, try_job_lock};
use crate::models::bulk::{self, BulkEdit};
use crate::models::contact_list::{self, Filters};
use crate::models::import::status;
use crate::models::search_plan::Sample;
use crate::models::visibility::{self, Member};
use crate::routes::contacts::list::ListParams;
use crate::schema::{bulk_jobs, labels, staff};

/// The advisory lock space of bulk jobs ("CBB").
const LOCK_SPACE: i32 = 0x0043_4242;
/// A job that failed this many times in a row is given up.
const MAX_ATTEMPTS: i32 = 5;
const IDLE_POLL: Duration = Duration::from_secs(2);

#[derive(Queryable, Selectable, Identifiable, Clone, Debug)]
#[diesel(table_name = bulk_jobs, check_for_backend(diesel::pg::Pg))]
pub struct BulkJob {
    pub id: i64,
    pub staff_id: i64,
    pub action: String,
    pub value: String,
    pub what: String,
    pub view_query: String,
    pub trash: bool,
    pub status: String,
    pub total: Option<i64>,
    pub walked: i64,
    pub changed: i64,
    pub after_id: i64,
    pub attempts: i32,
    pub error: Option<String>,
    pub stopped_by: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub heartbeat_at: Option<DateTime<Utc>>,
    /// A label deletion: the job takes the label off its contacts, then
    /// deletes it.
    pub then_delete_label: bool,
}

/// What a new job is asked to do.
pub struct NewBulkJob<'a> {
    pub staff_id: i64,
    pub edit: &'a BulkEdit,
    pub what: &'a str,
    pub view: &'a ListParams,
    pub trash: bool,
    /// See [`BulkJob::then_delete_label`]; only with [`BulkEdit::RemoveLabel`].
    pub then_delete_label: bool,
}

impl BulkJob {
    pub fn is_finished(&self) -> bool {
        matches!(
            self.status.as_str(),
            status::DONE | status::FAILED | status::CANCELLED
        )
    }

    pub fn edit(&self) -> Option<BulkEdit> {
        BulkEdit::from_stored(&self.action, &self.value)
    }

    /// The list view the job walks, as a URL.
    pub fn view_url(&self) -> String {
        let base = if self.trash {
            "/contacts/trash"
        } else {
            "/contacts"
        };
        if self.view_query.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", self.view_query)
        }
    }

    pub fn insert(conn: &mut PgConnection, new: &NewBulkJob<'_>) -> QueryResult<i64> {
        let (action, value) = new.edit.to_stored();
        let view = new.view.url("", None, None);
        diesel::insert_into(bulk_jobs::table)
            .values((
                bulk_jobs::staff_id.eq(new.staff_id),
                bulk_jobs::action.eq(action),
                bulk_jobs::value.eq(value),
                bulk_jobs::what.eq(new.what),
                bulk_jobs::view_query.eq(view.trim_start_matches('?')),
                bulk_jobs::trash.eq(new.trash),
                bulk_jobs::then_delete_label
                    .eq(new.then_delete_label && matches!(new.edit, BulkEdit::RemoveLabel(_))),
            ))
            .returning(bulk_jobs::id)
            .get_result(conn)
    }

    /// The labels being deleted by a queued or running job, with the job
    /// (`then_delete_label` is only ever set with `remove_label`).
    pub fn labels_being_deleted(conn: &mut PgConnection) -> QueryResult<Vec<(i64, i64)>> {
        let jobs: Vec<(String, i64)> = bulk_jobs::table
            .filter(bulk_jobs::then_delete_label)
            .filter(bulk_jobs::status.eq_any([status::QUEUED, status::RUNNING]))
            .select((bulk_jobs::value, bulk_jobs::id))
            .load(conn)?;
        Ok(jobs
            .into_iter()
            .filter_map(|(label, job)| Some((label.parse().ok()?, job)))
            .collect())
    }

    pub fn find(conn: &mut PgConnection, id: i64) -> QueryResult<Option<BulkJob>> {
        bulk_jobs::table
            .find(id)
            .select(BulkJob::as_select())
            .first(conn)
            .optional()
    }

    /// The newest jobs with who asked for them: everyone's, or `staff_id`'s.
    pub fn recent(
        conn: &mut PgConnection,
        staff_id: Option<i64>,
        limit: i64,
    ) -> QueryResult<Vec<(BulkJob, String)>> {
        let mut q = bulk_jobs::table
            .inner_join(staff::table.on(staff::id.eq(bulk_jobs::staff_id)))
            .select((BulkJob::as_select(), staff::display_name))
            .order(bulk_jobs::id.desc())
            .limit(limit)
            .into_boxed();
        if let Some(s) = staff_id {
            q = q.filter(bulk_jobs::staff_id.eq(s));
        }
        q.load(conn)
    }

    /// Stops a job that has not ended; the batch being written (if any)
    /// commits first, since it holds the job's row. False when it had ended.
    pub fn stop(conn: &mut PgConnection, id: i64, by: i64) -> QueryResult<bool> {
        diesel::update(
            bulk_jobs::table
                .find(id)
                .filter(bulk_jobs::status.eq_any([status::QUEUED, status::RUNNING])),
        )
        .set((
            bulk_jobs::status.eq(status::CANCELLED),
            bulk_jobs::stopped_by.eq(Some(by)),
            bulk_jobs::finished_at.eq(now()),
        ))
        .execute(conn)
        .map(|n| n > 0)
    }
}

/// Starts the bulk runner thread; it ends when the app state is dropped.
pub fn spawn_runner(state: Weak<AppState>, wake: Arc<Wake>) {
    let spawned = std::thread::Builder::new()
        .name("bulk-runner".into())
        .spawn(move || {
            loop {
                let Some(app) = state.upgrade() else { return };
                let pool = app.pool.clone();
                drop(app);
                // Every batch may change what the list's first pages show.
                let on_batch = || {
                    if let Some(app) = state.upgrade() {
                        app.contacts_changed();
                    }
                };
                match run_next(&pool, &on_batch) {
                    Ok(true) => {
                        crate::trim_heap();
                        continue;
                    }
                    Ok(false) => {}
                    Err(e) => log::warn!("bulk runner: {e}"),
                }
                wake.wait(IDLE_POLL);
            }
        });
    if let Err(e) = spawned {
        log::error!("cannot start the bulk runner: {e}");
    }
}

fn unlock(conn: &mut PgConnection, id: i64) {
    release_job_lock(conn, LOCK_SPACE, id);
}

/// Claims one waiting or orphaned job and runs it to its end (or until it
/// is stopped). Ok(false) when there was nothing to do.
pub fn run_next(pool: &DbPool, on_batch: &dyn Fn()) -> Result<bool, String> {
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let Some(id) = claim(&mut conn).map_err(|e| e.to_string())? else {
        return Ok(false);
    };
    let outcome = run_claimed(&mut conn, id, on_batch);
    let recorded = match &outcome {
        Ok(()) => Ok(()),
        Err(JobError::Stopped) => {
            log::info!("bulk job {id} stopped by a user");
            Ok(())
        }
        Err(JobError::Fatal(e)) => finish_failed(&mut conn, id, e),
        Err(JobError::Retry(e)) => {
            log::warn!("bulk job {id} stopped, will resume: {e}");
            diesel::update(bulk_jobs::table.find(id))
                .set(bulk_jobs::error.eq(Some(e.as_str())))
                .execute(&mut *conn)
                .map(drop)
        }
    };
    unlock(&mut conn, id);
    recorded.map_err(|e| e.to_string())?;
    if let Err(JobError::Retry(e)) = outcome {
        return Err(e);
    }
    // Done or stopped: what it changed stays changed either way.
    let changed = bulk_jobs::table
        .find(id)
        .select(bulk_jobs::changed)
        .first::<i64>(&mut *conn)
        .unwrap_or(0);
    crate::db::tidy_contacts_after(pool, changed);
    Ok(true)
}

fn claim(conn: &mut PgConnection) -> QueryResult<Option<i64>> {
    conn.transaction(|conn| {
        let candidates: Vec<(i64, i32, Option<String>)> = bulk_jobs::table
            .filter(bulk_jobs::status.eq_any([status::QUEUED, status::RUNNING]))
            .order(bulk_jobs::id)
            .select((bulk_jobs::id, bulk_jobs::attempts, bulk_jobs::error))
            .for_update()
            .skip_locked()
            .limit(10)
            .load(conn)?;
        for (id, attempts, last_error) in candidates {
            if !try_job_lock(conn, LOCK_SPACE, id)? {
                // Another instance is running it right now.
                continue;
            }
            if attempts >= MAX_ATTEMPTS {
                finish_failed(
                    conn,
                    id,
                    &format!(
                        "stopped after {attempts} attempts: {}",
                        last_error.unwrap_or_default()
                    ),
                )?;
                unlock(conn, id);
                continue;
            }
            diesel::update(bulk_jobs::table.find(id))
                .set((
                    bulk_jobs::status.eq(status::RUNNING),
                    bulk_jobs::attempts.eq(bulk_jobs::attempts + 1),
                    bulk_jobs::started_at.eq(diesel::dsl::sql::<
                        diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
                    >("coalesce(started_at, now())")),
                    bulk_jobs::heartbeat_at.eq(now()),
                ))
                .execute(conn)?;
            return Ok(Some(id));
        }
        Ok(None)
    })
}

fn finish_failed(conn: &mut PgConnection, id: i64, error: &str) -> QueryResult<()> {
    diesel::update(bulk_jobs::table.find(id))
        .set((
            bulk_jobs::status.eq(status::FAILED),
            bulk_jobs::error.eq(Some(error)),
            bulk_jobs::finished_at.eq(now()),
        ))
        .execute(conn)
        .map(drop)
}

/// The filters of the job's view as its member may see them now: rights
/// are checked when the job runs, not only when it was asked for.
fn filters_of(conn: &mut PgConnection, job: &BulkJob) -> Result<Filters, JobError> {
    let (role, active): (String, bool) = staff::table
        .find(job.staff_id)
        .select((staff::role, staff::active))
        .first(conn)?;
    if !active {
        return Err(JobError::Fatal(
            "the staff member who asked for it was deactivated".into(),
        ));
    }
    let member = Member {
        id: job.staff_id,
        admin: role == "admin",
    };
    if job.trash && !member.admin {
        return Err(JobError::Fatal(
            "only an administrator may work in the trash".into(),
        ));
    }
    let params: ListParams = serde_urlencoded::from_str(&job.view_query)
        .map_err(|e| JobError::Fatal(format!("the view cannot be read: {e}")))?;
    let mut filters = params.filters(job.staff_id, job.trash);
    filters.visible_to = visibility::limited_to(conn, member)?;
    if !filters.q.is_empty() {
        filters.plan_with(&Sample::load(conn)?);
    }
    Ok(filters)
}

/// Fails the job, rather than retrying it, when what it sets is gone.
fn check_value(conn: &mut PgConnection, edit: &BulkEdit) -> Result<(), JobError> {
    match edit {
        BulkEdit::AddLabel(l) | BulkEdit::RemoveLabel(l) => {
            let exists: bool =
                diesel::select(diesel::dsl::exists(labels::table.find(*l))).get_result(conn)?;
            if !exists {
                return Err(JobError::Fatal("the label was deleted".into()));
            }
        }
        BulkEdit::Owner(o) => {
            let active: Option<bool> = staff::table
                .find(*o)
                .select(staff::active)
                .first(conn)
                .optional()?;
            if active != Some(true) {
                return Err(JobError::Fatal(
                    "the new owner is no longer an active staff member".into(),
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

fn run_claimed(conn: &mut PgConnection, id: i64, on_batch: &dyn Fn()) -> Result<(), JobError> {
    let job = BulkJob::find(conn, id)?.ok_or(JobError::Stopped)?;
    let edit = job
        .edit()
        .ok_or_else(|| JobError::Fatal(format!("unknown bulk action {}", job.action)))?;
    check_value(conn, &edit)?;
    let filters = filters_of(conn, &job)?;
    if job.total.is_none() {
        // Counted once, for the progress bar; the walk itself takes whatever
        // matches as it goes.
        let total = bulk::count_matching(conn, &filters)?;
        diesel::update(bulk_jobs::table.find(id))
            .set(bulk_jobs::total.eq(Some(total)))
            .execute(conn)?;
    }
    let mut after = job.after_id;
    // The statistics are taken again each time this many contacts have
    // changed (see `db::analyze_contacts`).
    let analyze_every = (crate::db::contacts_estimate(conn) * crate::db::TIDY_SHARE)
        .max(crate::db::TIDY_AT_LEAST as f64) as i64;
    let mut changed_since_analyze = 0;
    loop {
        let ids = contact_list::ids_after(conn, &filters, after, bulk::BATCH)?;
        let Some(&last) = ids.last() else { break };
        let walked = ids.len() as i64;
        conn.transaction::<_, JobError, _>(|conn| {
            // Holding the job's row for the batch: a stop waits for the batch
            // and the batch sees a stop that came first.
            let now_status: String = bulk_jobs::table
                .find(id)
                .select(bulk_jobs::status)
                .for_update()
                .first(conn)?;
            if now_status != status::RUNNING {
                return Err(JobError::Stopped);
            }
            let changed = bulk::apply(conn, &edit, &ids, job.staff_id)? as i64;
            changed_since_analyze += changed;
            diesel::update(bulk_jobs::table.find(id))
                .set((
                    bulk_jobs::after_id.eq(last),
                    bulk_jobs::walked.eq(bulk_jobs::walked + walked),
                    bulk_jobs::changed.eq(bulk_jobs::changed + changed),
                    bulk_jobs::heartbeat_at.eq(now()),
                    bulk_jobs::error.eq(None::<String>),
                ))
                .execute(conn)?;
            Ok(())
        })?;
        after = last;
        on_batch();
        if changed_since_analyze >= analyze_every {
            crate::db::analyze_contacts(conn);
            changed_since_analyze = 0;
        }
    }
    conn.transaction::<_, JobError, _>(|conn| {
        let ended = diesel::update(
            bulk_jobs::table
                .find(id)
                .filter(bulk_jobs::status.eq(status::RUNNING)),
        )
        .set((
            bulk_jobs::status.eq(status::DONE),
            bulk_jobs::error.eq(None::<String>),
            bulk_jobs::finished_at.eq(now()),
            // What matched at the start may differ from what was walked.
            bulk_jobs::total.eq(bulk_jobs::walked.nullable()),
        ))
        .execute(conn)?;
        if ended == 0 {
            return Err(JobError::Stopped);
        }
        if let (true, BulkEdit::RemoveLabel(label)) = (job.then_delete_label, &edit) {
            // What is left of it (trashed contacts, and any labelled since
            // the walk passed them) goes with it; no request waits on this.
            crate::db::without_timeouts(conn, |conn| {
                diesel::delete(labels::table.find(*label)).execute(conn)
            })?;
        }
        Ok(())
    })?;
    log::info!("bulk job {id} finished");
    Ok(())
}
