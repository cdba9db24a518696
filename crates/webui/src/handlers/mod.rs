//! The JSON API the page calls. Each handler is thin: it finds the user and
//! the targets, calls `userphoto_bulk::ops` (the same calls the CLI makes),
//! and shapes the answer.
//!
//! | method | path | what |
//! |---|---|---|
//! | GET | `/api/session` | CSRF token, mode, targets, listing sources |
//! | GET | `/api/users?q=&source=` | type-ahead search (server-side) |
//! | GET | `/api/users/{id}?source=` | the user and one pane per target |
//! | GET | `/api/users/{id}/photo/{target}?source=` | the current photo's bytes |
//! | POST | `/api/uploads` | a photo (raw body): probe + cropped preview |
//! | GET | `/api/uploads/{id}/preview.jpg` | that preview |
//! | POST | `/api/users/{id}/import` | write the upload to the ticked targets |
//! | POST | `/api/users/{id}/remove` | remove at one target (backed up) |
//! | POST | `/api/users/{id}/use-existing-hd` | HD photo → 96×96 at AD |
//!
//! Folder import: see [`imports`].

pub(crate) mod imports;
pub(crate) mod photos;
pub(crate) mod session;
pub(crate) mod upload_path;
pub(crate) mod users;

use serde_json::{json, Value};
use userphoto_bulk::ops::{self, Change, OpsError};
use userphoto_bulk::wording::Wording;
use userphoto_directory::config::{Target, TargetKind};
use userphoto_directory::{PhotoSlot, User, UserKey};

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The target named `kind` (`ad`, `m365`, …), if open.
pub(crate) fn target<'a>(state: &'a AppState, kind: &str) -> AppResult<&'a Target> {
    let kind: TargetKind = kind
        .parse()
        .map_err(|e: userphoto_directory::Error| AppError::bad_request(e.to_string()))?;
    state.target(kind).ok_or_else(|| {
        AppError::not_found(format!(
            "the {kind} target is not configured or could not be opened"
        ))
    })
}

/// The listing source: `source` if given, else the default.
pub(crate) fn source<'a>(state: &'a AppState, source: Option<&str>) -> AppResult<&'a Target> {
    match source.filter(|s| !s.is_empty()) {
        Some(s) => target(state, s),
        None => state
            .sources()
            .first()
            .and_then(|k| state.target(*k))
            .ok_or_else(|| {
                AppError::not_found(
                    "no target is open; add one to userphoto.toml and start userphoto again",
                )
            }),
    }
}

/// The user with id `id` at the listing source.
pub(crate) async fn resolve(
    state: &AppState,
    source_kind: Option<&str>,
    id: &str,
) -> AppResult<(TargetKind, User)> {
    let source = source(state, source_kind)?;
    let user = ops::find_user(source, Some(UserKey::Id), id).await?;
    Ok((source.kind, user))
}

/// A key (and the user's value for it) every one of `targets` can find
/// the user by: the source's listing key first, then UPN, mail, logon
/// name, alias, employee id.
pub(crate) fn common_key(
    user: &User,
    source: TargetKind,
    targets: &[&Target],
) -> AppResult<(UserKey, String)> {
    if targets.iter().all(|t| t.kind == source) {
        return Ok((UserKey::Id, user.id.clone()));
    }
    let mut order = vec![
        UserKey::Upn,
        UserKey::Mail,
        UserKey::SamAccountName,
        UserKey::Alias,
        UserKey::EmployeeId,
    ];
    if let Some(first) = targets.iter().find(|t| t.kind == source) {
        order.insert(0, first.directory.capabilities().listing_key);
    }
    order
        .into_iter()
        .find_map(|key| {
            let value = user.key(key).filter(|v| !v.is_empty())?;
            let all = targets
                .iter()
                .all(|t| t.directory.capabilities().supports_key(key));
            all.then(|| (key, value.to_owned()))
        })
        .ok_or_else(|| {
            AppError::new(
                axum::http::StatusCode::CONFLICT,
                "no-common-key",
                format!(
                    "{} cannot be matched across the targets (no UPN, mail or logon name they all know)",
                    user.label()
                ),
            )
        })
}

/// `AD`, `HD`, `LDAP`: the short name the checkboxes and panes use.
pub(crate) fn slot_label(slot: PhotoSlot) -> &'static str {
    match slot {
        PhotoSlot::Thumbnail => "AD",
        PhotoSlot::Hd => "HD",
        _ => "LDAP",
    }
}

/// The short name of a target: `Google` for Google Workspace (it holds a
/// 96×96 like Active Directory, but is not AD), else [`slot_label`].
pub(crate) fn target_label(kind: TargetKind, slot: PhotoSlot) -> &'static str {
    match kind {
        TargetKind::Google => "Google",
        _ => slot_label(slot),
    }
}

/// How the library words what the page shows: no command-line flag, and
/// each open target by the short name its pane and checkbox use (`AD`,
/// `HD`).
pub(crate) fn wording(state: &AppState) -> Wording {
    state.targets().iter().fold(Wording::plain(), |w, t| {
        w.with_target_name(t.kind, target_label(t.kind, t.slot()))
    })
}

/// The long name of a kind of target.
pub(crate) fn kind_title(kind: TargetKind) -> &'static str {
    match kind {
        TargetKind::Ad => "Active Directory",
        TargetKind::M365 => "Microsoft 365",
        TargetKind::Exchange => "Exchange",
        TargetKind::Ldap => "LDAP directory",
        TargetKind::Folder => "Folder",
        TargetKind::Google => "Google Workspace",
    }
}

/// A user as the page shows it.
pub(crate) fn user_json(user: &User, listing_key: UserKey) -> Value {
    json!({
        "id": user.id,
        "name": user.key(listing_key).unwrap_or(&user.id),
        "display_name": user.display_name,
        "upn": user.upn,
        "mail": user.mail,
        "enabled": user.enabled,
        "label": user.label(),
    })
}

/// One change (set / remove) as the page shows it.
pub(crate) fn change_json(change: &Change) -> Value {
    json!({
        "target": change.target.as_str(),
        "status": change.status.as_str(),
        "bytes": change.new_bytes,
        "size": change.new_size,
        "sha256": change.new_sha256,
        "backed_up": change.backup.is_some(),
        "warnings": change.warnings,
    })
}

/// A failed change at target `kind` as the page shows it: the library's
/// sentence, worded for the page, without the target's name in front (the
/// page shows it beside the message).
pub(crate) fn failure_json(kind: TargetKind, error: &OpsError, wording: &Wording) -> Value {
    let answer = AppError::ops(error, wording);
    let message = if answer.is_internal() {
        answer.message().to_owned()
    } else {
        wording.ops_error_detail(error)
    };
    json!({
        "target": kind.as_str(),
        "status": "failed",
        "code": answer.code(),
        "message": message,
    })
}
