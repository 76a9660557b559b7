//! The one error type of the web layer, rendered as a friendly HTML page.

use actix_web::{
    HttpResponse, ResponseError,
    http::{StatusCode, header},
};
use askama::Template;

#[derive(Debug)]
pub enum AppError {
    NotFound,
    Forbidden(&'static str),
    /// Not signed in: redirect to the sign-in page, then back to `next`.
    SignInRequired { next: String },
    BadRequest(String),
    PayloadTooLarge(String),
    /// No database connection was free in time.
    Unavailable(String),
    /// Anything else; the cause is logged with a reference the page shows.
    Internal { reference: String, cause: String },
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

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppError::NotFound => f.write_str("not found"),
            AppError::Forbidden(why) => write!(f, "forbidden: {why}"),
            AppError::SignInRequired { .. } => f.write_str("sign-in required"),
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
            AppError::SignInRequired { .. } => StatusCode::SEE_OTHER,
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
        let status = self.status_code();
        let (title, message, reference) = match self {
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
        };
        let page = ErrorPage {
            status: status.as_u16(),
            title,
            message,
            reference,
        };
        let body = page.render().unwrap_or_else(|_| format!("{status}"));
        HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body)
    }
}

pub type AppResult<T> = Result<T, AppError>;
