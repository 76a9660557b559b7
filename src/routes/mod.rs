//! HTTP handlers, one module per feature, and what every page shares.

pub mod admin;
pub mod assets;
pub mod auth;
pub mod contacts;
pub mod enquiries;
pub mod imports;
pub mod journey;
pub mod me;
pub mod search;
pub mod staff;
pub mod support;

use actix_session::Session;
use actix_web::{
    Either, HttpResponse, Responder,
    http::StatusCode,
    web::{self, Redirect},
};

use crate::{
    auth::{Flash, take_flashes},
    domain::staff::{Availability, avatar_hue, initials},
    error::AppResult,
    models::staff::Staff,
    security::csrf_token,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .route("/healthz", web::get().to(healthz))
        .configure(assets::configure)
        .configure(auth::configure)
        .configure(support::configure)
        .configure(journey::configure)
        .configure(enquiries::configure)
        // Before contacts: /contacts/export.csv is not a /contacts/{id}.
        .configure(imports::configure)
        .configure(contacts::configure)
        .configure(staff::configure)
        .configure(me::configure)
        .configure(search::configure)
        .configure(admin::configure);
}

async fn home() -> HttpResponse {
    see_other("/contacts")
}

async fn healthz(state: web::Data<crate::AppState>) -> HttpResponse {
    let ok = crate::db::run(&state.pool, |conn| {
        use diesel::RunQueryDsl;
        diesel::sql_query("SELECT 1").execute(conn)?;
        Ok(())
    })
    .await
    .is_ok();
    if ok {
        HttpResponse::Ok().content_type("text/plain").body("ok")
    } else {
        HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("database unavailable")
    }
}

/// A page re-rendered with an error status, or a redirect after success.
pub type FormResponse<P> = AppResult<Either<actix_web::CustomizeResponder<P>, Redirect>>;

pub fn invalid<P: Responder>(page: P, status: StatusCode) -> FormResponse<P> {
    Ok(Either::Left(page.customize().with_status(status)))
}

pub fn redirect<P: Responder>(to: impl Into<String>) -> FormResponse<P> {
    Ok(Either::Right(Redirect::to(to.into()).see_other()))
}

/// A 303 redirect: after a POST, the browser GETs the next page.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, location))
        .finish()
}

/// How a staff member is drawn: avatar image or initials on a coloured circle.
#[derive(Clone, Debug)]
pub struct Face {
    pub name: String,
    pub initials: String,
    pub hue: u32,
    pub avatar_url: Option<String>,
}

impl Face {
    pub fn of(s: &Staff) -> Face {
        Face::from_parts(s.id, &s.display_name, s.avatar_version)
    }

    /// From a staff member's id, name and picture version (0: none).
    pub fn from_parts(id: i64, name: &str, avatar_version: i32) -> Face {
        Face {
            name: name.to_string(),
            initials: initials(name),
            hue: avatar_hue(id),
            avatar_url: (avatar_version > 0)
                .then(|| format!("/staff/{id}/avatar?v={avatar_version}")),
        }
    }
}

/// A moment as the viewer reads it: in their own time zone.
pub fn when_in(at: chrono::DateTime<chrono::Utc>, zone: &str) -> String {
    let tz: chrono_tz::Tz = zone.parse().unwrap_or(chrono_tz::Tz::UTC);
    at.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M %Z")
        .to_string()
}

/// A keyset position in a list ordered by time, as it travels in a URL:
/// `microseconds-id`.
pub fn time_cursor(at: chrono::DateTime<chrono::Utc>, id: i64) -> String {
    format!("{}-{id}", at.timestamp_micros())
}

pub fn parse_time_cursor(s: &str) -> Option<(chrono::DateTime<chrono::Utc>, i64)> {
    let (micros, id) = s.split_once('-')?;
    Some((
        chrono::DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        id.parse().ok()?,
    ))
}

/// Cuts `rows` (fetched one beyond `per_page`) to a page; the cursor of its
/// last row when there is a next page.
pub fn next_page<T>(
    rows: &mut Vec<T>,
    per_page: i64,
    key: impl Fn(&T) -> (chrono::DateTime<chrono::Utc>, i64),
) -> Option<String> {
    if rows.len() as i64 <= per_page {
        return None;
    }
    rows.truncate(per_page as usize);
    rows.last().map(|r| {
        let (at, id) = key(r);
        time_cursor(at, id)
    })
}

/// A text on one line, cut to `max` characters with an ellipsis.
pub fn excerpt(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > max {
        format!("{}…", flat.chars().take(max - 1).collect::<String>())
    } else {
        flat
    }
}

/// The signed-in member as the page header shows them.
pub struct Me {
    pub id: i64,
    pub face: Face,
    pub availability: Availability,
    pub is_admin: bool,
    /// Open enquiries waiting to be taken.
    pub open_enquiries: i64,
}

/// What the base layout needs on every page.
pub struct Layout {
    pub me: Option<Me>,
    pub csrf: String,
    pub flashes: Vec<Flash>,
    /// Which navigation item is current.
    pub nav: &'static str,
    /// The path of this page, for forms that come back here.
    pub here: String,
    pub asset_version: &'static str,
    /// What the header's search box shows (the results page's words).
    pub search: String,
}

impl Layout {
    pub fn new(
        session: &Session,
        me: Option<&Staff>,
        nav: &'static str,
        here: impl Into<String>,
    ) -> Layout {
        Layout {
            me: me.map(|s| Me {
                id: s.id,
                face: Face::of(s),
                availability: s.availability(),
                is_admin: s.is_admin(),
                open_enquiries: 0,
            }),
            csrf: csrf_token(session),
            flashes: take_flashes(session),
            nav,
            here: here.into(),
            asset_version: assets::version(),
            search: String::new(),
        }
    }

    /// The layout of a signed-in member's page, with the header's badge.
    pub fn signed_in(
        me: &crate::auth::CurrentStaff,
        nav: &'static str,
        here: impl Into<String>,
    ) -> Layout {
        let mut layout = Layout::new(&me.session, Some(&me.staff), nav, here);
        if let Some(m) = layout.me.as_mut() {
            m.open_enquiries = me.open_enquiries;
        }
        layout
    }

    pub fn availabilities(&self) -> &'static [Availability] {
        Availability::ALL
    }
}
