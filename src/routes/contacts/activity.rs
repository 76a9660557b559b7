//! `/contacts/{id}/activity`: the Activity tab, in the reference guide's
//! three sections: Enquiry History (every enquiry of the contact, ongoing and
//! closed, opening its conversation), Engagement (calls and SMS staff
//! logged) and Journey (pages of the company's website visited).

use actix_web::web;
use askama::Template;
use askama_web::WebTemplate;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::{
    AppState,
    auth::CurrentStaff,
    db,
    error::AppResult,
    models::{
        engagement,
        enquiry::{self, Status},
        visibility::Member,
    },
    routes::{
        Layout,
        contacts::head::{ContactHead, Tab},
        when_in,
    },
};

const PER_PAGE: i64 = 20;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ActivityParams {
    /// Enquiry History continues before `micros-id`.
    enquiries_before: String,
    /// Engagement continues before `micros-id`.
    engagements_before: String,
}

pub struct EngagementRow {
    id: i64,
    what: &'static str,
    number: String,
    outcome: &'static str,
    duration: Option<String>,
    body: String,
    note: String,
    who: String,
    at: String,
    edited: bool,
    correctable: bool,
}

pub struct EnquiryRow {
    id: i64,
    status: Status,
    channel: &'static str,
    excerpt: String,
    handler: Option<String>,
    opened: String,
    closed: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "contacts/activity.html")]
pub struct ActivityPage {
    layout: Layout,
    head: ContactHead,
    enquiries: Vec<EnquiryRow>,
    more_enquiries: Option<String>,
    engagements: Vec<EngagementRow>,
    more_engagements: Option<String>,
    /// The contact's phones, for the empty state's links.
    can_log: bool,
}

fn parse_cursor(s: &str) -> Option<(DateTime<Utc>, i64)> {
    let (micros, id) = s.split_once('-')?;
    Some((
        DateTime::<Utc>::from_timestamp_micros(micros.parse().ok()?)?,
        id.parse().ok()?,
    ))
}

pub async fn show_activity(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<i64>,
    params: web::Query<ActivityParams>,
) -> AppResult<ActivityPage> {
    let id = id.into_inner();
    let member = Member::of(&me);
    let before = parse_cursor(&params.enquiries_before);
    let engagements_before = parse_cursor(&params.engagements_before);
    let (head, mut found, mut logged, phones) = db::run(&state.pool, move |conn| {
        let head = ContactHead::load(conn, member, id, Tab::Activity)?;
        let found = enquiry::of_contact(conn, id, before, PER_PAGE + 1)?;
        let logged = engagement::of_contact(conn, id, engagements_before, PER_PAGE + 1)?;
        let phones = crate::models::contact::ContactRecord::load(conn, id)?
            .phones
            .len();
        Ok((head, found, logged, phones))
    })
    .await?;
    let more_engagements = (logged.len() as i64 > PER_PAGE).then(|| {
        logged.truncate(PER_PAGE as usize);
        let last = logged
            .last()
            .map(|g| format!("{}-{}", g.created_at.timestamp_micros(), g.id))
            .unwrap_or_default();
        format!("/contacts/{id}/activity?engagements_before={last}#engagement")
    });
    let more_enquiries = (found.len() as i64 > PER_PAGE).then(|| {
        found.truncate(PER_PAGE as usize);
        let last = found
            .last()
            .map(|q| format!("{}-{}", q.created_at.timestamp_micros(), q.id))
            .unwrap_or_default();
        format!("/contacts/{id}/activity?enquiries_before={last}#enquiries")
    });
    let zone = &me.staff.time_zone;
    let enquiries = found
        .iter()
        .map(|q| EnquiryRow {
            id: q.id,
            status: q.status(),
            channel: "Web form",
            excerpt: {
                let flat = q
                    .first_message
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                if flat.chars().count() > 160 {
                    format!("{}…", flat.chars().take(159).collect::<String>())
                } else {
                    flat
                }
            },
            handler: q.handler_name.clone(),
            opened: when_in(q.created_at, zone),
            closed: q.closed_at.map(|at| when_in(at, zone)),
        })
        .collect();
    let now = Utc::now();
    let engagements = logged
        .iter()
        .map(|g| EngagementRow {
            id: g.id,
            what: if g.kind == "sms" { "SMS" } else { "Call" },
            number: g.number.clone(),
            outcome: engagement::outcome_label(&g.outcome),
            duration: g.duration_seconds.map(|s| {
                if s >= 3600 {
                    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
                } else {
                    format!("{}:{:02}", s / 60, s % 60)
                }
            }),
            body: g.body.clone(),
            note: g.note.clone(),
            who: g.staff_name.clone(),
            at: when_in(g.created_at, zone),
            edited: g.updated_at > g.created_at,
            correctable: g.correctable_by(me.staff.id, now) && head.is_live(),
        })
        .collect();
    Ok(ActivityPage {
        layout: Layout::signed_in(&me, "contacts", format!("/contacts/{id}/activity")),
        can_log: phones > 0 && head.is_live(),
        head,
        enquiries,
        more_enquiries,
        engagements,
        more_engagements,
    })
}
