//! Users: the type-ahead search, one user's panes, a current photo.

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt as _;
use serde::Deserialize;
use serde_json::{json, Value};
use userphoto_bulk::prepare;
use userphoto_directory::config::Target;
use userphoto_directory::{PhotoLookup, User, UserQuery};

use super::{counterpart, counterparts, resolve, source, user_json};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// How many users a search answers at most.
const SEARCH_LIMIT: usize = 25;
/// How long a search may take before the page is told to narrow it.
const SEARCH_TIMEOUT: Duration = Duration::from_secs(20);

/// `?q=&source=&limit=`
#[derive(Debug, Deserialize)]
pub(crate) struct SearchParams {
    q: Option<String>,
    source: Option<String>,
    limit: Option<usize>,
}

/// `?source=`
#[derive(Debug, Deserialize)]
pub(crate) struct SourceParam {
    pub(crate) source: Option<String>,
}

/// `GET /api/users`: users whose name starts with `q`, searched by the
/// directory itself (an LDAP filter, a Graph `$filter`), at most 25.
pub(crate) async fn search(
    State(state): State<AppState>,
    Query(params): Query<SearchParams>,
) -> AppResult<Json<Value>> {
    let source = source(&state, params.source.as_deref())?;
    let limit = params.limit.unwrap_or(SEARCH_LIMIT).clamp(1, SEARCH_LIMIT);
    let query = UserQuery::search(params.q.unwrap_or_default().trim()).with_limit(limit + 1);
    let listing_key = source.directory.capabilities().listing_key;
    let collect = async {
        let mut users = Vec::new();
        let mut stream = source.directory.list_users(&query);
        while let Some(user) = stream.next().await {
            users.push(user?);
        }
        Ok::<_, userphoto_directory::Error>(users)
    };
    let mut users = tokio::time::timeout(SEARCH_TIMEOUT, collect)
        .await
        .map_err(|_| userphoto_directory::Error::Timeout {
            after: SEARCH_TIMEOUT,
        })??;
    let more = users.len() > limit;
    users.truncate(limit);
    users.sort_by_key(|u| u.label().to_lowercase());
    Ok(Json(json!({
        "source": source.kind.as_str(),
        "users": users.iter().map(|u| user_json(u, listing_key)).collect::<Vec<_>>(),
        "more": more,
    })))
}

/// `GET /api/users/{id}`: the user and the state of each pane.
pub(crate) async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<SourceParam>,
) -> AppResult<Json<Value>> {
    let (source_kind, user) = resolve(&state, params.source.as_deref(), &id).await?;
    let listing_key = source(&state, params.source.as_deref())?
        .directory
        .capabilities()
        .listing_key;
    let targets: Vec<&Target> = state.targets().iter().collect();
    let found = counterparts(&state, source_kind, &user, &targets).await;
    let panes = futures::future::join_all(targets.iter().zip(found).map(|(t, u)| pane(t, u))).await;
    let unavailable = state
        .unavailable()
        .iter()
        .map(|u| json!({"target": u.kind.as_str(), "state": "not-accessible", "reason": u.reason}));
    Ok(Json(json!({
        "user": user_json(&user, listing_key),
        "source": source_kind.as_str(),
        "panes": panes.into_iter().chain(unavailable).collect::<Vec<_>>(),
    })))
}

/// One target's pane: photo / no-photo / no-mailbox / not-accessible.
async fn pane(target: &Target, user: Result<User, userphoto_directory::Error>) -> Value {
    let kind = target.kind.as_str();
    let lookup = async {
        let user = user?;
        target.directory.get_photo(&user).await
    };
    match lookup.await {
        Ok(PhotoLookup::Photo(photo)) => {
            let side = prepare::probe(photo.bytes(), &userphoto_imaging::Limits::default())
                .ok()
                .map(|i| json!([i.width, i.height]));
            json!({
                "target": kind,
                "state": "photo",
                "sha256": photo.digest(),
                "bytes": photo.len(),
                "pixels": side,
                "content_type": photo.content_type(),
            })
        }
        Ok(PhotoLookup::NoPhoto) => json!({"target": kind, "state": "no-photo"}),
        Ok(PhotoLookup::NoMailbox) => json!({
            "target": kind,
            "state": "no-mailbox",
            "reason": "this user has no mailbox, so there is no HD photo to show or set",
        }),
        Ok(PhotoLookup::NotAccessible { reason }) => {
            json!({"target": kind, "state": "not-accessible", "reason": reason})
        }
        Err(e) => {
            let reason = AppError::from(e).message().to_owned();
            json!({"target": kind, "state": "not-accessible", "reason": reason})
        }
    }
}

/// `GET /api/users/{id}/photo/{target}`: the current photo itself ("View
/// web image" opens this for the HD target).
pub(crate) async fn photo(
    State(state): State<AppState>,
    Path((id, kind)): Path<(String, String)>,
    Query(params): Query<SourceParam>,
) -> AppResult<Response> {
    let (source_kind, user) = resolve(&state, params.source.as_deref(), &id).await?;
    let target = super::target(&state, &kind)?;
    let at_target = counterpart(&state, source_kind, &user, target).await?;
    let lookup = target.directory.get_photo(&at_target).await?;
    match lookup {
        PhotoLookup::Photo(photo) => Ok((
            [(header::CONTENT_TYPE, photo.content_type())],
            photo.bytes().to_vec(),
        )
            .into_response()),
        other => Err(AppError::not_found(format!(
            "{} has no photo at {} ({})",
            user.label(),
            target.kind,
            other.state()
        ))),
    }
}
