//! The static web UI from `web/`: embedded in the binary (rust-embed; read from disk in debug
//! builds), served with a strict Content-Security-Policy since nothing is loaded from outside.

use crate::app::AppState;
use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

#[derive(rust_embed::RustEmbed)]
#[folder = "web/"]
struct Assets;

const CSP: &str = "default-src 'self'; img-src 'self' data:; media-src 'self' blob: mediastream:; connect-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'";

/// The room page may be framed by pages of this server only: the kiosk page shows it in a frame.
const ROOM_CSP: &str = "default-src 'self'; img-src 'self' data:; media-src 'self' blob: mediastream:; connect-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'self'";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { file("index.html") }))
        .route(
            "/room/{token}",
            get(|_: Path<String>| async { file("room.html") }),
        )
        .route("/login", get(|| async { file("login.html") }))
        .route(
            "/app/{page}",
            get(|Path(page): Path<String>| async move {
                // Page names are plain words; anything else is not a page.
                if page.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') {
                    file(&format!("app/{page}.html"))
                } else {
                    (StatusCode::NOT_FOUND, "not found").into_response()
                }
            }),
        )
        .route(
            "/static/{*path}",
            get(|Path(path): Path<String>| async move { file(&path) }),
        )
}

pub(super) fn file(path: &str) -> Response {
    match Assets::get(path) {
        Some(f) => {
            let mime = mime_guess::from_path(path).first_or_octet_stream();
            (
                [
                    (header::CONTENT_TYPE, mime.as_ref().to_string()),
                    (
                        header::CONTENT_SECURITY_POLICY,
                        if path == "room.html" { ROOM_CSP } else { CSP }.to_string(),
                    ),
                    (header::CACHE_CONTROL, "no-cache".to_string()),
                ],
                f.data.into_owned(),
            )
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}
