//! Cross-cutting protections: CSRF tokens and the origin check, security headers,
//! safe redirects and random tokens.

use actix_session::{Session, SessionExt};
use actix_web::{
    Error, HttpMessage,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{Method, header},
    middleware::{DefaultHeaders, Next},
    web::{self, BytesMut},
};
use futures_util::StreamExt;
use rand::distr::{Alphanumeric, SampleString};

use crate::{AppState, error::AppError};

pub const CSRF_FIELD: &str = "csrf_token";
const CSRF_SESSION_KEY: &str = "csrf";
/// Url-encoded forms are small; larger bodies are refused before parsing.
const FORM_LIMIT: usize = 256 * 1024;

pub fn random_token(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), len)
}

/// The session's CSRF token, created on first use.
pub fn csrf_token(session: &Session) -> String {
    if let Ok(Some(token)) = session.get::<String>(CSRF_SESSION_KEY) {
        return token;
    }
    let token = random_token(43);
    let _ = session.insert(CSRF_SESSION_KEY, &token);
    token
}

/// A fresh token, for the moment the session changes hands (sign-in).
pub fn rotate_csrf_token(session: &Session) {
    let _ = session.insert(CSRF_SESSION_KEY, random_token(43));
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `next` if it is a path on this site, else `fallback`: never an open redirect.
pub fn safe_next<'a>(next: Option<&'a str>, fallback: &'a str) -> &'a str {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n
        }
        _ => fallback,
    }
}

/// Headers every response carries, error pages included. Pages are `no-store`
/// unless a handler says otherwise (static files and avatars do).
pub fn default_headers() -> DefaultHeaders {
    SECURITY_HEADERS
        .into_iter()
        .fold(DefaultHeaders::new(), |headers, h| headers.add(h))
}

pub const SECURITY_HEADERS: [(header::HeaderName, &str); 5] = [
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'; form-action 'self'",
    ),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "same-origin"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::CACHE_CONTROL, "no-store"),
];

fn is_safe_method(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether `origin` is one that forms may come from: PUBLIC_URL when set;
/// else, behind a trusted proxy, what its forwarded headers say; else the
/// address this instance listens on (any loopback name for a loopback
/// address). The request's own `Host` counts only for an instance bound to
/// every interface with no PUBLIC_URL, where nothing else names the site.
fn origin_allowed(req: &ServiceRequest, origin: &str) -> bool {
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return false;
    };
    if let Some(url) = &state.config.public_url {
        return origin == url;
    }
    if state.config.trust_proxy {
        let info = req.connection_info();
        return origin == format!("{}://{}", info.scheme(), info.host());
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    local_origins(state.listen_addr, host)
        .iter()
        .any(|o| o == origin)
}

/// The origins of an instance listening on `addr` with no PUBLIC_URL.
fn local_origins(addr: std::net::SocketAddr, host: Option<&str>) -> Vec<String> {
    let port = addr.port();
    // Browsers leave the default port out of an origin.
    let origin = |h: &str| match port {
        80 => format!("http://{h}"),
        _ => format!("http://{h}:{port}"),
    };
    if addr.ip().is_loopback() {
        return ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .map(|h| origin(h))
            .collect();
    }
    if addr.ip().is_unspecified() {
        let same_port = |h: &str| match h.rsplit_once(':') {
            Some((_, p)) if !h.ends_with(']') => p == port.to_string(),
            _ => port == 80,
        };
        return host
            .filter(|h| same_port(h))
            .map(|h| vec![format!("http://{h}")])
            .unwrap_or_default();
    }
    match addr.ip() {
        std::net::IpAddr::V6(ip) => vec![origin(&format!("[{ip}]"))],
        ip => vec![origin(&ip.to_string())],
    }
}

fn origin_ok(req: &ServiceRequest) -> bool {
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        return origin.to_str().is_ok_and(|o| origin_allowed(req, o));
    }
    if let Some(referer) = req.headers().get(header::REFERER) {
        // The referer's origin: scheme, host and port, before the path.
        return referer.to_str().is_ok_and(|r| {
            let after_scheme = r.find("://").map(|i| i + 3).unwrap_or(0);
            let end = r[after_scheme..]
                .find('/')
                .map(|i| i + after_scheme)
                .unwrap_or(r.len());
            origin_allowed(req, &r[..end])
        });
    }
    // Neither header: old clients and privacy tools strip both; the token still guards.
    true
}

/// The address a request came from: the peer, or behind a trusted proxy
/// the client it names.
pub fn client_address(req: &actix_web::HttpRequest) -> String {
    let trust = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|s| s.config.trust_proxy);
    if trust && let Some(ip) = req.connection_info().realip_remote_addr() {
        return ip.to_string();
    }
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default()
}

/// How far into a multipart body its first field (the token) may end.
const MULTIPART_HEAD_LIMIT: usize = 16 * 1024;

/// A multipart form carries its token as its first field, so that it is
/// checked before any file is read and never lands in a URL (or an access
/// log). What was read to find it is put back in front of the rest.
async fn token_from_multipart(req: &mut ServiceRequest) -> Result<Option<String>, Error> {
    let Some(boundary) = multipart_boundary(req) else {
        return Ok(None);
    };
    let mut payload = req.take_payload();
    let mut head = BytesMut::new();
    let mut token = None;
    while head.len() < MULTIPART_HEAD_LIMIT {
        let Some(chunk) = payload.next().await else {
            break;
        };
        head.extend_from_slice(&chunk?);
        if let Some(found) = first_field_token(&head, &boundary) {
            token = found;
            break;
        }
    }
    let head = head.freeze();
    let replay =
        futures_util::stream::once(async move { Ok::<_, actix_web::error::PayloadError>(head) })
            .chain(payload);
    req.set_payload(actix_web::dev::Payload::Stream {
        payload: Box::pin(replay),
    });
    Ok(token)
}

fn multipart_boundary(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
    value.split(';').find_map(|part| {
        let (key, v) = part.trim().split_once('=')?;
        (key.eq_ignore_ascii_case("boundary")).then(|| v.trim_matches('"').to_string())
    })
}

/// The value of the body's first field when that field is the token; `None`
/// while more bytes are needed to tell; `Some(None)` when it is not there.
fn first_field_token(body: &[u8], boundary: &str) -> Option<Option<String>> {
    let opening = format!("--{boundary}\r\n");
    if body.len() < opening.len() {
        return None;
    }
    let Some(rest) = body.strip_prefix(opening.as_bytes()) else {
        return Some(None);
    };
    let headers_end = find(rest, b"\r\n\r\n")?;
    let headers = String::from_utf8_lossy(&rest[..headers_end]).to_ascii_lowercase();
    let named = headers.lines().any(|line| {
        line.starts_with("content-disposition:")
            && line.contains(&format!("name=\"{CSRF_FIELD}\""))
            && !line.contains("filename=")
    });
    if !named {
        return Some(None);
    }
    let value = &rest[headers_end + 4..];
    let end = find(value, format!("\r\n--{boundary}").as_bytes())?;
    Some(String::from_utf8(value[..end].to_vec()).ok())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Refuses every state-changing request whose origin is foreign or whose CSRF
/// token does not match the session's. Url-encoded bodies are read here and put
/// back for the handler; multipart forms carry the token as their first field.
pub async fn csrf_guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    // Page views come from the company's own website, with no ContactBook
    // cookie or session; their handler admits only the origins
    // administrators list.
    if is_safe_method(req.method()) || req.path() == "/journey/events" {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let refuse = |req: ServiceRequest, why: &'static str| {
        log::warn!("CSRF refusal on {} {}: {why}", req.method(), req.path());
        Ok(req.error_response(AppError::Forbidden(
            "This form has expired or did not come from ContactBook. Go back, reload the page and try again.",
        )))
    };
    if !origin_ok(&req) {
        return refuse(req, "foreign origin");
    }
    let expected = req
        .get_session()
        .get::<String>(CSRF_SESSION_KEY)
        .ok()
        .flatten();
    let Some(expected) = expected else {
        return refuse(req, "no token in session");
    };

    let mut provided = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if provided.is_none() && req.content_type() == "multipart/form-data" {
        provided = token_from_multipart(&mut req).await?;
    }

    let is_urlencoded = req.content_type() == "application/x-www-form-urlencoded";
    if provided.is_none() && is_urlencoded {
        let Some(body) = read_form_body(&mut req).await? else {
            return Ok(form_too_large(req));
        };
        provided = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
            .ok()
            .and_then(|pairs| {
                pairs
                    .into_iter()
                    .find_map(|(k, v)| (k == CSRF_FIELD).then_some(v))
            });
    }
    match provided {
        Some(token) if constant_time_eq(token.as_bytes(), expected.as_bytes()) => {
            Ok(next.call(req).await?.map_into_boxed_body())
        }
        _ => refuse(req, "token missing or wrong"),
    }
}

/// Reads a url-encoded body whole and puts it back for the handler; `None`
/// when it is larger than any of our forms.
async fn read_form_body(req: &mut ServiceRequest) -> Result<Option<web::Bytes>, Error> {
    let mut payload = req.take_payload();
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > FORM_LIMIT {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    let body = body.freeze();
    req.set_payload(actix_web::dev::Payload::from(body.clone()));
    Ok(Some(body))
}

fn form_too_large(req: ServiceRequest) -> ServiceResponse<BoxBody> {
    req.error_response(AppError::PayloadTooLarge(
        "The form is larger than ContactBook accepts.".into(),
    ))
}

/// Whether percent-encoded text holds a NUL, the one character PostgreSQL
/// cannot store in text.
fn encodes_nul(raw: &[u8]) -> bool {
    raw.contains(&0)
        || raw
            .windows(3)
            .any(|w| w[0] == b'%' && w[1] == b'0' && w[2] == b'0')
}

/// The message for a NUL anywhere in a request's text.
pub const NUL_REFUSED: &str = "The request contains a NUL character (%00), which ContactBook cannot store. Remove it and try again.";

/// Refuses, once for every route, a query string or url-encoded form that
/// holds a NUL: it would reach PostgreSQL, which refuses it, and end in a
/// server error. Multipart fields and CSV files are checked where they are
/// read (`routes::imports`, `import::upload`).
pub async fn text_guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if encodes_nul(req.query_string().as_bytes()) {
        return Ok(req.error_response(AppError::BadRequest(NUL_REFUSED.into())));
    }
    if req.content_type() == "application/x-www-form-urlencoded" {
        let Some(body) = read_form_body(&mut req).await? else {
            return Ok(form_too_large(req));
        };
        if encodes_nul(&body) {
            return Ok(req.error_response(AppError::BadRequest(NUL_REFUSED.into())));
        }
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Answers 503 when the session could not be loaded for lack of a database
/// connection, before any handler mistakes the visitor for signed out.
pub async fn session_guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if req
        .get_session()
        .contains_key(crate::db::session_store::UNAVAILABLE_KEY)
    {
        return Ok(req.error_response(AppError::Unavailable("session store busy".into())));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multipart_token_is_its_first_field() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\nabc123\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\nx\r\n--XyZ--\r\n";
        assert_eq!(first_field_token(body, "XyZ"), Some(Some("abc123".into())));
        // Not yet known from the first bytes alone.
        assert_eq!(first_field_token(&body[..30], "XyZ"), None);
        let file_first = b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"csrf_token\"\r\n\r\nx\r\n--XyZ--\r\n";
        assert_eq!(first_field_token(file_first, "XyZ"), Some(None));
        assert_eq!(
            first_field_token(b"garbage that is long enough", "XyZ"),
            Some(None)
        );
    }

    #[test]
    fn next_must_stay_on_this_site() {
        assert_eq!(safe_next(Some("/staff/3"), "/"), "/staff/3");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "",
            "javascript:x",
        ] {
            assert_eq!(safe_next(Some(bad), "/"), "/", "{bad}");
        }
        assert_eq!(safe_next(None, "/x"), "/x");
    }

    #[test]
    fn finds_a_nul_however_it_is_written() {
        assert!(encodes_nul(b"q=a%00b"));
        assert!(encodes_nul(b"%00"));
        assert!(encodes_nul(b"q=a\0"));
        assert!(!encodes_nul(b"q=a%200b&x=%0A"));
        assert!(!encodes_nul(b"q=100%25"));
    }

    #[test]
    fn local_origins_follow_the_listening_address() {
        let loopback: std::net::SocketAddr = "127.0.0.1:8080".parse().expect("addr");
        assert_eq!(
            local_origins(loopback, Some("evil.example")),
            [
                "http://127.0.0.1:8080",
                "http://localhost:8080",
                "http://[::1]:8080"
            ]
        );
        let fixed: std::net::SocketAddr = "10.0.0.5:80".parse().expect("addr");
        assert_eq!(
            local_origins(fixed, Some("evil.example")),
            ["http://10.0.0.5"]
        );
        let any: std::net::SocketAddr = "0.0.0.0:8080".parse().expect("addr");
        assert_eq!(
            local_origins(any, Some("contacts.lan:8080")),
            ["http://contacts.lan:8080"]
        );
        assert!(local_origins(any, Some("contacts.lan:9999")).is_empty());
        assert!(local_origins(any, None).is_empty());
    }

    #[test]
    fn compares_in_constant_time_shape() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn encodes_query_values() {
        assert_eq!(url_encode("/staff?q=a b&x"), "/staff%3Fq%3Da%20b%26x");
        // Socket directories in libpq URLs go through the same encoder.
        assert_eq!(url_encode("/var/lib/x y"), "/var/lib/x%20y");
        assert_eq!(url_encode("/a&b=c"), "/a%26b%3Dc");
    }
}
