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
        journey,
        visibility::Member,
    },
    routes::{
        Layout,
        contacts::{
            engagements::format_duration,
            head::{ContactHead, Tab},
        },
        excerpt, next_page, parse_time_cursor, when_in,
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
    /// Journey continues before `micros-id`.
    journey_before: String,
}

/// Page views on one page of the Journey section.
const VIEWS_PER_PAGE: i64 = 100;
/// A pause longer than this between two page views starts a new visit.
const VISIT_GAP_MINUTES: i64 = 30;

pub struct VisitView {
    at: String,
    title: String,
    url: String,
}

/// Consecutive page views, newest first, with the referrer it began from.
pub struct Visit {
    started: String,
    views: Vec<VisitView>,
    referrer: String,
}

/// Groups views (newest first) into visits, newest first.
fn visits(views: &[crate::models::journey::View], zone: &str) -> Vec<Visit> {
    let mut out: Vec<Visit> = Vec::new();
    let mut newer: Option<DateTime<Utc>> = None;
    for v in views {
        let new_visit =
            newer.is_none_or(|n| n - v.viewed_at > chrono::Duration::minutes(VISIT_GAP_MINUTES));
        if new_visit {
            out.push(Visit {
                started: String::new(),
                views: Vec::new(),
                referrer: String::new(),
            });
        }
        if let Some(visit) = out.last_mut() {
            visit.views.push(VisitView {
                at: when_in(v.viewed_at, zone),
                title: if v.title.is_empty() {
                    v.url.clone()
                } else {
                    v.title.clone()
                },
                url: v.url.clone(),
            });
            // The oldest view read so far is where the visit began.
            visit.started = when_in(v.viewed_at, zone);
            visit.referrer = v.referrer.clone();
        }
        newer = Some(v.viewed_at);
    }
    out
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
    visits: Vec<Visit>,
    is_admin: bool,
    more_journey: Option<String>,
    /// The contact's phones, for the empty state's links.
    can_log: bool,
}

pub async fn show_activity(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<i64>,
    params: web::Query<ActivityParams>,
) -> AppResult<ActivityPage> {
    let id = id.into_inner();
    let member = Member::of(&me);
    let before = parse_time_cursor(&params.enquiries_before);
    let engagements_before = parse_time_cursor(&params.engagements_before);
    let journey_before = parse_time_cursor(&params.journey_before);
    let (head, mut found, mut logged, phones, mut views) = db::run(&state.pool, move |conn| {
        let head = ContactHead::load(conn, member, id, Tab::Activity)?;
        let found = enquiry::of_contact(conn, id, before, PER_PAGE + 1)?;
        let logged = engagement::of_contact(conn, id, engagements_before, PER_PAGE + 1)?;
        let phones = crate::models::count_of_contact(conn, "contact_phones", id)?;
        let views = journey::of_contact(conn, id, journey_before, VIEWS_PER_PAGE + 1)?;
        Ok((head, found, logged, phones, views))
    })
    .await?;
    let here = format!("/contacts/{id}/activity");
    let more_journey = next_page(&mut views, VIEWS_PER_PAGE, |v| (v.viewed_at, v.id))
        .map(|last| format!("{here}?journey_before={last}#journey"));
    let more_engagements = next_page(&mut logged, PER_PAGE, |g| (g.created_at, g.id))
        .map(|last| format!("{here}?engagements_before={last}#engagement"));
    let more_enquiries = next_page(&mut found, PER_PAGE, |q| (q.created_at, q.id))
        .map(|last| format!("{here}?enquiries_before={last}#enquiries"));
    let zone = &me.staff.time_zone;
    let enquiries = found
        .iter()
        .map(|q| EnquiryRow {
            id: q.id,
            status: q.status(),
            channel: "Web form",
            excerpt: excerpt(&q.first_message, 160),
            // Handling: who has it; closed: who closed it.
            handler: q.handler_name.clone().or_else(|| q.closed_by_name.clone()),
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
            duration: g.duration_seconds.map(|s| format_duration(Some(s))),
            body: g.body.clone(),
            note: g.note.clone(),
            who: g.staff_name.clone(),
            at: when_in(g.created_at, zone),
            edited: g.updated_at > g.created_at,
            correctable: g.correctable_by(me.staff.id, now) && head.is_live(),
        })
        .collect();
    Ok(ActivityPage {
        layout: Layout::signed_in(&me, "contacts", here),
        can_log: phones > 0 && head.is_live(),
        head,
        enquiries,
        more_enquiries,
        engagements,
        more_engagements,
        visits: visits(&views, &me.staff.time_zone),
        is_admin: me.staff.is_admin(),
        more_journey,
    })
}
