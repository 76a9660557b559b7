//! `/contacts/{id}`: the contact profile.

use actix_web::web;
use askama::Template;
use askama_web::WebTemplate;

use crate::{
    AppState,
    auth::CurrentStaff,
    db,
    domain::{
        birth_date::format_birth_date,
        contact::{EmailKind, PhoneKind, SocialKind},
        country::country_name,
        language::language_name,
    },
    error::{AppError, AppResult},
    models::visibility::Member,
    models::{contact::ContactRecord, custom_field::CustomField, note::Note, staff::Staff},
    routes::{
        Layout,
        contacts::{
            changes::{LogFilter, LogLine, load_lines},
            head::{ContactHead, Tab},
            notes::NoteView,
        },
        when_in,
    },
};

pub struct Typed {
    pub kind: &'static str,
    pub value: String,
    pub verified: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "contacts/show.html")]
pub struct ContactShowPage {
    layout: Layout,
    head: ContactHead,
    owner: Option<(i64, String)>,
    created_by: Option<String>,
    created: String,
    updated: String,
    phones: Vec<Typed>,
    emails: Vec<Typed>,
    socials: Vec<Typed>,
    details: Vec<(&'static str, String)>,
    address: Vec<String>,
    custom: Vec<(String, String)>,
    changes: Vec<LogLine>,
    notes: Vec<NoteView>,
    /// A note that was refused, with why: shown again in the form.
    note_draft: String,
    note_error: Option<String>,
    /// Arrived by a link to a record merged into this contact: its name.
    merged_from: Option<(i64, String)>,
    /// Likely duplicates of this contact: (id, name, why).
    likely: Vec<(i64, String, String)>,
}

impl ContactShowPage {
    /// The merge wizard with this contact and its likely duplicates.
    fn likely_merge_url(&self) -> String {
        let mut ids: Vec<(&str, String)> = vec![("id", self.head.id().to_string())];
        ids.extend(self.likely.iter().map(|(id, _, _)| ("id", id.to_string())));
        format!(
            "/contacts/merge?{}",
            serde_urlencoded::to_string(&ids).unwrap_or_default()
        )
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct ShowQuery {
    merged: Option<i64>,
}

pub async fn show_contact(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<i64>,
    query: web::Query<ShowQuery>,
) -> AppResult<ContactShowPage> {
    let id = id.into_inner();
    let mut page = profile_page(&state, &me, id, None).await?;
    if let Some(from) = query.merged {
        page.merged_from = db::run(&state.pool, move |conn| {
            use crate::schema::contacts;
            use diesel::prelude::*;
            if crate::models::merge::final_target(conn, from)? != Some(id) {
                return Ok(None);
            }
            let (f, l): (String, String) = contacts::table
                .find(from)
                .select((contacts::first_name, contacts::last_name))
                .first(conn)?;
            Ok(Some((from, crate::models::contact::display_name(&f, &l))))
        })
        .await?;
    }
    Ok(page)
}

/// The Profile tab; `refused` is a note the form sent back, with why.
pub async fn profile_page(
    state: &AppState,
    me: &CurrentStaff,
    id: i64,
    refused: Option<(String, String)>,
) -> AppResult<ContactShowPage> {
    let member = Member::of(me);
    let zone = me.staff.time_zone.clone();
    let (head, rec, fields, owner, created_by, changes, (notes, likely)) =
        db::run(&state.pool, move |conn| {
            let head = ContactHead::load(conn, member, id, Tab::Profile)?;
            let rec = ContactRecord::load(conn, id)?;
            let fields = CustomField::all(conn)?;
            let name_of = |conn: &mut diesel::PgConnection,
                           id: Option<i64>|
             -> Result<Option<(i64, String)>, AppError> {
                Ok(match id {
                    Some(id) => Some((id, Staff::find(conn, id)?.display_name)),
                    None => None,
                })
            };
            let owner = name_of(conn, rec.contact.owner_id)?;
            let created_by = name_of(conn, rec.contact.created_by)?.map(|(_, n)| n);
            let (changes, _) = load_lines(conn, id, &LogFilter::default(), None, 5, &zone)?;
            let notes = Note::of_contact(conn, id)?;
            let limited = crate::models::visibility::limited_to(conn, member)?;
            let likely = if head.is_live() {
                crate::models::duplicates::of_contact(conn, id, limited)?
            } else {
                Vec::new()
            };
            Ok((
                head,
                rec,
                fields,
                owner,
                created_by,
                changes,
                (notes, likely),
            ))
        })
        .await?;
    let c = &rec.contact;
    let mut details = vec![
        ("Company", c.company.clone()),
        ("Job title", c.job_title.clone()),
        ("Team", c.team.clone()),
        ("Group", c.contact_group.clone()),
        (
            "Birth date",
            c.birth_date.map(format_birth_date).unwrap_or_default(),
        ),
        (
            "Language",
            c.language
                .as_deref()
                .map(|l| language_name(l).unwrap_or(l).to_string())
                .unwrap_or_default(),
        ),
    ];
    details.retain(|(_, v)| !v.is_empty());
    let address: Vec<String> = [
        c.street.clone(),
        [c.city.as_str(), c.state.as_str(), c.zip_code.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(", "),
        c.country
            .as_deref()
            .map(|k| country_name(k).unwrap_or(k).to_string())
            .unwrap_or_default(),
    ]
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect();
    let custom = fields
        .iter()
        .filter_map(|f| {
            rec.custom
                .iter()
                .find(|(id, _)| *id == f.id)
                .map(|(_, v)| (f.label.clone(), v.clone()))
        })
        .collect();
    let (note_draft, note_error) = match refused {
        Some((draft, why)) => (draft, Some(why)),
        None => (String::new(), None),
    };
    Ok(ContactShowPage {
        layout: Layout::signed_in(me, "contacts", format!("/contacts/{id}")),
        created: when_in(rec.contact.created_at, &me.staff.time_zone),
        updated: when_in(rec.contact.updated_at, &me.staff.time_zone),
        notes: notes.into_iter().map(|n| NoteView::of(n, me)).collect(),
        note_draft,
        note_error,
        merged_from: None,
        likely,
        head,
        phones: rec
            .phones
            .iter()
            .map(|p| Typed {
                kind: p
                    .kind
                    .parse::<PhoneKind>()
                    .map(PhoneKind::label)
                    .unwrap_or("Other"),
                value: p.number.clone(),
                verified: p.verified,
            })
            .collect(),
        emails: rec
            .emails
            .iter()
            .map(|e| Typed {
                kind: e
                    .kind
                    .parse::<EmailKind>()
                    .map(EmailKind::label)
                    .unwrap_or("Other"),
                value: e.email.clone(),
                verified: e.verified,
            })
            .collect(),
        socials: rec
            .socials
            .iter()
            .map(|s| Typed {
                kind: s
                    .kind
                    .parse::<SocialKind>()
                    .map(SocialKind::label)
                    .unwrap_or("Other"),
                value: s.handle.clone(),
                verified: s.verified,
            })
            .collect(),
        owner,
        created_by,
        details,
        address,
        custom,
        changes,
    })
}
