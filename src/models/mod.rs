//! Database access: one file per table, each with its row struct and queries.

pub mod bulk;
pub mod contact;
pub mod contact_list;
pub mod custom_field;
pub mod engagement;
pub mod enquiry;
pub mod import;
pub mod journey;
pub mod label;
pub mod login_attempt;
pub mod note;
pub mod ownership;
pub mod search_plan;
pub mod share;
pub mod staff;
pub mod visibility;

/// Escapes `%`, `_` and `\` so user text matches literally inside a LIKE pattern.
pub fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The name of the constraint a unique violation tripped, if that is what `e` is.
pub fn unique_violation(e: &diesel::result::Error) -> Option<String> {
    match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            info,
        ) => Some(info.constraint_name().unwrap_or_default().to_string()),
        _ => None,
    }
}
