//! Staff attributes: role, availability, extension, time zone.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::domain::{
    Email, Phone,
    text::{clean_text, required_text},
};

/// Messages for the fields of one form, keyed by field name; empty means valid.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_string())
            .or_insert_with(|| message.into());
    }

    /// Records `result`'s error under `field` and returns its value, if any.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(field, e);
                None
            }
        }
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Every error as (field name, "Label: message") for a form's error
    /// summary, labels made from the field names.
    pub fn summary(&self) -> Vec<(String, String)> {
        self.summary_with(|_| None)
    }

    /// Like `summary`, with `label` naming the fields it knows.
    pub fn summary_with(&self, label: impl Fn(&str) -> Option<String>) -> Vec<(String, String)> {
        self.iter()
            .map(|(key, message)| {
                let name = label(key).unwrap_or_else(|| humanize(key));
                (key.to_string(), format!("{name}: {message}"))
            })
            .collect()
    }
}

/// `new_password` → `New password`.
fn humanize(key: &str) -> String {
    let words = key.replace(['_', '-'], " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

text_enum!(
    /// What a staff member may do: administrators manage staff and settings.
    Role { Admin = "admin" / "Administrator", Agent = "agent" / "Agent" }
);

text_enum!(
    /// Whether a staff member can take a call or chat right now.
    Availability {
        Available = "available" / "Available",
        Busy = "busy" / "Busy",
        Away = "away" / "Away",
        Offline = "offline" / "Offline",
    }
);

/// An internal phone extension: 2 to 8 digits.
pub fn parse_extension(raw: &str) -> Result<Option<String>, String> {
    let value = raw.trim();
    if value.is_empty() {
        return Ok(None);
    }
    if !(2..=8).contains(&value.len()) || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{value} is not an extension: use 2 to 8 digits"));
    }
    Ok(Some(value.to_string()))
}

/// An IANA time zone name such as `Asia/Hong_Kong`.
pub fn parse_time_zone(raw: &str) -> Result<Tz, String> {
    let value = raw.trim();
    if value.is_empty() {
        return Err("is required".into());
    }
    value
        .parse::<Tz>()
        .map_err(|_| format!("{value} is not a time zone name such as Europe/London"))
}

/// Every selectable IANA zone, sorted, for dropdowns.
pub fn time_zone_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
    names.sort_unstable();
    names
}

/// "14:05 (UTC+08:00)" in `zone` at `now`; the stored name is trusted, but a
/// name that no longer parses falls back to UTC rather than failing a page.
pub fn local_time(zone: &str, now: DateTime<Utc>) -> String {
    let tz: Tz = zone.parse().unwrap_or(Tz::UTC);
    now.with_timezone(&tz)
        .format("%a %H:%M (UTC%:z)")
        .to_string()
}

/// Up to two initials for the avatar placeholder.
pub fn initials(name: &str) -> String {
    let mut words = name.split_whitespace().filter_map(|w| w.chars().next());
    let first = words.next();
    let last = words.next_back();
    [first, last]
        .into_iter()
        .flatten()
        .flat_map(char::to_uppercase)
        .collect()
}

/// A stable colour (one of 8, as a CSS class index) per person, so a face is
/// recognisable by colour. Classes, not inline styles: the CSP forbids those.
pub fn avatar_hue(seed: i64) -> u32 {
    seed.rem_euclid(8) as u32
}

/// The raw text of the staff form, as typed.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct StaffForm {
    pub display_name: String,
    pub email: String,
    pub role: String,
    pub department: String,
    pub job_title: String,
    pub time_zone: String,
    pub extension: String,
    pub phone: String,
    pub password: String,
    pub password_confirm: String,
}

/// A staff member's attributes once every rule has passed.
#[derive(Debug)]
pub struct StaffInput {
    pub display_name: String,
    pub email: Email,
    pub role: Role,
    pub department: String,
    pub job_title: String,
    pub time_zone: String,
    pub extension: Option<String>,
    pub phone: Option<Phone>,
}

fn optional_phone(raw: &str) -> Result<Option<Phone>, String> {
    if raw.trim().is_empty() {
        Ok(None)
    } else {
        Phone::parse(raw).map(Some)
    }
}

impl TryFrom<&StaffForm> for StaffInput {
    type Error = FieldErrors;

    /// Checks every field and reports all problems at once.
    fn try_from(f: &StaffForm) -> Result<StaffInput, FieldErrors> {
        let mut e = FieldErrors::default();
        let display_name = e.check("display_name", required_text(&f.display_name, 100));
        let email = e.check("email", Email::parse(&f.email));
        let role = e.check("role", f.role.parse::<Role>());
        let department = e.check("department", clean_text(&f.department, 255, false));
        let job_title = e.check("job_title", clean_text(&f.job_title, 255, false));
        let time_zone = e.check("time_zone", parse_time_zone(&f.time_zone));
        let extension = e.check("extension", parse_extension(&f.extension));
        let phone = e.check("phone", optional_phone(&f.phone));
        match (
            display_name,
            email,
            role,
            department,
            job_title,
            time_zone,
            extension,
            phone,
        ) {
            (
                Some(display_name),
                Some(email),
                Some(role),
                Some(department),
                Some(job_title),
                Some(tz),
                Some(extension),
                Some(phone),
            ) => Ok(StaffInput {
                display_name,
                email,
                role,
                department,
                job_title,
                time_zone: tz.name().to_string(),
                extension,
                phone,
            }),
            _ => Err(e),
        }
    }
}

/// What members may change about themselves.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ProfileForm {
    pub display_name: String,
    pub time_zone: String,
    pub phone: String,
}

pub struct ProfileInput {
    pub display_name: String,
    pub time_zone: String,
    pub phone: Option<Phone>,
}

impl TryFrom<&ProfileForm> for ProfileInput {
    type Error = FieldErrors;

    fn try_from(f: &ProfileForm) -> Result<ProfileInput, FieldErrors> {
        let mut e = FieldErrors::default();
        let display_name = e.check("display_name", required_text(&f.display_name, 100));
        let time_zone = e.check("time_zone", parse_time_zone(&f.time_zone));
        let phone = e.check("phone", optional_phone(&f.phone));
        match (display_name, time_zone, phone) {
            (Some(display_name), Some(tz), Some(phone)) => Ok(ProfileInput {
                display_name,
                time_zone: tz.name().to_string(),
                phone,
            }),
            _ => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn enums_parse_any_case_and_round_trip() {
        for a in Availability::ALL {
            assert_eq!(a.as_str().parse::<Availability>(), Ok(*a));
            assert_eq!(a.label().to_uppercase().parse::<Availability>(), Ok(*a));
        }
        assert!("sleeping".parse::<Availability>().is_err());
        assert_eq!(" Admin ".parse::<Role>(), Ok(Role::Admin));
    }

    #[test]
    fn extensions_are_short_digit_strings() {
        assert_eq!(parse_extension(" 204 "), Ok(Some("204".into())));
        assert_eq!(parse_extension(""), Ok(None));
        for bad in ["1", "123456789", "20a", "+204", "٢٠٤"] {
            assert!(parse_extension(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert!(parse_time_zone("Asia/Hong_Kong").is_ok());
        assert!(parse_time_zone("Mars/Olympus").is_err());
        assert!(time_zone_names().contains(&"Europe/London"));
        let noon = Utc
            .with_ymd_and_hms(2026, 1, 15, 12, 0, 0)
            .single()
            .expect("valid");
        assert_eq!(local_time("Asia/Hong_Kong", noon), "Thu 20:00 (UTC+08:00)");
        assert_eq!(local_time("garbage", noon), "Thu 12:00 (UTC+00:00)");
    }

    #[test]
    fn initials_take_first_and_last_words() {
        assert_eq!(initials("Mei Ling Chan"), "MC");
        assert_eq!(initials("ada"), "A");
        assert_eq!(initials("  "), "");
        assert_eq!(initials("Élodie Ñúñez"), "ÉÑ");
    }

    #[test]
    fn staff_form_reports_every_error_at_once() {
        let form = StaffForm {
            display_name: " ".into(),
            email: "nobody".into(),
            role: "boss".into(),
            time_zone: "Nowhere/Land".into(),
            extension: "x1".into(),
            phone: "12345".into(),
            ..StaffForm::default()
        };
        let errors = StaffInput::try_from(&form).expect_err("all bad");
        for field in [
            "display_name",
            "email",
            "role",
            "time_zone",
            "extension",
            "phone",
        ] {
            assert!(errors.get(field).is_some(), "{field} should have an error");
        }
        assert_eq!(errors.len(), 6);
    }

    #[test]
    fn staff_form_normalises_good_input() {
        let form = StaffForm {
            display_name: " Ada Lovelace ".into(),
            email: "Ada@Example.COM".into(),
            role: "agent".into(),
            time_zone: "Europe/London".into(),
            extension: "204".into(),
            phone: "+44 20 7946 0958".into(),
            ..StaffForm::default()
        };
        let input = StaffInput::try_from(&form).expect("valid");
        assert_eq!(input.display_name, "Ada Lovelace");
        assert_eq!(input.email.as_str(), "Ada@example.com");
        assert_eq!(
            input.phone.map(Phone::into_string).as_deref(),
            Some("+442079460958")
        );
    }

    #[test]
    fn field_errors_keep_the_first_message() {
        let mut e = FieldErrors::default();
        assert_eq!(e.check::<u8>("email", Err("bad".into())), None);
        e.add("email", "second");
        assert_eq!(e.get("email"), Some("bad"));
        assert_eq!(e.len(), 1);
    }
}
