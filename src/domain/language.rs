//! Languages: ISO 639-1 two-letter codes.

use std::sync::OnceLock;

use isolang::Language;

/// A known ISO 639-1 code, any case, stored lower-case.
pub fn parse_language(raw: &str) -> Result<String, String> {
    let value = raw.trim();
    let code = value.to_ascii_lowercase();
    if code.len() == 2
        && code.bytes().all(|b| b.is_ascii_lowercase())
        && Language::from_639_1(&code).is_some()
    {
        return Ok(code);
    }
    Err(format!(
        "{value} is not an ISO 639-1 language code such as en or zh"
    ))
}

pub fn language_name(code: &str) -> Option<&'static str> {
    Language::from_639_1(code).map(|l| l.to_name())
}

/// (code, English name) of every ISO 639-1 language, sorted by name.
pub fn languages() -> &'static [(&'static str, &'static str)] {
    static LIST: OnceLock<Vec<(&'static str, &'static str)>> = OnceLock::new();
    LIST.get_or_init(|| {
        let mut list: Vec<_> = isolang::languages()
            .filter_map(|l| Some((l.to_639_1()?, l.to_name())))
            .collect();
        list.sort_by(|a, b| a.1.cmp(b.1));
        list
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_in_any_case() {
        assert_eq!(parse_language("en").as_deref(), Ok("en"));
        assert_eq!(parse_language(" ZH ").as_deref(), Ok("zh"));
        assert_eq!(language_name("ja"), Some("Japanese"));
    }

    #[test]
    fn names_and_unknown_codes_are_refused() {
        for bad in ["german", "xx", "eng", "e", "", "en-GB"] {
            assert!(parse_language(bad).is_err(), "{bad}");
        }
        assert!(
            parse_language("german")
                .expect_err("name")
                .contains("german is not an ISO 639-1")
        );
    }

    #[test]
    fn the_list_has_every_639_1_language() {
        assert_eq!(languages().len(), 184);
        assert!(languages().contains(&("en", "English")));
    }
}
