//! Notes on a contact: plain text with its line breaks, up to 10,000
//! characters, shown with its web addresses as links.

/// The longest note, in characters.
pub const MAX_NOTE: usize = 10_000;

/// A note's text as it is stored: surrounding blank space trimmed, line
/// breaks kept, never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteBody(String);

impl NoteBody {
    pub fn parse(raw: &str) -> Result<NoteBody, String> {
        // Browsers send CRLF from a textarea: one kind of line break is kept.
        let text = raw.replace("\r\n", "\n").replace('\r', "\n");
        let text = text.trim();
        if text.is_empty() {
            return Err("is empty: write something first".into());
        }
        let len = text.chars().count();
        if len > MAX_NOTE {
            return Err(format!(
                "must be at most {MAX_NOTE} characters (this is {len})"
            ));
        }
        if text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\t'))
        {
            return Err("contains control characters".into());
        }
        Ok(NoteBody(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push_str("<br>"),
            c => out.push(c),
        }
    }
}

/// Where a web address that starts at `text[start..]` ends: at white space
/// or a quote or bracket, less the punctuation that usually ends a sentence.
fn link_end(text: &str, start: usize) -> usize {
    let rest = &text[start..];
    let mut end = rest
        .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\''))
        .unwrap_or(rest.len());
    while end > 0 && rest[..end].ends_with(['.', ',', ';', ':', '!', '?', ')', ']']) {
        end -= 1;
    }
    start + end
}

/// The note as HTML: every character escaped, line breaks as `<br>`, and
/// `http://` and `https://` addresses as links that open in a new tab
/// without giving it a handle on this page. The only markup in the result
/// is what this function writes.
pub fn note_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut at = 0;
    while at < text.len() {
        let next = ["https://", "http://"]
            .iter()
            .filter_map(|scheme| {
                text[at..]
                    .char_indices()
                    .map(|(i, _)| at + i)
                    .find(|i| {
                        text[*i..]
                            .get(..scheme.len())
                            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
                    })
                    .map(|i| (i, scheme.len()))
            })
            .min();
        let Some((start, scheme_len)) = next else {
            escape_into(&mut out, &text[at..]);
            break;
        };
        let end = link_end(text, start);
        escape_into(&mut out, &text[at..start]);
        if end <= start + scheme_len {
            // A scheme with no address after it is just text.
            escape_into(&mut out, &text[start..start + scheme_len]);
            at = start + scheme_len;
            continue;
        }
        let url = &text[start..end];
        out.push_str("<a href=\"");
        escape_into(&mut out, url);
        out.push_str("\" rel=\"noopener noreferrer nofollow\" target=\"_blank\">");
        escape_into(&mut out, url);
        out.push_str("</a>");
        at = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keeps_line_breaks_and_refuses_empty_long_and_control_text() {
        assert_eq!(
            NoteBody::parse("  Called.\r\nWill call back.\r\n\r\n ")
                .map(|n| n.as_str().to_string()),
            Ok("Called.\nWill call back.".to_string())
        );
        assert!(NoteBody::parse(" \n\t ").is_err());
        assert!(NoteBody::parse(&"é".repeat(MAX_NOTE)).is_ok());
        assert!(NoteBody::parse(&"é".repeat(MAX_NOTE + 1)).is_err());
        assert!(NoteBody::parse("bell\u{7}").is_err());
        assert!(NoteBody::parse("مرحبا 😀 \u{202e}rtl").is_ok());
    }

    #[test]
    fn links_open_safely_and_everything_else_is_escaped() {
        assert_eq!(
            note_html("See https://example.com/a?b=1&c=2, then <b>bold</b>\nok"),
            "See <a href=\"https://example.com/a?b=1&amp;c=2\" rel=\"noopener noreferrer nofollow\" \
             target=\"_blank\">https://example.com/a?b=1&amp;c=2</a>, then &lt;b&gt;bold&lt;/b&gt;<br>ok"
        );
        assert_eq!(
            note_html("javascript:alert(1) and \"https://x.io\""),
            "javascript:alert(1) and &quot;<a href=\"https://x.io\" rel=\"noopener noreferrer nofollow\" \
             target=\"_blank\">https://x.io</a>&quot;"
        );
        assert_eq!(note_html("http:// alone"), "http:// alone");
        assert_eq!(
            note_html("(HTTP://A.B)."),
            "(<a href=\"HTTP://A.B\" rel=\"noopener noreferrer nofollow\" target=\"_blank\">HTTP://A.B</a>)."
        );
    }

    proptest! {
        /// Whatever is written, the only tags in the HTML are the links and
        /// line breaks this module made, and the text reads back the same.
        #[test]
        fn no_markup_gets_through(text in "[a-z<>\"'&/:.=() \\nhtps]{0,60}|\\PC{0,40}") {
            let html = note_html(&text);
            let stripped = html
                .replace("<br>", "\n")
                .replace(" rel=\"noopener noreferrer nofollow\" target=\"_blank\"", "");
            let mut plain = String::new();
            let mut rest = stripped.as_str();
            while let Some(i) = rest.find('<') {
                plain.push_str(&rest[..i]);
                let tag_end = rest[i..].find('>').map(|j| i + j + 1).unwrap_or(rest.len());
                let tag = &rest[i..tag_end];
                prop_assert!(tag.starts_with("<a href=\"") || tag == "</a>", "tag {:?} in {:?}", tag, html);
                rest = &rest[tag_end..];
            }
            plain.push_str(rest);
            let unescaped = plain
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&amp;", "&");
            prop_assert_eq!(unescaped, text);
        }
    }
}
