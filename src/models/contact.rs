//! The `contacts` table with its phones, emails, social IDs, labels and custom
//! values, and the change log that every write fills in the same transaction.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use crate::{
    domain::{
        birth_date::format_birth_date,
        contact::{ContactInput, ContactType, EmailKind, Level, PhoneKind, SocialKind},
        country::country_name,
        language::language_name,
    },
    import::copy::CopyBuffer,
    models::{custom_field::CustomField, label::Label},
    schema::{
        contact_changes, contact_emails, contact_labels, contact_phones, contact_socials, contacts,
        custom_field_values, labels, staff,
    },
};

/// Where a change came from, as the change log records it.
pub mod source {
    pub const FORM: &str = "form";
    pub const IMPORT: &str = "import";
    pub const MERGE: &str = "merge";
    pub const BULK: &str = "bulk";
    pub const ENQUIRY: &str = "enquiry";
}

#[derive(Queryable, Selectable, Identifiable, Clone, Debug)]
#[diesel(table_name = contacts, check_for_backend(diesel::pg::Pg))]
pub struct Contact {
    pub id: i64,
    pub first_name: String,
    pub last_name: String,
    pub contact_type: String,
    pub level: String,
    pub company: String,
    pub job_title: String,
    pub team: String,
    pub contact_group: String,
    pub birth_date: Option<NaiveDate>,
    pub language: Option<String>,
    pub street: String,
    pub city: String,
    pub state: String,
    pub zip_code: String,
    pub country: Option<String>,
    pub owner_id: Option<i64>,
    pub created_by: Option<i64>,
    pub updated_by: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
    pub deleted_at: Option<DateTime<Utc>>,
    pub deleted_by: Option<i64>,
    pub merged_into: Option<i64>,
}

impl Contact {
    pub fn display_name(&self) -> String {
        display_name(&self.first_name, &self.last_name)
    }

    pub fn contact_type(&self) -> ContactType {
        self.contact_type.parse().unwrap_or(ContactType::Lead)
    }

    pub fn level(&self) -> Level {
        self.level.parse().unwrap_or(Level::Primary)
    }
}

pub fn display_name(first: &str, last: &str) -> String {
    match (first.trim(), last.trim()) {
        ("", l) => l.to_string(),
        (f, l) => format!("{f} {l}"),
    }
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = contact_phones, check_for_backend(diesel::pg::Pg))]
pub struct ContactPhone {
    pub id: i64,
    pub kind: String,
    pub number: String,
    pub verified: bool,
    pub position: i32,
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = contact_emails, check_for_backend(diesel::pg::Pg))]
pub struct ContactEmail {
    pub id: i64,
    pub kind: String,
    pub email: String,
    pub verified: bool,
    pub position: i32,
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = contact_socials, check_for_backend(diesel::pg::Pg))]
pub struct ContactSocial {
    pub id: i64,
    pub kind: String,
    pub handle: String,
    pub verified: bool,
    pub position: i32,
}

/// A contact with everything that hangs off it.
#[derive(Clone, Debug)]
pub struct ContactRecord {
    pub contact: Contact,
    pub phones: Vec<ContactPhone>,
    pub emails: Vec<ContactEmail>,
    pub socials: Vec<ContactSocial>,
    pub labels: Vec<Label>,
    /// (field id, value)
    pub custom: Vec<(i64, String)>,
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = contact_changes, check_for_backend(diesel::pg::Pg))]
pub struct Change {
    pub id: i64,
    pub contact_id: i64,
    pub staff_id: Option<i64>,
    pub source: String,
    pub action: String,
    pub field: Option<String>,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub version: i32,
    pub changed_at: DateTime<Utc>,
    pub merge_id: Option<i64>,
}

pub enum UpdateOutcome {
    Saved {
        version: i32,
    },
    /// Someone saved after the form was opened; nothing was written.
    Stale {
        changes: Vec<Change>,
    },
}

impl ContactRecord {
    pub fn load(conn: &mut PgConnection, id: i64) -> QueryResult<ContactRecord> {
        let contact = contacts::table
            .find(id)
            .select(Contact::as_select())
            .first(conn)?;
        Self::load_children(conn, contact)
    }

    pub(crate) fn load_children(
        conn: &mut PgConnection,
        contact: Contact,
    ) -> QueryResult<ContactRecord> {
        let id = contact.id;
        Ok(ContactRecord {
            phones: contact_phones::table
                .filter(contact_phones::contact_id.eq(id))
                .order((contact_phones::position, contact_phones::id))
                .select(ContactPhone::as_select())
                .load(conn)?,
            emails: contact_emails::table
                .filter(contact_emails::contact_id.eq(id))
                .order((contact_emails::position, contact_emails::id))
                .select(ContactEmail::as_select())
                .load(conn)?,
            socials: contact_socials::table
                .filter(contact_socials::contact_id.eq(id))
                .order((contact_socials::position, contact_socials::id))
                .select(ContactSocial::as_select())
                .load(conn)?,
            labels: Label::of_contact(conn, id)?,
            custom: CustomField::values_of(conn, id)?,
            contact,
        })
    }

    /// Live contacts `ids` with everything they have, by id, in six
    /// statements whatever their number; the ones not live are left out.
    /// `lock` locks the contacts' rows until the transaction ends, in id
    /// order, so that two writers never wait for each other in a circle.
    pub fn load_many(
        conn: &mut PgConnection,
        ids: &[i64],
        lock: bool,
    ) -> QueryResult<HashMap<i64, ContactRecord>> {
        let query = contacts::table
            .filter(contacts::id.eq_any(ids))
            .filter(contacts::deleted_at.is_null())
            .order(contacts::id)
            .select(Contact::as_select());
        let found: Vec<Contact> = if lock {
            query.for_update().load(conn)?
        } else {
            query.load(conn)?
        };
        let ids: Vec<i64> = found.iter().map(|c| c.id).collect();
        let mut out: HashMap<i64, ContactRecord> = found
            .into_iter()
            .map(|contact| {
                (
                    contact.id,
                    ContactRecord {
                        contact,
                        phones: Vec::new(),
                        emails: Vec::new(),
                        socials: Vec::new(),
                        labels: Vec::new(),
                        custom: Vec::new(),
                    },
                )
            })
            .collect();
        let phones: Vec<(i64, ContactPhone)> = contact_phones::table
            .filter(contact_phones::contact_id.eq_any(&ids))
            .order((
                contact_phones::contact_id,
                contact_phones::position,
                contact_phones::id,
            ))
            .select((contact_phones::contact_id, ContactPhone::as_select()))
            .load(conn)?;
        for (id, p) in phones {
            if let Some(r) = out.get_mut(&id) {
                r.phones.push(p);
            }
        }
        let emails: Vec<(i64, ContactEmail)> = contact_emails::table
            .filter(contact_emails::contact_id.eq_any(&ids))
            .order((
                contact_emails::contact_id,
                contact_emails::position,
                contact_emails::id,
            ))
            .select((contact_emails::contact_id, ContactEmail::as_select()))
            .load(conn)?;
        for (id, e) in emails {
            if let Some(r) = out.get_mut(&id) {
                r.emails.push(e);
            }
        }
        let socials: Vec<(i64, ContactSocial)> = contact_socials::table
            .filter(contact_socials::contact_id.eq_any(&ids))
            .order((
                contact_socials::contact_id,
                contact_socials::position,
                contact_socials::id,
            ))
            .select((contact_socials::contact_id, ContactSocial::as_select()))
            .load(conn)?;
        for (id, s) in socials {
            if let Some(r) = out.get_mut(&id) {
                r.socials.push(s);
            }
        }
        for (id, label) in Label::of_contacts(conn, &ids)? {
            if let Some(r) = out.get_mut(&id) {
                r.labels.push(label);
            }
        }
        let custom: Vec<(i64, i64, String)> = custom_field_values::table
            .filter(custom_field_values::contact_id.eq_any(&ids))
            .select((
                custom_field_values::contact_id,
                custom_field_values::field_id,
                custom_field_values::value,
            ))
            .load(conn)?;
        for (id, field, value) in custom {
            if let Some(r) = out.get_mut(&id) {
                r.custom.push((field, value));
            }
        }
        Ok(out)
    }

    /// Every field as the change log and the conflict message name and show it.
    pub fn snapshot(
        &self,
        conn: &mut PgConnection,
        fields: &[CustomField],
    ) -> QueryResult<Vec<(String, String)>> {
        let owner = match self.contact.owner_id {
            Some(id) => staff::table
                .find(id)
                .select(staff::display_name)
                .first::<String>(conn)
                .optional()?,
            None => None,
        };
        Ok(self
            .snapshot_named(owner.as_deref().unwrap_or_default(), fields)
            .into_iter()
            .map(|(field, value)| (field.to_string(), value.into_owned()))
            .collect())
    }

    /// `snapshot` with the owner's name already known, borrowing what it
    /// can: an import compares a snapshot before and after for each of a
    /// million contacts, and only the fields that differ become strings.
    pub fn snapshot_named<'a>(
        &'a self,
        owner: &'a str,
        fields: &'a [CustomField],
    ) -> Vec<(&'a str, Cow<'a, str>)> {
        let c = &self.contact;
        let kind_label =
            |kind: &str, parse: fn(&str) -> Option<&'static str>| parse(kind).unwrap_or("Other");
        let phones = self
            .phones
            .iter()
            .map(|p| {
                format!(
                    "{}: {}",
                    kind_label(&p.kind, |k| k
                        .parse::<PhoneKind>()
                        .ok()
                        .map(PhoneKind::label)),
                    p.number
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        let emails = self
            .emails
            .iter()
            .map(|e| {
                format!(
                    "{}: {}",
                    kind_label(&e.kind, |k| k
                        .parse::<EmailKind>()
                        .ok()
                        .map(EmailKind::label)),
                    e.email
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        let socials = self
            .socials
            .iter()
            .map(|s| {
                format!(
                    "{}: {}",
                    kind_label(&s.kind, |k| k
                        .parse::<SocialKind>()
                        .ok()
                        .map(SocialKind::label)),
                    s.handle
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        let labels = self
            .labels
            .iter()
            .map(|l| l.name.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        let text = |v: &'a String| Cow::Borrowed(v.as_str());
        let mut out: Vec<(&'a str, Cow<'a, str>)> = vec![
            ("First name", text(&c.first_name)),
            ("Last name", text(&c.last_name)),
            ("Type", Cow::Borrowed(c.contact_type().label())),
            ("Level", Cow::Borrowed(c.level().label())),
            ("Company", text(&c.company)),
            ("Job title", text(&c.job_title)),
            ("Team", text(&c.team)),
            (
                "Birth date",
                c.birth_date
                    .map_or(Cow::Borrowed(""), |d| Cow::Owned(format_birth_date(d))),
            ),
            (
                "Language",
                Cow::Borrowed(
                    c.language
                        .as_deref()
                        .map(|l| language_name(l).unwrap_or(l))
                        .unwrap_or_default(),
                ),
            ),
            ("Group", text(&c.contact_group)),
            ("Street", text(&c.street)),
            ("City", text(&c.city)),
            ("State", text(&c.state)),
            ("ZIP code", text(&c.zip_code)),
            (
                "Country",
                Cow::Borrowed(
                    c.country
                        .as_deref()
                        .map(|k| country_name(k).unwrap_or(k))
                        .unwrap_or_default(),
                ),
            ),
            ("Owner", Cow::Borrowed(owner)),
            ("Phones", Cow::Owned(phones)),
            ("Emails", Cow::Owned(emails)),
            ("Social IDs", Cow::Owned(socials)),
            ("Labels", Cow::Owned(labels)),
        ];
        for f in fields {
            let value = self
                .custom
                .iter()
                .find(|(id, _)| *id == f.id)
                .map_or(Cow::Borrowed(""), |(_, v)| Cow::Borrowed(v.as_str()));
            out.push((f.label.as_str(), value));
        }
        out
    }
}

/// One change log row; a merge's rows (and its undo's) name the merge.
#[derive(Clone, Copy)]
pub(crate) struct LogEntry<'a> {
    pub contact_id: i64,
    pub staff_id: Option<i64>,
    pub source: &'a str,
    pub action: &'a str,
    pub field: Option<&'a str>,
    pub old_value: Option<&'a str>,
    pub new_value: Option<&'a str>,
    pub version: i32,
    pub merge_id: Option<i64>,
}

pub(crate) fn log_change(conn: &mut PgConnection, e: LogEntry<'_>) -> QueryResult<()> {
    diesel::insert_into(contact_changes::table)
        .values((
            contact_changes::contact_id.eq(e.contact_id),
            contact_changes::staff_id.eq(e.staff_id),
            contact_changes::source.eq(e.source),
            contact_changes::action.eq(e.action),
            contact_changes::field.eq(e.field),
            contact_changes::old_value.eq(e.old_value),
            contact_changes::new_value.eq(e.new_value),
            contact_changes::version.eq(e.version),
            contact_changes::merge_id.eq(e.merge_id),
        ))
        .execute(conn)
        .map(drop)
}

/// One `base` entry per field whose value (as the change log shows it)
/// differs between the two snapshots.
pub(crate) fn log_field_changes(
    conn: &mut PgConnection,
    before: &[(String, String)],
    after: &[(String, String)],
    base: LogEntry<'_>,
) -> QueryResult<()> {
    for ((field, old), (_, new)) in before.iter().zip(after.iter()) {
        if old != new {
            log_change(
                conn,
                LogEntry {
                    field: Some(field),
                    old_value: Some(old),
                    new_value: Some(new),
                    ..base
                },
            )?;
        }
    }
    Ok(())
}

/// Records something that happened to a contact without changing its
/// fields (a note, a share): at the contact's current version, so that an
/// edit form opened before it is not told of a conflict.
pub struct Event<'a> {
    pub contact_id: i64,
    pub staff_id: Option<i64>,
    pub action: &'a str,
    pub field: Option<&'a str>,
    pub old_value: Option<&'a str>,
    pub new_value: Option<&'a str>,
}

pub fn log_event(conn: &mut PgConnection, e: Event<'_>) -> QueryResult<()> {
    let version: i32 = contacts::table
        .find(e.contact_id)
        .select(contacts::version)
        .first(conn)?;
    log_change(
        conn,
        LogEntry {
            contact_id: e.contact_id,
            staff_id: e.staff_id,
            source: source::FORM,
            action: e.action,
            field: e.field,
            old_value: e.old_value,
            new_value: e.new_value,
            version,
            merge_id: None,
        },
    )
}

/// Gives a live contact to `new_owner` (or to nobody), logged as a
/// transfer from the old owner's name to the new one's. False when the
/// contact is not live or already theirs.
pub fn transfer_owner(
    conn: &mut PgConnection,
    id: i64,
    new_owner: Option<i64>,
    actor: Option<i64>,
) -> QueryResult<bool> {
    let current: Option<(Option<i64>, i32)> = contacts::table
        .find(id)
        .filter(contacts::deleted_at.is_null())
        .select((contacts::owner_id, contacts::version))
        .for_update()
        .first(conn)
        .optional()?;
    let Some((old_owner, version)) = current else {
        return Ok(false);
    };
    if old_owner == new_owner {
        return Ok(false);
    }
    let name = |conn: &mut PgConnection, id: Option<i64>| -> QueryResult<String> {
        Ok(match id {
            Some(id) => staff::table
                .find(id)
                .select(staff::display_name)
                .first::<String>(conn)?,
            None => String::new(),
        })
    };
    let (old_name, new_name) = (name(conn, old_owner)?, name(conn, new_owner)?);
    let version = version + 1;
    diesel::update(contacts::table.find(id))
        .set((
            contacts::owner_id.eq(new_owner),
            contacts::updated_by.eq(actor),
            contacts::updated_at.eq(diesel::dsl::now),
            contacts::version.eq(version),
        ))
        .execute(conn)?;
    log_change(
        conn,
        LogEntry {
            contact_id: id,
            staff_id: actor,
            source: source::FORM,
            action: "transfer",
            field: Some("Owner"),
            old_value: Some(&old_name),
            new_value: Some(&new_name),
            version,
            merge_id: None,
        },
    )?;
    Ok(true)
}

/// Rebuilds what the search box looks in: names, company, emails and phone
/// digits (without the `+`, so `9123 4567` finds `+85291234567`).
/// The search text of contact `contacts.id` with `input`'s names and
/// company and its stored emails and phones, as `refresh_search_text`
/// builds it, for the contact's own UPDATE.
fn search_text_of(
    input: &ContactInput,
) -> diesel::expression::SqlLiteral<
    diesel::sql_types::Text,
    impl diesel::query_builder::QueryFragment<diesel::pg::Pg>,
> {
    use diesel::sql_types::Text;
    diesel::dsl::sql::<Text>("lower(concat_ws(' ', ")
        .bind::<Text, _>(input.first_name.clone())
        .sql(", ")
        .bind::<Text, _>(input.last_name.clone())
        .sql(", ")
        .bind::<Text, _>(input.company.clone())
        .sql(
            ", (SELECT string_agg(e.email, ' ' ORDER BY e.position, e.id) FROM contact_emails e WHERE e.contact_id = contacts.id))) \
             || ' ' || coalesce((SELECT string_agg(substr(p.number, 2), ' ' ORDER BY p.position, p.id) FROM contact_phones p WHERE p.contact_id = contacts.id), '')",
        )
}

/// What the search box looks in, as `refresh_search_text` builds it in SQL:
/// names, company and emails lower-cased, then each phone without its first
/// character (the `+`), each list in its (position, id) order.
pub fn search_words<'a>(
    names: [&str; 3],
    emails: impl Iterator<Item = &'a str>,
    phones: impl Iterator<Item = &'a str>,
) -> String {
    let mut parts: Vec<&str> = names.to_vec();
    let emails: Vec<&str> = emails.collect();
    let joined = emails.join(" ");
    // concat_ws leaves out the NULL of no emails, but not an empty name.
    if !emails.is_empty() {
        parts.push(&joined);
    }
    let mut text = parts.join(" ").to_lowercase();
    text.push(' ');
    let phones: Vec<&str> = phones
        .map(|p| p.char_indices().nth(1).map_or("", |(i, _)| &p[i..]))
        .collect();
    text.push_str(&phones.join(" "));
    text
}

pub fn refresh_search_text(conn: &mut PgConnection, id: i64) -> QueryResult<()> {
    diesel::sql_query(
        "UPDATE contacts c SET search_text = lower(concat_ws(' ', c.first_name, c.last_name, c.company, \
           (SELECT string_agg(e.email, ' ' ORDER BY e.position, e.id) FROM contact_emails e WHERE e.contact_id = c.id))) \
         || ' ' || coalesce((SELECT string_agg(substr(p.number, 2), ' ' ORDER BY p.position, p.id) FROM contact_phones p WHERE p.contact_id = c.id), '') \
         WHERE c.id = $1",
    )
    .bind::<diesel::sql_types::BigInt, _>(id)
    .execute(conn)
    .map(drop)
}

fn insert_children(
    conn: &mut PgConnection,
    id: i64,
    input: &ContactInput,
    skip_phone_ids: &[i64],
    skip_email_ids: &[i64],
    skip_social_ids: &[i64],
) -> QueryResult<()> {
    let phones: Vec<_> = input
        .phones
        .iter()
        .enumerate()
        .filter(|(_, p)| p.id.is_none_or(|pid| !skip_phone_ids.contains(&pid)))
        .map(|(i, p)| {
            (
                contact_phones::contact_id.eq(id),
                contact_phones::kind.eq(p.kind.as_str()),
                contact_phones::number.eq(p.number.as_str()),
                contact_phones::position.eq(i as i32),
            )
        })
        .collect();
    diesel::insert_into(contact_phones::table)
        .values(&phones)
        .execute(conn)?;
    let emails: Vec<_> = input
        .emails
        .iter()
        .enumerate()
        .filter(|(_, e)| e.id.is_none_or(|eid| !skip_email_ids.contains(&eid)))
        .map(|(i, e)| {
            (
                contact_emails::contact_id.eq(id),
                contact_emails::kind.eq(e.kind.as_str()),
                contact_emails::email.eq(e.email.as_str()),
                contact_emails::position.eq(i as i32),
            )
        })
        .collect();
    diesel::insert_into(contact_emails::table)
        .values(&emails)
        .execute(conn)?;
    let socials: Vec<_> = input
        .socials
        .iter()
        .enumerate()
        .filter(|(_, s)| s.id.is_none_or(|sid| !skip_social_ids.contains(&sid)))
        .map(|(i, s)| {
            (
                contact_socials::contact_id.eq(id),
                contact_socials::kind.eq(s.kind.as_str()),
                contact_socials::handle.eq(s.handle.as_str()),
                contact_socials::position.eq(i as i32),
            )
        })
        .collect();
    diesel::insert_into(contact_socials::table)
        .values(&socials)
        .execute(conn)?;
    let labels: Vec<_> = input
        .label_ids
        .iter()
        .map(|l| {
            (
                contact_labels::contact_id.eq(id),
                contact_labels::label_id.eq(*l),
            )
        })
        .collect();
    diesel::insert_into(contact_labels::table)
        .values(&labels)
        .on_conflict_do_nothing()
        .execute(conn)?;
    let custom: Vec<_> = input
        .custom
        .iter()
        .map(|(f, v)| {
            (
                custom_field_values::contact_id.eq(id),
                custom_field_values::field_id.eq(*f),
                custom_field_values::value.eq(v.as_str()),
            )
        })
        .collect();
    diesel::insert_into(custom_field_values::table)
        .values(&custom)
        .execute(conn)?;
    Ok(())
}

/// Creates a contact; the caller runs this inside a transaction. The owner is
/// the creator unless the input names one.
pub fn create(
    conn: &mut PgConnection,
    input: &ContactInput,
    actor: Option<i64>,
    source: &str,
) -> QueryResult<i64> {
    let id: i64 = diesel::insert_into(contacts::table)
        .values((
            contacts::first_name.eq(&input.first_name),
            contacts::last_name.eq(&input.last_name),
            contacts::contact_type.eq(input.contact_type.as_str()),
            contacts::level.eq(input.level.as_str()),
            contacts::company.eq(&input.company),
            contacts::job_title.eq(&input.job_title),
            contacts::team.eq(&input.team),
            contacts::contact_group.eq(&input.contact_group),
            contacts::birth_date.eq(input.birth_date),
            contacts::language.eq(&input.language),
            contacts::street.eq(&input.street),
            contacts::city.eq(&input.city),
            contacts::state.eq(&input.state),
            contacts::zip_code.eq(&input.zip_code),
            contacts::country.eq(&input.country),
            contacts::owner_id.eq(input.owner_id.or(actor)),
            contacts::created_by.eq(actor),
            contacts::updated_by.eq(actor),
        ))
        .returning(contacts::id)
        .get_result(conn)?;
    insert_children(conn, id, input, &[], &[], &[])?;
    refresh_search_text(conn, id)?;
    let name = display_name(&input.first_name, &input.last_name);
    log_change(
        conn,
        LogEntry {
            contact_id: id,
            staff_id: actor,
            source,
            action: "create",
            field: None,
            old_value: None,
            new_value: Some(&name),
            version: 1,
            merge_id: None,
        },
    )?;
    Ok(id)
}

/// Saves `input` over contact `id` if it is still at `expected_version`, and
/// logs one change row per field that changed. Verified phones, emails and
/// social IDs are kept exactly as they are, whatever the input says.
pub fn update(
    conn: &mut PgConnection,
    id: i64,
    expected_version: i32,
    input: &ContactInput,
    actor: Option<i64>,
    source: &str,
) -> QueryResult<UpdateOutcome> {
    let current: Contact = contacts::table
        .find(id)
        .filter(contacts::deleted_at.is_null())
        .select(Contact::as_select())
        .for_update()
        .first(conn)?;
    if current.version != expected_version {
        let changes = contact_changes::table
            .filter(contact_changes::contact_id.eq(id))
            .filter(contact_changes::version.gt(expected_version))
            .order(contact_changes::id)
            .select(Change::as_select())
            .load(conn)?;
        return Ok(UpdateOutcome::Stale { changes });
    }
    let before = ContactRecord::load_children(conn, current)?;
    save_over(conn, before, input, actor, source).map(|version| UpdateOutcome::Saved { version })
}

/// Live contact `id` with everything it has, locked until the transaction
/// ends: what `save_over` writes over.
pub fn load_for_update(conn: &mut PgConnection, id: i64) -> QueryResult<ContactRecord> {
    let current: Contact = contacts::table
        .find(id)
        .filter(contacts::deleted_at.is_null())
        .select(Contact::as_select())
        .for_update()
        .first(conn)?;
    ContactRecord::load_children(conn, current)
}

/// Saves `input` over `before` (read by `load_for_update` in this
/// transaction) and logs one change row per field that changed; the new
/// version.
pub fn save_over(
    conn: &mut PgConnection,
    before: ContactRecord,
    input: &ContactInput,
    actor: Option<i64>,
    source: &str,
) -> QueryResult<i32> {
    let id = before.contact.id;
    let fields = CustomField::all(conn)?;
    let before_snapshot = before.snapshot(conn, &fields)?;
    let version = before.contact.version + 1;
    let verified_phones: Vec<i64> = before
        .phones
        .iter()
        .filter(|p| p.verified)
        .map(|p| p.id)
        .collect();
    let verified_emails: Vec<i64> = before
        .emails
        .iter()
        .filter(|e| e.verified)
        .map(|e| e.id)
        .collect();
    let verified_socials: Vec<i64> = before
        .socials
        .iter()
        .filter(|s| s.verified)
        .map(|s| s.id)
        .collect();
    diesel::delete(
        contact_phones::table
            .filter(contact_phones::contact_id.eq(id))
            .filter(contact_phones::verified.eq(false)),
    )
    .execute(conn)?;
    diesel::delete(
        contact_emails::table
            .filter(contact_emails::contact_id.eq(id))
            .filter(contact_emails::verified.eq(false)),
    )
    .execute(conn)?;
    diesel::delete(
        contact_socials::table
            .filter(contact_socials::contact_id.eq(id))
            .filter(contact_socials::verified.eq(false)),
    )
    .execute(conn)?;
    diesel::delete(contact_labels::table.filter(contact_labels::contact_id.eq(id)))
        .execute(conn)?;
    diesel::delete(custom_field_values::table.filter(custom_field_values::contact_id.eq(id)))
        .execute(conn)?;
    insert_children(
        conn,
        id,
        input,
        &verified_phones,
        &verified_emails,
        &verified_socials,
    )?;
    // The children first, so the row is written once, search text and all.
    diesel::update(contacts::table.find(id))
        .set((
            contacts::first_name.eq(&input.first_name),
            contacts::last_name.eq(&input.last_name),
            contacts::contact_type.eq(input.contact_type.as_str()),
            contacts::level.eq(input.level.as_str()),
            contacts::company.eq(&input.company),
            contacts::job_title.eq(&input.job_title),
            contacts::team.eq(&input.team),
            contacts::contact_group.eq(&input.contact_group),
            contacts::birth_date.eq(input.birth_date),
            contacts::language.eq(&input.language),
            contacts::street.eq(&input.street),
            contacts::city.eq(&input.city),
            contacts::state.eq(&input.state),
            contacts::zip_code.eq(&input.zip_code),
            contacts::country.eq(&input.country),
            contacts::owner_id.eq(input.owner_id.or(before.contact.owner_id)),
            contacts::updated_by.eq(actor),
            contacts::updated_at.eq(diesel::dsl::now),
            contacts::version.eq(version),
            // Written with the rest, from the children just rewritten: a
            // second UPDATE for it would be a second new row version in
            // every index of `contacts` (an update import pays it per row).
            contacts::search_text.eq(search_text_of(input)),
        ))
        .execute(conn)?;
    let after = ContactRecord::load(conn, id)?;
    let after_snapshot = after.snapshot(conn, &fields)?;
    log_field_changes(
        conn,
        &before_snapshot,
        &after_snapshot,
        LogEntry {
            contact_id: id,
            staff_id: actor,
            source,
            action: "update",
            field: None,
            old_value: None,
            new_value: None,
            version,
            merge_id: None,
        },
    )?;
    Ok(version)
}

/// The (kind, value, position) rows that `save_over` deletes from one child
/// list (all but the verified ones) and writes back (every given entry that
/// is not a verified one, at its place in the input).
type ChildRow<'a> = (&'a str, &'a str, i32);

/// The rows to write when a child list must be rewritten; `None` when the
/// rewrite would put back exactly what is there, in the same order, which
/// `save_many` then leaves alone (its rows keep their ids, nothing else
/// differs). Rows are listed by (position, id), and a rewritten row gets a
/// new, higher id: where an unverified row shares its position with a
/// verified one, a rewrite can change their order, so it is done.
fn child_rewrite<'a>(
    held: impl Iterator<Item = (ChildRow<'a>, bool, i64)>,
    given: impl Iterator<Item = (Option<i64>, &'a str, &'a str)>,
) -> Option<Vec<ChildRow<'a>>> {
    let mut kept = Vec::new();
    let mut kept_at = Vec::new();
    let mut old = Vec::new();
    for (row, verified, id) in held {
        if verified {
            kept.push(id);
            kept_at.push(row.2);
        } else {
            old.push(row);
        }
    }
    let new: Vec<ChildRow<'a>> = given
        .enumerate()
        .filter(|(_, (id, _, _))| id.is_none_or(|id| !kept.contains(&id)))
        .map(|(i, (_, kind, value))| (kind, value, i as i32))
        .collect();
    let shared_place = old.iter().any(|(_, _, at)| kept_at.contains(at));
    let mut sorted = new.clone();
    sorted.sort_unstable();
    old.sort_unstable();
    (shared_place || sorted != old).then_some(new)
}

/// A child list as it reads after `save_over`: the verified rows where they
/// were, then the rewritten ones, in (position, id) order, the new ids being
/// higher than the old ones and rising in input order.
fn children_after<T: Clone>(
    held: &[T],
    rewritten: Option<Vec<T>>,
    verified: impl Fn(&T) -> bool,
    position: impl Fn(&T) -> i32,
) -> Vec<T> {
    match rewritten {
        None => held.to_vec(),
        Some(new) => {
            let mut all: Vec<T> = held.iter().filter(|c| verified(c)).cloned().collect();
            all.extend(new);
            // Stable: at one position the kept (older) row stays first.
            all.sort_by_key(|c| position(c));
            all
        }
    }
}

/// The rows of the five child tables gathered for COPY: what an import
/// writes for its new contacts, and what `save_many` rewrites.
#[derive(Default)]
pub(crate) struct ChildCopies {
    pub phones: CopyBuffer,
    pub emails: CopyBuffer,
    pub socials: CopyBuffer,
    pub labels: CopyBuffer,
    pub custom: CopyBuffer,
}

impl ChildCopies {
    /// One COPY per table that has rows.
    pub fn write(&self, conn: &mut PgConnection) -> QueryResult<()> {
        let ChildCopies {
            phones,
            emails,
            socials,
            labels,
            custom,
        } = self;
        if !phones.is_empty() {
            diesel::copy_from(contact_phones::table)
                .from_raw_data(
                    (
                        contact_phones::contact_id,
                        contact_phones::kind,
                        contact_phones::number,
                        contact_phones::position,
                    ),
                    |w| phones.write_to(w),
                )
                .execute(conn)?;
        }
        if !emails.is_empty() {
            diesel::copy_from(contact_emails::table)
                .from_raw_data(
                    (
                        contact_emails::contact_id,
                        contact_emails::kind,
                        contact_emails::email,
                        contact_emails::position,
                    ),
                    |w| emails.write_to(w),
                )
                .execute(conn)?;
        }
        if !socials.is_empty() {
            diesel::copy_from(contact_socials::table)
                .from_raw_data(
                    (
                        contact_socials::contact_id,
                        contact_socials::kind,
                        contact_socials::handle,
                        contact_socials::position,
                    ),
                    |w| socials.write_to(w),
                )
                .execute(conn)?;
        }
        if !labels.is_empty() {
            diesel::copy_from(contact_labels::table)
                .from_raw_data(
                    (contact_labels::contact_id, contact_labels::label_id),
                    |w| labels.write_to(w),
                )
                .execute(conn)?;
        }
        if !custom.is_empty() {
            diesel::copy_from(custom_field_values::table)
                .from_raw_data(
                    (
                        custom_field_values::contact_id,
                        custom_field_values::field_id,
                        custom_field_values::value,
                    ),
                    |w| custom.write_to(w),
                )
                .execute(conn)?;
        }
        Ok(())
    }
}

/// `save_over` for many contacts at once, in a fixed number of statements:
/// each item is a record read by `ContactRecord::load_many(.., true)` in
/// this transaction and what it becomes. The contacts, their children and
/// the change log end as `save_over` one after another leaves them; a child
/// list that would be written back as it is, is not touched. The change log
/// compares each record with what was written, worked out here rather than
/// read back.
pub fn save_many(
    conn: &mut PgConnection,
    items: &[(ContactRecord, ContactInput)],
    actor: Option<i64>,
    source: &str,
) -> QueryResult<()> {
    use diesel::sql_types::{Array, BigInt, Date, Int4, Nullable, Text};
    if items.is_empty() {
        return Ok(());
    }
    let fields = CustomField::all(conn)?;
    let mut owners: Vec<i64> = items
        .iter()
        .flat_map(|(r, i)| [r.contact.owner_id, i.owner_id])
        .flatten()
        .collect();
    owners.sort_unstable();
    owners.dedup();
    let names: HashMap<i64, String> = staff::table
        .filter(staff::id.eq_any(&owners))
        .select((staff::id, staff::display_name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect();
    let owner_name = |id: Option<i64>| {
        id.and_then(|id| names.get(&id).map(String::as_str))
            .unwrap_or_default()
    };
    // Labels as the change log lists them, in the database's own order of
    // lower(name) (its collation, not Rust's).
    let mut label_ids: Vec<i64> = items
        .iter()
        .flat_map(|(_, i)| i.label_ids.iter().copied())
        .collect();
    label_ids.sort_unstable();
    label_ids.dedup();
    let ranked: HashMap<i64, (usize, Label)> = labels::table
        .filter(labels::id.eq_any(&label_ids))
        .order(diesel::dsl::sql::<Text>("lower(labels.name)"))
        .select(Label::as_select())
        .load::<Label>(conn)?
        .into_iter()
        .enumerate()
        .map(|(rank, l)| (l.id, (rank, l)))
        .collect();

    let mut rewrite = [const { Vec::<i64>::new() }; 5];
    let mut children = ChildCopies::default();
    let mut changes = CopyBuffer::default();
    let n = items.len();
    let mut ids = Vec::with_capacity(n);
    let mut text: [Vec<&str>; 12] = Default::default();
    let mut birth_dates = Vec::with_capacity(n);
    let mut languages = Vec::with_capacity(n);
    let mut countries = Vec::with_capacity(n);
    let mut new_owners = Vec::with_capacity(n);
    let mut versions = Vec::with_capacity(n);
    let mut search = Vec::with_capacity(n);
    for (record, input) in items {
        let c = &record.contact;
        let id = c.id;
        let version = c.version + 1;
        let owner = input.owner_id.or(c.owner_id);
        let phone_rows = child_rewrite(
            record.phones.iter().map(|p| {
                (
                    (p.kind.as_str(), p.number.as_str(), p.position),
                    p.verified,
                    p.id,
                )
            }),
            input
                .phones
                .iter()
                .map(|p| (p.id, p.kind.as_str(), p.number.as_str())),
        );
        let email_rows = child_rewrite(
            record.emails.iter().map(|e| {
                (
                    (e.kind.as_str(), e.email.as_str(), e.position),
                    e.verified,
                    e.id,
                )
            }),
            input
                .emails
                .iter()
                .map(|e| (e.id, e.kind.as_str(), e.email.as_str())),
        );
        let social_rows = child_rewrite(
            record.socials.iter().map(|s| {
                (
                    (s.kind.as_str(), s.handle.as_str(), s.position),
                    s.verified,
                    s.id,
                )
            }),
            input
                .socials
                .iter()
                .map(|s| (s.id, s.kind.as_str(), s.handle.as_str())),
        );
        for ((rows, buffer), list) in [&phone_rows, &email_rows, &social_rows]
            .into_iter()
            .zip([
                &mut children.phones,
                &mut children.emails,
                &mut children.socials,
            ])
            .zip(rewrite.iter_mut())
        {
            let Some(rows) = rows else { continue };
            list.push(id);
            for (kind, value, position) in rows {
                buffer
                    .int(id)
                    .text(kind)
                    .text(value)
                    .int((*position).into())
                    .end();
            }
        }
        let mut held: Vec<i64> = record.labels.iter().map(|l| l.id).collect();
        held.sort_unstable();
        held.dedup();
        let mut wanted = input.label_ids.clone();
        wanted.sort_unstable();
        wanted.dedup();
        let labels_after = if held == wanted {
            record.labels.clone()
        } else {
            rewrite[3].push(id);
            for label in &wanted {
                children.labels.int(id).int(*label).end();
            }
            let mut after: Vec<&(usize, Label)> =
                wanted.iter().filter_map(|l| ranked.get(l)).collect();
            after.sort_by_key(|(rank, _)| *rank);
            after.into_iter().map(|(_, l)| l.clone()).collect()
        };
        let mut held = record.custom.clone();
        held.sort_unstable();
        let mut wanted = input.custom.clone();
        wanted.sort_unstable();
        if held != wanted {
            rewrite[4].push(id);
            for (field, value) in &input.custom {
                children.custom.int(id).int(*field).text(value).end();
            }
        }

        let after = ContactRecord {
            contact: Contact {
                first_name: input.first_name.clone(),
                last_name: input.last_name.clone(),
                contact_type: input.contact_type.as_str().to_string(),
                level: input.level.as_str().to_string(),
                company: input.company.clone(),
                job_title: input.job_title.clone(),
                team: input.team.clone(),
                contact_group: input.contact_group.clone(),
                birth_date: input.birth_date,
                language: input.language.clone(),
                street: input.street.clone(),
                city: input.city.clone(),
                state: input.state.clone(),
                zip_code: input.zip_code.clone(),
                country: input.country.clone(),
                owner_id: owner,
                ..c.clone()
            },
            phones: children_after(
                &record.phones,
                phone_rows.map(|rows| {
                    rows.iter()
                        .map(|(kind, number, position)| ContactPhone {
                            id: 0,
                            kind: kind.to_string(),
                            number: number.to_string(),
                            verified: false,
                            position: *position,
                        })
                        .collect()
                }),
                |p| p.verified,
                |p| p.position,
            ),
            emails: children_after(
                &record.emails,
                email_rows.map(|rows| {
                    rows.iter()
                        .map(|(kind, email, position)| ContactEmail {
                            id: 0,
                            kind: kind.to_string(),
                            email: email.to_string(),
                            verified: false,
                            position: *position,
                        })
                        .collect()
                }),
                |e| e.verified,
                |e| e.position,
            ),
            socials: children_after(
                &record.socials,
                social_rows.map(|rows| {
                    rows.iter()
                        .map(|(kind, handle, position)| ContactSocial {
                            id: 0,
                            kind: kind.to_string(),
                            handle: handle.to_string(),
                            verified: false,
                            position: *position,
                        })
                        .collect()
                }),
                |s| s.verified,
                |s| s.position,
            ),
            labels: labels_after,
            custom: input.custom.clone(),
        };
        search.push(search_words(
            [&input.first_name, &input.last_name, &input.company],
            after.emails.iter().map(|e| e.email.as_str()),
            after.phones.iter().map(|p| p.number.as_str()),
        ));
        let before = record.snapshot_named(owner_name(c.owner_id), &fields);
        let after = after.snapshot_named(owner_name(owner), &fields);
        for ((field, old), (_, new)) in before.iter().zip(after.iter()) {
            if old != new {
                changes
                    .int(id)
                    .opt_int(actor)
                    .text(source)
                    .text("update")
                    .text(field)
                    .text(old)
                    .text(new)
                    .int(version.into())
                    .end();
            }
        }

        ids.push(id);
        for (list, value) in text.iter_mut().zip([
            input.first_name.as_str(),
            input.last_name.as_str(),
            input.contact_type.as_str(),
            input.level.as_str(),
            input.company.as_str(),
            input.job_title.as_str(),
            input.team.as_str(),
            input.contact_group.as_str(),
            input.street.as_str(),
            input.city.as_str(),
            input.state.as_str(),
            input.zip_code.as_str(),
        ]) {
            list.push(value);
        }
        birth_dates.push(input.birth_date);
        languages.push(input.language.as_deref());
        countries.push(input.country.as_deref());
        new_owners.push(owner);
        versions.push(version);
    }
    let [phone_ids, email_ids, social_ids, label_rewrites, custom_ids] = &rewrite;
    for (table, list) in [
        ("contact_phones", phone_ids),
        ("contact_emails", email_ids),
        ("contact_socials", social_ids),
    ] {
        if !list.is_empty() {
            diesel::sql_query(format!(
                "DELETE FROM {table} WHERE contact_id = ANY($1) AND NOT verified"
            ))
            .bind::<Array<BigInt>, _>(list)
            .execute(conn)?;
        }
    }
    if !label_rewrites.is_empty() {
        diesel::delete(
            contact_labels::table.filter(contact_labels::contact_id.eq_any(label_rewrites)),
        )
        .execute(conn)?;
    }
    if !custom_ids.is_empty() {
        diesel::delete(
            custom_field_values::table.filter(custom_field_values::contact_id.eq_any(custom_ids)),
        )
        .execute(conn)?;
    }
    children.write(conn)?;
    // Every contact of the batch in one statement, its search text included
    // (worked out above from the children as they are written), so that a
    // row is one new version and no lookups of its children.
    let [
        first,
        last,
        kind,
        level,
        company,
        job,
        team,
        group,
        street,
        city,
        state,
        zip,
    ] = &text;
    diesel::sql_query(
        "UPDATE contacts AS c SET first_name = s.first_name, last_name = s.last_name, \
           contact_type = s.contact_type, level = s.level, company = s.company, \
           job_title = s.job_title, team = s.team, contact_group = s.contact_group, \
           street = s.street, city = s.city, state = s.state, zip_code = s.zip_code, \
           birth_date = s.birth_date, language = s.language, country = s.country, \
           owner_id = s.owner_id, version = s.version, updated_by = $19, updated_at = now(), \
           search_text = s.search_text \
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
                     $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], \
                     $13::text[], $14::date[], $15::text[], $16::text[], $17::bigint[], $18::int4[], \
                     $20::text[]) \
           AS s(id, first_name, last_name, contact_type, level, company, job_title, team, \
                contact_group, street, city, state, zip_code, birth_date, language, country, \
                owner_id, version, search_text) \
         WHERE c.id = s.id",
    )
    .bind::<Array<BigInt>, _>(&ids)
    .bind::<Array<Text>, _>(first)
    .bind::<Array<Text>, _>(last)
    .bind::<Array<Text>, _>(kind)
    .bind::<Array<Text>, _>(level)
    .bind::<Array<Text>, _>(company)
    .bind::<Array<Text>, _>(job)
    .bind::<Array<Text>, _>(team)
    .bind::<Array<Text>, _>(group)
    .bind::<Array<Text>, _>(street)
    .bind::<Array<Text>, _>(city)
    .bind::<Array<Text>, _>(state)
    .bind::<Array<Text>, _>(zip)
    .bind::<Array<Nullable<Date>>, _>(&birth_dates)
    .bind::<Array<Nullable<Text>>, _>(&languages)
    .bind::<Array<Nullable<Text>>, _>(&countries)
    .bind::<Array<Nullable<BigInt>>, _>(&new_owners)
    .bind::<Array<Int4>, _>(&versions)
    .bind::<Nullable<BigInt>, _>(actor)
    .bind::<Array<Text>, _>(&search)
    .execute(conn)?;

    if !changes.is_empty() {
        diesel::copy_from(contact_changes::table)
            .from_raw_data(
                (
                    contact_changes::contact_id,
                    contact_changes::staff_id,
                    contact_changes::source,
                    contact_changes::action,
                    contact_changes::field,
                    contact_changes::old_value,
                    contact_changes::new_value,
                    contact_changes::version,
                ),
                |w| changes.write_to(w),
            )
            .execute(conn)?;
    }
    Ok(())
}

/// Moves a contact to the trash; false when it was not there to delete.
pub fn soft_delete(
    conn: &mut PgConnection,
    id: i64,
    actor: Option<i64>,
    source: &str,
) -> QueryResult<bool> {
    let version: Option<i32> = diesel::update(
        contacts::table
            .find(id)
            .filter(contacts::deleted_at.is_null()),
    )
    .set((
        contacts::deleted_at.eq(diesel::dsl::now),
        contacts::deleted_by.eq(actor),
        contacts::version.eq(contacts::version + 1),
    ))
    .returning(contacts::version)
    .get_result(conn)
    .optional()?;
    let Some(version) = version else {
        return Ok(false);
    };
    log_change(
        conn,
        LogEntry {
            contact_id: id,
            staff_id: actor,
            source,
            action: "delete",
            field: None,
            old_value: None,
            new_value: None,
            version,
            merge_id: None,
        },
    )?;
    Ok(true)
}

/// Brings a contact back from the trash; false when it was not in the trash.
pub fn restore(conn: &mut PgConnection, id: i64, actor: Option<i64>) -> QueryResult<bool> {
    let version: Option<i32> = diesel::update(
        contacts::table
            .find(id)
            .filter(contacts::deleted_at.is_not_null())
            .filter(contacts::merged_into.is_null()),
    )
    .set((
        contacts::deleted_at.eq(None::<DateTime<Utc>>),
        contacts::deleted_by.eq(None::<i64>),
        contacts::version.eq(contacts::version + 1),
    ))
    .returning(contacts::version)
    .get_result(conn)
    .optional()?;
    let Some(version) = version else {
        return Ok(false);
    };
    log_change(
        conn,
        LogEntry {
            contact_id: id,
            staff_id: actor,
            source: source::FORM,
            action: "restore",
            field: None,
            old_value: None,
            new_value: None,
            version,
            merge_id: None,
        },
    )?;
    Ok(true)
}

/// Deletes a trashed contact for good, with everything that hangs off it.
/// The records once merged into it go with it: they were its history.
pub fn purge(conn: &mut PgConnection, id: i64) -> QueryResult<bool> {
    let n = diesel::sql_query(
        "WITH RECURSIVE gone AS ( \
           SELECT id FROM contacts WHERE id = $1 AND deleted_at IS NOT NULL AND merged_into IS NULL \
           UNION SELECT c.id FROM contacts c JOIN gone ON c.merged_into = gone.id) \
         DELETE FROM contacts WHERE id IN (SELECT id FROM gone)",
    )
    .bind::<diesel::sql_types::BigInt, _>(id)
    .execute(conn)?;
    Ok(n >= 1)
}

/// Other live contacts that already have one of these emails or phones:
/// (contact id, name, what matched).
/// A live contact that already has one of a new contact's emails or phones.
#[derive(Clone, Debug)]
pub struct Duplicate {
    pub id: i64,
    pub name: String,
    /// The email or phone they share.
    pub what: String,
    /// The member being warned may not see it: neither its name nor its
    /// address may be shown.
    pub hidden: bool,
}

pub fn find_duplicates(
    conn: &mut PgConnection,
    exclude: Option<i64>,
    emails: &[String],
    phones: &[String],
    visible_to: Option<i64>,
) -> QueryResult<Vec<Duplicate>> {
    let lowered: Vec<String> = emails.iter().map(|e| e.to_lowercase()).collect();
    let exclude = exclude.unwrap_or(0);
    let by_email: Vec<(i64, String, String, String)> = contact_emails::table
        .inner_join(contacts::table)
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(contact_emails.email) = ANY(")
                .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(&lowered)
                .sql(")"),
        )
        .filter(contacts::deleted_at.is_null())
        .filter(contacts::id.ne(exclude))
        .select((
            contacts::id,
            contacts::first_name,
            contacts::last_name,
            contact_emails::email,
        ))
        .limit(20)
        .load(conn)?;
    let by_phone: Vec<(i64, String, String, String)> = contact_phones::table
        .inner_join(contacts::table)
        .filter(contact_phones::number.eq_any(phones))
        .filter(contacts::deleted_at.is_null())
        .filter(contacts::id.ne(exclude))
        .select((
            contacts::id,
            contacts::first_name,
            contacts::last_name,
            contact_phones::number,
        ))
        .limit(20)
        .load(conn)?;
    let found: Vec<i64> = by_email.iter().chain(&by_phone).map(|r| r.0).collect();
    let visible = crate::models::visibility::visible_ids(conn, visible_to, &found)?;
    let mut out: Vec<Duplicate> = Vec::new();
    for (id, first, last, what) in by_email.into_iter().chain(by_phone) {
        if !out.iter().any(|d| d.id == id && d.what == what) {
            let hidden = !visible.contains(&id);
            out.push(Duplicate {
                id,
                name: if hidden {
                    String::new()
                } else {
                    display_name(&first, &last)
                },
                what,
                hidden,
            });
        }
    }
    Ok(out)
}
