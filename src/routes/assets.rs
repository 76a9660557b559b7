//! Static files, compiled into the binary so that one file is the whole app.

use std::sync::OnceLock;

use actix_web::{HttpResponse, ResponseError, http::header, web};

const CSS: &str = include_str!("../../static/app.css");
const JS: &str = include_str!("../../static/app.js");
const ICON: &str = include_str!("../../static/favicon.svg");

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/static/{file}", web::get().to(asset))
        // Browsers ask for it there whatever the page says.
        .route("/favicon.ico", web::get().to(favicon));
}

async fn favicon() -> HttpResponse {
    asset(web::Path::from("favicon.svg".to_string())).await
}

/// A short content hash, added to asset URLs so browsers may cache them for long.
pub fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let h = crate::cache::fnv1a([CSS, JS, ICON].iter().flat_map(|s| s.bytes()));
        format!("{:08x}", h as u32)
    })
}

async fn asset(file: web::Path<String>) -> HttpResponse {
    let (body, content_type) = match file.as_str() {
        "app.css" => (CSS, "text/css; charset=utf-8"),
        "app.js" => (JS, "text/javascript; charset=utf-8"),
        "favicon.svg" => (ICON, "image/svg+xml"),
        _ => return ResponseError::error_response(&crate::error::AppError::NotFound),
    };
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(body)
}
