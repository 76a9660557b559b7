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
        staff::{avatar_hue, initials},
    },
    error::{AppError, AppResult},
    models::{
        contact::{Change, ContactRecord, changes},
        custom_field::CustomField,
        staff::Staff,
    },
    routes::Layout,
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
    rec: ContactRecord,
    name: String,
    initials: String,
    hue: u32,
    owner: Option<(i64, String)>,
    created_by: Option<String>,
    phones: Vec<Typed>,
    emails: Vec<Typed>,
    socials: Vec<Typed>,
    details: Vec<(&'static str, String)>,
    address: Vec<String>,
    custom: Vec<(String, String)>,
    changes: Vec<(Change, String)>,
}

pub async fn show_contact(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<i64>,
) -> AppResult<ContactShowPage> {
    let id = id.into_inner();
    let (rec, fields, owner, created_by, changes) = db::run(&state.pool, move |conn| {
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
        let mut log = Vec::new();
        for c in changes(conn, id, 5)? {
            let who = name_of(conn, c.staff_id)?
                .map(|(_, n)| n)
                .unwrap_or_else(|| "ContactBook".into());
            log.push((c, who));
        }
        Ok((rec, fields, owner, created_by, log))
    })
    .await?;
    if rec.contact.deleted_at.is_some() && !me.staff.is_admin() {
        return Err(AppError::NotFound);
    }
    let c = &rec.contact;
    let name = c.display_name();
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
    Ok(ContactShowPage {
        layout: Layout::new(
            &me.session,
            Some(&me.staff),
            "contacts",
            format!("/contacts/{id}"),
        ),
        initials: initials(&name),
        hue: avatar_hue(c.id),
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
        name,
        owner,
        created_by,
        details,
        address,
        custom,
        changes,
        rec,
    })
}
