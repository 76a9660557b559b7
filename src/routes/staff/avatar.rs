//! Avatar images: serving them, and reading an upload safely.

use actix_multipart::Multipart;
use actix_web::{HttpResponse, http::header, web};
use futures_util::StreamExt;

use crate::{
    AppState,
    auth::CurrentStaff,
    db,
    error::{AppError, AppResult},
    models::staff::Staff,
};

pub async fn show_avatar(
    state: web::Data<AppState>,
    _me: CurrentStaff,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let avatar = db::run(&state.pool, move |conn| Ok(Staff::avatar(conn, id)?))
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok()
        .content_type(avatar.content_type)
        // The URL carries a version, so a cached picture is never stale.
        .insert_header((header::CACHE_CONTROL, "private, max-age=86400"))
        .insert_header((header::CONTENT_SECURITY_POLICY, "default-src 'none'"))
        .body(avatar.data))
}

/// The image type, judged by its first bytes rather than by what the browser
/// claims. SVG is not accepted: it can carry script.
pub fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() > 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// Reads the `avatar` file field of a multipart form, refusing it as soon as
/// it passes `limit` bytes. `Ok(None)` means no file was chosen.
pub async fn read_avatar_upload(
    mut payload: Multipart,
    limit: usize,
) -> Result<Option<(&'static str, Vec<u8>)>, String> {
    let too_big = || format!("The picture is larger than {} KB.", limit / 1024);
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(|e| format!("The upload could not be read: {e}"))?;
        if field.name() != Some("avatar") {
            // Drain fields we do not use so the stream can go on.
            while let Some(chunk) = field.next().await {
                chunk.map_err(|e| format!("The upload could not be read: {e}"))?;
            }
            continue;
        }
        let mut data = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| format!("The upload could not be read: {e}"))?;
            if data.len() + chunk.len() > limit {
                return Err(too_big());
            }
            data.extend_from_slice(&chunk);
        }
        if data.is_empty() {
            return Ok(None);
        }
        let content_type = sniff_image(&data).ok_or("Choose a PNG, JPEG, GIF or WebP picture.")?;
        return Ok(Some((content_type, data)));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_images_by_content() {
        assert_eq!(sniff_image(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(sniff_image(b"\xff\xd8\xff\xe0"), Some("image/jpeg"));
        assert_eq!(sniff_image(b"GIF89a..."), Some("image/gif"));
        assert_eq!(sniff_image(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff_image(b"<svg onload=alert(1)>"), None);
        assert_eq!(sniff_image(b""), None);
    }
}
