//! The local web UI served by `userphoto serve` and `userphoto demo`.
//!
//! A helpdesk person picks a user, drops a photo, sees the current Active
//! Directory (96×96) and HD (648×648) photos side by side, and imports —
//! the 2015 PowerShell tool's screen, on any OS, from the same binary.
//!
//! * [`router`] builds the whole app from an [`AppState`] (the opened
//!   targets and the [`Ops`](userphoto_bulk::ops::Ops) engine), so tests
//!   drive it with `oneshot` and the CLI serves it;
//! * [`security`] is the one middleware every request passes: host check,
//!   one-time token → session cookie, CSRF, strict headers;
//! * [`error::AppError`] is the one error type, answered as JSON;
//! * handlers are thin over `userphoto_bulk::ops` — the calls the CLI makes;
//! * [`demo`] builds the sandbox for `userphoto demo`;
//! * [`control`] hands out a fresh sign-in link to `serve --link`;
//! * [`team`] is team mode (employee self-service and the approval
//!   queue), a separate app served instead of the admin UI;
//! * [`server`] binds, prints the sign-in address and serves until asked
//!   to stop.

pub mod assets;
pub mod control;
pub mod demo;
pub mod error;
mod handlers;
mod import_jobs;
pub mod local_files;
pub mod security;
pub mod server;
mod state;
pub mod team;
mod token;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

pub use crate::error::{AppError, AppResult};
pub use crate::state::{AppState, ServerOptions, Unavailable, DEFAULT_MAX_UPLOAD};

/// The whole web app over `state`: pages, assets, the JSON API, behind the
/// security middleware and the upload limit.
pub fn router(state: AppState) -> Router {
    let limit = state.options().max_upload_bytes;
    let api = Router::new()
        .route("/session", get(handlers::session::get))
        .route("/users", get(handlers::users::search))
        .route("/users/{id}", get(handlers::users::show))
        .route("/users/{id}/photo/{target}", get(handlers::users::photo))
        .route("/users/{id}/import", post(handlers::photos::import))
        .route("/users/{id}/remove", post(handlers::photos::remove))
        .route("/users/{id}/history", get(handlers::history::show))
        .route("/users/{id}/backup", get(handlers::history::photo))
        .route("/users/{id}/restore", post(handlers::history::restore))
        .route(
            "/users/{id}/use-existing-hd",
            post(handlers::photos::use_existing_hd),
        )
        .route("/coverage", get(handlers::coverage::show))
        .route("/coverage.csv", get(handlers::coverage::csv))
        .route("/folders", post(handlers::imports::new_folder))
        .route("/folders/{id}/files", post(handlers::imports::put_file))
        .route("/imports", post(handlers::imports::plan))
        .route("/imports/interrupted", get(handlers::imports::interrupted))
        .route("/imports/resume", post(handlers::imports::resume))
        .route("/imports/{id}/start", post(handlers::imports::start))
        .route("/imports/{id}/events", get(handlers::imports::events))
        .route("/imports/{id}/decide", post(handlers::imports::decide))
        .route("/imports/{id}/stop", post(handlers::imports::stop))
        .route("/imports/{id}/report", get(handlers::imports::report))
        .route("/imports/{id}/preview", get(handlers::imports::preview))
        .route("/uploads", post(handlers::photos::upload))
        .route("/uploads/{id}/preview.jpg", get(handlers::photos::preview))
        .route("/uploads/{id}/checks", get(handlers::photos::checks))
        .fallback(|| async { AppError::not_found("there is no such API endpoint") });
    // Everything under the session's random base path (see security.rs).
    let base = state.base_path().to_owned();
    let to_page = axum::response::Redirect::to(&format!("{base}/"));
    Router::new()
        .route(&base, get(move || async move { to_page }))
        .route(&format!("{base}/"), get(assets::index))
        .route(&format!("{base}/assets/{{name}}"), get(assets::asset))
        .nest(&format!("{base}/api"), api)
        .fallback(|| async { AppError::not_found("there is no such page") })
        .layer(DefaultBodyLimit::max(limit))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                axum::response::IntoResponse::into_response(AppError::internal(
                    "a request handler panicked",
                ))
            },
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::guard,
        ))
        .with_state(state)
}
