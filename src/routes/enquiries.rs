//! The staff side of enquiries: the tabs of the Enquiries page, taking an
//! enquiry, and its room (conversation, reply, close, transfer, and the
//! contact beside it).

use actix_web::{http::StatusCode, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::{
    AppState,
    auth::{CurrentStaff, flash},
    db,
    domain::note::NoteBody,
    error::{AppError, AppResult},
    models::{
        enquiry::{self, Counts, Enquiry, Status, Tab, Taken},
        staff::Staff,
        visibility::{self, Member},
    },
    routes::{
        FormResponse, Layout, excerpt, invalid, next_page, parse_time_cursor, redirect, when_in,
    },
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/enquiries", web::get().to(list_enquiries))
        .route("/enquiries/{id}", web::get().to(show_room))
        .route("/enquiries/{id}/take", web::post().to(take))
        .route("/enquiries/{id}/messages", web::post().to(reply))
        .route("/enquiries/{id}/close", web::post().to(close))
        .route("/enquiries/{id}/transfer", web::post().to(transfer))
        .route(
            "/enquiries/{id}/contact",
            web::get().to(crate::routes::contacts::update::edit_from_enquiry),
        )
        .route(
            "/enquiries/{id}/contact",
            web::post().to(crate::routes::contacts::update::update_from_enquiry),
        );
}

const PER_PAGE: i64 = 50;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListParams {
    tab: String,
    /// `seconds.micros-id` of the last row of the previous page.
    after: String,
}

pub struct Row {
    id: i64,
    visitor: String,
    excerpt: String,
    opened: String,
    handler: Option<String>,
    status: Status,
    duplicates: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "enquiries/list.html")]
pub struct ListPage {
    layout: Layout,
    tab: &'static str,
    counts: Counts,
    rows: Vec<Row>,
    next_url: Option<String>,
}

impl ListPage {
    /// (tab key, label, count) for the tab bar.
    fn tabs(&self) -> Vec<(&'static str, &'static str, i64)> {
        vec![
            ("open", "Open", self.counts.open),
            ("mine", "Handling: mine", self.counts.mine),
            ("handling", "Handling: everyone's", self.counts.handling),
            ("missed", "Missed", self.counts.missed),
            ("closed", "Closed", self.counts.closed),
        ]
    }
}

async fn list_enquiries(
    state: web::Data<AppState>,
    me: CurrentStaff,
    params: web::Query<ListParams>,
) -> AppResult<ListPage> {
    let member = me.staff.id;
    let (key, tab) = match params.tab.as_str() {
        "mine" => ("mine", Tab::Mine(member)),
        "handling" => ("handling", Tab::Handling),
        "missed" => ("missed", Tab::Missed),
        "closed" => ("closed", Tab::Closed),
        _ => ("open", Tab::Open),
    };
    let after = parse_time_cursor(&params.after);
    let (counts, mut found) = db::run(&state.pool, move |conn| {
        enquiry::mark_missed(conn)?;
        Ok((
            enquiry::counts(conn, member)?,
            enquiry::list(conn, tab, after, PER_PAGE + 1)?,
        ))
    })
    .await?;
    let next_url = next_page(&mut found, PER_PAGE, |q| (q.opened_at, q.id))
        .map(|last| format!("/enquiries?tab={key}&after={last}"));
    let zone = me.staff.time_zone.clone();
    let rows = found
        .iter()
        .map(|q| Row {
            id: q.id,
            visitor: q.visitor_name.clone(),
            excerpt: excerpt(&q.first_message, 140),
            opened: when_in(q.opened_at, &zone),
            handler: q.handler_name.clone().or_else(|| q.closed_by_name.clone()),
            status: q.status(),
            duplicates: q.possible_duplicates.len(),
        })
        .collect();
    Ok(ListPage {
        layout: Layout::signed_in(&me, "enquiries", format!("/enquiries?tab={key}")),
        tab: key,
        counts,
        rows,
        next_url,
    })
}

pub struct RoomLine {
    kind: String,
    who: String,
    to: String,
    text: String,
    at: String,
}

/// The contact as the room's side panel shows it, when the viewer may see it.
pub struct Panel {
    id: i64,
    name: String,
    /// Type and level, as the contact's own page shows them.
    kind: &'static str,
    level: &'static str,
    emails: Vec<String>,
    phones: Vec<String>,
    company: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "enquiries/room.html")]
pub struct RoomPage {
    layout: Layout,
    q: Enquiry,
    /// When it was opened, in the viewer's time zone.
    opened: String,
    lines: Vec<RoomLine>,
    panel: Option<Panel>,
    handles: bool,
    is_admin: bool,
    colleagues: Vec<(i64, String)>,
    body: String,
    error: Option<String>,
}

impl RoomPage {
    fn status(&self) -> Status {
        self.q.status()
    }

    fn can_take(&self) -> bool {
        matches!(self.status(), Status::Open | Status::Missed)
    }

    fn can_close(&self) -> bool {
        self.status() != Status::Closed && (self.handles || self.is_admin)
    }

    /// The side panel's rule: only a Handling enquiry's handler (or an
    /// administrator) edits the contact; every other status views it.
    fn can_edit_contact(&self) -> bool {
        self.status() == Status::Handling && (self.handles || self.is_admin) && self.panel.is_some()
    }

    fn can_transfer(&self) -> bool {
        self.status() == Status::Handling && (self.handles || self.is_admin)
    }
}

async fn room_page(
    state: &web::Data<AppState>,
    me: &CurrentStaff,
    id: i64,
    body: String,
    error: Option<String>,
) -> AppResult<RoomPage> {
    let member = Member::of(me);
    let found = db::run(&state.pool, move |conn| {
        enquiry::mark_missed(conn)?;
        let Some(q) = enquiry::load(conn, id)? else {
            return Ok(None);
        };
        let lines = enquiry::conversation(conn, id)?;
        // The handling member sees the contact whatever the visibility
        // setting; others as the setting says.
        let handles = q.handler_id == Some(member.id);
        let panel = if handles || visibility::sees(conn, member, q.contact_id)? {
            let c = crate::models::contact::ContactRecord::load(conn, q.contact_id)?;
            Some(Panel {
                id: c.contact.id,
                name: c.contact.display_name(),
                kind: c.contact.contact_type().label(),
                level: c.contact.level().label(),
                emails: c.emails.iter().map(|e| e.email.clone()).collect(),
                phones: c.phones.iter().map(|p| p.number.clone()).collect(),
                company: c.contact.company.clone(),
            })
        } else {
            None
        };
        let colleagues: Vec<(i64, String)> = Staff::active_choices(conn)?
            .into_iter()
            .filter(|(sid, _)| *sid != member.id)
            .collect();
        Ok(Some((q, lines, panel, colleagues)))
    })
    .await?;
    let Some((q, lines, panel, colleagues)) = found else {
        return Err(AppError::NotFound);
    };
    let zone = me.staff.time_zone.clone();
    let visitor = q.visitor_name.clone();
    let lines = lines
        .into_iter()
        .map(|l| RoomLine {
            who: match (&l.staff_name, l.kind.as_str()) {
                (Some(n), _) => n.clone(),
                (None, "message") => visitor.clone(),
                (None, _) => String::new(),
            },
            to: l.to_name.unwrap_or_default(),
            kind: l.kind,
            text: l.body,
            at: when_in(l.at, &zone),
        })
        .collect();
    Ok(RoomPage {
        layout: Layout::signed_in(me, "enquiries", format!("/enquiries/{id}")),
        handles: q.handler_id == Some(member.id),
        is_admin: member.admin,
        opened: when_in(q.created_at, &me.staff.time_zone),
        q,
        lines,
        panel,
        colleagues,
        body,
        error,
    })
}

async fn show_room(
    state: web::Data<AppState>,
    me: CurrentStaff,
    path: web::Path<i64>,
) -> AppResult<RoomPage> {
    room_page(&state, &me, path.into_inner(), String::new(), None).await
}

async fn take(
    state: web::Data<AppState>,
    me: CurrentStaff,
    path: web::Path<i64>,
) -> AppResult<actix_web::HttpResponse> {
    let id = path.into_inner();
    let member = me.staff.id;
    let taken = db::transaction(&state.pool, move |conn| {
        Ok(enquiry::take(conn, id, member)?)
    })
    .await?;
    state.open_enquiries.clear();
    match taken {
        Taken::Yes => flash(&me.session, "success", "You are handling this enquiry now."),
        Taken::AlreadyHandled(name) => flash(
            &me.session,
            "error",
            format!("{name} took this enquiry first: they are handling it."),
        ),
        Taken::Closed => flash(
            &me.session,
            "error",
            "This enquiry is closed: there is nothing to take.",
        ),
        Taken::NotFound => return Err(AppError::NotFound),
    }
    Ok(crate::routes::see_other(&format!("/enquiries/{id}")))
}

#[derive(Deserialize)]
pub struct ReplyForm {
    #[serde(default)]
    body: String,
}

async fn reply(
    state: web::Data<AppState>,
    me: CurrentStaff,
    path: web::Path<i64>,
    form: web::Form<ReplyForm>,
) -> FormResponse<RoomPage> {
    let id = path.into_inner();
    let form = form.into_inner();
    let body = match NoteBody::parse(&form.body) {
        Ok(b) => b,
        Err(e) => {
            let page = room_page(&state, &me, id, form.body, Some(format!("Reply: {e}"))).await?;
            return invalid(page, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let member = me.staff.id;
    let sent = db::transaction(&state.pool, move |conn| {
        Ok(enquiry::staff_reply(conn, id, member, body.as_str())?)
    })
    .await?;
    if !sent {
        let page = room_page(
            &state,
            &me,
            id,
            form.body,
            Some("Reply: only the member handling this enquiry can reply. Take it first.".into()),
        )
        .await?;
        return invalid(page, StatusCode::FORBIDDEN);
    }
    redirect(format!("/enquiries/{id}#latest"))
}

#[derive(Deserialize)]
pub struct CloseForm {
    #[serde(default)]
    resolution: String,
}

async fn close(
    state: web::Data<AppState>,
    me: CurrentStaff,
    path: web::Path<i64>,
    form: web::Form<CloseForm>,
) -> AppResult<actix_web::HttpResponse> {
    let id = path.into_inner();
    let resolution: String = form.resolution.trim().to_string();
    if resolution.chars().count() > 2000
        || resolution
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        flash(
            &me.session,
            "error",
            "The resolution note must be at most 2,000 characters of plain text; the enquiry is still open.",
        );
        return Ok(crate::routes::see_other(&format!("/enquiries/{id}")));
    }
    let member = Member::of(&me);
    let closed = db::transaction(&state.pool, move |conn| {
        Ok(enquiry::close(
            conn,
            id,
            member.id,
            member.admin,
            &resolution,
        )?)
    })
    .await?;
    state.open_enquiries.clear();
    if closed {
        flash(&me.session, "success", "The enquiry is closed.");
    } else {
        flash(
            &me.session,
            "error",
            "Only the member handling this enquiry (or an administrator) can close it.",
        );
    }
    Ok(crate::routes::see_other(&format!("/enquiries/{id}")))
}

#[derive(Deserialize)]
pub struct TransferForm {
    #[serde(default)]
    to: String,
}

async fn transfer(
    state: web::Data<AppState>,
    me: CurrentStaff,
    path: web::Path<i64>,
    form: web::Form<TransferForm>,
) -> AppResult<actix_web::HttpResponse> {
    let id = path.into_inner();
    let Ok(to) = form.to.trim().parse::<i64>() else {
        flash(
            &me.session,
            "error",
            "Choose the colleague to hand the enquiry to.",
        );
        return Ok(crate::routes::see_other(&format!("/enquiries/{id}")));
    };
    let member = Member::of(&me);
    let moved = db::transaction(&state.pool, move |conn| {
        Ok(enquiry::transfer(conn, id, member.id, member.admin, to)?)
    })
    .await?;
    if moved {
        flash(&me.session, "success", "The enquiry has been handed over.");
    } else {
        flash(
            &me.session,
            "error",
            "The enquiry was not handed over: only its handler (or an administrator) can, and only to another active member.",
        );
    }
    Ok(crate::routes::see_other(&format!("/enquiries/{id}")))
}
