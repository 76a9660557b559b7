//! The one error type of the web layer, rendered as a friendly HTML page.

use actix_web::{
    HttpResponse, ResponseError,
    http::{StatusCode, header},
};
use askama::Template;

/// Marks errors raised where no database connection was free in time, so that
/// layers which only see an opaque error (the session middleware) still answer 503.
pub const POOL_BUSY: &str = "no database connection free";

#[derive(Debug)]
pub enum AppError {
    NotFound,
    Forbidden(&'static str),
    /// Not signed in: redirect to the sign-in page, then back to `next`.
    SignInRequired {
        next: String,
    },
    /// What was asked for lives elsewhere now (a merged contact's page).
    SeeOther(String),
    BadRequest(String),
    PayloadTooLarge(String),
    /// No database connection was free in time.
    Unavailable(String),
    /// Anything else; the cause is logged with a reference the page shows.
    Internal {
        reference: String,
        cause: String,
    },
}

impl AppError {
    pub fn internal(cause: impl std::fmt::Display) -> AppError {
        let reference = crate::security::random_token(6);
        log::error!("internal error [ref {reference}]: {cause}");
        AppError::Internal {
            reference,
            cause: cause.to_string(),
        }
    }
}

impl AppError {
    /// The error page's title, message and logged reference.
    fn page_text(&self) -> (&'static str, &str, Option<&str>) {
        match self {
            AppError::NotFound => (
                "Page not found",
                "There is nothing at this address. It may have been moved or deleted.",
                None,
            ),
            AppError::Forbidden(why) => ("Not allowed", *why, None),
            AppError::BadRequest(m) => ("That request could not be understood", m.as_str(), None),
            AppError::PayloadTooLarge(m) => ("That upload is too large", m.as_str(), None),
            AppError::Unavailable(_) => (
                "ContactBook is busy",
                "The server is busy right now. Please try again in a few seconds.",
                None,
            ),
            AppError::Internal { reference, .. } => (
                "Something went wrong",
                "An unexpected error stopped this page. It has been logged; please try again, and quote the reference below if it keeps happening.",
                Some(reference.as_str()),
            ),
            AppError::SignInRequired { .. } => ("Sign-in required", "", None),
            AppError::SeeOther(_) => ("Moved", "", None),
        }
    }

    /// A copy to render again; an internal error keeps its logged reference.
    fn clone_for_response(&self) -> AppError {
        match self {
            AppError::NotFound => AppError::NotFound,
            AppError::Forbidden(w) => AppError::Forbidden(w),
            AppError::SignInRequired { next } => AppError::SignInRequired { next: next.clone() },
            AppError::SeeOther(to) => AppError::SeeOther(to.clone()),
            AppError::BadRequest(m) => AppError::BadRequest(m.clone()),
            AppError::PayloadTooLarge(m) => AppError::PayloadTooLarge(m.clone()),
            AppError::Unavailable(m) => AppError::Unavailable(m.clone()),
            AppError::Internal { reference, cause } => AppError::Internal {
                reference: reference.clone(),
                cause: cause.clone(),
            },
        }
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppError::NotFound => f.write_str("not found"),
            AppError::Forbidden(why) => write!(f, "forbidden: {why}"),
            AppError::SignInRequired { .. } => f.write_str("sign-in required"),
            AppError::SeeOther(to) => write!(f, "see {to}"),
            AppError::BadRequest(m) => write!(f, "bad request: {m}"),
            AppError::PayloadTooLarge(m) => write!(f, "payload too large: {m}"),
            AppError::Unavailable(m) => write!(f, "unavailable: {m}"),
            AppError::Internal { reference, cause } => write!(f, "internal [{reference}]: {cause}"),
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => AppError::NotFound,
            // The pool's statement and lock timeouts: the database is busy,
            // not broken.
            diesel::result::Error::DatabaseError(_, ref info)
                if info.message().contains("canceling statement due to") =>
            {
                log::warn!("database busy: {}", info.message());
                AppError::Unavailable(info.message().to_string())
            }
            other => AppError::internal(format!("database: {other}")),
        }
    }
}

impl From<diesel::r2d2::PoolError> for AppError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        log::warn!("no database connection available: {e}");
        AppError::Unavailable(e.to_string())
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        AppError::internal(format!("blocking task failed: {e}"))
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::internal(format!("template: {e}"))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
    reference: Option<&'a str>,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::SignInRequired { .. } | AppError::SeeOther(_) => StatusCode::SEE_OTHER,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let AppError::SignInRequired { next } = self {
            let location = if next.is_empty() || next == "/" {
                "/login".to_string()
            } else {
                format!("/login?next={}", crate::security::url_encode(next))
            };
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .finish();
        }
        if let AppError::SeeOther(to) = self {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, to.as_str()))
                .finish();
        }
        let status = self.status_code();
        let (title, message, reference) = self.page_text();
        let page = ErrorPage {
            status: status.as_u16(),
            title,
            message,
            reference,
        };
        let body = page.render().unwrap_or_else(|_| format!("{status}"));
        let mut res = HttpResponse::build(status);
        res.content_type("text/html; charset=utf-8");
        // Also when actix renders this error itself, outside the middleware
        // that adds them to every other response.
        for header in crate::security::SECURITY_HEADERS {
            res.insert_header(header);
        }
        res.body(body)
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// Renders errors that did not come from our handlers (the session middleware,
/// actix itself) as our HTML page, so users never see a bare text response.
pub async fn friendly_errors(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    // An inner service that fails outright (the session store without a
    // connection) has no response to replace: its error is turned into ours,
    // which renders the page with the security headers (`error_response`).
    let res = next.call(req).await.map_err(|e| {
        let status = e.as_response_error().status_code();
        actix_web::Error::from(replace(&e, status))
    })?;
    let replacement = match res.response().error() {
        Some(e) if e.as_error::<AppError>().is_none() => Some(replace(e, res.status())),
        _ => None,
    };
    Ok(match replacement {
        Some(err) => {
            let (req, _) = res.into_parts();
            actix_web::dev::ServiceResponse::new(req, err.error_response())
        }
        None => res.map_into_boxed_body(),
    })
}

fn replace(e: &actix_web::Error, status: StatusCode) -> AppError {
    if let Some(app) = e.as_error::<AppError>() {
        return app.clone_for_response();
    }
    let text = format!("{e:?}");
    if text.contains(POOL_BUSY) {
        AppError::Unavailable(text)
    } else if status.is_server_error() {
        AppError::internal(text)
    } else if status == StatusCode::NOT_FOUND {
        AppError::NotFound
    } else if status == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::PayloadTooLarge("The upload is larger than ContactBook accepts.".into())
    } else {
        AppError::BadRequest(e.to_string())
    }
}

#[derive(Template)]
#[template(path = "error_in_layout.html")]
struct ErrorInLayout<'a> {
    layout: crate::routes::Layout,
    status: u16,
    title: &'a str,
    message: &'a str,
}

/// A page that is not there, or not for this member, keeps the header and
/// navigation of a signed-in member, so that they carry on from it.
pub async fn within_layout(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    use actix_web::FromRequest;
    // Not cloned before the call: the handler needs the request to itself.
    let res = next.call(req).await?;
    let http = res.request().clone();
    let error = match res
        .response()
        .error()
        .and_then(|e| e.as_error::<AppError>())
    {
        Some(e @ (AppError::NotFound | AppError::Forbidden(_))) => e,
        _ => return Ok(res.map_into_boxed_body()),
    };
    let (title, message, _) = error.page_text();
    if http.method() != actix_web::http::Method::GET {
        return Ok(res.map_into_boxed_body());
    }
    let Ok(me) =
        crate::auth::CurrentStaff::from_request(&http, &mut actix_web::dev::Payload::None).await
    else {
        return Ok(res.map_into_boxed_body());
    };
    let status = res.status();
    let page = ErrorInLayout {
        layout: crate::routes::Layout::signed_in(&me, "", http.path()),
        status: status.as_u16(),
        title,
        message,
    };
    let Ok(body) = page.render() else {
        return Ok(res.map_into_boxed_body());
    };
    let response = HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body);
    Ok(actix_web::dev::ServiceResponse::new(http, response))
}
