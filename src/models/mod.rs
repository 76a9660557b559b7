//! Database access: one file per table, each with its row struct and queries.

pub mod bulk;
pub mod bulk_job;
pub mod contact;
pub mod contact_list;
pub mod custom_field;
pub mod duplicates;
pub mod engagement;
pub mod enquiry;
pub mod import;
pub mod journey;
pub mod label;
pub mod login_attempt;
pub mod merge;
pub mod note;
pub mod ownership;
pub mod search_plan;
pub mod share;
pub mod staff;
pub mod visibility;

/// A contact's rows, newest first by (`at`, `id`), those before the keyset
/// `before` when given: what each section of the Activity tab pages through.
/// `select` ends in a WHERE that binds the contact as `$1`.
pub fn newest_of_contact<T: diesel::deserialize::QueryableByName<diesel::pg::Pg> + 'static>(
    conn: &mut diesel::PgConnection,
    select: &str,
    (at, id): (&str, &str),
    contact_id: i64,
    before: Option<(chrono::DateTime<chrono::Utc>, i64)>,
    limit: i64,
) -> diesel::QueryResult<Vec<T>> {
    use diesel::{
        RunQueryDsl,
        sql_types::{BigInt, Timestamptz},
    };
    let keyset = if before.is_some() {
        format!(" AND ({at}, {id}) < ($2, $3)")
    } else {
        String::new()
    };
    let query = diesel::sql_query(format!(
        "{select}{keyset} ORDER BY {at} DESC, {id} DESC LIMIT {limit}"
    ))
    .into_boxed()
    .bind::<BigInt, _>(contact_id);
    match before {
        Some((t, i)) => query
            .bind::<Timestamptz, _>(t)
            .bind::<BigInt, _>(i)
            .load(conn),
        None => query.load(conn),
    }
}

/// How many rows of `table` belong to contact `contact_id`.
pub fn count_of_contact(
    conn: &mut diesel::PgConnection,
    table: &str,
    contact_id: i64,
) -> diesel::QueryResult<i64> {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    Ok(diesel::sql_query(format!(
        "SELECT count(*) AS n FROM {table} WHERE contact_id = $1"
    ))
    .bind::<diesel::sql_types::BigInt, _>(contact_id)
    .get_result::<N>(conn)?
    .n)
}

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
