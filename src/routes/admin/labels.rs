//! Administrators manage contact labels (name and colour); every page gets the
//! colours from `/labels.css`, since the CSP rules out inline styles.

use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web::{self, Redirect},
};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::{
    AppState,
    auth::{Admin, flash},
    db,
    domain::{contact::parse_label_name, staff::FieldErrors},
    error::AppResult,
    models::{bulk::BulkEdit, bulk_job::BulkJob, label::Label, unique_violation},
    routes::{
        FormResponse, Layout,
        contacts::{
            bulk::plural,
            bulk_jobs::{Asked, start},
            list::{ListParams, group_digits},
        },
        invalid, redirect,
    },
};

/// A label on more contacts than this is deleted by a bulk job: every
/// contact it leaves is rewritten (the row keeps a copy of its labels), and
/// at 250,000 contacts one statement took 36 s, past any request's limit.
const DELETE_INLINE: i64 = 2_000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/labels.css", web::get().to(labels_css))
        .route("/admin/labels", web::get().to(list_labels))
        .route("/admin/labels", web::post().to(create_label))
        .route("/admin/labels/{id}", web::post().to(update_label))
        .route(
            "/admin/labels/{id}/delete",
            web::get().to(confirm_delete_label),
        )
        .route("/admin/labels/{id}/delete", web::post().to(delete_label));
}

/// Readable text on any label colour: dark on light, white on dark.
fn text_colour(hex: &str) -> &'static str {
    let c = |i: usize| u32::from_str_radix(hex.get(i..i + 2).unwrap_or("80"), 16).unwrap_or(128);
    let luma = 299 * c(1) + 587 * c(3) + 114 * c(5);
    if luma > 150_000 { "#111827" } else { "#ffffff" }
}

async fn labels_css(state: web::Data<AppState>, req: HttpRequest) -> AppResult<HttpResponse> {
    let labels = db::run(&state.pool, |conn| Ok(Label::all(conn)?)).await?;
    let css: String = labels
        .iter()
        .map(|l| {
            format!(
                ".label-{} {{ background: {}; color: {}; }}\n",
                l.id,
                l.colour,
                text_colour(&l.colour)
            )
        })
        .collect();
    let etag = format!("\"{:016x}\"", crate::cache::fnv1a(css.bytes()));
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str());
    let mut res = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "no-cache"));
    Ok(if fresh {
        res.finish()
    } else {
        res.content_type("text/css; charset=utf-8").body(css)
    })
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct LabelForm {
    name: String,
    colour: String,
}

pub struct LabelRow {
    pub label: Label,
    /// "1 contact", "250,000 contacts".
    pub contacts: String,
    /// The bulk job deleting it, while it runs.
    pub deleting: Option<i64>,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/labels.html")]
pub struct LabelsPage {
    layout: Layout,
    rows: Vec<LabelRow>,
    form: LabelForm,
    errors: FieldErrors,
    /// The label whose edit failed, to show its errors beside it.
    failed: Option<i64>,
}

impl LabelsPage {
    fn is_failed(&self, id: &i64) -> bool {
        self.failed == Some(*id)
    }
}

async fn page(
    state: &AppState,
    me: &crate::auth::CurrentStaff,
    form: LabelForm,
    errors: FieldErrors,
    failed: Option<i64>,
) -> AppResult<LabelsPage> {
    let (labels, usage, deleting) = db::run(&state.pool, |conn| {
        Ok((
            Label::all(conn)?,
            Label::usage(conn)?,
            BulkJob::labels_being_deleted(conn)?,
        ))
    })
    .await?;
    Ok(LabelsPage {
        layout: Layout::signed_in(me, "admin", "/admin/labels"),
        rows: labels
            .into_iter()
            .map(|label| {
                let n = usage
                    .iter()
                    .find(|(id, _)| *id == label.id)
                    .map(|(_, n)| *n)
                    .unwrap_or(0);
                LabelRow {
                    contacts: plural(n),
                    deleting: deleting
                        .iter()
                        .find(|(l, _)| *l == label.id)
                        .map(|(_, job)| *job),
                    label,
                }
            })
            .collect(),
        form,
        errors,
        failed,
    })
}

async fn list_labels(state: web::Data<AppState>, Admin(me): Admin) -> AppResult<LabelsPage> {
    page(
        &state,
        &me,
        LabelForm {
            colour: "#2563eb".into(),
            ..LabelForm::default()
        },
        FieldErrors::default(),
        None,
    )
    .await
}

fn check(form: &LabelForm) -> Result<(String, String), FieldErrors> {
    let mut e = FieldErrors::default();
    let name = e.check("name", parse_label_name(&form.name));
    let colour = form.colour.trim().to_lowercase();
    let ok = colour.len() == 7
        && colour.starts_with('#')
        && colour[1..].bytes().all(|b| b.is_ascii_hexdigit());
    if !ok {
        e.add("colour", "must be a colour such as #2563eb");
    }
    match (name, ok) {
        (Some(name), true) => Ok((name, colour)),
        _ => Err(e),
    }
}

async fn save(
    state: web::Data<AppState>,
    Admin(me): Admin,
    id: Option<i64>,
    form: LabelForm,
) -> FormResponse<LabelsPage> {
    let (name, colour) = match check(&form) {
        Ok(v) => v,
        Err(errors) => {
            return invalid(
                page(&state, &me, form, errors, id).await?,
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let (n, c) = (name.clone(), colour.clone());
    let saved = db::run(&state.pool, move |conn| {
        use diesel::Connection;
        Ok(conn.transaction(|conn| match id {
            Some(id) => Label::update(conn, id, &n, &c),
            None => Label::insert(conn, &n, &c),
        }))
    })
    .await?;
    match saved {
        Ok(label) => {
            state.list_choices.clear();
            flash(
                &me.session,
                "success",
                format!("Label {} has been saved.", label.name),
            );
            redirect("/admin/labels")
        }
        Err(e) if unique_violation(&e).is_some() => {
            let mut errors = FieldErrors::default();
            errors.add("name", format!("{name} already exists"));
            invalid(
                page(&state, &me, form, errors, id).await?,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(e) => Err(e.into()),
    }
}

async fn create_label(
    state: web::Data<AppState>,
    admin: Admin,
    form: web::Form<LabelForm>,
) -> FormResponse<LabelsPage> {
    save(state, admin, None, form.into_inner()).await
}

async fn update_label(
    state: web::Data<AppState>,
    admin: Admin,
    id: web::Path<i64>,
    form: web::Form<LabelForm>,
) -> FormResponse<LabelsPage> {
    save(state, admin, Some(id.into_inner()), form.into_inner()).await
}

async fn confirm_delete_label(
    state: web::Data<AppState>,
    Admin(me): Admin,
    id: web::Path<i64>,
) -> AppResult<super::ConfirmDeletePage> {
    let id = id.into_inner();
    let (label, uses) = db::run(&state.pool, move |conn| {
        Ok((Label::find(conn, id)?, Label::uses(conn, id)?))
    })
    .await?;
    let background = if uses > DELETE_INLINE {
        " With this many it runs in the background, batch by batch, and you \
         can follow it; the label goes when it has left the last contact."
    } else {
        ""
    };
    Ok(super::ConfirmDeletePage {
        layout: Layout::signed_in(&me, "admin", format!("/admin/labels/{id}/delete")),
        title: format!("Delete the label {}?", label.name),
        consequence: format!(
            "It is taken off the {} {}; the contacts themselves stay.{background}",
            group_digits(uses),
            if uses == 1 {
                "contact that carries it"
            } else {
                "contacts that carry it"
            }
        ),
        action: format!("/admin/labels/{id}/delete"),
        button: "Delete label",
        back: "/admin/labels",
        back_name: "Labels",
    })
}

async fn delete_label(
    state: web::Data<AppState>,
    Admin(me): Admin,
    id: web::Path<i64>,
) -> AppResult<Redirect> {
    let id = id.into_inner();
    let (label, uses, running) = db::run(&state.pool, move |conn| {
        Ok((
            Label::find(conn, id)?,
            Label::uses(conn, id)?,
            BulkJob::labels_being_deleted(conn)?,
        ))
    })
    .await?;
    if let Some((_, job)) = running.into_iter().find(|(l, _)| *l == id) {
        // Asked twice: the first one is on its way.
        return Ok(Redirect::to(format!("/bulk-changes/{job}")).see_other());
    }
    if uses > DELETE_INLINE {
        let done = format!(
            "Label {} has been deleted and removed from its contacts.",
            label.name
        );
        return start(
            &state,
            &me,
            Asked {
                edit: BulkEdit::RemoveLabel(id),
                what: format!(
                    "Delete the label {} (taken off its {} contacts first)",
                    label.name,
                    group_digits(uses)
                ),
                view: ListParams {
                    label: id.to_string(),
                    ..ListParams::default()
                },
                trash: false,
                then_delete_label: true,
            },
            "/admin/labels".into(),
            move |_| done.clone(),
        )
        .await;
    }
    db::transaction(&state.pool, move |conn| Ok(Label::delete(conn, id)?)).await?;
    state.list_choices.clear();
    flash(
        &me.session,
        "success",
        format!(
            "Label {} has been deleted and removed from its contacts.",
            label.name
        ),
    );
    Ok(Redirect::to("/admin/labels").see_other())
}
