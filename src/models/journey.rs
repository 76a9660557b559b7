//! The web journey: page views from the company's website, the origins
//! allowed to send them, and linking a browser's visitor id to a contact.

use chrono::{DateTime, Utc};
use diesel::{
    prelude::*,
    sql_types::{Array, BigInt, Text, Timestamptz},
};

/// Whether `id` is a visitor id the script makes (and nothing else).
pub fn valid_visitor_id(id: &str) -> bool {
    (16..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `raw` as a browser's Origin header writes it (`https://shop.example.com`,
/// `http://localhost:8080`), lower-cased; an error says what is wrong.
pub fn parse_origin(raw: &str) -> Result<String, String> {
    let o = raw.trim().trim_end_matches('/').to_ascii_lowercase();
    let Some((scheme, rest)) = o.split_once("://") else {
        return Err(format!(
            "{raw} is not a website origin: write it as https://www.example.com"
        ));
    };
    if scheme != "https" && scheme != "http" {
        return Err(format!("{raw} must start with https:// or http://"));
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && !host.starts_with('.')
        && !host.ends_with('.');
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n > 0));
    if !host_ok || !port_ok {
        return Err(format!(
            "{raw} is not a website origin: only the scheme, host and port, such as https://www.example.com"
        ));
    }
    Ok(o)
}

pub fn origins(conn: &mut PgConnection) -> QueryResult<Vec<(i64, String)>> {
    use crate::schema::web_origins::dsl::*;
    web_origins.order(origin).select((id, origin)).load(conn)
}

/// Adds `o` (already parsed); false when it was listed already.
pub fn add_origin(conn: &mut PgConnection, o: &str, by: i64) -> QueryResult<bool> {
    let n = diesel::sql_query(
        "INSERT INTO web_origins (origin, added_by) VALUES ($1, $2) ON CONFLICT (origin) DO NOTHING",
    )
    .bind::<Text, _>(o)
    .bind::<BigInt, _>(by)
    .execute(conn)?;
    Ok(n == 1)
}

pub fn remove_origin(conn: &mut PgConnection, origin_id: i64) -> QueryResult<bool> {
    use crate::schema::web_origins::dsl::*;
    Ok(diesel::delete(web_origins.find(origin_id)).execute(conn)? == 1)
}

/// One page view as the endpoint accepted it.
#[derive(Clone, Debug)]
pub struct PageView {
    pub visitor_id: String,
    pub origin: String,
    pub url: String,
    pub title: String,
    pub referrer: String,
    pub viewed_at: DateTime<Utc>,
}

/// Writes a batch of page views in one statement, each linked to its
/// visitor's contact when the visitor is known.
pub fn insert_batch(conn: &mut PgConnection, views: &[PageView]) -> QueryResult<usize> {
    let col = |f: fn(&PageView) -> &str| views.iter().map(|v| f(v).to_string()).collect::<Vec<_>>();
    let at: Vec<DateTime<Utc>> = views.iter().map(|v| v.viewed_at).collect();
    diesel::sql_query(
        "INSERT INTO page_views (visitor_id, contact_id, origin, url, title, referrer, viewed_at) \
         SELECT v.visitor_id, w.contact_id, v.origin, v.url, v.title, v.referrer, v.viewed_at \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[]) \
              AS v(visitor_id, origin, url, title, referrer, viewed_at) \
         LEFT JOIN web_visitors w ON w.visitor_id = v.visitor_id",
    )
    .bind::<Array<Text>, _>(col(|v| &v.visitor_id))
    .bind::<Array<Text>, _>(col(|v| &v.origin))
    .bind::<Array<Text>, _>(col(|v| &v.url))
    .bind::<Array<Text>, _>(col(|v| &v.title))
    .bind::<Array<Text>, _>(col(|v| &v.referrer))
    .bind::<Array<Timestamptz>, _>(at)
    .execute(conn)
}

/// The visitor turned out to be this contact: their page views so far, and
/// those still to come, are the contact's.
pub fn link_visitor(conn: &mut PgConnection, visitor_id: &str, contact_id: i64) -> QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO web_visitors (visitor_id, contact_id) VALUES ($1, $2) \
         ON CONFLICT (visitor_id) DO UPDATE SET contact_id = EXCLUDED.contact_id, linked_at = now()",
    )
    .bind::<Text, _>(visitor_id)
    .bind::<BigInt, _>(contact_id)
    .execute(conn)?;
    diesel::sql_query(
        "UPDATE page_views SET contact_id = $2 WHERE visitor_id = $1 AND contact_id IS NULL",
    )
    .bind::<Text, _>(visitor_id)
    .bind::<BigInt, _>(contact_id)
    .execute(conn)?;
    Ok(())
}

#[derive(QueryableByName, Clone, Debug)]
pub struct View {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub url: String,
    #[diesel(sql_type = Text)]
    pub title: String,
    #[diesel(sql_type = Text)]
    pub referrer: String,
    #[diesel(sql_type = Timestamptz)]
    pub viewed_at: DateTime<Utc>,
}

/// A contact's page views, newest first, before (viewed at, id).
pub fn of_contact(
    conn: &mut PgConnection,
    contact_id: i64,
    before: Option<(DateTime<Utc>, i64)>,
    limit: i64,
) -> QueryResult<Vec<View>> {
    super::newest_of_contact(
        conn,
        "SELECT id, url, title, referrer, viewed_at FROM page_views WHERE contact_id = $1",
        ("viewed_at", "id"),
        contact_id,
        before,
        limit,
    )
}

pub fn count_of_contact(conn: &mut PgConnection, contact_id: i64) -> QueryResult<i64> {
    super::count_of_contact(conn, "page_views", contact_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port() {
        assert_eq!(
            parse_origin(" HTTPS://Shop.Example.com/ "),
            Ok("https://shop.example.com".into())
        );
        assert_eq!(
            parse_origin("http://localhost:8080"),
            Ok("http://localhost:8080".into())
        );
        assert!(parse_origin("shop.example.com").is_err());
        assert!(parse_origin("ftp://shop.example.com").is_err());
        assert!(parse_origin("https://shop.example.com/path").is_err());
        assert!(parse_origin("https://shop.example.com:99999").is_err());
        assert!(parse_origin("https://").is_err());
    }

    #[test]
    fn visitor_ids_are_what_the_script_makes() {
        assert!(valid_visitor_id("0123456789abcdef0123456789abcdef"));
        assert!(!valid_visitor_id("short"));
        assert!(!valid_visitor_id("0123456789abcdef<script>"));
        assert!(!valid_visitor_id(&"a".repeat(65)));
    }
}
