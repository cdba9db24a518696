//! The front end, embedded in the binary: plain HTML, CSS and JavaScript
//! modules from `crates/webui/ui/`, no build step, nothing fetched at run
//! time.

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

/// `(name, content type, bytes)` of every asset under `/assets/`.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../ui/app.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../ui/api.js"),
    ),
    (
        "crop.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../ui/crop.js"),
    ),
    (
        "toasts.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../ui/toasts.js"),
    ),
    (
        "folder.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../ui/folder.js"),
    ),
    (
        "coverage.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../ui/coverage.js"),
    ),
    (
        "team.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../ui/team.js"),
    ),
    (
        "team.css",
        "text/css; charset=utf-8",
        include_bytes!("../ui/team.css"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../ui/app.css"),
    ),
    (
        "icon.svg",
        "image/svg+xml",
        include_bytes!("../ui/icon.svg"),
    ),
];

/// The page.
const INDEX: &str = include_str!("../ui/index.html");

/// `GET /`: the single page.
pub(crate) async fn index() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], INDEX).into_response()
}

/// `GET /assets/{name}`.
pub(crate) async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, bytes)) => {
            ([(header::CONTENT_TYPE, *content_type)], *bytes).into_response()
        }
        None => AppError::not_found(format!("there is no asset named {name:?}")).into_response(),
    }
}
