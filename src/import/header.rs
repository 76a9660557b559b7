//! The contact CSV's columns and how an uploaded header row maps onto them.

use crate::domain::contact::{CustomFieldDef, EmailKind, PhoneKind, SocialKind};

/// A column of the contract, in template order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Column {
    FirstName,
    LastName,
    Phone(PhoneKind),
    Email(EmailKind),
    Social(SocialKind),
    Company,
    JobTitle,
    Team,
    Birthdate,
    Language,
    Address,
    City,
    State,
    ZipCode,
    Country,
    Type,
    Group,
    Level,
    ContactLabel,
}

/// The template's columns in order, with their names as written in the header.
pub const COLUMNS: [(Column, &str); 32] = [
    (Column::FirstName, "First Name"),
    (Column::LastName, "Last Name"),
    (Column::Phone(PhoneKind::Mobile), "Mobile"),
    (Column::Phone(PhoneKind::Work), "Work Phone"),
    (Column::Phone(PhoneKind::Home), "Home Phone"),
    (Column::Phone(PhoneKind::Other), "Other Phone"),
    (Column::Email(EmailKind::Work), "Email"),
    (Column::Email(EmailKind::Personal), "Personal Email"),
    (Column::Email(EmailKind::Other), "Other Email"),
    (Column::Social(SocialKind::Facebook), "Facebook"),
    (Column::Social(SocialKind::WhatsApp), "WhatsApp"),
    (Column::Social(SocialKind::WeChat), "WeChat"),
    (Column::Social(SocialKind::Line), "LINE"),
    (Column::Social(SocialKind::Twitter), "Twitter"),
    (Column::Social(SocialKind::LinkedIn), "LinkedIn"),
    (
        Column::Social(SocialKind::WoztellWhatsApp),
        "WOZTELL (WhatsApp)",
    ),
    (
        Column::Social(SocialKind::WoztellFacebook),
        "WOZTELL (Facebook)",
    ),
    (
        Column::Social(SocialKind::WoztellInstagram),
        "WOZTELL (Instagram)",
    ),
    (Column::Company, "Company"),
    (Column::JobTitle, "Job Title"),
    (Column::Team, "Team"),
    (Column::Birthdate, "Birthdate"),
    (Column::Language, "Language"),
    (Column::Address, "Address"),
    (Column::City, "City"),
    (Column::State, "State"),
    (Column::ZipCode, "ZipCode"),
    (Column::Country, "Country"),
    (Column::Type, "Type"),
    (Column::Group, "Group"),
    (Column::Level, "Level"),
    (Column::ContactLabel, "Contact Label"),
];

const ALIASES: [(&str, Column); 12] = [
    ("title", Column::JobTitle),
    ("department", Column::Team),
    ("work", Column::Phone(PhoneKind::Work)),
    ("home", Column::Phone(PhoneKind::Home)),
    ("phone", Column::Phone(PhoneKind::Mobile)),
    ("zip code", Column::ZipCode),
    ("zip", Column::ZipCode),
    ("postal code", Column::ZipCode),
    ("street", Column::Address),
    ("birth date", Column::Birthdate),
    ("label", Column::ContactLabel),
    ("labels", Column::ContactLabel),
];

impl Column {
    /// The template's example row, in `COLUMNS` order.
    pub fn example() -> [&'static str; 32] {
        [
            "Mei",
            "Chan",
            "+85291234567",
            "+85221234567",
            "",
            "",
            "mei.chan@example.com",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "Harbour Foods, Ltd.",
            "Buyer",
            "Purchasing",
            "04/23/1982",
            "en",
            "1 Harbour Road",
            "Hong Kong",
            "",
            "",
            "HK",
            "Customer",
            "",
            "Primary",
            "VIP;Newsletter",
        ]
    }

    pub fn name(self) -> &'static str {
        COLUMNS
            .iter()
            .find(|(c, _)| *c == self)
            .map(|(_, n)| *n)
            .unwrap_or("")
    }
}

/// The export's last column: the contact's id, which update imports match
/// first. The template leaves it out.
pub const ID_COLUMN: &str = "ContactBook ID";

/// What one column of an uploaded file is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Known(Column),
    /// Index into the custom field definitions.
    Custom(usize),
    /// `ContactBook ID`.
    Id,
    Ignored,
}

/// An uploaded header row, understood.
#[derive(Clone, Debug)]
pub struct Header {
    /// The names as uploaded (byte order mark removed).
    pub raw: Vec<String>,
    pub targets: Vec<Target>,
    pub custom_fields: Vec<CustomFieldDef>,
}

impl Header {
    /// Maps `raw` onto the contract's columns and `fields`; a column named
    /// twice (directly or through an alias) refuses the whole file.
    pub fn parse(raw: &[String], fields: &[CustomFieldDef]) -> Result<Header, String> {
        let raw: Vec<String> = raw
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let name = if i == 0 {
                    name.trim_start_matches('\u{feff}')
                } else {
                    name
                };
                // A name the export protected from spreadsheets comes back
                // as it was.
                crate::export::unescape_cell(name.trim()).to_string()
            })
            .collect();
        if raw.iter().all(String::is_empty) {
            return Err("The first line of the file should name the columns, but it is empty. Download the template to see the expected header.".into());
        }
        let mut targets = Vec::with_capacity(raw.len());
        let mut custom_used = Vec::new();
        for name in &raw {
            let key = name.to_lowercase();
            let known = COLUMNS
                .iter()
                .find(|(_, n)| n.to_lowercase() == key)
                .map(|(c, _)| *c)
                .or_else(|| ALIASES.iter().find(|(a, _)| *a == key).map(|(_, c)| *c));
            let target = match known {
                Some(c) => Target::Known(c),
                None if key == ID_COLUMN.to_lowercase() => Target::Id,
                None => match fields
                    .iter()
                    .position(|f| f.label.trim().to_lowercase() == key)
                {
                    Some(i) => match custom_used
                        .iter()
                        .position(|f: &CustomFieldDef| f.id == fields[i].id)
                    {
                        Some(used) => Target::Custom(used),
                        None => {
                            custom_used.push(fields[i].clone());
                            Target::Custom(custom_used.len() - 1)
                        }
                    },
                    None => Target::Ignored,
                },
            };
            if target != Target::Ignored
                && let Some(first) = targets.iter().position(|t| *t == target)
            {
                return Err(format!(
                    "The columns \"{}\" and \"{name}\" both hold {}. Remove one of them and upload the file again; nothing was imported.",
                    raw[first],
                    match &target {
                        Target::Known(c) => c.name().to_string(),
                        Target::Custom(i) => custom_used[*i].label.clone(),
                        Target::Id => ID_COLUMN.to_string(),
                        Target::Ignored => String::new(),
                    }
                ));
            }
            targets.push(target);
        }
        if targets
            .iter()
            .all(|t| matches!(t, Target::Ignored | Target::Id))
        {
            return Err("None of the columns is a contact column (for example First Name, Last Name, Mobile, Email). Is the first line the header? Download the template to see the expected columns.".into());
        }
        Ok(Header {
            raw,
            targets,
            custom_fields: custom_used,
        })
    }

    /// The recognised columns as (uploaded name, what it is).
    pub fn recognised(&self) -> Vec<(String, String)> {
        self.raw
            .iter()
            .zip(&self.targets)
            .filter_map(|(name, t)| match t {
                Target::Known(c) => Some((name.clone(), c.name().to_string())),
                Target::Custom(i) => Some((
                    name.clone(),
                    format!("custom field {}", self.custom_fields[*i].label),
                )),
                Target::Id => Some((name.clone(), ID_COLUMN.to_string())),
                Target::Ignored => None,
            })
            .collect()
    }

    pub fn ignored(&self) -> Vec<String> {
        self.raw
            .iter()
            .zip(&self.targets)
            .filter(|(name, t)| **t == Target::Ignored && !name.is_empty())
            .map(|(name, _)| name.clone())
            .collect()
    }

    pub fn has(&self, column: Column) -> bool {
        self.targets.contains(&Target::Known(column))
    }

    pub fn has_id(&self) -> bool {
        self.targets.contains(&Target::Id)
    }
}

/// The template header: the contract's columns, then one per custom field.
pub fn template_header(fields: &[CustomFieldDef]) -> Vec<String> {
    COLUMNS
        .iter()
        .map(|(_, n)| n.to_string())
        .chain(fields.iter().map(|f| f.label.clone()))
        .collect()
}

/// The export header: the template's, then `ContactBook ID`.
pub fn export_header(fields: &[CustomFieldDef]) -> Vec<String> {
    let mut header = template_header(fields);
    header.push(ID_COLUMN.to_string());
    header
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::contact::CustomFieldKind;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn field(id: i64, label: &str) -> CustomFieldDef {
        CustomFieldDef {
            id,
            label: label.into(),
            kind: CustomFieldKind::Text,
            options: vec![],
            required: false,
        }
    }

    #[test]
    fn matches_case_insensitively_with_aliases_and_bom() {
        let h = Header::parse(
            &names(&[
                "\u{feff} first name ",
                "LAST NAME",
                "Title",
                "Zip",
                "Labels",
                "Shoe size",
                "Phone",
            ]),
            &[],
        )
        .expect("valid");
        assert_eq!(h.targets[0], Target::Known(Column::FirstName));
        assert_eq!(h.raw[0], "first name");
        assert_eq!(h.targets[2], Target::Known(Column::JobTitle));
        assert_eq!(h.targets[3], Target::Known(Column::ZipCode));
        assert_eq!(h.targets[4], Target::Known(Column::ContactLabel));
        assert_eq!(h.targets[5], Target::Ignored);
        assert_eq!(
            h.targets[6],
            Target::Known(Column::Phone(PhoneKind::Mobile))
        );
        assert_eq!(h.ignored(), vec!["Shoe size".to_string()]);
    }

    #[test]
    fn a_column_twice_refuses_the_file() {
        let err = Header::parse(&names(&["Email", "Mobile", "phone"]), &[]).expect_err("dup");
        assert!(err.contains("\"Mobile\" and \"phone\""), "{err}");
        assert!(Header::parse(&names(&["Email", "email"]), &[]).is_err());
        assert!(
            Header::parse(&names(&["Tier", "tier"]), &[field(1, "Tier")]).is_err(),
            "custom fields too"
        );
    }

    #[test]
    fn custom_fields_and_nothing_known() {
        let h = Header::parse(&names(&["Last Name", "Tier"]), &[field(7, "tier")]).expect("ok");
        assert_eq!(h.targets[1], Target::Custom(0));
        assert_eq!(h.custom_fields[0].id, 7);
        assert!(Header::parse(&names(&["a", "b"]), &[]).is_err());
        assert!(Header::parse(&names(&[""]), &[]).is_err());
    }

    #[test]
    fn the_id_column_is_recognised_but_is_not_a_contact_column_alone() {
        let h = Header::parse(&names(&["Email", " contactbook id "]), &[]).expect("ok");
        assert_eq!(h.targets[1], Target::Id);
        assert!(h.has_id());
        assert!(h.ignored().is_empty());
        assert!(Header::parse(&names(&["ContactBook ID"]), &[]).is_err());
        assert!(
            Header::parse(&names(&["ContactBook ID", "contactbook id", "Email"]), &[]).is_err()
        );
        let e = export_header(&[field(1, "Tier")]);
        assert_eq!(e.last().map(String::as_str), Some(ID_COLUMN));
        assert_eq!(e[32], "Tier");
    }

    #[test]
    fn template_lists_the_contract_then_custom_fields() {
        let t = template_header(&[field(1, "Tier")]);
        assert_eq!(t.len(), 33);
        assert_eq!(t[0], "First Name");
        assert_eq!(t[31], "Contact Label");
        assert_eq!(t[32], "Tier");
    }
}
