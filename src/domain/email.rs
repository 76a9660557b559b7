//! Email addresses, by the rule in the contact CSV contract.

use std::fmt;

/// A syntactically valid email address with its domain lower-cased.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Email, String> {
        let value = raw.trim();
        if value.is_empty() {
            return Err("is required".into());
        }
        if value.chars().count() > 254 {
            return Err("must be at most 254 characters".into());
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("{value} contains a space"));
        }
        // Files list several addresses in one cell separated by `;`.
        if value.contains(';') {
            return Err(format!("{value} contains a ;"));
        }
        let mut parts = value.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("{value} must contain exactly one @"));
        };
        if local.is_empty() {
            return Err(format!("{value} has nothing before the @"));
        }
        // A dot is required, and empty labels ("a@b..c", "a@.com") are never deliverable.
        if !domain.contains('.') || domain.split('.').any(str::is_empty) {
            return Err(format!(
                "{value} needs a domain such as example.com after the @"
            ));
        }
        Ok(Email(format!("{local}@{}", domain.to_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lower_cases_only_the_domain() {
        assert_eq!(
            Email::parse("  Mei.Chan@Example.HK ").map(Email::into_string),
            Ok("Mei.Chan@example.hk".to_string())
        );
    }

    #[test]
    fn refuses_the_nasty_cases() {
        for bad in [
            "lena(at)example.de",
            "@example.com",
            "a@b",
            "a@@b.com",
            "a@b@c.com",
            "a b@c.com",
            "a@b..com",
            "a@.com",
            "a@com.",
            "",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} should be refused");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    proptest! {
        #[test]
        fn parsing_is_idempotent(local in "[a-zA-Z0-9._%+-]{1,30}", domain in "[a-zA-Z0-9-]{1,20}\\.[a-zA-Z]{2,6}") {
            let first = Email::parse(&format!("{local}@{domain}")).expect("valid");
            let again = Email::parse(first.as_str()).expect("still valid");
            prop_assert_eq!(first, again);
        }

        /// Whatever is typed, an address is accepted only in a shape the
        /// importer and the export keep whole: one `@`, no space, control
        /// character or `;`, a dotted domain in lower case; and it parses to
        /// itself.
        #[test]
        fn anything_is_refused_or_canonical(raw in "\\PC{0,40}|[ a-zA-Z0-9.@;,'\"=+É\t-]{0,40}") {
            if let Ok(email) = Email::parse(&raw) {
                let s = email.as_str();
                prop_assert_eq!(s.matches('@').count(), 1);
                prop_assert!(!s.chars().any(|c| c.is_whitespace() || c.is_control() || c == ';'), "{}", s);
                let (local, domain) = s.split_once('@').expect("one @");
                prop_assert!(!local.is_empty());
                prop_assert!(domain.contains('.') && !domain.split('.').any(str::is_empty));
                prop_assert_eq!(domain, domain.to_lowercase());
                prop_assert_eq!(Email::parse(s).expect("again"), email.clone());
            }
        }
    }
}
