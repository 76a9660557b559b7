//! Import & Export: the CSV template, uploads with their preview, the import
//! jobs' progress and results with the error log, and the history.

use std::path::PathBuf;

use actix_multipart::Multipart;
use actix_web::{
    HttpResponse,
    http::{StatusCode, header},
    web::{self, Redirect},
};
use askama::Template;
use askama_web::WebTemplate;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Serialize;

use crate::{
    AppState,
    auth::{CurrentStaff, flash},
    db,
    domain::contact::CustomFieldDef,
    error::{AppError, AppResult},
    export::{self, CsvLine, Selection},
    import::{
        self,
        header::{Column, Header, template_header},
        matching::PlanSummary,
        row::ParsedRow,
        upload::{UploadError, Utf8Sink, human_bytes},
    },
    models::visibility::{self, Member},
    models::{
        custom_field::CustomField,
        import::{Export, Import, NewImport, status},
        label::Label,
    },
    routes::{
        FormResponse, Layout,
        contacts::list::{ListParams, group_digits},
        invalid,
    },
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/imports", web::get().to(index))
        .route("/imports", web::post().to(upload))
        .route("/imports/template.csv", web::get().to(template))
        .route("/imports/{id}", web::get().to(show))
        .route("/imports/{id}/progress", web::get().to(progress))
        .route("/imports/{id}/start", web::post().to(start))
        .route("/imports/{id}/cancel", web::post().to(cancel))
        .route("/imports/{id}/errors.csv", web::get().to(error_log))
        .route("/contacts/export.csv", web::get().to(export_view));
}

/// The options of an import, as the forms send them.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub mode: String,
    pub owner: String,
    pub labels: Vec<String>,
}

impl Options {
    fn from_pairs(pairs: &[(String, String)]) -> Options {
        let mut o = Options::default();
        for (k, v) in pairs {
            match k.as_str() {
                "mode" => o.mode = v.clone(),
                "owner" => o.owner = v.clone(),
                "label" => o.labels.push(v.clone()),
                _ => {}
            }
        }
        o
    }

    fn mode(&self) -> &'static str {
        if self.mode == "update" {
            "update"
        } else {
            "create"
        }
    }

    fn owner_id(&self) -> Option<i64> {
        self.owner.trim().parse().ok()
    }

    fn label_ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .labels
            .iter()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    pub fn is_update(&self) -> bool {
        self.mode() == "update"
    }

    pub fn owns(&self, id: &i64) -> bool {
        self.owner_id() == Some(*id)
    }

    pub fn has_label(&self, id: &i64) -> bool {
        self.label_ids().contains(id)
    }
}

pub struct ImportRow {
    pub import: Import,
    pub by: String,
    /// The viewer may read its error log.
    pub can_manage: bool,
}

impl ImportRow {
    pub fn when(&self) -> String {
        self.import
            .created_at
            .format("%Y-%m-%d %H:%M UTC")
            .to_string()
    }

    pub fn status_label(&self) -> &'static str {
        status_label(&self.import.status)
    }
}

fn status_label(s: &str) -> &'static str {
    match s {
        status::PREVIEW => "Waiting for confirmation",
        status::QUEUED => "Queued",
        status::RUNNING => "Running",
        status::DONE => "Finished",
        status::FAILED => "Failed",
        _ => "Cancelled",
    }
}

pub struct ExportRow {
    pub export: Export,
    pub by: String,
}

impl ExportRow {
    pub fn when(&self) -> String {
        self.export
            .created_at
            .format("%Y-%m-%d %H:%M UTC")
            .to_string()
    }

    pub fn rows(&self) -> String {
        match self.export.row_count {
            Some(n) => n.to_string(),
            None => "unfinished".into(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "imports/index.html")]
pub struct ImportPage {
    layout: Layout,
    options: Options,
    error: Option<String>,
    owners: Vec<(i64, String)>,
    labels: Vec<Label>,
    imports: Vec<ImportRow>,
    exports: Vec<ExportRow>,
    limit: String,
}

async fn import_page(
    state: &web::Data<AppState>,
    me: &CurrentStaff,
    options: Options,
    error: Option<String>,
) -> AppResult<ImportPage> {
    let app = state.clone();
    let (choices, imports, exports) = db::run(&state.pool, move |conn| {
        let choices = app.choices(conn)?;
        let imports = Import::recent(conn, 20)?;
        let exports = Export::recent(conn, 10)?;
        Ok((choices, imports, exports))
    })
    .await?;
    Ok(ImportPage {
        layout: Layout::signed_in(me, "imports", "/imports"),
        options,
        error,
        owners: choices.owners.clone(),
        labels: choices.labels.clone(),
        imports: imports
            .into_iter()
            .map(|(import, by)| ImportRow {
                can_manage: may_manage(me, &import).is_ok(),
                import,
                by,
            })
            .collect(),
        exports: exports
            .into_iter()
            .map(|(export, by)| ExportRow { export, by })
            .collect(),
        limit: human_bytes(state.config.upload_limit as u64),
    })
}

async fn index(state: web::Data<AppState>, me: CurrentStaff) -> AppResult<ImportPage> {
    let options = Options {
        owner: me.staff.id.to_string(),
        ..Options::default()
    };
    import_page(&state, &me, options, None).await
}

/// The header row and one example row.
async fn template(state: web::Data<AppState>, _me: CurrentStaff) -> AppResult<HttpResponse> {
    let defs = db::run(&state.pool, |conn| Ok(CustomField::defs(conn)?)).await?;
    let header = template_header(&defs);
    let mut example: Vec<String> = Column::example().iter().map(|s| s.to_string()).collect();
    example.extend(defs.iter().map(|_| String::new()));
    let mut body = String::from("\u{feff}");
    body.push_str(&CsvLine::values(&header));
    body.push_str(&CsvLine::as_uploaded(&example));
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"contacts-template.csv\"",
        ))
        .body(body))
}

fn upload_dir(state: &AppState) -> PathBuf {
    state.config.data_dir.join("imports")
}

fn random_name() -> String {
    use rand::Rng;
    let n: u64 = rand::rng().random();
    format!("{n:016x}")
}

/// Streams the file to disk (converted to UTF-8), then checks every row.
async fn upload(
    state: web::Data<AppState>,
    me: CurrentStaff,
    payload: Multipart,
) -> FormResponse<ImportPage> {
    let dir = upload_dir(&state);
    let path = dir.join(format!("upload-{}.csv", random_name()));
    let received = receive(&state, payload, &dir, &path).await;
    let (options, file_name) = match received {
        Ok(ok) => ok,
        Err((options, status, message)) => {
            let _ = std::fs::remove_file(&path);
            let page = import_page(&state, &me, options, Some(message)).await?;
            return invalid(page, status);
        }
    };
    let scan_path = path.clone();
    let (update_mode, extra) = (options.is_update(), options.label_ids());
    let member = Member::of(&me);
    let checked = db::run(&state.pool, move |conn| {
        let defs = CustomField::defs(conn)?;
        let visible_to = visibility::limited_to(conn, member)?;
        Ok(import::scan_and_plan(
            conn,
            &scan_path,
            &defs,
            update_mode,
            extra,
            visible_to,
        ))
    })
    .await;
    let (scan, plan) = match checked {
        Ok(Ok(found)) => found,
        Ok(Err(message)) => {
            let _ = std::fs::remove_file(&path);
            let page = import_page(&state, &me, options, Some(message)).await?;
            return invalid(page, StatusCode::UNPROCESSABLE_ENTITY);
        }
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
    };
    let staff_id = me.staff.id;
    let stored = path.to_string_lossy().to_string();
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let errors_json = serde_json::to_string(&scan.first_errors).unwrap_or_else(|_| "[]".into());
    let plan_json = serde_json::to_string(&plan).unwrap_or_else(|_| "{}".into());
    let id = db::transaction(&state.pool, move |conn| {
        Ok(Import::insert(
            conn,
            &NewImport {
                staff_id,
                file_name: &file_name,
                stored_path: &stored,
                file_size: size as i64,
                header: &scan.header,
                mode: options.mode(),
                owner_id: options.owner_id(),
                label_ids: &options.label_ids(),
                total_rows: scan.total,
                preview_failed: scan.failed,
                preview_errors: &errors_json,
                preview_plan: &plan_json,
                data_offset: scan.data_offset as i64,
            },
        )?)
    })
    .await;
    match id {
        Ok(id) => crate::routes::redirect(format!("/imports/{id}")),
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            Err(e)
        }
    }
}

type Refusal = (Options, StatusCode, String);

/// Reads the multipart form: the options and the file, written to `path`.
async fn receive(
    state: &AppState,
    mut payload: Multipart,
    dir: &std::path::Path,
    path: &std::path::Path,
) -> Result<(Options, String), Refusal> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut file_name: Option<String> = None;
    let unreadable = |pairs: &[(String, String)], e: String| {
        (
            Options::from_pairs(pairs),
            StatusCode::BAD_REQUEST,
            format!("The upload could not be read: {e}"),
        )
    };
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(|e| unreadable(&pairs, e.to_string()))?;
        let name = field.name().unwrap_or("").to_string();
        if name != "file" {
            let mut value = Vec::new();
            while let Some(chunk) = field.next().await {
                let chunk = chunk.map_err(|e| unreadable(&pairs, e.to_string()))?;
                if value.len() + chunk.len() > 1024 {
                    return Err(unreadable(&pairs, "a form field is too long".into()));
                }
                value.extend_from_slice(&chunk);
            }
            if value.contains(&0) {
                return Err((
                    Options::from_pairs(&pairs),
                    StatusCode::BAD_REQUEST,
                    crate::security::NUL_REFUSED.into(),
                ));
            }
            pairs.push((name, String::from_utf8_lossy(&value).into_owned()));
            continue;
        }
        let original = field
            .content_disposition()
            .and_then(|cd| cd.get_filename())
            .unwrap_or("")
            .replace('\0', "");
        std::fs::create_dir_all(dir).map_err(|e| {
            (
                Options::from_pairs(&pairs),
                StatusCode::INTERNAL_SERVER_ERROR,
                UploadError::Io(e.to_string()).message(),
            )
        })?;
        let file = std::fs::File::create(path).map_err(|e| {
            (
                Options::from_pairs(&pairs),
                StatusCode::INTERNAL_SERVER_ERROR,
                UploadError::Io(e.to_string()).message(),
            )
        })?;
        let mut sink = Utf8Sink::new(
            std::io::BufWriter::with_capacity(1 << 20, file),
            state.config.upload_limit as u64,
        );
        let refuse = |pairs: &[(String, String)], e: UploadError| {
            let status = match e {
                UploadError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
                UploadError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            (Options::from_pairs(pairs), status, e.message())
        };
        let mut buffer: Vec<u8> = Vec::with_capacity(1 << 20);
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| unreadable(&pairs, e.to_string()))?;
            buffer.extend_from_slice(&chunk);
            if buffer.len() >= 1 << 20 {
                let data = std::mem::take(&mut buffer);
                sink = web::block(move || sink.write_chunk(&data).map(|()| sink))
                    .await
                    .map_err(|e| refuse(&pairs, UploadError::Io(e.to_string())))?
                    .map_err(|e| refuse(&pairs, e))?;
            }
        }
        if original.is_empty() && sink.received() == 0 && buffer.is_empty() {
            return Err((
                Options::from_pairs(&pairs),
                StatusCode::UNPROCESSABLE_ENTITY,
                "Choose a CSV file to import.".into(),
            ));
        }
        web::block(move || {
            sink.write_chunk(&buffer)?;
            sink.finish().map(drop)
        })
        .await
        .map_err(|e| refuse(&pairs, UploadError::Io(e.to_string())))?
        .map_err(|e| refuse(&pairs, e))?;
        file_name = Some(if original.is_empty() {
            "upload.csv".into()
        } else {
            original
        });
    }
    let options = Options::from_pairs(&pairs);
    match file_name {
        Some(name) => Ok((options, name)),
        None => Err((
            options,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Choose a CSV file to import.".into(),
        )),
    }
}

/// A row of the preview table: the values as they will be stored.
pub struct PreviewRow {
    pub row_no: i64,
    pub cells: Vec<String>,
    pub errors: Option<String>,
}

pub const PREVIEW_COLUMNS: [&str; 8] = [
    "Name", "Type", "Level", "Company", "Phones", "Emails", "Country", "Labels",
];

fn preview_cells(row: &ParsedRow) -> Vec<String> {
    let i = &row.input;
    vec![
        crate::models::contact::display_name(&i.first_name, &i.last_name),
        i.contact_type.label().into(),
        i.level.label().into(),
        i.company.clone(),
        i.phones
            .iter()
            .map(|p| format!("{} {}", p.kind.label(), p.number.as_str()))
            .collect::<Vec<_>>()
            .join(", "),
        i.emails
            .iter()
            .map(|e| e.email.as_str().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        i.country.clone().unwrap_or_default(),
        row.labels.join(", "),
    ]
}

#[derive(Template, WebTemplate)]
#[template(path = "imports/preview.html")]
pub struct PreviewPage {
    layout: Layout,
    import: Import,
    recognised: Vec<(String, String)>,
    ignored: Vec<String>,
    rows: Vec<PreviewRow>,
    first_errors: Vec<(i64, String)>,
    columns: &'static [&'static str],
    options: Options,
    owners: Vec<(i64, String)>,
    labels: Vec<Label>,
    size: String,
    plan: PlanSummary,
    /// The viewer may start or cancel it.
    can_manage: bool,
}

impl PreviewPage {
    pub fn will_import(&self) -> i64 {
        self.import.total_rows - self.import.preview_failed
    }

    pub fn more_errors(&self) -> i64 {
        self.import.preview_failed - self.first_errors.len() as i64
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "imports/show.html")]
pub struct ImportShowPage {
    layout: Layout,
    import: Import,
    by: String,
    progress: Progress,
    /// The viewer may stop it and read its error log.
    can_manage: bool,
}

impl ImportShowPage {
    pub fn status_label(&self) -> &'static str {
        status_label(&self.import.status)
    }

    pub fn is_active(&self) -> bool {
        !self.import.is_finished()
    }
}

/// How far a job has got, for the page and for its polling script.
#[derive(Serialize, Clone, Debug)]
pub struct Progress {
    pub status: String,
    pub finished: bool,
    pub total: i64,
    pub done: i64,
    pub percent: i64,
    pub imported: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub failed: i64,
    /// Rows a second since the job started.
    pub rate: i64,
    /// Human words for the time left.
    pub eta: String,
    pub summary: String,
}

/// A background job's rate (items a second since it started) and the time
/// left in words ("" once it has ended or before it has a rate).
pub fn pace(
    done: i64,
    total: i64,
    (started, finished): (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
    ended: bool,
    now: DateTime<Utc>,
) -> (i64, String) {
    let elapsed = started
        .map(|s| (finished.unwrap_or(now) - s).num_milliseconds().max(1))
        .unwrap_or(0);
    let rate = if elapsed > 0 {
        done * 1000 / elapsed
    } else {
        0
    };
    let eta = if ended || rate == 0 {
        String::new()
    } else {
        let secs = (total - done).max(0) / rate.max(1);
        if secs < 60 {
            format!("about {} s left", secs.max(1))
        } else {
            format!("about {} min left", (secs + 59) / 60)
        }
    };
    (rate, eta)
}

impl Progress {
    fn of(import: &Import, now: DateTime<Utc>) -> Progress {
        let total = import.total_rows.max(import.rows_read);
        let done = import.rows_read;
        let (rate, eta) = pace(
            done,
            total,
            (import.started_at, import.finished_at),
            import.is_finished(),
            now,
        );
        let summary = if import.status == status::DONE {
            let mut parts = vec![
                format!(
                    "{} read",
                    crate::routes::contacts::list::plural(import.rows_read, "row", "rows")
                ),
                format!("{} imported", group_digits(import.imported)),
            ];
            if import.mode == "update" {
                parts.push(format!("{} updated", group_digits(import.updated)));
                parts.push(format!("{} unchanged", group_digits(import.unchanged)));
            }
            parts.push(format!("{} failed", group_digits(import.failed)));
            parts.join(", ") + "."
        } else {
            String::new()
        };
        Progress {
            status: import.status.clone(),
            finished: import.is_finished(),
            total,
            done,
            percent: if total > 0 { done * 100 / total } else { 0 },
            imported: import.imported,
            updated: import.updated,
            unchanged: import.unchanged,
            failed: import.failed,
            rate,
            eta,
            summary,
        }
    }
}

async fn load_import(state: &web::Data<AppState>, id: i64) -> AppResult<(Import, String)> {
    db::run(&state.pool, move |conn| {
        use crate::schema::staff;
        use diesel::prelude::*;
        let import = Import::find(conn, id)
            .optional()?
            .ok_or(AppError::NotFound)?;
        let by: String = staff::table
            .find(import.staff_id)
            .select(staff::display_name)
            .first(conn)?;
        Ok((import, by))
    })
    .await
}

async fn show(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<i64>,
) -> AppResult<actix_web::Either<PreviewPage, ImportShowPage>> {
    let id = id.into_inner();
    let (import, by) = load_import(&state, id).await?;
    let here = format!("/imports/{id}");
    if import.status != status::PREVIEW {
        return Ok(actix_web::Either::Right(ImportShowPage {
            layout: Layout::signed_in(&me, "imports", here),
            progress: Progress::of(&import, Utc::now()),
            can_manage: may_manage(&me, &import).is_ok(),
            import,
            by,
        }));
    }
    let path = PathBuf::from(&import.stored_path);
    let app = state.clone();
    let (choices, defs) = db::run(&state.pool, move |conn| {
        let choices = app.choices(conn)?;
        Ok((choices, CustomField::defs(conn)?))
    })
    .await?;
    let read = web::block(move || preview_of(&path, &defs)).await?;
    let (header, rows) = read.map_err(AppError::BadRequest)?;
    let first_errors: Vec<(i64, String)> =
        serde_json::from_str(&import.preview_errors).unwrap_or_default();
    // A row can pass the rules and still fail to match (update mode).
    let mut rows = rows;
    for row in rows.iter_mut().filter(|r| r.errors.is_none()) {
        if let Some((_, e)) = first_errors.iter().find(|(n, _)| *n == row.row_no) {
            row.errors = Some(e.clone());
        }
    }
    let options = Options {
        mode: import.mode.clone(),
        owner: import.owner_id.map(|o| o.to_string()).unwrap_or_default(),
        labels: import.labels().iter().map(i64::to_string).collect(),
    };
    Ok(actix_web::Either::Left(PreviewPage {
        layout: Layout::signed_in(&me, "imports", here),
        recognised: header.recognised(),
        ignored: header.ignored(),
        rows,
        first_errors,
        columns: &PREVIEW_COLUMNS,
        options,
        owners: choices.owners.clone(),
        labels: choices.labels.clone(),
        size: human_bytes(import.file_size as u64),
        plan: import.plan(),
        can_manage: may_manage(&me, &import).is_ok(),
        import,
    }))
}

fn preview_of(
    path: &std::path::Path,
    defs: &[CustomFieldDef],
) -> Result<(Header, Vec<PreviewRow>), String> {
    let (header, rows) = import::preview(path, defs, Utc::now().date_naive(), 5)?;
    let rows = rows
        .into_iter()
        .map(|(row_no, parsed)| match parsed {
            Ok(row) => PreviewRow {
                row_no,
                cells: preview_cells(&row),
                errors: None,
            },
            Err(e) => PreviewRow {
                row_no,
                cells: Vec::new(),
                errors: Some(e),
            },
        })
        .collect();
    Ok((header, rows))
}

async fn progress(
    state: web::Data<AppState>,
    _me: CurrentStaff,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (import, _) = load_import(&state, id.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Progress::of(&import, Utc::now())))
}

async fn start(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<i64>,
    body: web::Bytes,
) -> AppResult<Redirect> {
    let id = id.into_inner();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|e| AppError::BadRequest(format!("The form could not be read: {e}")))?;
    let options = Options::from_pairs(&pairs);
    let owner = options.owner_id();
    let labels = options.label_ids();
    let mode = options.mode();
    let app = state.clone();
    let choices = db::run(&state.pool, move |conn| Ok(app.choices(conn)?)).await?;
    let owner_ok = owner.is_none_or(|o| choices.owners.iter().any(|(id, _)| *id == o));
    let labels_ok = labels
        .iter()
        .all(|l| choices.labels.iter().any(|x| x.id == *l));
    if !owner_ok || !labels_ok {
        flash(
            &me.session,
            "error",
            "Choose an active staff member as the owner and labels from the list.",
        );
        return Ok(Redirect::to(format!("/imports/{id}")).see_other());
    }
    let (import, _) = load_import(&state, id).await?;
    may_manage(&me, &import)?;
    if import.status == status::PREVIEW && (import.mode != mode || import.labels() != labels) {
        // What the rows will do depends on these: show it before anything
        // is written.
        let path = PathBuf::from(&import.stored_path);
        let member = Member::of(&me);
        let replanned = db::run(&state.pool, move |conn| {
            let defs = CustomField::defs(conn)?;
            let visible_to = visibility::limited_to(conn, member)?;
            let found = import::scan_and_plan(
                conn,
                &path,
                &defs,
                mode == "update",
                labels.clone(),
                visible_to,
            );
            let Ok((scan, plan)) = found else {
                return Ok(found.map(drop));
            };
            let errors = serde_json::to_string(&scan.first_errors).unwrap_or_else(|_| "[]".into());
            let plan = serde_json::to_string(&plan).unwrap_or_else(|_| "{}".into());
            Import::replan(
                conn,
                id,
                (mode, owner, &labels),
                scan.failed,
                &errors,
                &plan,
            )?;
            Ok(Ok(()))
        })
        .await?;
        match replanned {
            Ok(()) => flash(
                &me.session,
                "success",
                "The preview now shows what the import will do with these options. Check it, then import.",
            ),
            Err(message) => flash(&me.session, "error", message),
        }
        return Ok(Redirect::to(format!("/imports/{id}")).see_other());
    }
    let queued = db::transaction(&state.pool, move |conn| {
        Ok(Import::queue(conn, id, mode, owner, &labels)?)
    })
    .await?;
    if queued {
        log::info!("import {id} queued by staff {}", me.staff.id);
        state.import_wake.notify();
    } else {
        flash(
            &me.session,
            "error",
            "This import was already started or cancelled.",
        );
    }
    Ok(Redirect::to(format!("/imports/{id}")).see_other())
}

/// Stopping, cancelling or reading the failed rows of an import is for the
/// member who uploaded it and for administrators.
fn may_manage(me: &CurrentStaff, import: &Import) -> AppResult<()> {
    if me.staff.id == import.staff_id || me.staff.is_admin() {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "Only the person who uploaded this file, or an administrator, may do that.",
        ))
    }
}

async fn cancel(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<i64>,
) -> AppResult<Redirect> {
    let id = id.into_inner();
    let (import, _) = load_import(&state, id).await?;
    may_manage(&me, &import)?;
    let (cancelled, stopped) = db::transaction(&state.pool, move |conn| {
        if Import::cancel(conn, id)? {
            return Ok((true, false));
        }
        Ok((false, Import::stop(conn, id)?))
    })
    .await?;
    if cancelled {
        let _ = std::fs::remove_file(&import.stored_path);
        flash(
            &me.session,
            "success",
            format!(
                "The import of {} was cancelled; nothing was imported.",
                import.file_name
            ),
        );
    } else if stopped {
        log::info!("import {id} stopped by staff {}", me.staff.id);
        flash(
            &me.session,
            "success",
            format!(
                "The import of {} is stopped after the rows it was writing; what was imported before stays.",
                import.file_name
            ),
        );
        return Ok(Redirect::to(format!("/imports/{id}")).see_other());
    } else {
        flash(&me.session, "error", "This import has already finished.");
    }
    Ok(Redirect::to("/imports").see_other())
}

/// The failed rows exactly as uploaded, with `Row` and `Errors` first.
async fn error_log(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let (import, _) = load_import(&state, id).await?;
    may_manage(&me, &import)?;
    let name = import
        .file_name
        .trim_end_matches(".csv")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ' '))
        .collect::<String>();
    let mut head = vec!["Row".to_string(), "Errors".to_string()];
    head.extend(import.header());
    let body = export::spawn_stream(state.pool.clone(), "error log", move |conn, sink| {
        if !sink.send(format!("\u{feff}{}", CsvLine::values(&head))) {
            return Ok(());
        }
        let mut after = 0i64;
        loop {
            let rows = Import::errors(conn, id, after, 5000).map_err(|e| e.to_string())?;
            let Some(last) = rows.last() else {
                return Ok(());
            };
            after = last.0;
            let mut out = String::new();
            for (row_no, errors, fields) in rows {
                let mut line = vec![row_no.to_string(), errors];
                line.extend(fields.into_iter().map(Option::unwrap_or_default));
                out.push_str(&CsvLine::as_uploaded(&line));
            }
            if !sink.send(out) {
                return Ok(());
            }
        }
    });
    Ok(attachment(&format!("{}-errors.csv", name.trim())).streaming(body))
}

pub fn csv_download(
    state: &AppState,
    me: &CurrentStaff,
    scope: String,
    selection: Selection,
) -> HttpResponse {
    let staff_id = me.staff.id;
    let pool = state.pool.clone();
    let body = export::spawn_stream(state.pool.clone(), "export", move |conn, sink| {
        export::produce_export(conn, &pool, sink, staff_id, &scope, &selection)
    });
    attachment(&format!(
        "contacts-{}.csv",
        Utc::now().format("%Y%m%d-%H%M")
    ))
    .streaming(body)
}

fn attachment(name: &str) -> actix_web::HttpResponseBuilder {
    let mut res = HttpResponse::Ok();
    res.content_type("text/csv; charset=utf-8").insert_header((
        header::CONTENT_DISPOSITION,
        format!("attachment; filename=\"{name}\""),
    ));
    res
}

/// Everything, or what the list's search and filters show.
async fn export_view(
    state: web::Data<AppState>,
    me: CurrentStaff,
    params: web::Query<ListParams>,
) -> AppResult<HttpResponse> {
    let params = params.into_inner();
    let mut filters = params.filters(me.staff.id, false);
    let mut words = Vec::new();
    if !filters.q.is_empty() {
        words.push(format!("search \"{}\"", filters.q));
    }
    if let Some(t) = filters.contact_type {
        words.push(format!("type {}", t.label()));
    }
    if let Some(l) = filters.level {
        words.push(format!("level {}", l.label()));
    }
    if filters.label.is_some() {
        words.push("a label".into());
    }
    if filters.owner.is_some() {
        words.push("an owner".into());
    }
    let scope = if words.is_empty() {
        "All contacts".to_string()
    } else {
        format!("Contacts matching {}", words.join(", "))
    };
    let app = state.clone();
    let member = Member::of(&me);
    filters = db::run(&state.pool, move |conn| {
        let mut f = filters;
        f.visible_to = visibility::limited_to(conn, member)?;
        if !f.q.is_empty() {
            let sample = app.search_sample(conn)?;
            f.plan_with(&sample);
        }
        Ok(f)
    })
    .await?;
    Ok(csv_download(
        &state,
        &me,
        scope,
        Selection::Matching(filters),
    ))
}
