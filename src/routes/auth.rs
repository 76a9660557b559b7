//! First-run setup, sign-in and sign-out.

use actix_session::Session;
use actix_web::{
    Either, FromRequest, HttpRequest,
    http::StatusCode,
    web::{self, Redirect},
};
use askama::Template;
use askama_web::WebTemplate;
use chrono::Utc;
use serde::Deserialize;

use crate::{
    AppState,
    auth::{CurrentStaff, flash, sign_in},
    db,
    domain::{
        Email,
        password::{NewPassword, burn_verification_time, verify_password},
        staff::{Availability, FieldErrors, Role},
        text::required_text,
    },
    error::{AppError, AppResult},
    models::{
        login_attempt::LoginAttempt,
        staff::{NewStaff, Staff},
    },
    routes::{FormResponse, Layout, invalid, redirect},
    security::safe_next,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/setup", web::get().to(show_setup))
        .route("/setup", web::post().to(create_first_admin))
        .route("/login", web::get().to(show_login))
        .route("/login", web::post().to(sign_in_staff))
        .route("/logout", web::post().to(sign_out_staff));
}

// ---------------------------------------------------------------- setup

#[derive(Deserialize, Default)]
pub struct SetupForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "auth/setup.html")]
pub struct SetupPage {
    layout: Layout,
    form: SetupForm,
    errors: FieldErrors,
}

async fn show_setup(
    state: web::Data<AppState>,
    session: Session,
) -> AppResult<Either<SetupPage, Redirect>> {
    if state.setup_done().await? {
        return Ok(Either::Right(Redirect::to("/login").see_other()));
    }
    Ok(Either::Left(SetupPage {
        layout: Layout::new(&session, None, "", "/setup"),
        form: SetupForm::default(),
        errors: FieldErrors::default(),
    }))
}

async fn create_first_admin(
    state: web::Data<AppState>,
    session: Session,
    form: web::Form<SetupForm>,
) -> FormResponse<SetupPage> {
    if state.setup_done().await? {
        return redirect("/login");
    }
    let form = form.into_inner();
    let mut errors = FieldErrors::default();
    let name = errors.check("display_name", required_text(&form.display_name, 100));
    let email = errors.check("email", Email::parse(&form.email));
    let password = errors.check(
        "password",
        NewPassword::parse(&form.password, &form.password_confirm),
    );
    let (Some(name), Some(email), Some(password), true) =
        (name, email, password, errors.is_empty())
    else {
        return invalid(
            SetupPage {
                layout: Layout::new(&session, None, "", "/setup"),
                form: SetupForm {
                    password: String::new(),
                    password_confirm: String::new(),
                    ..form
                },
                errors,
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    let hash = crate::hashing::run(move || password.hash())
        .await?
        .map_err(AppError::internal)?;
    let created = db::transaction(&state.pool, move |conn| {
        // Two browsers racing through setup: the lock orders them, and only the
        // first creates an admin.
        diesel::RunQueryDsl::execute(
            diesel::sql_query("SELECT pg_advisory_xact_lock(7262001)"),
            conn,
        )?;
        if Staff::setup_done(conn)? {
            return Ok(None);
        }
        let staff = Staff::insert(
            conn,
            &NewStaff {
                email: email.as_str(),
                display_name: &name,
                password_hash: Some(&hash),
                role: Role::Admin.as_str(),
                department: "",
                job_title: "",
                time_zone: "UTC",
                extension: None,
                phone: None,
                availability: Availability::Available.as_str(),
            },
        )?;
        Ok(Some(staff))
    })
    .await?;
    let Some(staff) = created else {
        return redirect("/login");
    };
    state.mark_setup_done();
    sign_in(&session, &staff)?;
    log::info!("first administrator {} created through setup", staff.id);
    flash(
        &session,
        "success",
        format!(
            "Welcome, {}. Your administrator account is ready.",
            staff.display_name
        ),
    );
    redirect("/contacts")
}

// ---------------------------------------------------------------- sign-in

#[derive(Deserialize, Default)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    signed_out: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "auth/login.html")]
pub struct LoginPage {
    layout: Layout,
    email: String,
    next: String,
    error: Option<String>,
    notice: Option<&'static str>,
}

async fn show_login(
    state: web::Data<AppState>,
    session: Session,
    query: web::Query<LoginQuery>,
    req: HttpRequest,
) -> AppResult<Either<LoginPage, Redirect>> {
    if !state.setup_done().await? {
        return Ok(Either::Right(Redirect::to("/setup").see_other()));
    }
    // Already signed in: nothing to do here.
    if let Ok(current) = CurrentStaff::extract(&req).await {
        drop(current);
        return Ok(Either::Right(
            Redirect::to(safe_next(query.next.as_deref(), "/").to_string()).see_other(),
        ));
    }
    Ok(Either::Left(LoginPage {
        layout: Layout::new(&session, None, "", "/login"),
        email: String::new(),
        next: safe_next(query.next.as_deref(), "").to_string(),
        error: None,
        notice: query.signed_out.as_ref().map(|_| "You have signed out."),
    }))
}

enum Outcome {
    Locked(i64),
    ClientLocked(i64),
    Wrong,
    Ok(Box<Staff>),
}

fn minutes_until(until: chrono::DateTime<Utc>, now: chrono::DateTime<Utc>) -> i64 {
    (((until - now).num_seconds() + 59) / 60).max(1)
}

async fn sign_in_staff(
    state: web::Data<AppState>,
    session: Session,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> FormResponse<LoginPage> {
    let form = form.into_inner();
    let email_key = form.email.trim().to_lowercase();
    let client = crate::security::client_address(&req);
    let (key, from) = (email_key.clone(), client.clone());
    let checked = db::run(&state.pool, move |conn| {
        let now = Utc::now();
        if let Some(until) = LoginAttempt::client_locked_until(conn, &from, now)? {
            return Ok(Err(Outcome::ClientLocked(minutes_until(until, now))));
        }
        if let Some(until) = LoginAttempt::locked_until(conn, &key, now)? {
            return Ok(Err(Outcome::Locked(minutes_until(until, now))));
        }
        Ok(Ok(Staff::find_by_email(conn, &key)?.filter(|s| s.active)))
    })
    .await?;
    let outcome = match checked {
        Err(locked) => locked,
        Ok(staff) => {
            // The hash runs without a database connection held, on the
            // bounded hashing threads.
            let password = form.password.clone();
            let hash = staff.as_ref().and_then(|s| s.password_hash.clone());
            let ok = crate::hashing::run(move || match hash {
                Some(hash) => verify_password(&password, &hash),
                None => {
                    burn_verification_time(&password);
                    false
                }
            })
            .await?;
            db::run(&state.pool, move |conn| {
                LoginAttempt::record(conn, &email_key, &client, ok)?;
                match (ok, staff) {
                    (true, Some(mut staff)) => {
                        if staff.availability() == Availability::Offline {
                            Staff::set_availability(conn, staff.id, Availability::Available)?;
                            staff.availability = Availability::Available.as_str().to_string();
                        }
                        Ok(Outcome::Ok(Box::new(staff)))
                    }
                    _ => Ok(Outcome::Wrong),
                }
            })
            .await?
        }
    };

    let retry = |error: String, status| {
        invalid(
            LoginPage {
                layout: Layout::new(&session, None, "", "/login"),
                email: form.email.clone(),
                next: safe_next(Some(&form.next), "").to_string(),
                error: Some(error),
                notice: None,
            },
            status,
        )
    };
    match outcome {
        Outcome::Locked(minutes) => retry(
            format!(
                "Too many failed sign-in attempts for this email. Try again in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            ),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Outcome::ClientLocked(minutes) => retry(
            format!(
                "Too many failed sign-in attempts from this network. Try again in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            ),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Outcome::Wrong => retry(
            "That email and password do not match an active account.".into(),
            StatusCode::UNAUTHORIZED,
        ),
        Outcome::Ok(staff) => {
            sign_in(&session, &staff)?;
            log::info!("staff {} signed in", staff.id);
            redirect(safe_next(Some(&form.next), "/"))
        }
    }
}

async fn sign_out_staff(
    state: web::Data<AppState>,
    session: Session,
    req: HttpRequest,
) -> AppResult<Redirect> {
    if let Ok(current) = CurrentStaff::extract(&req).await {
        let id = current.staff.id;
        db::run(&state.pool, move |conn| {
            Ok(Staff::set_availability(conn, id, Availability::Offline)?)
        })
        .await?;
        log::info!("staff {id} signed out");
    }
    session.purge();
    Ok(Redirect::to("/login?signed_out=1").see_other())
}
