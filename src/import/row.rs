//! One uploaded CSV record turned into a contact, through the same rules as
//! the contact form (`ContactInput::parse`), with errors named by column.

use chrono::NaiveDate;

use crate::domain::{
    contact::{ContactForm, ContactInput, EmailRow, PhoneRow, SocialRow},
    text::clean_text,
};
use crate::import::header::{COLUMNS, Column, Header, Target};

/// What a row without a last name is stored as (the contract's rule).
pub const DEFAULT_LAST_NAME: &str = "customer";

/// A record that passed every rule.
#[derive(Clone, Debug)]
pub struct ParsedRow {
    pub input: ContactInput,
    /// Label names, trimmed, without duplicates (case-insensitive).
    pub labels: Vec<String>,
    /// Bit `i` is set when column `COLUMNS[i]` had a value: an update only
    /// overwrites what the file gives.
    pub given: u64,
    /// Custom field ids that had a value.
    pub given_custom: Vec<i64>,
    /// The `ContactBook ID` column's value: which contact an update import
    /// updates.
    pub id: Option<i64>,
}

impl ParsedRow {
    pub fn gives(&self, column: Column) -> bool {
        column_bit(column).is_some_and(|b| self.given & b != 0)
    }
}

fn column_bit(column: Column) -> Option<u64> {
    COLUMNS
        .iter()
        .position(|(c, _)| *c == column)
        .map(|i| 1u64 << i)
}

/// Checks one record; `Err` holds every problem as `Column: message`, in the
/// file's column order.
pub fn parse_record(
    header: &Header,
    record: &csv::StringRecord,
    today: NaiveDate,
) -> Result<ParsedRow, Vec<String>> {
    if record.len() != header.targets.len() {
        return Err(vec![format!(
            "Row: has {} values but the header has {} columns",
            record.len(),
            header.targets.len()
        )]);
    }
    let mut form = ContactForm::default();
    let mut given = 0u64;
    let mut given_custom = Vec::new();
    // For each repeatable row of the form, the file column it came from.
    let mut phone_cols = Vec::new();
    let mut email_cols = Vec::new();
    let mut social_cols = Vec::new();
    let mut errors: Vec<(usize, String)> = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    let mut id = None;
    for (pos, (target, value)) in header.targets.iter().zip(record.iter()).enumerate() {
        // A value the export protected from spreadsheets comes back as it was.
        let value = crate::export::unescape_cell(value.trim());
        if value.is_empty() {
            continue;
        }
        let column = match target {
            Target::Ignored => continue,
            Target::Id => {
                match value.parse::<i64>() {
                    Ok(n) if n > 0 => id = Some(n),
                    _ => errors.push((
                        pos,
                        format!("{}: {value} is not a contact ID", header.raw[pos]),
                    )),
                }
                continue;
            }
            Target::Custom(i) => {
                let id = header.custom_fields[*i].id;
                form.custom.insert(id, value.to_string());
                given_custom.push(id);
                continue;
            }
            Target::Known(c) => *c,
        };
        given |= column_bit(column).unwrap_or(0);
        let v = value.to_string();
        match column {
            Column::FirstName => form.first_name = v,
            Column::LastName => form.last_name = v,
            Column::Company => form.company = v,
            Column::JobTitle => form.job_title = v,
            Column::Team => form.team = v,
            Column::Birthdate => form.birth_date = v,
            Column::Language => form.language = v,
            Column::Address => form.street = v,
            Column::City => form.city = v,
            Column::State => form.state = v,
            Column::ZipCode => form.zip_code = v,
            Column::Country => form.country = v,
            Column::Type => form.contact_type = v,
            Column::Group => form.contact_group = v,
            Column::Level => form.level = v,
            // Several values of one kind travel joined with `;` (the export's rule).
            Column::Phone(kind) => {
                for number in value.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                    form.phones.push(PhoneRow {
                        kind: kind.as_str().into(),
                        number: number.into(),
                        ..PhoneRow::default()
                    });
                    phone_cols.push(pos);
                }
            }
            Column::Email(kind) => {
                for email in value.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                    form.emails.push(EmailRow {
                        kind: kind.as_str().into(),
                        email: email.into(),
                        ..EmailRow::default()
                    });
                    email_cols.push(pos);
                }
            }
            Column::Social(kind) => {
                for handle in value.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                    form.socials.push(SocialRow {
                        kind: kind.as_str().into(),
                        handle: handle.into(),
                        ..SocialRow::default()
                    });
                    social_cols.push(pos);
                }
            }
            Column::ContactLabel => {
                for name in value.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                    match clean_text(name, 100, false) {
                        Ok(name) => {
                            if !labels
                                .iter()
                                .any(|l| l.to_lowercase() == name.to_lowercase())
                            {
                                labels.push(name);
                            }
                        }
                        Err(e) => errors.push((pos, format!("{}: {name} {e}", header.raw[pos]))),
                    }
                }
            }
        }
    }
    if form.last_name.is_empty() {
        form.last_name = DEFAULT_LAST_NAME.into();
    }
    let position_of = |column: Column| {
        header
            .targets
            .iter()
            .position(|t| *t == Target::Known(column))
            .unwrap_or(usize::MAX)
    };
    let parsed = ContactInput::parse(&form, today, &header.custom_fields);
    let input = match parsed {
        Ok(input) => Some(input),
        Err(field_errors) => {
            for (key, message) in field_errors.iter() {
                let pos = match key {
                    "first_name" => position_of(Column::FirstName),
                    "last_name" => position_of(Column::LastName),
                    "contact_type" => position_of(Column::Type),
                    "level" => position_of(Column::Level),
                    "company" => position_of(Column::Company),
                    "job_title" => position_of(Column::JobTitle),
                    "team" => position_of(Column::Team),
                    "birth_date" => position_of(Column::Birthdate),
                    "language" => position_of(Column::Language),
                    "contact_group" => position_of(Column::Group),
                    "street" => position_of(Column::Address),
                    "city" => position_of(Column::City),
                    "state" => position_of(Column::State),
                    "zip_code" => position_of(Column::ZipCode),
                    "country" => position_of(Column::Country),
                    other => {
                        let mut parts = other.splitn(3, '-');
                        let group = parts.next().unwrap_or("");
                        let index = parts.next().unwrap_or("");
                        match group {
                            "phone" | "email" | "social" => {
                                let cols = match group {
                                    "phone" => &phone_cols,
                                    "email" => &email_cols,
                                    _ => &social_cols,
                                };
                                index
                                    .parse::<usize>()
                                    .ok()
                                    .and_then(|i| cols.get(i).copied())
                                    .unwrap_or(usize::MAX)
                            }
                            "custom" => {
                                let id: i64 = index.parse().unwrap_or(0);
                                header
                                    .targets
                                    .iter()
                                    .position(|t| {
                                        matches!(t, Target::Custom(i) if header.custom_fields[*i].id == id)
                                    })
                                    .unwrap_or(usize::MAX)
                            }
                            _ => usize::MAX,
                        }
                    }
                };
                let name = header.raw.get(pos).map(String::as_str).unwrap_or("Row");
                errors.push((pos, format!("{name}: {message}")));
            }
            None
        }
    };
    match input {
        Some(input) if errors.is_empty() => Ok(ParsedRow {
            input,
            labels,
            given,
            given_custom,
            id,
        }),
        _ => {
            errors.sort_by_key(|(pos, _)| *pos);
            Err(errors.into_iter().map(|(_, m)| m).collect())
        }
    }
}

/// True for a record whose every value is blank: skipped, like an empty line.
pub fn is_blank(record: &csv::StringRecord) -> bool {
    record.iter().all(|v| v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::contact::{ContactType, Level, PhoneKind};
    use crate::import::header::template_header;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).expect("valid")
    }

    fn sample() -> Vec<(Result<ParsedRow, Vec<String>>, u64)> {
        let data = include_str!("../../tests/data/contacts-sample.csv");
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(data.as_bytes());
        let raw: Vec<String> = reader
            .headers()
            .expect("header")
            .iter()
            .map(str::to_string)
            .collect();
        let header = Header::parse(&raw, &[]).expect("header");
        reader
            .records()
            .map(|r| {
                let r = r.expect("record");
                let line = r.position().map(|p| p.record()).unwrap_or(0);
                (parse_record(&header, &r, today()), line)
            })
            .collect()
    }

    #[test]
    fn the_sample_file_gives_the_expected_result() {
        let rows = sample();
        assert_eq!(rows.len(), 6);
        let ok: Vec<&ParsedRow> = rows.iter().filter_map(|(r, _)| r.as_ref().ok()).collect();
        assert_eq!(ok.len(), 4);
        assert_eq!(rows[0].1, 1, "records are numbered from 1 after the header");

        let mei = rows[0].0.as_ref().expect("Mei");
        assert_eq!(mei.input.company, "Harbour Foods, Ltd.");
        assert_eq!(mei.input.contact_type, ContactType::Customer);
        assert_eq!(mei.labels, vec!["VIP".to_string()]);

        let tom = rows[1].0.as_ref().expect("Tom");
        assert_eq!(tom.input.phones[0].kind, PhoneKind::Work);
        assert_eq!(tom.input.phones[0].number.as_str(), "+442079460958");
        assert_eq!(
            tom.labels,
            vec!["Newsletter".to_string(), "London".to_string()]
        );
        assert_eq!(tom.input.country.as_deref(), Some("GB"));
        assert_eq!(tom.input.language.as_deref(), Some("en"));

        let yuki = rows[2].0.as_ref().expect("Yuki");
        assert_eq!(yuki.input.last_name, "customer");
        assert_eq!(yuki.input.country.as_deref(), Some("JP"));
        assert!(!yuki.gives(Column::LastName));

        let ravi = rows[3].0.as_ref().expect_err("Ravi fails");
        assert_eq!(ravi.len(), 1);
        assert!(ravi[0].starts_with("Mobile: 98765 43210"), "{ravi:?}");

        let lena = rows[4].0.as_ref().expect_err("Lena fails");
        assert_eq!(lena.len(), 3, "{lena:?}");
        assert!(lena[0].starts_with("Email: "), "{lena:?}");
        assert!(lena[1].starts_with("Birthdate: 31/12/1990"), "{lena:?}");
        assert!(lena[1].contains("no month 31"), "{lena:?}");
        assert!(lena[2].starts_with("Language: german"), "{lena:?}");

        let marco = rows[5].0.as_ref().expect("Marco");
        assert_eq!(marco.input.street, "Via Roma 1\nScala B");
        assert_eq!(marco.input.contact_type, ContactType::Prospect);
        assert_eq!(marco.input.level, Level::Secondary);
    }

    fn header_of(names: &[&str]) -> Header {
        let raw: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        Header::parse(&raw, &[]).expect("header")
    }

    #[test]
    fn ragged_rows_and_several_values() {
        let h = header_of(&["Last Name", "Mobile", "Labels"]);
        let short = csv::StringRecord::from(vec!["Lee"]);
        let err = parse_record(&h, &short, today()).expect_err("ragged");
        assert!(
            err[0].contains("has 1 values but the header has 3"),
            "{err:?}"
        );
        let many = csv::StringRecord::from(vec!["Lee", "+85291234567; +85298765432", "a;A; b"]);
        let row = parse_record(&h, &many, today()).expect("ok");
        assert_eq!(row.input.phones.len(), 2);
        assert_eq!(row.labels, vec!["a".to_string(), "b".to_string()]);
        let bad = csv::StringRecord::from(vec!["Lee", "+85291234567;123", ""]);
        let err = parse_record(&h, &bad, today()).expect_err("second phone bad");
        assert!(err[0].starts_with("Mobile: 123"), "{err:?}");
    }

    #[test]
    fn every_template_column_is_understood() {
        let names = template_header(&[]);
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let h = header_of(&refs);
        assert!(h.ignored().is_empty());
        assert_eq!(h.recognised().len(), 32);
    }

    #[test]
    fn the_contactbook_id_is_read_and_checked() {
        let h = header_of(&["Last Name", "ContactBook ID"]);
        let row =
            parse_record(&h, &csv::StringRecord::from(vec!["Lee", " 42 "]), today()).expect("ok");
        assert_eq!(row.id, Some(42));
        let row = parse_record(&h, &csv::StringRecord::from(vec!["Lee", ""]), today()).expect("ok");
        assert_eq!(row.id, None);
        for bad in ["abc", "-3", "0", "1.5", "99999999999999999999"] {
            let err = parse_record(&h, &csv::StringRecord::from(vec!["Lee", bad]), today())
                .expect_err(bad);
            assert_eq!(
                err,
                vec![format!("ContactBook ID: {bad} is not a contact ID")]
            );
        }
    }

    #[test]
    fn blank_records_are_recognised() {
        assert!(is_blank(&csv::StringRecord::from(vec!["", " ", ""])));
        assert!(!is_blank(&csv::StringRecord::from(vec!["", "x"])));
    }
}
