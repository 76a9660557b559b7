//! Phone numbers: `+`, then 8 to 20 digits; common separators are tolerated.

use std::fmt;

/// A phone number stored as `+` and digits only, e.g. `+85212345678`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Phone, String> {
        let value = raw.trim();
        if value.is_empty() {
            return Err("is required".into());
        }
        let Some(rest) = value.strip_prefix('+') else {
            return Err(format!(
                "{value} needs a + and the country code, e.g. +85212345678"
            ));
        };
        let mut digits = String::with_capacity(rest.len() + 1);
        digits.push('+');
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => {
                    return Err(format!(
                        "{value} may contain only digits, spaces, hyphens, dots and parentheses after the +"
                    ));
                }
            }
        }
        let count = digits.len() - 1;
        if !(8..=20).contains(&count) {
            return Err(format!("{value} has {count} digits; a number has 8 to 20"));
        }
        Ok(Phone(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn strips_tolerated_separators() {
        assert_eq!(
            Phone::parse("+44 20 7946 0958").map(Phone::into_string),
            Ok("+442079460958".into())
        );
        assert_eq!(
            Phone::parse("+1 (415) 555-0100").map(Phone::into_string),
            Ok("+14155550100".into())
        );
        assert_eq!(
            Phone::parse("+852.9123.4567").map(Phone::into_string),
            Ok("+85291234567".into())
        );
    }

    #[test]
    fn refuses_the_nasty_cases() {
        for bad in [
            "98765 43210",
            "+852 9123 456x",
            "+1234567",
            "+123456789012345678901",
            "++85291234567",
            "+",
            "tel:+85291234567",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad} should be refused");
        }
        assert!(Phone::parse("+12345678").is_ok());
        assert!(Phone::parse("+12345678901234567890").is_ok());
    }

    proptest! {
        #[test]
        fn stored_form_parses_to_itself(digits in "[0-9]{8,20}") {
            let phone = Phone::parse(&format!("+{digits}")).expect("valid");
            prop_assert_eq!(Phone::parse(phone.as_str()).expect("valid"), phone.clone());
            prop_assert_eq!(phone.as_str().len(), digits.len() + 1);
        }

        /// Any formatting of the same digits gives the same stored number.
        #[test]
        fn separators_anywhere_give_the_digits(
            digits in "[0-9]{8,20}",
            seps in proptest::collection::vec("[ .()-]{0,2}", 20),
            pad in "[ ]{0,3}",
        ) {
            let mut raw = format!("{pad}+");
            for (d, sep) in digits.chars().zip(&seps) {
                raw.push_str(sep);
                raw.push(d);
            }
            raw.push_str(&pad);
            let phone = Phone::parse(&raw).map_err(TestCaseError::fail)?;
            prop_assert_eq!(phone.as_str(), format!("+{digits}"));
        }

        /// Whatever is typed, a number is accepted only in the stored form's
        /// shape, and then it parses to itself.
        #[test]
        fn anything_is_refused_or_canonical(raw in "\\PC{0,30}|\\+?[0-9 ()./+a-z٣-]{0,30}") {
            if let Ok(phone) = Phone::parse(&raw) {
                let s = phone.as_str();
                prop_assert!(s.starts_with('+'));
                prop_assert!(s[1..].bytes().all(|b| b.is_ascii_digit()), "{}", s);
                prop_assert!((9..=21).contains(&s.len()));
                prop_assert_eq!(Phone::parse(s).expect("again"), phone.clone());
            }
        }
    }
}
