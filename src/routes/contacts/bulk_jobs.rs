//! Bulk changes to every contact of a view, run in the background: the page
//! that follows one (progress, stop, result) and the record of past ones.
//! A small job usually ends while the request waits for it, and then the
//! list comes back with its message as if it had run inline.

use std::time::{Duration, Instant};

use actix_web::{
    HttpResponse,
    http::header,
    web::{self, Redirect},
};
use askama::Template;
use askama_web::WebTemplate;
use chrono::Utc;
use serde::Serialize;

use crate::{
    AppState,
    auth::{Admin, CurrentStaff, flash},
    db,
    error::{AppError, AppResult},
    models::{
        bulk::BulkEdit,
        bulk_job::{BulkJob, NewBulkJob},
        import::status,
    },
    routes::{
        Layout,
        contacts::{bulk::plural, list::ListParams},
    },
};

/// How long the request waits for a job before showing its progress page.
const WAIT_INLINE: Duration = Duration::from_secs(2);
/// Jobs on the record page.
const RECENT: i64 = 50;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/bulk-changes", web::get().to(index))
        .route("/bulk-changes/{id}", web::get().to(show))
        .route("/bulk-changes/{id}/progress", web::get().to(progress))
        .route("/bulk-changes/{id}/stop", web::post().to(stop))
        .route("/contacts/trash/restore", web::post().to(restore_all));
}

/// A bulk change as asked for.
pub struct Asked {
    pub edit: BulkEdit,
    /// In words, for the record ("Set the type to Customer").
    pub what: String,
    pub view: ListParams,
    pub trash: bool,
    /// A label deletion (see `BulkJob::then_delete_label`).
    pub then_delete_label: bool,
}

/// Queues the job, then waits a moment for it: a job that ends in time sends
/// the member back to `back` with `done(changed)` as the message; a longer
/// one to its progress page.
pub async fn start(
    state: &web::Data<AppState>,
    me: &CurrentStaff,
    asked: Asked,
    back: String,
    done: impl Fn(i64) -> String,
) -> AppResult<Redirect> {
    let staff_id = me.staff.id;
    let Asked {
        edit,
        what,
        view,
        trash,
        then_delete_label,
    } = asked;
    let id = db::transaction(&state.pool, move |conn| {
        Ok(BulkJob::insert(
            conn,
            &NewBulkJob {
                staff_id,
                edit: &edit,
                what: &what,
                view: &view,
                trash,
                then_delete_label,
            },
        )?)
    })
    .await?;
    log::info!("bulk job {id} queued by staff {staff_id}");
    state.bulk_wake.notify();
    let deadline = Instant::now() + WAIT_INLINE;
    let mut pause = Duration::from_millis(20);
    while Instant::now() < deadline {
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(200));
        let job = db::run(&state.pool, move |conn| Ok(BulkJob::find(conn, id)?)).await?;
        let Some(job) = job else { break };
        if job.status == status::DONE {
            // A label deletion's message holds even when no live contact
            // carried the label.
            let message = if job.changed == 0 && !job.then_delete_label {
                "Nothing changed: the chosen contacts already had that.".to_string()
            } else {
                done(job.changed)
            };
            flash(&me.session, "success", message);
            return Ok(Redirect::to(back).see_other());
        }
        if job.is_finished() {
            break;
        }
    }
    Ok(Redirect::to(format!("/bulk-changes/{id}")).see_other())
}

async fn load(
    state: &web::Data<AppState>,
    me: &CurrentStaff,
    id: i64,
) -> AppResult<(BulkJob, String)> {
    let (job, by) = db::run(&state.pool, move |conn| {
        let Some(job) = BulkJob::find(conn, id)? else {
            return Ok(None);
        };
        let by: String = {
            use crate::schema::staff;
            use diesel::prelude::*;
            staff::table
                .find(job.staff_id)
                .select(staff::display_name)
                .first(conn)?
        };
        Ok(Some((job, by)))
    })
    .await?
    .ok_or(AppError::NotFound)?;
    if job.staff_id != me.staff.id && !me.staff.is_admin() {
        // Another member's job is none of this member's business.
        return Err(AppError::NotFound);
    }
    Ok((job, by))
}

#[derive(Serialize)]
pub struct Progress {
    pub status: String,
    pub finished: bool,
    pub total: i64,
    pub done: i64,
    pub percent: i64,
    pub changed: i64,
    /// Contacts a second since the job started.
    pub rate: i64,
    pub eta: String,
}

impl Progress {
    fn of(job: &BulkJob) -> Progress {
        let done = job.walked;
        let total = job.total.unwrap_or(0).max(done);
        let (rate, eta) = crate::routes::imports::pace(
            done,
            total,
            (job.started_at, job.finished_at),
            job.is_finished(),
            Utc::now(),
        );
        Progress {
            status: job.status.clone(),
            finished: job.is_finished(),
            total,
            done,
            percent: if total > 0 { done * 100 / total } else { 0 },
            changed: job.changed,
            rate,
            eta,
        }
    }
}

fn status_label(job: &BulkJob) -> &'static str {
    match job.status.as_str() {
        status::QUEUED => "Waiting to start",
        status::RUNNING if job.total.is_none() => "Counting the contacts",
        status::RUNNING => "Changing the contacts",
        status::DONE => "Done",
        status::CANCELLED => "Stopped",
        _ => "Failed",
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "contacts/bulk_job.html")]
pub struct JobPage {
    layout: Layout,
    job: BulkJob,
    by: String,
    stopped_by: String,
    progress: Progress,
    label: &'static str,
    can_stop: bool,
}

async fn show(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<i64>,
) -> AppResult<JobPage> {
    let id = id.into_inner();
    let (job, by) = load(&state, &me, id).await?;
    let stopped_by = match job.stopped_by {
        Some(s) if s == job.staff_id => by.clone(),
        Some(s) => {
            db::run(&state.pool, move |conn| {
                use crate::schema::staff;
                use diesel::prelude::*;
                Ok(staff::table
                    .find(s)
                    .select(staff::display_name)
                    .first::<String>(conn)?)
            })
            .await?
        }
        None => String::new(),
    };
    Ok(JobPage {
        layout: Layout::signed_in(&me, "contacts", format!("/bulk-changes/{id}")),
        progress: Progress::of(&job),
        label: status_label(&job),
        can_stop: !job.is_finished(),
        job,
        by,
        stopped_by,
    })
}

async fn progress(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (job, _) = load(&state, &me, id.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Progress::of(&job)))
}

async fn stop(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<i64>,
) -> AppResult<Redirect> {
    let id = id.into_inner();
    load(&state, &me, id).await?;
    let by = me.staff.id;
    let stopped =
        db::transaction(&state.pool, move |conn| Ok(BulkJob::stop(conn, id, by)?)).await?;
    if stopped {
        log::info!("bulk job {id} stopped by staff {by}");
        flash(
            &me.session,
            "success",
            "Stopped. The contacts changed before it stopped stay changed.",
        );
    } else {
        flash(&me.session, "error", "This bulk change had already ended.");
    }
    Ok(Redirect::to(format!("/bulk-changes/{id}")).see_other())
}

pub struct JobRow {
    pub id: i64,
    pub when: String,
    pub by: String,
    pub what: String,
    pub changed: i64,
    pub walked: i64,
    pub label: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "contacts/bulk_jobs.html")]
pub struct JobsPage {
    layout: Layout,
    rows: Vec<JobRow>,
    everyone: bool,
}

async fn index(state: web::Data<AppState>, me: CurrentStaff) -> AppResult<JobsPage> {
    let everyone = me.staff.is_admin();
    let only = (!everyone).then_some(me.staff.id);
    let jobs = db::run(&state.pool, move |conn| {
        Ok(BulkJob::recent(conn, only, RECENT)?)
    })
    .await?;
    Ok(JobsPage {
        layout: Layout::signed_in(&me, "contacts", "/bulk-changes"),
        rows: jobs
            .into_iter()
            .map(|(job, by)| JobRow {
                id: job.id,
                when: job.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                by,
                what: job.what.clone(),
                changed: job.changed,
                walked: job.walked,
                label: status_label(&job),
            })
            .collect(),
        everyone,
    })
}

/// Restores every contact of the trash view (all of it, or those its
/// search finds).
async fn restore_all(
    state: web::Data<AppState>,
    Admin(me): Admin,
    body: web::Bytes,
) -> AppResult<Redirect> {
    let view: ListParams = serde_urlencoded::from_bytes(&body)
        .map_err(|e| AppError::BadRequest(format!("The form could not be read: {e}")))?;
    let view = ListParams {
        q: view.q,
        ..ListParams::default()
    };
    let back = view.url("/contacts/trash", None, None);
    start(
        &state,
        &me,
        Asked {
            edit: BulkEdit::Restore,
            what: "Restore from the trash".into(),
            view,
            trash: true,
            then_delete_label: false,
        },
        back,
        |n| format!("{} restored from the trash.", plural(n)),
    )
    .await
}
