//! The public support form and the visitor's private conversation page. No
//! sign-in: the anonymous session carries the CSRF token, a honeypot field
//! catches simple bots, and each client address may send a few enquiries in
//! a window.

use actix_session::Session;
use actix_web::{HttpRequest, http::StatusCode, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::{
    AppState, db,
    domain::{
        Email,
        contact::{parse_first_name, parse_phone_entry},
        country::{CountryInfo, countries},
        note::NoteBody,
        staff::FieldErrors,
    },
    error::{AppError, AppResult},
    models::enquiry::{self, Status, Visitor},
    routes::{FormResponse, Layout, invalid, redirect, when_in},
    security::client_address,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/support", web::get().to(show_form))
        .route("/support", web::post().to(send_enquiry))
        .route("/support/e/{token}", web::get().to(show_conversation))
        .route("/support/e/{token}", web::post().to(visitor_writes));
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct SupportForm {
    first_name: String,
    last_name: String,
    email: String,
    phone_country: String,
    phone: String,
    message: String,
    /// Hidden from people; bots fill it in.
    website: String,
    /// The website journey's visitor id, when the visitor came from a page
    /// carrying the script.
    visitor: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "support/form.html")]
pub struct SupportPage {
    layout: Layout,
    form: SupportForm,
    errors: FieldErrors,
    /// Set when the client has sent too many enquiries.
    limited: bool,
    /// Thanked without a link (the hidden field was filled in).
    sent: bool,
}

impl SupportPage {
    fn err(&self, key: &str) -> Option<&str> {
        self.errors.get(key)
    }

    fn error_list(&self) -> Vec<(String, String)> {
        self.errors.summary_with(|key| {
            Some(
                match key {
                    "first_name" => "First name",
                    "last_name" => "Last name",
                    "email" => "Email",
                    "phone" => "Phone",
                    "message" => "Message",
                    _ => return None,
                }
                .to_string(),
            )
        })
    }

    fn countries(&self) -> &'static [CountryInfo] {
        countries()
    }
}

#[derive(Deserialize)]
pub struct FormParams {
    #[serde(default)]
    sent: String,
    #[serde(default)]
    visitor: String,
}

async fn show_form(session: Session, params: web::Query<FormParams>) -> SupportPage {
    SupportPage {
        layout: Layout::new(&session, None, "", "/support"),
        form: SupportForm {
            visitor: Some(params.visitor.clone())
                .filter(|v| crate::models::journey::valid_visitor_id(v))
                .unwrap_or_default(),
            ..SupportForm::default()
        },
        errors: FieldErrors::default(),
        limited: false,
        sent: !params.sent.is_empty(),
    }
}

/// The visitor's details by the contact rules, every problem at once.
fn parse(form: &SupportForm) -> Result<(Visitor, NoteBody), FieldErrors> {
    let mut e = FieldErrors::default();
    let first_name = e.check("first_name", parse_first_name(&form.first_name));
    // The last name is what a contact must have: "customer" stands in.
    let last_name = if form.last_name.trim().is_empty() {
        Some("customer".to_string())
    } else {
        e.check(
            "last_name",
            crate::domain::contact::parse_last_name(&form.last_name),
        )
    };
    let email = if form.email.trim().is_empty() {
        Some(None)
    } else {
        e.check("email", Email::parse(&form.email).map(Some))
    };
    let phone = if form.phone.trim().is_empty() {
        Some(None)
    } else {
        e.check(
            "phone",
            parse_phone_entry(&form.phone_country, &form.phone).map(Some),
        )
    };
    if matches!((&email, &phone), (Some(None), Some(None))) {
        e.add(
            "email",
            "give an email address or a phone number, so that we can answer",
        );
    }
    let message = e.check("message", NoteBody::parse(&form.message));
    match (first_name, last_name, email, phone, message) {
        (Some(first_name), Some(last_name), Some(email), Some(phone), Some(message))
            if e.is_empty() =>
        {
            Ok((
                Visitor {
                    first_name,
                    last_name,
                    email,
                    phone,
                },
                message,
            ))
        }
        _ => Err(e),
    }
}

async fn send_enquiry(
    state: web::Data<AppState>,
    session: Session,
    req: HttpRequest,
    form: web::Form<SupportForm>,
) -> FormResponse<SupportPage> {
    let form = form.into_inner();
    let page = |form: SupportForm, errors: FieldErrors, limited: bool| SupportPage {
        layout: Layout::new(&session, None, "", "/support"),
        form,
        errors,
        limited,
        sent: false,
    };
    // A bot filled in the hidden field: it is thanked, and nothing is kept.
    if !form.website.is_empty() {
        return redirect("/support?sent=1");
    }
    let (visitor, message) = match parse(&form) {
        Ok(parsed) => parsed,
        Err(errors) => return invalid(page(form, errors, false), StatusCode::UNPROCESSABLE_ENTITY),
    };
    let client = client_address(&req);
    let visitor_id =
        Some(form.visitor.clone()).filter(|v| crate::models::journey::valid_visitor_id(v));
    let sent = db::transaction(&state.pool, move |conn| {
        if !enquiry::admit(conn, &client, enquiry::RATE_LIMIT)? {
            return Ok(None);
        }
        let sent = enquiry::submit(conn, &visitor, message.as_str(), visitor_id.as_deref())?;
        // The pages this browser viewed, before and after, are the contact's.
        if let Some(v) = &visitor_id {
            crate::models::journey::link_visitor(conn, v, sent.contact_id)?;
        }
        Ok(Some(sent))
    })
    .await?;
    let Some(sent) = sent else {
        return invalid(
            page(form, FieldErrors::default(), true),
            StatusCode::TOO_MANY_REQUESTS,
        );
    };
    state.open_enquiries.clear();
    log::info!(
        "enquiry {} from the support form, contact {}",
        sent.enquiry_id,
        sent.contact_id
    );
    crate::auth::flash(
        &session,
        "success",
        "Thank you: your enquiry has been sent. This page is your private link to the conversation; bookmark it to come back to our answer.",
    );
    redirect(format!("/support/e/{}", sent.token))
}

#[derive(Template, WebTemplate)]
#[template(path = "support/conversation.html")]
pub struct ConversationPage {
    layout: Layout,
    token: String,
    status: Status,
    lines: Vec<VisitorLine>,
    body: String,
    error: Option<String>,
}

pub struct VisitorLine {
    /// "You", the replying member's display name, or empty for an event.
    who: String,
    from_visitor: bool,
    text: String,
    at: String,
}

async fn conversation_page(
    state: &web::Data<AppState>,
    session: &Session,
    token: String,
    body: String,
    error: Option<String>,
) -> AppResult<ConversationPage> {
    let lookup = token.clone();
    let found = db::run(&state.pool, move |conn| {
        let Some(q) = enquiry::by_token(conn, &lookup)? else {
            return Ok(None);
        };
        let lines = enquiry::conversation(conn, q.id)?;
        Ok(Some((q, lines)))
    })
    .await?;
    let Some((q, lines)) = found else {
        return Err(AppError::NotFound);
    };
    let lines = lines
        .into_iter()
        .filter_map(|l| {
            let at = when_in(l.at, "UTC");
            // The visitor sees who answered and the status, nothing more.
            let (who, from_visitor, text) = match l.kind.as_str() {
                "message" => match l.staff_name {
                    Some(name) => (name, false, l.body),
                    None => ("You".to_string(), true, l.body),
                },
                "closed" => (String::new(), false, "This enquiry was closed.".to_string()),
                "reopened" => (
                    String::new(),
                    false,
                    "You wrote again: the enquiry is open again.".to_string(),
                ),
                _ => return None,
            };
            Some(VisitorLine {
                who,
                from_visitor,
                text,
                at,
            })
        })
        .collect();
    Ok(ConversationPage {
        layout: Layout::new(session, None, "", format!("/support/e/{token}")),
        token,
        status: q.status(),
        lines,
        body,
        error,
    })
}

async fn show_conversation(
    state: web::Data<AppState>,
    session: Session,
    path: web::Path<String>,
) -> AppResult<ConversationPage> {
    conversation_page(&state, &session, path.into_inner(), String::new(), None).await
}

#[derive(Deserialize)]
pub struct VisitorMessage {
    #[serde(default)]
    body: String,
}

async fn visitor_writes(
    state: web::Data<AppState>,
    session: Session,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<VisitorMessage>,
) -> FormResponse<ConversationPage> {
    let token = path.into_inner();
    let form = form.into_inner();
    let body = match NoteBody::parse(&form.body) {
        Ok(b) => b,
        Err(e) => {
            let page = conversation_page(
                &state,
                &session,
                token,
                form.body,
                Some(format!("Message: {e}")),
            )
            .await?;
            return invalid(page, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let lookup = token.clone();
    let client = format!("reply:{}", client_address(&req));
    let written = db::transaction(&state.pool, move |conn| {
        let Some(q) = enquiry::by_token(conn, &lookup)? else {
            return Ok(None);
        };
        if !enquiry::admit(conn, &client, enquiry::REPLY_LIMIT)? {
            return Ok(Some(false));
        }
        enquiry::visitor_reply(conn, q.id, body.as_str())?;
        Ok(Some(true))
    })
    .await?;
    match written {
        None => Err(AppError::NotFound),
        Some(false) => {
            let page = conversation_page(
                &state,
                &session,
                token,
                form.body,
                Some(format!(
                    "Message: you have written {} messages in the last {} minutes, as many as we accept from one place. Please wait a few minutes; what you wrote is still here.",
                    enquiry::REPLY_LIMIT,
                    enquiry::RATE_WINDOW_MINUTES
                )),
            )
            .await?;
            invalid(page, StatusCode::TOO_MANY_REQUESTS)
        }
        Some(true) => {
            // Writing may have reopened it.
            state.open_enquiries.clear();
            redirect(format!("/support/e/{token}#latest"))
        }
    }
}
