//! The contact form page, shared by create (quick and full) and edit.

use askama::Template;
use askama_web::WebTemplate;
use diesel::PgConnection;

use crate::{
    auth::CurrentStaff,
    domain::{
        contact::{
            ContactForm, ContactType, CustomFieldDef, CustomFieldKind, EmailKind, EmailRow, Level,
            PhoneKind, PhoneRow, SocialKind, SocialRow,
        },
        country::{CountryInfo, countries},
        language::languages,
        staff::FieldErrors,
    },
    error::AppError,
    models::{
        contact::{Change, ContactRecord},
        contact_list::ListChoices,
        custom_field::CustomField,
        label::Label,
    },
    routes::Layout,
};

/// Which variant of the form is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Quick,
    Full,
    Edit,
}

/// A phone, email or social ID row that is verified: shown, never editable.
pub struct LockedRow {
    pub kind: &'static str,
    pub value: String,
}

/// What the form needs from the database besides the contact itself.
pub struct FormChoices {
    pub labels: Vec<Label>,
    pub custom_fields: Vec<CustomFieldDef>,
    pub owners: Vec<(i64, String)>,
}

impl FormChoices {
    /// Read fresh, not from the list's short cache: a form should offer a
    /// label created a moment ago.
    pub fn load(conn: &mut PgConnection) -> Result<FormChoices, AppError> {
        let ListChoices { labels, owners } = ListChoices::load(conn)?;
        Ok(FormChoices {
            labels,
            custom_fields: CustomField::defs(conn)?,
            owners,
        })
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "contacts/form.html")]
pub struct ContactFormPage {
    pub layout: Layout,
    pub mode: Mode,
    pub action: String,
    pub contact_id: Option<i64>,
    pub title: String,
    pub form: ContactForm,
    pub errors: FieldErrors,
    pub choices: FormChoices,
    pub locked_phones: Vec<LockedRow>,
    pub locked_emails: Vec<LockedRow>,
    pub locked_socials: Vec<LockedRow>,
    /// Other contacts sharing an email or phone: (id, name, what matched).
    pub duplicates: Vec<crate::models::contact::Duplicate>,
    /// Saves made since this form was opened, when the save was refused.
    pub conflict: Vec<Change>,
    /// The name of the contact just saved (after "Save and create new").
    pub just_saved: Option<(i64, String)>,
    /// Where Cancel goes when not to the contact (an enquiry's room).
    pub back: Option<String>,
}

impl ContactFormPage {
    pub fn new(
        me: &CurrentStaff,
        mode: Mode,
        action: String,
        form: ContactForm,
        choices: FormChoices,
    ) -> ContactFormPage {
        let title = match mode {
            Mode::Quick | Mode::Full => "New contact".to_string(),
            Mode::Edit => format!(
                "Edit {}",
                crate::models::contact::display_name(&form.first_name, &form.last_name)
            ),
        };
        ContactFormPage {
            layout: Layout::signed_in(me, "contacts", action.clone()),
            mode,
            action,
            contact_id: None,
            title,
            form,
            errors: FieldErrors::default(),
            choices,
            locked_phones: Vec::new(),
            locked_emails: Vec::new(),
            locked_socials: Vec::new(),
            duplicates: Vec::new(),
            conflict: Vec::new(),
            just_saved: None,
            back: None,
        }
    }

    /// Makes sure the full form offers at least one row of each group to type in.
    pub fn with_blank_rows(mut self) -> ContactFormPage {
        if self.mode != Mode::Quick {
            if self.form.phones.is_empty() {
                self.form.phones.push(blank_phone());
            }
            if self.form.emails.is_empty() {
                self.form.emails.push(blank_email());
            }
            if self.form.socials.is_empty() {
                self.form.socials.push(blank_social());
            }
        }
        self
    }

    /// After "Save and create new" the cursor waits in First name.
    pub fn first_name_attrs(&self) -> &'static str {
        if self.just_saved.is_some() && self.errors.is_empty() {
            "maxlength=\"100\" autocomplete=\"off\" autofocus"
        } else {
            "maxlength=\"100\" autocomplete=\"off\""
        }
    }

    pub fn my_name(&self) -> &str {
        self.layout
            .me
            .as_ref()
            .map(|m| m.face.name.as_str())
            .unwrap_or("")
    }

    pub fn first_phone_country(&self) -> &str {
        self.form
            .phones
            .first()
            .map(|p| p.country.as_str())
            .unwrap_or("")
    }

    pub fn first_phone_number(&self) -> &str {
        self.form
            .phones
            .first()
            .map(|p| p.number.as_str())
            .unwrap_or("")
    }

    pub fn first_email(&self) -> &str {
        self.form
            .emails
            .first()
            .map(|e| e.email.as_str())
            .unwrap_or("")
    }

    pub fn is_quick(&self) -> bool {
        self.mode == Mode::Quick
    }

    pub fn is_edit(&self) -> bool {
        self.mode == Mode::Edit
    }

    pub fn contact_types(&self) -> &'static [ContactType] {
        ContactType::ALL
    }

    pub fn levels(&self) -> &'static [Level] {
        Level::ALL
    }

    pub fn phone_kinds(&self) -> &'static [PhoneKind] {
        PhoneKind::ALL
    }

    pub fn email_kinds(&self) -> &'static [EmailKind] {
        EmailKind::ALL
    }

    pub fn social_kinds(&self) -> &'static [SocialKind] {
        SocialKind::ALL
    }

    pub fn countries(&self) -> &'static [CountryInfo] {
        countries()
    }

    pub fn languages(&self) -> &'static [(&'static str, &'static str)] {
        languages()
    }

    pub fn err(&self, key: &str) -> Option<&str> {
        self.errors.get(key)
    }

    /// The quick form shows the custom fields that must be filled in, or it
    /// could never be saved.
    pub fn has_required_custom(&self) -> bool {
        self.choices.custom_fields.iter().any(|d| d.required)
    }

    /// Every field in error, named as the form labels it, for the summary.
    pub fn error_list(&self) -> Vec<(String, String)> {
        self.errors.summary_with(|key| {
            // `phone-0-number` → "Phone number 1", `phone-0-kind` → "Phone type 1".
            let numbered = |what: &str, rest: &str| {
                let (n, part) = rest.split_once('-')?;
                let n: usize = n.parse().ok()?;
                let what = match part {
                    "kind" => what.replace("number", "type").replace("address", "type"),
                    _ => what.to_string(),
                };
                Some(format!("{what} {}", n + 1))
            };
            Some(match key {
                "contact_type" => "Type".into(),
                "team" => "Team".into(),
                "zip_code" => "ZIP code".into(),
                "street" => "Street".into(),
                "contact_group" => "Group".into(),
                "phone-0-number" if self.is_quick() => "Mobile".into(),
                "email-0-email" if self.is_quick() => "Email".into(),
                _ => {
                    if let Some(rest) = key.strip_prefix("phone-") {
                        return numbered("Phone number", rest);
                    }
                    if let Some(rest) = key.strip_prefix("email-") {
                        return numbered("Email address", rest);
                    }
                    if let Some(rest) = key.strip_prefix("social-") {
                        return numbered("Social ID", rest);
                    }
                    let id: i64 = key.strip_prefix("custom-")?.parse().ok()?;
                    return self
                        .choices
                        .custom_fields
                        .iter()
                        .find(|d| d.id == id)
                        .map(|d| d.label.clone());
                }
            })
        })
    }

    pub fn has_label(&self, id: &i64) -> bool {
        self.form.labels.iter().any(|l| l.trim() == id.to_string())
    }

    pub fn custom_value(&self, id: &i64) -> &str {
        self.form.custom.get(id).map(String::as_str).unwrap_or("")
    }

    pub fn is_dropdown(&self, def: &CustomFieldDef) -> bool {
        def.kind == CustomFieldKind::Dropdown
    }

    pub fn custom_hint(&self, def: &CustomFieldDef) -> &'static str {
        match def.kind {
            CustomFieldKind::Number => "A number",
            CustomFieldKind::Date => "MM/DD/YYYY",
            _ => "",
        }
    }
}

pub fn blank_phone() -> PhoneRow {
    PhoneRow {
        kind: PhoneKind::Mobile.as_str().into(),
        ..PhoneRow::default()
    }
}

pub fn blank_email() -> EmailRow {
    EmailRow {
        kind: EmailKind::Work.as_str().into(),
        ..EmailRow::default()
    }
}

pub fn blank_social() -> SocialRow {
    SocialRow {
        kind: SocialKind::Facebook.as_str().into(),
        ..SocialRow::default()
    }
}

/// Adds the row a no-JavaScript "Add another …" button asked for.
pub fn add_row(form: &mut ContactForm, which: &str) {
    match which {
        "phone" if form.phones.len() < 20 => form.phones.push(blank_phone()),
        "email" if form.emails.len() < 20 => form.emails.push(blank_email()),
        "social" if form.socials.len() < 20 => form.socials.push(blank_social()),
        _ => {}
    }
}

/// Takes out the row a Remove button named (`phone-2`: the third phone row
/// as the form was drawn, with its rows numbered from 0 without gaps).
pub fn remove_row(form: &mut ContactForm, which: &str) {
    let Some((group, index)) = which.split_once('-') else {
        return;
    };
    let Ok(index) = index.parse::<usize>() else {
        return;
    };
    fn cut<T>(rows: &mut Vec<T>, i: usize) {
        if i < rows.len() {
            rows.remove(i);
        }
    }
    match group {
        "phone" => cut(&mut form.phones, index),
        "email" => cut(&mut form.emails, index),
        "social" => cut(&mut form.socials, index),
        _ => {}
    }
}

/// The edit form as the saved record fills it; verified rows come back apart.
pub fn form_of(
    rec: &ContactRecord,
) -> (ContactForm, Vec<LockedRow>, Vec<LockedRow>, Vec<LockedRow>) {
    let c = &rec.contact;
    let mut form = ContactForm {
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        contact_type: c.contact_type.clone(),
        level: c.level.clone(),
        company: c.company.clone(),
        job_title: c.job_title.clone(),
        team: c.team.clone(),
        birth_date: c
            .birth_date
            .map(crate::domain::birth_date::format_birth_date)
            .unwrap_or_default(),
        language: c.language.clone().unwrap_or_default(),
        contact_group: c.contact_group.clone(),
        street: c.street.clone(),
        city: c.city.clone(),
        state: c.state.clone(),
        zip_code: c.zip_code.clone(),
        country: c.country.clone().unwrap_or_default(),
        owner: c.owner_id.map(|o| o.to_string()).unwrap_or_default(),
        version: c.version.to_string(),
        labels: rec.labels.iter().map(|l| l.id.to_string()).collect(),
        custom: rec.custom.iter().cloned().collect(),
        ..ContactForm::default()
    };
    let (mut lp, mut le, mut ls) = (Vec::new(), Vec::new(), Vec::new());
    for p in &rec.phones {
        let kind = p.kind.parse::<PhoneKind>().unwrap_or(PhoneKind::Other);
        if p.verified {
            lp.push(LockedRow {
                kind: kind.label(),
                value: p.number.clone(),
            });
        } else {
            let (country, number) =
                crate::domain::contact::split_phone(&p.number, c.country.as_deref().unwrap_or(""));
            form.phones.push(PhoneRow {
                id: p.id.to_string(),
                kind: kind.as_str().into(),
                country,
                number,
            });
        }
    }
    for e in &rec.emails {
        let kind = e.kind.parse::<EmailKind>().unwrap_or(EmailKind::Other);
        if e.verified {
            le.push(LockedRow {
                kind: kind.label(),
                value: e.email.clone(),
            });
        } else {
            form.emails.push(EmailRow {
                id: e.id.to_string(),
                kind: kind.as_str().into(),
                email: e.email.clone(),
            });
        }
    }
    for s in &rec.socials {
        let kind = s.kind.parse::<SocialKind>().unwrap_or(SocialKind::Facebook);
        if s.verified {
            ls.push(LockedRow {
                kind: kind.label(),
                value: s.handle.clone(),
            });
        } else {
            form.socials.push(SocialRow {
                id: s.id.to_string(),
                kind: kind.as_str().into(),
                handle: s.handle.clone(),
            });
        }
    }
    (form, lp, le, ls)
}

/// Today in UTC, for the birth-date rule.
pub fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}
