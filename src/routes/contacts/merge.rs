//! The merge wizard (`/contacts/merge`) and undoing a merge
//! (`/merges/{id}/undo`). The wizard works without JavaScript: its state
//! (the records, their versions when it was opened, the kept one and the
//! choice per field) travels in the links and forms of its three steps.

use std::collections::HashMap;

use actix_web::{
    Either,
    web::{self, Redirect},
};
use askama::Template;
use askama_web::WebTemplate;
use diesel::prelude::*;

use crate::{
    AppState,
    auth::{CurrentStaff, flash},
    db,
    domain::{birth_date::format_birth_date, country::country_name, language::language_name},
    error::{AppError, AppResult},
    models::{
        contact::Contact,
        custom_field::CustomField,
        merge::{
            self, Counts, FIELDS, MAX_RECORDS, Merge, MergeOutcome, Request, Side, UndoOutcome,
            field_text,
        },
        visibility::{self, Member},
    },
    routes::{Layout, contacts::list::plural, when_in},
    schema::{contacts, staff},
};

/// The wizard's state as the links and forms carry it.
#[derive(Clone, Debug, Default)]
pub struct WizardState {
    pub ids: Vec<i64>,
    pub versions: HashMap<i64, i32>,
    pub keep: Option<i64>,
    pub picks: HashMap<String, i64>,
    pub step: u8,
}

impl WizardState {
    pub fn parse(pairs: &[(String, String)]) -> WizardState {
        let mut s = WizardState::default();
        for (k, v) in pairs {
            let v = v.trim();
            match k.as_str() {
                "id" => {
                    if let Ok(id) = v.parse::<i64>()
                        && !s.ids.contains(&id)
                    {
                        s.ids.push(id);
                    }
                }
                "keep" => s.keep = v.parse().ok(),
                "step" => s.step = v.parse().unwrap_or(1),
                _ => {
                    if let Some(id) = k.strip_prefix("v_").and_then(|i| i.parse().ok())
                        && let Ok(version) = v.parse()
                    {
                        s.versions.insert(id, version);
                    } else if let Some(key) = k.strip_prefix("pick_")
                        && let Ok(id) = v.parse()
                    {
                        s.picks.insert(key.to_string(), id);
                    }
                }
            }
        }
        s.step = s.step.clamp(1, 3);
        s
    }

    /// The hidden fields that carry this state into the next step's form.
    pub fn hidden(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .ids
            .iter()
            .map(|i| ("id".into(), i.to_string()))
            .collect();
        for id in &self.ids {
            if let Some(v) = self.versions.get(id) {
                out.push((format!("v_{id}"), v.to_string()));
            }
        }
        if let Some(k) = self.keep {
            out.push(("keep".into(), k.to_string()));
        }
        let mut picks: Vec<_> = self.picks.iter().collect();
        picks.sort();
        for (key, id) in picks {
            out.push((format!("pick_{key}"), id.to_string()));
        }
        out
    }

    /// A link to `step` with this state.
    pub fn url(&self, step: u8) -> String {
        let mut pairs = self.hidden();
        pairs.push(("step".into(), step.to_string()));
        format!(
            "/contacts/merge?{}",
            serde_urlencoded::to_string(&pairs).unwrap_or_default()
        )
    }

    fn request(&self, actor: i64) -> Request {
        Request {
            ids: self.ids.clone(),
            kept: self.keep.unwrap_or_default(),
            versions: self.versions.clone(),
            picks: self.picks.clone(),
            actor: Some(actor),
        }
    }
}

/// One record in a column of the wizard.
pub struct Record {
    pub id: i64,
    pub name: String,
    pub lines: Vec<(&'static str, String)>,
    pub created: String,
    pub keep: bool,
}

/// A field on which the records differ, with each record's value.
pub struct FieldChoice {
    pub key: String,
    pub label: String,
    /// (record id, value shown, chosen)
    pub cells: Vec<(i64, String, bool)>,
}

impl FieldChoice {
    pub fn input_id(&self, record: &i64) -> String {
        format!("pick-{}-{record}", self.key)
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "contacts/merge.html")]
pub struct MergePage {
    layout: Layout,
    state: WizardState,
    records: Vec<Record>,
    fields: Vec<FieldChoice>,
    /// The kept contact as it will be: (label, value).
    result: Vec<(String, String)>,
    kept_name: String,
    moving: Vec<String>,
    problems: Vec<String>,
}

impl MergePage {
    fn hidden(&self) -> Vec<(String, String)> {
        self.state.hidden()
    }

    fn back_url(&self) -> String {
        self.state.url(self.state.step.saturating_sub(1).max(1))
    }

    fn cancel_url(&self) -> String {
        match self.state.ids.first() {
            Some(id) => format!("/contacts/{id}"),
            None => "/contacts".into(),
        }
    }
}

/// What moves, in words: "3 phones, 2 emails, 14 enquiries".
fn moving_words(c: &Counts) -> Vec<String> {
    [
        (c.phones as i64, "phone", "phones"),
        (c.emails as i64, "email", "emails"),
        (c.socials as i64, "social ID", "social IDs"),
        (c.labels as i64, "label", "labels"),
        (c.notes, "note", "notes"),
        (c.enquiries, "enquiry", "enquiries"),
        (c.engagements, "call or SMS", "calls and SMS"),
        (c.page_views, "page view", "page views"),
        (
            c.shares,
            "colleague to share with",
            "colleagues to share with",
        ),
    ]
    .into_iter()
    .filter(|(n, _, _)| *n > 0)
    .map(|(n, one, many)| plural(n, one, many))
    .collect()
}

/// How a field's value reads on the page.
fn shown(key: &str, cols: &merge::Columns, owners: &HashMap<i64, String>) -> String {
    let range = FIELDS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, _, r)| r.clone())
        .unwrap_or(0..0);
    let v = |i: usize| cols.get(i).cloned().flatten().unwrap_or_default();
    match key {
        "name" => crate::models::contact::display_name(&v(0), &v(1)),
        "type" => v(2)
            .parse::<crate::domain::contact::ContactType>()
            .map(|t| t.label().to_string())
            .unwrap_or_default(),
        "level" => v(3)
            .parse::<crate::domain::contact::Level>()
            .map(|t| t.label().to_string())
            .unwrap_or_default(),
        "birth_date" => v(8)
            .parse::<chrono::NaiveDate>()
            .map(format_birth_date)
            .unwrap_or_default(),
        "language" => language_name(&v(9)).map(str::to_string).unwrap_or(v(9)),
        "address" => {
            let country = country_name(&v(14)).map(str::to_string).unwrap_or(v(14));
            [v(10), v(11), v(12), v(13), country]
                .into_iter()
                .filter(|s| !s.trim().is_empty())
                .collect::<Vec<_>>()
                .join(", ")
        }
        "owner" => v(15)
            .parse::<i64>()
            .ok()
            .and_then(|o| owners.get(&o).cloned())
            .unwrap_or_default(),
        _ => field_text(cols, range),
    }
}

/// The records with what the wizard shows beside them.
struct Loaded {
    sides: Vec<Side>,
    custom_fields: Vec<CustomField>,
    owners: HashMap<i64, String>,
    counts: Option<Counts>,
    /// record id → its activity in words ("3 enquiries, 2 notes")
    activity: HashMap<i64, String>,
}

/// Loads the records of `state` as `member` may see them; an error page
/// when one is hidden from them (as if it did not exist).
async fn load(state: &AppState, me: &CurrentStaff, wizard: &WizardState) -> AppResult<Loaded> {
    let member = Member::of(me);
    let ids = wizard.ids.clone();
    let req = wizard.request(me.staff.id);
    let with_counts = wizard.step >= 3 && wizard.keep.is_some();
    db::run(&state.pool, move |conn| {
        let limited = visibility::limited_to(conn, member)?;
        let visible = visibility::visible_ids(conn, limited, &ids)?;
        if ids.iter().any(|id| !visible.contains(id)) {
            return Err(AppError::NotFound);
        }
        let sides = merge::load_sides(conn, &ids)?;
        if sides.len() != ids.len() {
            return Err(AppError::NotFound);
        }
        let fields = CustomField::all(conn)?;
        let owner_ids: Vec<i64> = sides
            .iter()
            .filter_map(|s| s.record.contact.owner_id)
            .collect();
        let owners: HashMap<i64, String> = staff::table
            .filter(staff::id.eq_any(&owner_ids))
            .select((staff::id, staff::display_name))
            .load::<(i64, String)>(conn)?
            .into_iter()
            .collect();
        let counts = if with_counts {
            Some(merge::counts(conn, &req, &sides)?)
        } else {
            None
        };
        let mut activity = HashMap::new();
        for s in &sides {
            let c = Counts {
                notes: crate::models::count_of_contact(conn, "notes", s.id())?,
                enquiries: crate::models::count_of_contact(conn, "enquiries", s.id())?,
                engagements: crate::models::count_of_contact(conn, "engagements", s.id())?,
                page_views: crate::models::count_of_contact(conn, "page_views", s.id())?,
                ..Counts::default()
            };
            activity.insert(s.id(), moving_words(&c).join(", "));
        }
        Ok(Loaded {
            sides,
            custom_fields: fields,
            owners,
            counts,
            activity,
        })
    })
    .await
}

fn record_of(side: &Side, owners: &HashMap<i64, String>, zone: &str, keep: bool) -> Record {
    let r = &side.record;
    let c = &r.contact;
    let mut lines: Vec<(&'static str, String)> = vec![
        ("Company", c.company.clone()),
        ("Job title", c.job_title.clone()),
        (
            "Emails",
            r.emails
                .iter()
                .map(|e| e.email.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (
            "Phones",
            r.phones
                .iter()
                .map(|p| p.number.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (
            "Social IDs",
            r.socials
                .iter()
                .map(|s| format!("{}: {}", s.kind, s.handle))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ("City", c.city.clone()),
        (
            "Owner",
            c.owner_id
                .and_then(|o| owners.get(&o).cloned())
                .unwrap_or_default(),
        ),
        (
            "Labels",
            r.labels
                .iter()
                .map(|l| l.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        ),
    ];
    lines.retain(|(_, v)| !v.is_empty());
    Record {
        id: c.id,
        name: c.display_name(),
        lines,
        created: when_in(c.created_at, zone),
        keep,
    }
}

/// Whether a record is still one that can be merged.
fn unavailable(c: &Contact) -> Option<String> {
    if c.merged_into.is_some() {
        Some(format!(
            "{} has already been merged into another contact.",
            c.display_name()
        ))
    } else if c.deleted_at.is_some() {
        Some(format!("{} is in the trash.", c.display_name()))
    } else {
        None
    }
}

pub async fn wizard(
    state: web::Data<AppState>,
    me: CurrentStaff,
    query: web::Query<Vec<(String, String)>>,
) -> AppResult<MergePage> {
    let mut wizard = WizardState::parse(&query);
    render(&state, &me, &mut wizard, Vec::new()).await
}

async fn render(
    state: &AppState,
    me: &CurrentStaff,
    wizard: &mut WizardState,
    mut problems: Vec<String>,
) -> AppResult<MergePage> {
    let zone = me.staff.time_zone.clone();
    let layout = Layout::signed_in(me, "contacts", "/contacts/merge");
    if wizard.ids.len() < 2 || wizard.ids.len() > MAX_RECORDS {
        problems.push(format!(
            "Choose between 2 and {MAX_RECORDS} contacts to merge (you chose {}).",
            wizard.ids.len()
        ));
        return Ok(MergePage {
            layout,
            state: wizard.clone(),
            records: Vec::new(),
            fields: Vec::new(),
            result: Vec::new(),
            kept_name: String::new(),
            moving: Vec::new(),
            problems,
        });
    }
    let Loaded {
        sides,
        custom_fields,
        owners,
        counts,
        activity,
    } = load(state, me, wizard).await?;
    for s in &sides {
        // The versions the wizard was opened at; later steps carry them on.
        wizard
            .versions
            .entry(s.id())
            .or_insert(s.record.contact.version);
        if let Some(p) = unavailable(&s.record.contact) {
            problems.push(p);
        }
    }
    if wizard.keep.is_none_or(|k| !wizard.ids.contains(&k)) {
        // The oldest record is kept unless chosen otherwise: it is the one
        // others most likely link to.
        wizard.keep = sides
            .iter()
            .min_by_key(|s| (s.record.contact.created_at, s.id()))
            .map(|s| s.id());
        if wizard.step > 1 {
            wizard.step = 1;
        }
    }
    let keep = wizard.keep.unwrap_or_default();
    let records = sides
        .iter()
        .map(|s| {
            let mut r = record_of(s, &owners, &zone, s.id() == keep);
            if let Some(a) = activity.get(&s.id()).filter(|a| !a.is_empty()) {
                r.lines.push(("Activity", a.clone()));
            }
            r
        })
        .collect();
    let req = wizard.request(me.staff.id);
    let mut fields = Vec::new();
    for (key, label, range) in FIELDS.iter() {
        let texts: Vec<(i64, String)> = sides
            .iter()
            .map(|s| (s.id(), field_text(&s.columns, range.clone())))
            .collect();
        let plain: Vec<&str> = texts.iter().map(|(_, t)| t.as_str()).collect();
        if !crate::domain::merge::differ(&plain) {
            continue;
        }
        let values: Vec<(i64, &str)> = texts.iter().map(|(i, t)| (*i, t.as_str())).collect();
        let from = req.source_of(key, &values);
        fields.push(FieldChoice {
            key: key.to_string(),
            label: label.to_string(),
            cells: sides
                .iter()
                .map(|s| (s.id(), shown(key, &s.columns, &owners), s.id() == from))
                .collect(),
        });
    }
    for f in &custom_fields {
        let texts: Vec<(i64, String)> = sides
            .iter()
            .map(|s| (s.id(), s.custom.get(&f.id).cloned().unwrap_or_default()))
            .collect();
        let plain: Vec<&str> = texts.iter().map(|(_, t)| t.as_str()).collect();
        if !crate::domain::merge::differ(&plain) {
            continue;
        }
        let key = format!("custom_{}", f.id);
        let values: Vec<(i64, &str)> = texts.iter().map(|(i, t)| (*i, t.as_str())).collect();
        let from = req.source_of(&key, &values);
        fields.push(FieldChoice {
            label: f.label.clone(),
            cells: texts
                .into_iter()
                .map(|(id, t)| (id, t, id == from))
                .collect(),
            key,
        });
    }
    let (cols, custom) = merge::outcome(&req, &sides);
    let mut result: Vec<(String, String)> = FIELDS
        .iter()
        .map(|(key, label, _)| (label.to_string(), shown(key, &cols, &owners)))
        .collect();
    for f in &custom_fields {
        if let Some(v) = custom.get(&f.id) {
            result.push((f.label.clone(), v.clone()));
        }
    }
    let [phones, emails, socials] = merge::unions(&req, &sides);
    let kept_side = sides.iter().find(|s| s.id() == keep);
    if let Some(k) = kept_side {
        let list = |own: Vec<String>, add: &crate::domain::merge::Union| {
            own.into_iter()
                .chain(add.add.iter().map(|i| i.value.clone()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        result.push((
            "Phones".into(),
            list(
                k.record.phones.iter().map(|p| p.number.clone()).collect(),
                &phones.1,
            ),
        ));
        result.push((
            "Emails".into(),
            list(
                k.record.emails.iter().map(|e| e.email.clone()).collect(),
                &emails.1,
            ),
        ));
        result.push((
            "Social IDs".into(),
            list(
                k.record.socials.iter().map(|s| s.handle.clone()).collect(),
                &socials.1,
            ),
        ));
        let mut labels: Vec<String> = Vec::new();
        for s in &sides {
            for l in &s.record.labels {
                if !labels.contains(&l.name) {
                    labels.push(l.name.clone());
                }
            }
        }
        result.push(("Labels".into(), labels.join(", ")));
    }
    result.retain(|(_, v)| !v.is_empty());
    let kept_name = shown("name", &cols, &owners);
    Ok(MergePage {
        layout,
        state: wizard.clone(),
        records,
        fields,
        result,
        kept_name,
        moving: counts.as_ref().map(moving_words).unwrap_or_default(),
        problems,
    })
}

pub async fn perform(
    state: web::Data<AppState>,
    me: CurrentStaff,
    body: web::Bytes,
) -> AppResult<Either<Redirect, MergePage>> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|e| AppError::BadRequest(format!("The form could not be read: {e}")))?;
    let mut wizard = WizardState::parse(&pairs);
    wizard.step = 3;
    if wizard.ids.len() < 2
        || wizard.ids.len() > MAX_RECORDS
        || wizard.keep.is_none()
        || wizard
            .ids
            .iter()
            .any(|id| !wizard.versions.contains_key(id))
    {
        return Ok(Either::Right(
            render(&state, &me, &mut wizard, Vec::new()).await?,
        ));
    }
    let member = Member::of(&me);
    let req = wizard.request(me.staff.id);
    let ids = wizard.ids.clone();
    let outcome = db::run(&state.pool, move |conn| {
        let limited = visibility::limited_to(conn, member)?;
        let visible = visibility::visible_ids(conn, limited, &ids)?;
        if ids.iter().any(|id| !visible.contains(id)) {
            return Err(AppError::NotFound);
        }
        Ok(conn.transaction(|conn| merge::merge(conn, &req))?)
    })
    .await?;
    match outcome {
        MergeOutcome::Merged { merge_id } => {
            let kept = wizard.keep.unwrap_or_default();
            state.contacts_changed();
            state.set_sizes.clear();
            log::info!(
                "merge {merge_id}: {:?} into {kept} by staff {}",
                wizard.ids,
                me.staff.id
            );
            let others = wizard.ids.len() - 1;
            flash(
                &me.session,
                "success",
                format!(
                    "{} merged into this contact. You can undo the merge from the Change Log.",
                    if others == 1 {
                        "1 record".to_string()
                    } else {
                        format!("{others} records")
                    }
                ),
            );
            Ok(Either::Left(
                Redirect::to(format!("/contacts/{kept}")).see_other(),
            ))
        }
        MergeOutcome::Refused(mut why) => {
            why.insert(
                0,
                "Nothing was merged: the records changed after you began. Review them again below."
                    .into(),
            );
            // Start again from what the records are now.
            wizard.versions.clear();
            wizard.step = 1;
            Ok(Either::Right(render(&state, &me, &mut wizard, why).await?))
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "contacts/undo_merge.html")]
pub struct UndoPage {
    layout: Layout,
    merge: Merge,
    when: String,
    kept_name: String,
    /// (id, name) of the records that come back.
    restored: Vec<(i64, String)>,
    blockers: Vec<String>,
}

async fn load_merge(
    state: &AppState,
    me: &CurrentStaff,
    id: i64,
) -> AppResult<(Merge, String, Vec<(i64, String)>, Vec<String>)> {
    let member = Member::of(me);
    db::run(&state.pool, move |conn| {
        let m = Merge::find(conn, id)?;
        if !visibility::sees(conn, member, m.kept_id)? {
            return Err(AppError::NotFound);
        }
        let kept_name = contacts::table
            .find(m.kept_id)
            .select(Contact::as_select())
            .first(conn)?
            .display_name();
        let restored = contacts::table
            .filter(contacts::id.eq_any(&m.merged_ids))
            .order(contacts::id)
            .select(Contact::as_select())
            .load(conn)?
            .into_iter()
            .map(|c| (c.id, c.display_name()))
            .collect();
        let blockers = merge::undo_blockers(conn, &m)?;
        Ok((m, kept_name, restored, blockers))
    })
    .await
}

pub async fn confirm_undo(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<i64>,
) -> AppResult<UndoPage> {
    let id = id.into_inner();
    let (merge, kept_name, restored, blockers) = load_merge(&state, &me, id).await?;
    Ok(UndoPage {
        layout: Layout::signed_in(&me, "contacts", format!("/merges/{id}/undo")),
        when: when_in(merge.created_at, &me.staff.time_zone),
        merge,
        kept_name,
        restored,
        blockers,
    })
}

pub async fn undo(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<i64>,
) -> AppResult<Either<Redirect, UndoPage>> {
    let id = id.into_inner();
    let (m, _, _, _) = load_merge(&state, &me, id).await?;
    let actor = me.staff.id;
    let outcome = db::run(&state.pool, move |conn| {
        Ok(conn.transaction(|conn| merge::undo(conn, id, Some(actor)))?)
    })
    .await?;
    match outcome {
        UndoOutcome::Undone { restored } => {
            state.contacts_changed();
            state.set_sizes.clear();
            log::info!("merge {id} undone by staff {actor}: {restored:?} restored");
            flash(
                &me.session,
                "success",
                format!(
                    "Merge undone: {} back as separate contacts.",
                    if restored.len() == 1 {
                        "1 record is".to_string()
                    } else {
                        format!("{} records are", restored.len())
                    }
                ),
            );
            Ok(Either::Left(
                Redirect::to(format!("/contacts/{}", m.kept_id)).see_other(),
            ))
        }
        UndoOutcome::Refused(_) => Ok(Either::Right(
            confirm_undo(state, me, web::Path::from(id)).await?,
        )),
    }
}

/// `/contacts/{id}/merge`: pick the records to merge this contact with.
pub async fn merge_with(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<i64>,
    query: web::Query<PickQuery>,
) -> AppResult<PickPage> {
    let id = id.into_inner();
    let member = Member::of(&me);
    let q = query.q.trim().to_string();
    let q2 = q.clone();
    let (head, found, suggested) = db::run(&state.pool, move |conn| {
        let head = crate::routes::contacts::head::ContactHead::load(
            conn,
            member,
            id,
            crate::routes::contacts::head::Tab::Profile,
        )?;
        let limited = visibility::limited_to(conn, member)?;
        let found = if q2.chars().count() >= 2 {
            pick_candidates(conn, limited, id, &q2)?
        } else {
            Vec::new()
        };
        // Likely duplicates first, ticked: usually what was looked for.
        let suggested = crate::models::duplicates::of_contact(conn, id, limited)?
            .into_iter()
            .map(|(id, name, detail)| Candidate { id, name, detail })
            .collect();
        Ok((head, found, suggested))
    })
    .await?;
    Ok(PickPage {
        layout: Layout::signed_in(&me, "contacts", format!("/contacts/{id}/merge")),
        head,
        q,
        found,
        suggested,
    })
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct PickQuery {
    q: String,
}

/// A contact offered to merge with: id, name, what else identifies them.
pub struct Candidate {
    pub id: i64,
    pub name: String,
    pub detail: String,
}

#[derive(QueryableByName)]
struct CandidateRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    first_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    last_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    company: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    emails: String,
}

/// Live contacts (that `limited` may see) whose names, company, emails or
/// phone digits hold every word of `q`, from the search index.
fn pick_candidates(
    conn: &mut PgConnection,
    limited: Option<i64>,
    except: i64,
    q: &str,
) -> QueryResult<Vec<Candidate>> {
    let words: Vec<String> = q
        .split_whitespace()
        .take(4)
        .map(|w| format!("%{}%", crate::models::like_escape(&w.to_lowercase())))
        .collect();
    let mut conds = vec!["c.deleted_at IS NULL".to_string(), "c.id <> $1".to_string()];
    for n in 0..words.len() {
        conds.push(format!("c.search_text LIKE ${}", n + 2));
    }
    let p = words.len() + 2;
    if limited.is_some() {
        conds.push(visibility::row_check("c", p));
    }
    let sql = format!(
        "SELECT c.id, c.first_name, c.last_name, c.company, \
           coalesce((SELECT string_agg(e.email, ', ') FROM contact_emails e WHERE e.contact_id = c.id), '') AS emails \
         FROM contacts c WHERE {} ORDER BY c.sort_name, c.id LIMIT 20",
        conds.join(" AND ")
    );
    let mut query = diesel::sql_query(sql)
        .into_boxed()
        .bind::<diesel::sql_types::BigInt, _>(except);
    for w in &words {
        query = query.bind::<diesel::sql_types::Text, _>(w.clone());
    }
    if let Some(m) = limited {
        query = query.bind::<diesel::sql_types::BigInt, _>(m);
    }
    Ok(query
        .load::<CandidateRow>(conn)?
        .into_iter()
        .map(|r| Candidate {
            id: r.id,
            name: crate::models::contact::display_name(&r.first_name, &r.last_name),
            detail: [r.company, r.emails]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" · "),
        })
        .collect())
}

#[derive(Template, WebTemplate)]
#[template(path = "contacts/merge_with.html")]
pub struct PickPage {
    layout: Layout,
    head: crate::routes::contacts::head::ContactHead,
    q: String,
    found: Vec<Candidate>,
    /// Likely duplicates, with why.
    suggested: Vec<Candidate>,
}

/// `/admin/merges`: the latest merges, to review or undo.
#[derive(Template, WebTemplate)]
#[template(path = "admin/merges.html")]
pub struct RecentMergesPage {
    layout: Layout,
    rows: Vec<RecentMerge>,
}

pub struct RecentMerge {
    pub id: i64,
    pub when: String,
    pub by: String,
    pub kept: (i64, String),
    pub merged: Vec<(i64, String)>,
    pub undone: bool,
}

pub async fn recent_merges(
    state: web::Data<AppState>,
    me: CurrentStaff,
) -> AppResult<RecentMergesPage> {
    if !me.staff.is_admin() {
        return Err(AppError::Forbidden(
            "Only administrators can review all merges.",
        ));
    }
    let zone = me.staff.time_zone.clone();
    let rows = db::run(&state.pool, move |conn| {
        let mut out = Vec::new();
        for m in Merge::recent(conn, 100)? {
            let mut ids = m.merged_ids.clone();
            ids.push(m.kept_id);
            let names: HashMap<i64, String> = contacts::table
                .filter(contacts::id.eq_any(&ids))
                .select(Contact::as_select())
                .load(conn)?
                .into_iter()
                .map(|c| (c.id, c.display_name()))
                .collect();
            let by = match m.staff_id {
                Some(s) => staff::table
                    .find(s)
                    .select(staff::display_name)
                    .first::<String>(conn)
                    .optional()?
                    .unwrap_or_default(),
                None => String::new(),
            };
            let name = |id: i64| names.get(&id).cloned().unwrap_or_else(|| format!("#{id}"));
            out.push(RecentMerge {
                id: m.id,
                when: when_in(m.created_at, &zone),
                by,
                kept: (m.kept_id, name(m.kept_id)),
                merged: m.merged_ids.iter().map(|i| (*i, name(*i))).collect(),
                undone: m.undone_at.is_some(),
            });
        }
        Ok(out)
    })
    .await?;
    Ok(RecentMergesPage {
        layout: Layout::signed_in(&me, "admin", "/admin/merges"),
        rows,
    })
}
