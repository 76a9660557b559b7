//! Who is signed in: the `CurrentStaff` and `Admin` extractors, sign-in state in
//! the session, and flash messages.

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::{FromRequest, HttpRequest, dev::Payload, http::Method, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::{
    AppState, db,
    db::session_store::{LOADED_STAFF_KEY, STAFF_ID_KEY},
    error::AppError,
    models::staff::Staff,
};

/// When the member signed in, in milliseconds since the epoch.
const AUTH_AT_KEY: &str = "auth_at";
const FLASH_KEY: &str = "flash";

/// The signed-in, active staff member. Pages that need one take this extractor;
/// without a valid session the visitor is sent to the sign-in page. Its
/// `staff.password_hash` is not loaded: read it from the table when needed.
pub struct CurrentStaff {
    pub staff: Staff,
    pub session: Session,
    /// Open enquiries, for the header's badge (kept a few seconds).
    pub open_enquiries: i64,
}

/// A signed-in administrator; agents get 403.
pub struct Admin(pub CurrentStaff);

/// Marks `session` as `staff`'s, under a new session id so that an id planted
/// before sign-in is worthless after it.
pub fn sign_in(session: &Session, staff: &Staff) -> Result<(), AppError> {
    session.renew();
    session
        .insert(STAFF_ID_KEY, staff.id)
        .and_then(|_| session.insert(AUTH_AT_KEY, Utc::now().timestamp_millis()))
        .map_err(AppError::internal)?;
    crate::security::rotate_csrf_token(session);
    Ok(())
}

impl FromRequest for CurrentStaff {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let session = req.get_session();
            // Only a page the visitor asked for is worth returning to.
            let next = if req.method() == Method::GET {
                req.uri()
                    .path_and_query()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_default()
            } else {
                String::new()
            };
            let sign_in = || AppError::SignInRequired { next: next.clone() };
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| AppError::internal("application state missing"))?
                .clone();
            let Some(staff_id) = session.get::<i64>(STAFF_ID_KEY).ok().flatten() else {
                return Err(sign_in());
            };
            let auth_at = session.get::<i64>(AUTH_AT_KEY).ok().flatten().unwrap_or(0);
            let age_ms = Utc::now().timestamp_millis().saturating_sub(auth_at);
            if age_ms < 0 || age_ms as u128 > state.config.absolute_timeout.as_millis() {
                session.purge();
                return Err(sign_in());
            }
            // Usually read together with the session (one round trip); Redis
            // sessions, or a row gone since, take a query of their own.
            let loaded = session
                .get::<Staff>(LOADED_STAFF_KEY)
                .ok()
                .flatten()
                .filter(|s| s.id == staff_id && s.active);
            let staff = match loaded {
                Some(staff) => Some(staff),
                None => {
                    db::run(&state.pool, move |conn| {
                        Ok(Staff::find_active(conn, staff_id)?)
                    })
                    .await?
                }
            };
            let open_enquiries = match state.open_enquiries.fresh() {
                Some(n) => *n,
                None => {
                    let st = state.clone();
                    db::run(&state.pool, move |conn| {
                        Ok(*st
                            .open_enquiries
                            .get_or_load(|| crate::models::enquiry::open_count(conn))?)
                    })
                    .await?
                }
            };
            match staff {
                Some(staff) => Ok(CurrentStaff {
                    staff,
                    session,
                    open_enquiries,
                }),
                None => {
                    // Deactivated or deleted since sign-in.
                    session.purge();
                    Err(sign_in())
                }
            }
        })
    }
}

impl FromRequest for Admin {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let current = CurrentStaff::from_request(req, payload);
        Box::pin(async move {
            let current = current.await?;
            if current.staff.is_admin() {
                Ok(Admin(current))
            } else {
                Err(AppError::Forbidden("This page is for administrators only."))
            }
        })
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Flash {
    /// `success` or `error`; the template turns it into a class.
    pub kind: String,
    pub text: String,
}

pub fn flash(session: &Session, kind: &str, text: impl Into<String>) {
    let mut list: Vec<Flash> = session.get(FLASH_KEY).ok().flatten().unwrap_or_default();
    list.push(Flash {
        kind: kind.to_string(),
        text: text.into(),
    });
    let _ = session.insert(FLASH_KEY, list);
}

pub fn take_flashes(session: &Session) -> Vec<Flash> {
    if !session.contains_key(FLASH_KEY) {
        return Vec::new();
    }
    let list = session.get(FLASH_KEY).ok().flatten().unwrap_or_default();
    session.remove(FLASH_KEY);
    list
}
