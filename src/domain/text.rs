//! Free-text fields: trimmed, length-limited, control characters refused.

/// Trims `raw` and checks it is at most `max` characters with no control
/// characters other than line breaks and tabs (when `multiline`).
pub fn clean_text(raw: &str, max: usize, multiline: bool) -> Result<String, String> {
    let value = raw.trim();
    let len = value.chars().count();
    if len > max {
        return Err(format!("must be at most {max} characters (this is {len})"));
    }
    let bad = value
        .chars()
        .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')));
    if bad {
        return Err("contains control characters".into());
    }
    Ok(value.to_string())
}

/// Like [`clean_text`] but an empty value is refused.
pub fn required_text(raw: &str, max: usize) -> Result<String, String> {
    let value = clean_text(raw, max, false)?;
    if value.is_empty() {
        return Err("is required".into());
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_limits_by_characters_not_bytes() {
        assert_eq!(clean_text("  Zoë  ", 3, false).as_deref(), Ok("Zoë"));
        assert!(clean_text(&"é".repeat(101), 100, false).is_err());
        assert!(clean_text(&"é".repeat(100), 100, false).is_ok());
    }

    #[test]
    fn keeps_emoji_rtl_and_markup_as_text() {
        for s in [
            "😀 Smile",
            "مرحبا",
            "<script>alert(1)</script>",
            "'; DROP TABLE staff; --",
        ] {
            assert_eq!(clean_text(s, 100, false).as_deref(), Ok(s));
        }
    }

    #[test]
    fn refuses_control_characters() {
        assert!(clean_text("a\u{0}b", 10, false).is_err());
        assert!(clean_text("a\nb", 10, false).is_err());
        assert!(clean_text("a\nb", 10, true).is_ok());
    }

    #[test]
    fn required_refuses_blank() {
        assert_eq!(required_text("   ", 10), Err("is required".to_string()));
    }
}
