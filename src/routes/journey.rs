//! The web journey's public side: the script a company adds to its website
//! (`/journey.js`) and the endpoint it sends page views to
//! (`/journey/events`), open to the origins administrators list and to no
//! other; plus the administrators' page that lists them.

use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use askama::Template;
use askama_web::WebTemplate;
use chrono::{Duration, Utc};
use serde::Deserialize;

use crate::{
    AppState,
    auth::{Admin, flash},
    db,
    error::{AppError, AppResult},
    journey::{PER_ADDRESS_PER_MINUTE, PER_VISITOR_PER_MINUTE, Queued},
    models::journey::{self, PageView, valid_visitor_id},
    routes::{Layout, see_other},
    security::client_address,
};

/// The largest event body: a view is a few hundred bytes.
const MAX_EVENT: usize = 8 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/journey.js", web::get().to(script))
        .service(
            web::resource("/journey/events")
                .app_data(web::PayloadConfig::new(MAX_EVENT))
                .route(web::post().to(receive))
                .route(web::method(actix_web::http::Method::OPTIONS).to(preflight)),
        )
        .route("/admin/journey", web::get().to(admin_page))
        .route("/admin/journey/origins", web::post().to(add_origin))
        .route(
            "/admin/journey/origins/{id}/delete",
            web::post().to(remove_origin),
        );
}

const SCRIPT: &str = r#"/* ContactBook web journey: records the pages of this site a visitor views,
   under a random visitor id kept in this site's own storage, and adds that id
   to links to the ContactBook support form. */
(function () {
  var me = document.currentScript;
  if (!me || !window.fetch) return;
  var base = new URL(me.src).origin;
  var key = "contactbook_visitor", id = null;
  try { id = window.localStorage.getItem(key); } catch (e) {}
  if (!id || !/^[A-Za-z0-9_-]{16,64}$/.test(id)) {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    id = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
    try { window.localStorage.setItem(key, id); } catch (e) {}
  }
  var view = { v: id, u: location.href.slice(0, 2048), t: (document.title || "").slice(0, 300),
               r: (document.referrer || "").slice(0, 2048), at: Date.now() };
  try {
    fetch(base + "/journey/events", { method: "POST", mode: "cors", credentials: "omit", keepalive: true,
      headers: { "Content-Type": "text/plain" }, body: JSON.stringify(view) }).catch(function () {});
  } catch (e) {}
  function tag() {
    var links = document.querySelectorAll("a[href]");
    for (var i = 0; i < links.length; i++) {
      var u;
      try { u = new URL(links[i].href); } catch (e) { continue; }
      if (u.origin === base && u.pathname === "/support") {
        u.searchParams.set("visitor", id);
        links[i].href = u.toString();
      }
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", tag); else tag();
})();
"#;

async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(SCRIPT)
}

/// The request's Origin when administrators list it.
async fn allowed_origin(
    state: &web::Data<AppState>,
    req: &HttpRequest,
) -> AppResult<Option<String>> {
    let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_string)
    else {
        return Ok(None);
    };
    let listed = match state.web_origins.fresh() {
        Some(list) => list,
        None => {
            let st = state.clone();
            db::run(&state.pool, move |conn| {
                Ok(st.web_origins.get_or_load(|| {
                    journey::origins(conn).map(|o| o.into_iter().map(|(_, o)| o).collect())
                })?)
            })
            .await?
        }
    };
    Ok(listed.contains(&origin).then_some(origin))
}

fn cors(origin: &str) -> actix_web::HttpResponseBuilder {
    let mut res = HttpResponse::build(StatusCode::NO_CONTENT);
    res.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.to_string()))
        .insert_header((header::VARY, "Origin"));
    res
}

fn refused(status: StatusCode, why: &'static str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(why)
}

async fn preflight(state: web::Data<AppState>, req: HttpRequest) -> AppResult<HttpResponse> {
    Ok(match allowed_origin(&state, &req).await? {
        Some(origin) => cors(&origin)
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "POST"))
            .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, "content-type"))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
            .finish(),
        None => refused(StatusCode::FORBIDDEN, "origin not allowed"),
    })
}

#[derive(Deserialize)]
struct Event {
    v: String,
    u: String,
    #[serde(default)]
    t: String,
    #[serde(default)]
    r: String,
    /// Milliseconds since the epoch, by the visitor's clock.
    #[serde(default)]
    at: Option<i64>,
}

fn plain_text(s: &str) -> bool {
    !s.chars().any(char::is_control)
}

/// The view the event describes, checked against the origin it came from.
fn view_of(event: Event, origin: &str) -> Result<PageView, &'static str> {
    if !valid_visitor_id(&event.v) {
        return Err("bad visitor id");
    }
    let url = event.u.trim();
    let same_site = url == origin
        || url
            .strip_prefix(origin)
            .is_some_and(|rest| rest.starts_with(['/', '?', '#']));
    if !same_site {
        return Err("the page is not on the sending origin");
    }
    if url.len() > 2048 || event.r.len() > 2048 || event.t.chars().count() > 300 {
        return Err("too long");
    }
    let referrer_ok =
        event.r.is_empty() || event.r.starts_with("https://") || event.r.starts_with("http://");
    if !plain_text(url) || !plain_text(&event.t) || !plain_text(&event.r) || !referrer_ok {
        return Err("bad text");
    }
    let now = Utc::now();
    // A visitor's clock is trusted within a day; else the time it arrived.
    let viewed_at = event
        .at
        .and_then(chrono::DateTime::<Utc>::from_timestamp_millis)
        .filter(|t| *t > now - Duration::days(1) && *t < now + Duration::minutes(5))
        .unwrap_or(now);
    Ok(PageView {
        visitor_id: event.v,
        origin: origin.to_string(),
        url: url.to_string(),
        title: event.t.trim().to_string(),
        referrer: event.r,
        viewed_at,
    })
}

async fn receive(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    let Some(origin) = allowed_origin(&state, &req).await? else {
        return Ok(refused(StatusCode::FORBIDDEN, "origin not allowed"));
    };
    let with_cors = |status: StatusCode, why: &'static str| {
        cors(&origin)
            .status(status)
            .content_type("text/plain; charset=utf-8")
            .body(why)
    };
    let Ok(event) = serde_json::from_slice::<Event>(&body) else {
        return Ok(with_cors(StatusCode::BAD_REQUEST, "not a page view"));
    };
    let view = match view_of(event, &origin) {
        Ok(v) => v,
        Err(why) => return Ok(with_cors(StatusCode::BAD_REQUEST, why)),
    };
    let address = format!("a:{}", client_address(&req));
    let visitor = format!("v:{}", view.visitor_id);
    if !state.journey_limits.allow(&[
        (&visitor, PER_VISITOR_PER_MINUTE),
        (&address, PER_ADDRESS_PER_MINUTE),
    ]) {
        return Ok(with_cors(StatusCode::TOO_MANY_REQUESTS, "slow down"));
    }
    Ok(match state.journey_writer.push(view) {
        Queued::Yes => cors(&origin).status(StatusCode::ACCEPTED).finish(),
        Queued::Full => with_cors(StatusCode::SERVICE_UNAVAILABLE, "busy, try later"),
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/journey.html")]
pub struct JourneyAdminPage {
    layout: Layout,
    origins: Vec<(i64, String)>,
    base: String,
    snippet: String,
    typed: String,
    error: Option<String>,
}

/// Where this ContactBook is reached from a company's website.
fn public_base(state: &AppState, req: &HttpRequest) -> String {
    match &state.config.public_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        }
    }
}

async fn journey_page(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    me: &crate::auth::CurrentStaff,
    typed: String,
    error: Option<String>,
) -> AppResult<JourneyAdminPage> {
    let origins = db::run(&state.pool, |conn| Ok(journey::origins(conn)?)).await?;
    let base = public_base(state, req);
    Ok(JourneyAdminPage {
        layout: Layout::signed_in(me, "admin", "/admin/journey"),
        origins,
        snippet: format!("<script src=\"{base}/journey.js\" async></script>"),
        base,
        typed,
        error,
    })
}

async fn admin_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(me): Admin,
) -> AppResult<JourneyAdminPage> {
    journey_page(&state, &req, &me, String::new(), None).await
}

#[derive(Deserialize)]
pub struct OriginForm {
    #[serde(default)]
    origin: String,
}

async fn add_origin(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(me): Admin,
    form: web::Form<OriginForm>,
) -> AppResult<actix_web::Either<actix_web::CustomizeResponder<JourneyAdminPage>, HttpResponse>> {
    use actix_web::Responder;
    let typed = form.origin.clone();
    let origin = match journey::parse_origin(&typed) {
        Ok(o) => o,
        Err(e) => {
            let page =
                journey_page(&state, &req, &me, typed, Some(format!("Website: {e}"))).await?;
            return Ok(actix_web::Either::Left(
                page.customize()
                    .with_status(StatusCode::UNPROCESSABLE_ENTITY),
            ));
        }
    };
    let by = me.staff.id;
    let shown = origin.clone();
    let added = db::transaction(&state.pool, move |conn| {
        Ok(journey::add_origin(conn, &origin, by)?)
    })
    .await?;
    state.web_origins.clear();
    flash(
        &me.session,
        "success",
        if added {
            format!("{shown} may now send page views.")
        } else {
            format!("{shown} was already allowed.")
        },
    );
    Ok(actix_web::Either::Right(see_other("/admin/journey")))
}

async fn remove_origin(
    state: web::Data<AppState>,
    Admin(me): Admin,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let removed = db::transaction(&state.pool, move |conn| {
        Ok(journey::remove_origin(conn, id)?)
    })
    .await?;
    if !removed {
        return Err(AppError::NotFound);
    }
    state.web_origins.clear();
    flash(
        &me.session,
        "success",
        "That website may no longer send page views; those already recorded stay.",
    );
    Ok(see_other("/admin/journey"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(u: &str) -> Event {
        Event {
            v: "0123456789abcdef0123".into(),
            u: u.into(),
            t: "Pricing".into(),
            r: String::new(),
            at: None,
        }
    }

    #[test]
    fn a_view_must_be_a_page_of_the_origin_it_came_from() {
        let o = "https://shop.example.com";
        assert!(view_of(event("https://shop.example.com/pricing?a=1"), o).is_ok());
        assert!(view_of(event("https://shop.example.com"), o).is_ok());
        assert!(view_of(event("https://shop.example.com.evil.net/"), o).is_err());
        assert!(view_of(event("javascript:alert(1)"), o).is_err());
        let mut long = event("https://shop.example.com/");
        long.u.push_str(&"x".repeat(2100));
        assert!(view_of(long, o).is_err());
        let mut bad_ref = event("https://shop.example.com/");
        bad_ref.r = "javascript:alert(1)".into();
        assert!(view_of(bad_ref, o).is_err());
    }
}
