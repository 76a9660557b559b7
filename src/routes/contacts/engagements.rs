//! Logging a call or an SMS with a contact (from beside a phone on the
//! Profile tab), and correcting it within a day. The list is on the Activity
//! tab's Engagement section.

use actix_web::{http::StatusCode, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::{
    AppState,
    auth::{CurrentStaff, flash},
    db,
    domain::staff::FieldErrors,
    error::{AppError, AppResult},
    models::{
        contact::ContactRecord,
        engagement::{self, CALL_OUTCOMES, NewEngagement, SMS_OUTCOMES},
        visibility::Member,
    },
    routes::{
        FormResponse, Layout,
        contacts::head::{ContactHead, Tab},
        invalid, redirect,
    },
};

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct LogForm {
    kind: String,
    number: String,
    outcome: String,
    duration: String,
    body: String,
    note: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewParams {
    kind: String,
    phone: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "contacts/engagement.html")]
pub struct LogPage {
    layout: Layout,
    contact_id: i64,
    contact_name: String,
    /// Set when correcting an entry.
    editing: Option<i64>,
    phones: Vec<String>,
    form: LogForm,
    errors: FieldErrors,
}

impl LogPage {
    fn is_call(&self) -> bool {
        self.form.kind != "sms"
    }

    fn outcomes(&self) -> &'static [(&'static str, &'static str)] {
        if self.is_call() {
            &CALL_OUTCOMES
        } else {
            &SMS_OUTCOMES
        }
    }

    fn err(&self, key: &str) -> Option<&str> {
        self.errors.get(key)
    }

    fn error_list(&self) -> Vec<(String, String)> {
        self.errors.summary()
    }

    fn action(&self) -> String {
        match self.editing {
            Some(e) => format!("/contacts/{}/engagements/{e}/edit", self.contact_id),
            None => format!("/contacts/{}/engagements", self.contact_id),
        }
    }
}

/// `4:30`, `1:02:03` or a whole number of minutes, as seconds.
fn parse_duration(raw: &str) -> Result<Option<i32>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let bad = || format!("{raw} is not a duration: write minutes:seconds such as 4:30, or minutes");
    let parts: Vec<&str> = raw.split(':').collect();
    let nums: Vec<i64> = parts
        .iter()
        .map(|p| p.trim().parse::<i64>().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let seconds = match nums.as_slice() {
        [m] => m.checked_mul(60),
        [m, s] if *s < 60 => m.checked_mul(60).and_then(|x| x.checked_add(*s)),
        [h, m, s] if *m < 60 && *s < 60 => {
            h.checked_mul(3600).and_then(|x| x.checked_add(m * 60 + s))
        }
        _ => None,
    }
    .filter(|s| *s >= 0)
    .ok_or_else(bad)?;
    if seconds > 86_400 {
        return Err("must be at most 24 hours".into());
    }
    Ok(Some(seconds as i32))
}

pub fn format_duration(seconds: Option<i32>) -> String {
    match seconds {
        Some(s) if s >= 3600 => format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60),
        Some(s) => format!("{}:{:02}", s / 60, s % 60),
        None => String::new(),
    }
}

fn plain(raw: &str, max: usize, what: &str) -> Result<String, String> {
    let text = raw.replace("\r\n", "\n").trim().to_string();
    let len = text.chars().count();
    if len > max {
        return Err(format!("must be at most {max} characters (this is {len})"));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(format!("{what} contains control characters"));
    }
    Ok(text)
}

/// Checks the form against the contact's phones; every problem at once.
fn parse(form: &LogForm, phones: &[String]) -> Result<NewEngagement, FieldErrors> {
    let mut e = FieldErrors::default();
    let kind = if form.kind == "sms" { "sms" } else { "call" };
    let number = if phones.contains(&form.number) {
        Some(form.number.clone())
    } else {
        e.add("number", "choose one of the contact's phone numbers");
        None
    };
    let allowed: &[(&str, &str)] = if kind == "call" {
        &CALL_OUTCOMES
    } else {
        &SMS_OUTCOMES
    };
    let outcome = if allowed.iter().any(|(v, _)| *v == form.outcome) {
        Some(form.outcome.clone())
    } else {
        e.add("outcome", "choose what happened");
        None
    };
    let duration = if kind == "call" {
        e.check("duration", parse_duration(&form.duration))
    } else {
        Some(None)
    };
    let body = if kind == "sms" {
        match plain(&form.body, 1600, "The text") {
            Ok(b) if b.is_empty() => {
                e.add("body", "is empty: write the text you sent");
                None
            }
            other => e.check("body", other),
        }
    } else {
        Some(String::new())
    };
    let note = e.check("note", plain(&form.note, 2000, "The note"));
    match (number, outcome, duration, body, note) {
        (Some(number), Some(outcome), Some(duration_seconds), Some(body), Some(note))
            if e.is_empty() =>
        {
            Ok(NewEngagement {
                kind,
                number,
                outcome,
                duration_seconds,
                body,
                note,
            })
        }
        _ => Err(e),
    }
}

/// The contact as `me` may see it (live), with its phone numbers.
async fn contact_of(
    state: &web::Data<AppState>,
    me: &CurrentStaff,
    id: i64,
) -> AppResult<(String, Vec<String>)> {
    let member = Member::of(me);
    let (head, phones) = db::run(&state.pool, move |conn| {
        let head = ContactHead::load(conn, member, id, Tab::Activity)?;
        let record = ContactRecord::load(conn, id)?;
        Ok((
            head,
            record
                .phones
                .into_iter()
                .map(|p| p.number)
                .collect::<Vec<_>>(),
        ))
    })
    .await?;
    if !head.is_live() {
        return Err(AppError::NotFound);
    }
    Ok((head.name, phones))
}

/// The contact as `contact_of` gives it, and its logged entry `eid`.
async fn entry_of(
    state: &web::Data<AppState>,
    me: &CurrentStaff,
    id: i64,
    eid: i64,
) -> AppResult<(String, Vec<String>, engagement::Engagement)> {
    let (name, phones) = contact_of(state, me, id).await?;
    let found = db::run(&state.pool, move |conn| {
        Ok(engagement::load(conn, eid, id)?)
    })
    .await?;
    Ok((name, phones, found.ok_or(AppError::NotFound)?))
}

fn page(
    me: &CurrentStaff,
    contact_id: i64,
    name: String,
    phones: Vec<String>,
    editing: Option<i64>,
    form: LogForm,
    errors: FieldErrors,
) -> LogPage {
    LogPage {
        layout: Layout::signed_in(me, "contacts", format!("/contacts/{contact_id}/activity")),
        contact_id,
        contact_name: name,
        editing,
        phones,
        form,
        errors,
    }
}

pub async fn new_engagement(
    state: web::Data<AppState>,
    me: CurrentStaff,
    path: web::Path<i64>,
    params: web::Query<NewParams>,
) -> AppResult<LogPage> {
    let id = path.into_inner();
    let (name, phones) = contact_of(&state, &me, id).await?;
    let kind = if params.kind == "sms" { "sms" } else { "call" };
    let number = if phones.contains(&params.phone) {
        params.phone.clone()
    } else {
        phones.first().cloned().unwrap_or_default()
    };
    let form = LogForm {
        kind: kind.into(),
        number,
        outcome: if kind == "sms" { "sent" } else { "answered" }.into(),
        ..LogForm::default()
    };
    Ok(page(
        &me,
        id,
        name,
        phones,
        None,
        form,
        FieldErrors::default(),
    ))
}

pub async fn log_engagement(
    state: web::Data<AppState>,
    me: CurrentStaff,
    path: web::Path<i64>,
    form: web::Form<LogForm>,
) -> FormResponse<LogPage> {
    let id = path.into_inner();
    let form = form.into_inner();
    let (name, phones) = contact_of(&state, &me, id).await?;
    let input = match parse(&form, &phones) {
        Ok(i) => i,
        Err(errors) => {
            return invalid(
                page(&me, id, name, phones, None, form, errors),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let member = Member::of(&me);
    let kind = input.kind;
    db::transaction(&state.pool, move |conn| {
        // Checked again inside the transaction: the contact may have gone.
        let head = ContactHead::load(conn, member, id, Tab::Activity)?;
        if !head.is_live() {
            return Err(AppError::NotFound);
        }
        engagement::insert(conn, id, member.id, &input)?;
        Ok(())
    })
    .await?;
    flash(
        &me.session,
        "success",
        if kind == "sms" {
            format!("The SMS to {name} is logged.")
        } else {
            format!("The call with {name} is logged.")
        },
    );
    redirect(format!("/contacts/{id}/activity#engagement"))
}

pub async fn edit_engagement(
    state: web::Data<AppState>,
    me: CurrentStaff,
    path: web::Path<(i64, i64)>,
) -> AppResult<LogPage> {
    let (id, eid) = path.into_inner();
    let (name, phones, g) = entry_of(&state, &me, id, eid).await?;
    if !g.correctable_by(me.staff.id, chrono::Utc::now()) {
        return Err(AppError::Forbidden(
            "Only its author can correct a logged call or SMS, and only for 24 hours.",
        ));
    }
    let form = LogForm {
        kind: g.kind.clone(),
        number: g.number.clone(),
        outcome: g.outcome.clone(),
        duration: format_duration(g.duration_seconds),
        body: g.body.clone(),
        note: g.note.clone(),
    };
    Ok(page(
        &me,
        id,
        name,
        phones,
        Some(eid),
        form,
        FieldErrors::default(),
    ))
}

pub async fn correct_engagement(
    state: web::Data<AppState>,
    me: CurrentStaff,
    path: web::Path<(i64, i64)>,
    form: web::Form<LogForm>,
) -> FormResponse<LogPage> {
    let (id, eid) = path.into_inner();
    let mut form = form.into_inner();
    let (name, phones, g) = entry_of(&state, &me, id, eid).await?;
    // The kind is the entry's own, whatever the form says.
    form.kind = g.kind.clone();
    let input = match parse(&form, &phones) {
        Ok(i) => i,
        Err(errors) => {
            return invalid(
                page(&me, id, name, phones, Some(eid), form, errors),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let member = me.staff.id;
    let done = db::transaction(&state.pool, move |conn| {
        Ok(engagement::correct(conn, eid, id, member, &input)?)
    })
    .await?;
    if !done {
        return Err(AppError::Forbidden(
            "Only its author can correct a logged call or SMS, and only for 24 hours.",
        ));
    }
    flash(&me.session, "success", "The entry is corrected.");
    redirect(format!("/contacts/{id}/activity#engagement-{eid}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration(""), Ok(None));
        assert_eq!(parse_duration("4"), Ok(Some(240)));
        assert_eq!(parse_duration("4:30"), Ok(Some(270)));
        assert_eq!(parse_duration("1:02:03"), Ok(Some(3723)));
        assert!(parse_duration("4:75").is_err());
        assert!(parse_duration("-3").is_err());
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("99999999999999999").is_err());
        assert!(parse_duration("25:00:00").is_err());
        assert_eq!(format_duration(Some(270)), "4:30");
        assert_eq!(format_duration(Some(3723)), "1:02:03");
    }
}
