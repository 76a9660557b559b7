//! Update mode: what a matched contact becomes when a file row is laid over
//! it. Only values the row gives overwrite; phones, emails and social IDs the
//! contact lacks are added; labels are added, never removed.

use crate::domain::contact::{
    ContactInput, ContactType, EmailInput, EmailKind, Level, PhoneInput, PhoneKind, SocialInput,
    SocialKind,
};
use crate::domain::{Email, Phone};
use crate::import::header::Column;
use crate::import::row::ParsedRow;
use diesel::prelude::*;

use crate::models::contact::{self, ContactRecord, source};

/// The contact as the rules see it, to compare and to save.
pub fn input_of(record: &ContactRecord) -> ContactInput {
    let c = &record.contact;
    let mut label_ids: Vec<i64> = record.labels.iter().map(|l| l.id).collect();
    label_ids.sort_unstable();
    ContactInput {
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        contact_type: c.contact_type.parse().unwrap_or(ContactType::Lead),
        level: c.level.parse().unwrap_or(Level::Primary),
        company: c.company.clone(),
        job_title: c.job_title.clone(),
        team: c.team.clone(),
        birth_date: c.birth_date,
        language: c.language.clone(),
        contact_group: c.contact_group.clone(),
        street: c.street.clone(),
        city: c.city.clone(),
        state: c.state.clone(),
        zip_code: c.zip_code.clone(),
        country: c.country.clone(),
        owner_id: c.owner_id,
        phones: record
            .phones
            .iter()
            .filter_map(|p| {
                Some(PhoneInput {
                    id: Some(p.id),
                    kind: p.kind.parse().unwrap_or(PhoneKind::Other),
                    number: Phone::parse(&p.number).ok()?,
                })
            })
            .collect(),
        emails: record
            .emails
            .iter()
            .filter_map(|e| {
                Some(EmailInput {
                    id: Some(e.id),
                    kind: e.kind.parse().unwrap_or(EmailKind::Other),
                    email: Email::parse(&e.email).ok()?,
                })
            })
            .collect(),
        socials: record
            .socials
            .iter()
            .filter_map(|s| {
                Some(SocialInput {
                    id: Some(s.id),
                    kind: s.kind.parse::<SocialKind>().ok()?,
                    handle: s.handle.clone(),
                })
            })
            .collect(),
        label_ids,
        custom: record.custom.clone(),
    }
}

/// `current` with `row` laid over it; `label_ids` are the row's labels
/// (and the import's own) resolved to ids.
pub fn merge(current: &ContactInput, row: &ParsedRow, label_ids: &[i64]) -> ContactInput {
    let mut out = current.clone();
    merge_into(&mut out, row, label_ids);
    out
}

/// Lays `row` over `out` in place, as `merge` does; whether that changed
/// anything. A value equal to the one held is not copied: a file exported
/// and imported back gives every field, and most are unchanged.
pub fn merge_into(out: &mut ContactInput, row: &ParsedRow, label_ids: &[i64]) -> bool {
    fn set<T: PartialEq + Clone>(slot: &mut T, value: &T) -> bool {
        if slot == value {
            return false;
        }
        slot.clone_from(value);
        true
    }
    let new = &row.input;
    let given = |c: Column| row.gives(c);
    let mut changed = false;
    if given(Column::FirstName) {
        changed |= set(&mut out.first_name, &new.first_name);
    }
    if given(Column::LastName) {
        changed |= set(&mut out.last_name, &new.last_name);
    }
    if given(Column::Type) {
        changed |= set(&mut out.contact_type, &new.contact_type);
    }
    if given(Column::Level) {
        changed |= set(&mut out.level, &new.level);
    }
    if given(Column::Company) {
        changed |= set(&mut out.company, &new.company);
    }
    if given(Column::JobTitle) {
        changed |= set(&mut out.job_title, &new.job_title);
    }
    if given(Column::Team) {
        changed |= set(&mut out.team, &new.team);
    }
    if given(Column::Birthdate) {
        changed |= set(&mut out.birth_date, &new.birth_date);
    }
    if given(Column::Language) {
        changed |= set(&mut out.language, &new.language);
    }
    if given(Column::Group) {
        changed |= set(&mut out.contact_group, &new.contact_group);
    }
    if given(Column::Address) {
        changed |= set(&mut out.street, &new.street);
    }
    if given(Column::City) {
        changed |= set(&mut out.city, &new.city);
    }
    if given(Column::State) {
        changed |= set(&mut out.state, &new.state);
    }
    if given(Column::ZipCode) {
        changed |= set(&mut out.zip_code, &new.zip_code);
    }
    if given(Column::Country) {
        changed |= set(&mut out.country, &new.country);
    }
    for p in &new.phones {
        if !out.phones.iter().any(|o| o.number == p.number) {
            out.phones.push(p.clone());
            changed = true;
        }
    }
    for e in &new.emails {
        let lower = e.email.as_str().to_lowercase();
        if !out
            .emails
            .iter()
            .any(|o| o.email.as_str().to_lowercase() == lower)
        {
            out.emails.push(e.clone());
            changed = true;
        }
    }
    for s in &new.socials {
        if !out
            .socials
            .iter()
            .any(|o| o.kind == s.kind && o.handle == s.handle)
        {
            out.socials.push(s.clone());
            changed = true;
        }
    }
    // Compared as a whole, as the two copies were: the list held is
    // sorted and deduplicated here too, and that alone would be a change.
    let mut labels = out.label_ids.clone();
    labels.extend_from_slice(label_ids);
    labels.sort_unstable();
    labels.dedup();
    changed |= labels != out.label_ids;
    out.label_ids = labels;
    for (field, value) in &new.custom {
        if row.given_custom.contains(field) {
            match out.custom.iter_mut().find(|(f, _)| f == field) {
                Some(slot) => changed |= set(&mut slot.1, value),
                None => {
                    out.custom.push((*field, value.clone()));
                    changed = true;
                }
            }
        }
    }
    changed
}

/// One matched row: the contact it updates, the row, and the ids of its
/// labels (the import's own included).
pub type Matched<'r> = (i64, &'r ParsedRow, Vec<i64>);

/// Lays each row over the contact it matched and saves the contacts that
/// change, in a fixed number of statements for all of them
/// (`contact::save_many`): how many changed and how many were already as the
/// rows say. A contact is matched by one row at most.
pub fn apply(
    conn: &mut PgConnection,
    matched: &[Matched<'_>],
    actor: Option<i64>,
) -> QueryResult<(i64, i64)> {
    let ids: Vec<i64> = matched.iter().map(|(id, _, _)| *id).collect();
    // Read once and locked: what the rows are laid over is what is saved over.
    let mut records = ContactRecord::load_many(conn, &ids, true)?;
    let mut changed = Vec::new();
    let mut unchanged = 0;
    for (id, row, label_ids) in matched {
        // Trashed since the batch matched it: the batch rolls back and is
        // tried again, when it no longer matches.
        let record = records.remove(id).ok_or(diesel::result::Error::NotFound)?;
        let mut merged = input_of(&record);
        if merge_into(&mut merged, row, label_ids) {
            changed.push((record, merged));
        } else {
            unchanged += 1;
        }
    }
    contact::save_many(conn, &changed, actor, source::IMPORT)?;
    Ok((changed.len() as i64, unchanged))
}
