//! The external contact record: its kinds and types, and the rules that turn a
//! submitted contact form into trusted values.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::domain::{
    Email, Phone,
    birth_date::parse_birth_date,
    country::{calling_code, parse_country},
    language::parse_language,
    staff::FieldErrors,
    text::{clean_text, required_text},
};

text_enum!(
    /// Where a contact stands with the business.
    ContactType {
        Lead = "lead" / "Lead",
        Prospect = "prospect" / "Prospect",
        Customer = "customer" / "Customer",
        Others = "others" / "Others",
    }
);

text_enum!(
    /// How senior a contact is among the people of one company.
    Level {
        Primary = "primary" / "Primary",
        Secondary = "secondary" / "Secondary",
        Tertiary = "tertiary" / "Tertiary",
    }
);

text_enum!(PhoneKind { Mobile = "mobile" / "Mobile", Work = "work" / "Work", Home = "home" / "Home", Other = "other" / "Other" });

text_enum!(EmailKind { Work = "work" / "Work", Personal = "personal" / "Personal", Other = "other" / "Other" });

text_enum!(SocialKind {
    Facebook = "facebook" / "Facebook",
    WhatsApp = "whatsapp" / "WhatsApp",
    WeChat = "wechat" / "WeChat",
    Line = "line" / "LINE",
    Twitter = "twitter" / "Twitter",
    LinkedIn = "linkedin" / "LinkedIn",
    WoztellWhatsApp = "woztell_whatsapp" / "WOZTELL (WhatsApp)",
    WoztellFacebook = "woztell_facebook" / "WOZTELL (Facebook)",
    WoztellInstagram = "woztell_instagram" / "WOZTELL (Instagram)",
});

impl SocialKind {
    /// WhatsApp IDs are phone numbers and follow the phone rule.
    pub fn is_phone(self) -> bool {
        matches!(self, SocialKind::WhatsApp | SocialKind::WoztellWhatsApp)
    }
}

/// Empty means Lead; `Other` is accepted for `Others`.
pub fn parse_contact_type(raw: &str) -> Result<ContactType, String> {
    match raw.trim() {
        "" => Ok(ContactType::Lead),
        s if s.eq_ignore_ascii_case("other") => Ok(ContactType::Others),
        s => s.parse(),
    }
}

/// Empty means Primary.
pub fn parse_level(raw: &str) -> Result<Level, String> {
    match raw.trim() {
        "" => Ok(Level::Primary),
        s => s.parse(),
    }
}

pub fn parse_first_name(raw: &str) -> Result<String, String> {
    clean_text(raw, 100, false)
}

pub fn parse_last_name(raw: &str) -> Result<String, String> {
    let name = clean_text(raw, 100, false)?;
    if name.is_empty() {
        return Err("is required".into());
    }
    Ok(name)
}

/// A label's name: files list several labels in one cell separated by `;`,
/// so a name holding one could never come back from an export as itself.
pub fn parse_label_name(raw: &str) -> Result<String, String> {
    let name = required_text(raw, 100)?;
    if name.contains(';') {
        return Err("cannot contain ; (files separate labels with it)".into());
    }
    Ok(name)
}

/// Company, job title, team, group, city, state, ZIP code.
pub fn parse_short_text(raw: &str) -> Result<String, String> {
    clean_text(raw, 255, false)
}

/// The street address may span lines.
pub fn parse_street(raw: &str) -> Result<String, String> {
    clean_text(raw, 255, true)
}

pub fn parse_social_handle(kind: SocialKind, raw: &str) -> Result<String, String> {
    if kind.is_phone() {
        return Phone::parse(raw).map(Phone::into_string);
    }
    let handle = clean_text(raw, 255, false)?;
    if handle.is_empty() {
        return Err("is required".into());
    }
    Ok(handle)
}

/// A phone typed as a national number after a country picked from the list,
/// or in full with its own `+`.
pub fn parse_phone_entry(country: &str, number: &str) -> Result<Phone, String> {
    let number = number.trim();
    if number.starts_with('+') || country.trim().is_empty() {
        return Phone::parse(number);
    }
    let code = calling_code(country.trim())
        .ok_or_else(|| format!("{country} is not a country in the list"))?;
    // A national number's trunk prefix (the 0 of 020 in London) is not dialled
    // after the country code, except where the 0 is part of the number itself.
    let keeps_zero = matches!(country.trim(), "IT" | "SM" | "VA");
    let national = if keeps_zero {
        number
    } else {
        number.trim_start_matches('0')
    };
    Phone::parse(&format!("+{code} {national}")).map_err(|_| {
        let digits = number.chars().filter(char::is_ascii_digit).count();
        format!("{number} is not a phone number: with the country code it needs 8 to 20 digits (this has {digits} digits and letters or symbols are not allowed)")
    })
}

/// A stored number as the form shows it: the country picked and the national
/// number, when typing them back gives exactly the same number; otherwise
/// no country and the number in full.
pub fn split_phone(number: &str, hint: &str) -> (String, String) {
    if let Some((alpha2, code)) = crate::domain::country::country_of_number(number, hint) {
        let national = &number[1 + code.len()..];
        if parse_phone_entry(alpha2, national).is_ok_and(|p| p.as_str() == number) {
            return (alpha2.to_string(), national.to_string());
        }
    }
    (String::new(), number.to_string())
}

/// One row of a repeatable group as typed: `id` is set for rows that exist.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PhoneRow {
    pub id: String,
    pub kind: String,
    pub country: String,
    pub number: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EmailRow {
    pub id: String,
    pub kind: String,
    pub email: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SocialRow {
    pub id: String,
    pub kind: String,
    pub handle: String,
}

/// The contact form exactly as submitted.
#[derive(Clone, Debug, Default)]
pub struct ContactForm {
    pub first_name: String,
    pub last_name: String,
    pub contact_type: String,
    pub level: String,
    pub company: String,
    pub job_title: String,
    pub team: String,
    pub birth_date: String,
    pub language: String,
    pub contact_group: String,
    pub street: String,
    pub city: String,
    pub state: String,
    pub zip_code: String,
    pub country: String,
    pub owner: String,
    pub phones: Vec<PhoneRow>,
    pub emails: Vec<EmailRow>,
    pub socials: Vec<SocialRow>,
    pub labels: Vec<String>,
    /// Custom field id → value.
    pub custom: BTreeMap<i64, String>,
    /// The version the form was opened at (edits only).
    pub version: String,
    /// Set when the submit was a request to add a row, not to save.
    pub add_row: Option<String>,
    /// Set when the submit was a request to remove a row (`phone-2`), not to save.
    pub remove_row: Option<String>,
    pub submit: String,
}

impl ContactForm {
    /// Builds the form from url-encoded pairs; repeatable rows are named
    /// `phone-N-kind`, `email-N-email`, `social-N-handle` and so on, custom
    /// fields `custom-ID`, labels `label` (repeated).
    pub fn from_pairs(pairs: &[(String, String)]) -> ContactForm {
        let mut f = ContactForm::default();
        let mut phones: BTreeMap<usize, PhoneRow> = BTreeMap::new();
        let mut emails: BTreeMap<usize, EmailRow> = BTreeMap::new();
        let mut socials: BTreeMap<usize, SocialRow> = BTreeMap::new();
        for (key, value) in pairs {
            let v = value.clone();
            match key.as_str() {
                "first_name" => f.first_name = v,
                "last_name" => f.last_name = v,
                "contact_type" => f.contact_type = v,
                "level" => f.level = v,
                "company" => f.company = v,
                "job_title" => f.job_title = v,
                "team" => f.team = v,
                "birth_date" => f.birth_date = v,
                "language" => f.language = v,
                "contact_group" => f.contact_group = v,
                "street" => f.street = v,
                "city" => f.city = v,
                "state" => f.state = v,
                "zip_code" => f.zip_code = v,
                "country" => f.country = v,
                "owner" => f.owner = v,
                "version" => f.version = v,
                "label" => f.labels.push(v),
                "add" => f.add_row = Some(v),
                "remove" => f.remove_row = Some(v),
                "submit" => f.submit = v,
                other => {
                    let mut parts = other.splitn(3, '-');
                    let (Some(group), Some(index), Some(field)) =
                        (parts.next(), parts.next(), parts.next())
                    else {
                        if let Some(id) =
                            other.strip_prefix("custom-").and_then(|id| id.parse().ok())
                        {
                            f.custom.insert(id, v);
                        }
                        continue;
                    };
                    // Bounded so a crafted form cannot make us allocate much.
                    let Some(i) = index.parse::<usize>().ok().filter(|i| *i < 50) else {
                        continue;
                    };
                    match (group, field) {
                        ("phone", "id") => phones.entry(i).or_default().id = v,
                        ("phone", "kind") => phones.entry(i).or_default().kind = v,
                        ("phone", "country") => phones.entry(i).or_default().country = v,
                        ("phone", "number") => phones.entry(i).or_default().number = v,
                        ("email", "id") => emails.entry(i).or_default().id = v,
                        ("email", "kind") => emails.entry(i).or_default().kind = v,
                        ("email", "email") => emails.entry(i).or_default().email = v,
                        ("social", "id") => socials.entry(i).or_default().id = v,
                        ("social", "kind") => socials.entry(i).or_default().kind = v,
                        ("social", "handle") => socials.entry(i).or_default().handle = v,
                        _ => {}
                    }
                }
            }
        }
        f.phones = phones.into_values().collect();
        f.emails = emails.into_values().collect();
        f.socials = socials.into_values().collect();
        f
    }
}

/// An administrator-defined field, as the rules need it.
#[derive(Clone, Debug)]
pub struct CustomFieldDef {
    pub id: i64,
    pub label: String,
    pub kind: CustomFieldKind,
    pub options: Vec<String>,
    pub required: bool,
}

text_enum!(CustomFieldKind {
    Text = "text" / "Text",
    Number = "number" / "Number",
    Date = "date" / "Date",
    Dropdown = "dropdown" / "Dropdown",
});

/// Checks one custom field value; `Ok(None)` when it is empty and optional.
pub fn parse_custom_value(def: &CustomFieldDef, raw: &str) -> Result<Option<String>, String> {
    let value = raw.trim();
    if value.is_empty() {
        return if def.required {
            Err("is required".into())
        } else {
            Ok(None)
        };
    }
    match def.kind {
        CustomFieldKind::Text => clean_text(value, 1000, true).map(Some),
        CustomFieldKind::Number => {
            let n: f64 = value
                .replace([',', ' '], "")
                .parse()
                .map_err(|_| format!("{value} is not a number"))?;
            if !n.is_finite() {
                return Err(format!("{value} is not a number"));
            }
            Ok(Some(n.to_string()))
        }
        CustomFieldKind::Date => {
            // Any real date; far-future dates (a renewal) are fine here.
            let far = NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX);
            parse_birth_date(value, far).map(|d| Some(d.format("%Y-%m-%d").to_string()))
        }
        CustomFieldKind::Dropdown => def
            .options
            .iter()
            .find(|o| o.eq_ignore_ascii_case(value))
            .map(|o| Some(o.clone()))
            .ok_or_else(|| format!("{value} is not one of: {}", def.options.join(", "))),
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhoneInput {
    pub id: Option<i64>,
    pub kind: PhoneKind,
    pub number: Phone,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailInput {
    pub id: Option<i64>,
    pub kind: EmailKind,
    pub email: Email,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocialInput {
    pub id: Option<i64>,
    pub kind: SocialKind,
    pub handle: String,
}

/// A contact whose every field passed its rule.
#[derive(Clone, Debug, PartialEq)]
pub struct ContactInput {
    pub first_name: String,
    pub last_name: String,
    pub contact_type: ContactType,
    pub level: Level,
    pub company: String,
    pub job_title: String,
    pub team: String,
    pub birth_date: Option<NaiveDate>,
    pub language: Option<String>,
    pub contact_group: String,
    pub street: String,
    pub city: String,
    pub state: String,
    pub zip_code: String,
    pub country: Option<String>,
    pub owner_id: Option<i64>,
    pub phones: Vec<PhoneInput>,
    pub emails: Vec<EmailInput>,
    pub socials: Vec<SocialInput>,
    pub label_ids: Vec<i64>,
    pub custom: Vec<(i64, String)>,
}

fn optional<T>(
    raw: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Option<T>, String> {
    if raw.trim().is_empty() {
        Ok(None)
    } else {
        parse(raw).map(Some)
    }
}

fn row_id(raw: &str) -> Option<i64> {
    raw.trim().parse().ok()
}

impl ContactInput {
    /// Checks every field of `form` and reports all problems at once; rows left
    /// blank are dropped. Error keys are the form's field names.
    pub fn parse(
        form: &ContactForm,
        today: NaiveDate,
        custom_fields: &[CustomFieldDef],
    ) -> Result<ContactInput, FieldErrors> {
        let mut e = FieldErrors::default();
        let first_name = e.check("first_name", parse_first_name(&form.first_name));
        let last_name = e.check("last_name", parse_last_name(&form.last_name));
        let contact_type = e.check("contact_type", parse_contact_type(&form.contact_type));
        let level = e.check("level", parse_level(&form.level));
        let company = e.check("company", parse_short_text(&form.company));
        let job_title = e.check("job_title", parse_short_text(&form.job_title));
        let team = e.check("team", parse_short_text(&form.team));
        let birth_date = e.check(
            "birth_date",
            optional(&form.birth_date, |s| parse_birth_date(s, today)),
        );
        let language = e.check("language", optional(&form.language, parse_language));
        let contact_group = e.check("contact_group", parse_short_text(&form.contact_group));
        let street = e.check("street", parse_street(&form.street));
        let city = e.check("city", parse_short_text(&form.city));
        let state = e.check("state", parse_short_text(&form.state));
        let zip_code = e.check("zip_code", parse_short_text(&form.zip_code));
        let country = e.check(
            "country",
            optional(&form.country, |s| parse_country(s).map(str::to_string)),
        );
        let owner_id = e.check(
            "owner",
            optional(&form.owner, |s| {
                s.trim()
                    .parse::<i64>()
                    .map_err(|_| format!("{s} is not a staff member"))
            }),
        );

        let mut phones = Vec::new();
        for (i, row) in form.phones.iter().enumerate() {
            if row.number.trim().is_empty() {
                continue;
            }
            let kind = e.check(&format!("phone-{i}-kind"), row.kind.parse::<PhoneKind>());
            let number = e.check(
                &format!("phone-{i}-number"),
                parse_phone_entry(&row.country, &row.number),
            );
            if let (Some(kind), Some(number)) = (kind, number) {
                phones.push(PhoneInput {
                    id: row_id(&row.id),
                    kind,
                    number,
                });
            }
        }
        let mut emails = Vec::new();
        for (i, row) in form.emails.iter().enumerate() {
            if row.email.trim().is_empty() {
                continue;
            }
            let kind = e.check(&format!("email-{i}-kind"), row.kind.parse::<EmailKind>());
            let email = e.check(&format!("email-{i}-email"), Email::parse(&row.email));
            if let (Some(kind), Some(email)) = (kind, email) {
                emails.push(EmailInput {
                    id: row_id(&row.id),
                    kind,
                    email,
                });
            }
        }
        let mut socials = Vec::new();
        for (i, row) in form.socials.iter().enumerate() {
            if row.handle.trim().is_empty() {
                continue;
            }
            let Some(kind) = e.check(&format!("social-{i}-kind"), row.kind.parse::<SocialKind>())
            else {
                continue;
            };
            if let Some(handle) = e.check(
                &format!("social-{i}-handle"),
                parse_social_handle(kind, &row.handle),
            ) {
                socials.push(SocialInput {
                    id: row_id(&row.id),
                    kind,
                    handle,
                });
            }
        }
        let mut label_ids: Vec<i64> = form
            .labels
            .iter()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        label_ids.sort_unstable();
        label_ids.dedup();
        let mut custom = Vec::new();
        for def in custom_fields {
            let raw = form.custom.get(&def.id).map(String::as_str).unwrap_or("");
            if let Some(Some(value)) =
                e.check(&format!("custom-{}", def.id), parse_custom_value(def, raw))
            {
                custom.push((def.id, value));
            }
        }

        let (
            Some(first_name),
            Some(last_name),
            Some(contact_type),
            Some(level),
            Some(company),
            Some(job_title),
            Some(team),
            Some(birth_date),
            Some(language),
            Some(contact_group),
            Some(street),
            Some(city),
            Some(state),
            Some(zip_code),
            Some(country),
            Some(owner_id),
            true,
        ) = (
            first_name,
            last_name,
            contact_type,
            level,
            company,
            job_title,
            team,
            birth_date,
            language,
            contact_group,
            street,
            city,
            state,
            zip_code,
            country,
            owner_id,
            e.is_empty(),
        )
        else {
            return Err(e);
        };
        Ok(ContactInput {
            first_name,
            last_name,
            contact_type,
            level,
            company,
            job_title,
            team,
            birth_date,
            language,
            contact_group,
            street,
            city,
            state,
            zip_code,
            country,
            owner_id,
            phones,
            emails,
            socials,
            label_ids,
            custom,
        })
    }
}

#[cfg(test)]
mod label_tests {
    use super::parse_label_name;

    #[test]
    fn a_label_name_holds_no_semicolon() {
        assert_eq!(parse_label_name(" Tier:Gold ").as_deref(), Ok("Tier:Gold"));
        assert!(parse_label_name("a;b").is_err());
        assert!(parse_label_name("  ").is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).expect("valid")
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn stored_numbers_come_back_as_country_and_national_number() {
        assert_eq!(
            split_phone("+85291234567", ""),
            ("HK".into(), "91234567".into())
        );
        assert_eq!(
            split_phone("+12125550100", ""),
            ("US".into(), "2125550100".into())
        );
        assert_eq!(
            split_phone("+14165550100", "CA"),
            ("CA".into(), "4165550100".into())
        );
        assert_eq!(
            split_phone("+390612345678", ""),
            ("IT".into(), "0612345678".into())
        );
        // A national number that starts with 0 would lose it when typed back.
        assert_eq!(
            split_phone("+44012345678", ""),
            (String::new(), "+44012345678".into())
        );
    }

    proptest::proptest! {
        #[test]
        fn a_split_number_types_back_to_itself(digits in "[1-9][0-9]{7,15}", hint in "[A-Z]{2}") {
            let number = format!("+{digits}");
            let (country, national) = split_phone(&number, &hint);
            let again = parse_phone_entry(&country, &national).map(|p| p.into_string());
            proptest::prop_assert_eq!(again, Ok(number));
        }
    }

    #[test]
    fn type_and_level_defaults_and_aliases() {
        assert_eq!(parse_contact_type(""), Ok(ContactType::Lead));
        assert_eq!(parse_contact_type("Other"), Ok(ContactType::Others));
        assert_eq!(parse_contact_type("PROSPECT"), Ok(ContactType::Prospect));
        assert!(parse_contact_type("friend").is_err());
        assert_eq!(parse_level(""), Ok(Level::Primary));
        assert_eq!(parse_level("secondary"), Ok(Level::Secondary));
        assert!(parse_level("fourth").is_err());
    }

    #[test]
    fn phones_are_entered_with_a_country_or_in_full() {
        assert_eq!(
            parse_phone_entry("HK", "9123 4567").map(Phone::into_string),
            Ok("+85291234567".into())
        );
        assert_eq!(
            parse_phone_entry("GB", "020 7946 0958").map(Phone::into_string),
            Ok("+442079460958".into())
        );
        assert_eq!(
            parse_phone_entry("IT", "02 1234 5678").map(Phone::into_string),
            Ok("+390212345678".into())
        );
        assert_eq!(
            parse_phone_entry("GB", "+852 9123 4567").map(Phone::into_string),
            Ok("+85291234567".into())
        );
        assert_eq!(
            parse_phone_entry("", "+852 9123 4567").map(Phone::into_string),
            Ok("+85291234567".into())
        );
        assert!(
            parse_phone_entry("", "9123 4567").is_err(),
            "no country and no +"
        );
        assert!(parse_phone_entry("HK", "91x3").is_err());
        assert!(parse_phone_entry("ZZ", "91234567").is_err());
    }

    #[test]
    fn whatsapp_ids_follow_the_phone_rule() {
        assert_eq!(
            parse_social_handle(SocialKind::WhatsApp, "+852 9123 4567"),
            Ok("+85291234567".into())
        );
        assert!(parse_social_handle(SocialKind::WhatsApp, "mei").is_err());
        assert_eq!(
            parse_social_handle(SocialKind::Line, " mei.chan "),
            Ok("mei.chan".into())
        );
        assert!(parse_social_handle(SocialKind::Twitter, &"x".repeat(256)).is_err());
    }

    #[test]
    fn the_form_reads_repeated_rows_in_order() {
        let form = ContactForm::from_pairs(&pairs(&[
            ("last_name", "Chan"),
            ("phone-0-kind", "mobile"),
            ("phone-0-country", "HK"),
            ("phone-0-number", "9123 4567"),
            ("phone-1-kind", "work"),
            ("phone-1-number", "+44 20 7946 0958"),
            ("phone-1-id", "17"),
            ("email-0-kind", "work"),
            ("email-0-email", "mei@example.hk"),
            ("label", "3"),
            ("label", "5"),
            ("custom-9", "Gold"),
            ("phone-999-number", "ignored"),
        ]));
        assert_eq!(form.phones.len(), 2);
        assert_eq!(form.phones[1].id, "17");
        assert_eq!(form.labels, ["3", "5"]);
        assert_eq!(form.custom.get(&9).map(String::as_str), Some("Gold"));
        let input = ContactInput::parse(&form, today(), &[]).expect("valid");
        assert_eq!(input.phones[0].number.as_str(), "+85291234567");
        assert_eq!(input.phones[1].id, Some(17));
        assert_eq!(input.emails[0].email.as_str(), "mei@example.hk");
        assert_eq!(input.label_ids, [3, 5]);
        assert_eq!(input.contact_type, ContactType::Lead);
        assert_eq!(input.level, Level::Primary);
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let form = ContactForm::from_pairs(&pairs(&[
            ("first_name", &"x".repeat(101)),
            ("last_name", "   "),
            ("contact_type", "friend"),
            ("birth_date", "02/30/1990"),
            ("language", "german"),
            ("country", "Narnia"),
            ("phone-0-kind", "mobile"),
            ("phone-0-number", "98765 43210"),
            ("email-0-kind", "work"),
            ("email-0-email", "lena(at)example.de"),
            ("social-0-kind", "whatsapp"),
            ("social-0-handle", "lena"),
        ]));
        let errors = ContactInput::parse(&form, today(), &[]).expect_err("invalid");
        for key in [
            "first_name",
            "last_name",
            "contact_type",
            "birth_date",
            "language",
            "country",
            "phone-0-number",
            "email-0-email",
            "social-0-handle",
        ] {
            assert!(
                errors.get(key).is_some(),
                "{key} should be reported: {errors:?}"
            );
        }
    }

    #[test]
    fn custom_fields_follow_their_kind() {
        let def = |kind, required, options: &[&str]| CustomFieldDef {
            id: 1,
            label: "F".into(),
            kind,
            options: options.iter().map(|s| s.to_string()).collect(),
            required,
        };
        assert_eq!(
            parse_custom_value(&def(CustomFieldKind::Number, false, &[]), " 1,200.5 "),
            Ok(Some("1200.5".into()))
        );
        assert!(parse_custom_value(&def(CustomFieldKind::Number, false, &[]), "lots").is_err());
        assert!(parse_custom_value(&def(CustomFieldKind::Number, false, &[]), "inf").is_err());
        assert_eq!(
            parse_custom_value(&def(CustomFieldKind::Date, false, &[]), "12/31/2030"),
            Ok(Some("2030-12-31".into()))
        );
        assert_eq!(
            parse_custom_value(
                &def(CustomFieldKind::Dropdown, false, &["Gold", "Silver"]),
                "gold"
            ),
            Ok(Some("Gold".into()))
        );
        assert!(
            parse_custom_value(&def(CustomFieldKind::Dropdown, false, &["Gold"]), "Bronze")
                .is_err()
        );
        assert_eq!(
            parse_custom_value(&def(CustomFieldKind::Text, false, &[]), " "),
            Ok(None)
        );
        assert!(parse_custom_value(&def(CustomFieldKind::Text, true, &[]), " ").is_err());
    }
}
