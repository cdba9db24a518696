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
//! | GET | `/api/uploads/{id}/checks?x=&y=&side=` | the quality warnings of a crop square |
//! | GET | `/api/users/{id}/history` | the backups held and the audit lines of a user |
//! | GET | `/api/users/{id}/backup?path=` | one of those backups |
//! | POST | `/api/users/{id}/restore` | `{path}` → puts that backup back (`Ops::restore`) |
//! | POST | `/api/users/{id}/import` | write the upload to the ticked targets |
//! | POST | `/api/users/{id}/remove` | remove at one target (backed up) |
//! | POST | `/api/users/{id}/use-existing-hd` | HD photo → 96×96 at AD |
//! | GET | `/api/coverage?show=&target=&q=&refresh=` | counts per target, the rows a filter keeps |
//! | GET | `/api/coverage.csv?…` | the same rows as `userphoto report --csv` |
//!
//! Folder import: see [`imports`].

pub(crate) mod coverage;
pub(crate) mod history;
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
    let kind: TargetKind =
        kind.parse()
            .map_err(|e: userphoto_directory::config::UnknownTarget| {
                AppError::bad_request(e.to_string())
            })?;
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

/// The person `user` (found at the listing source `source`) as each of
/// `targets` knows them, by the library's one rule (the
/// [`Resolver`](userphoto_bulk::identity::Resolver), with `[m365]
/// match_order`): the pane shows, and a write changes, the same user. One
/// result per target, in order; a target that does not know them gets
/// that error.
pub(crate) async fn counterparts(
    state: &AppState,
    source: TargetKind,
    user: &User,
    targets: &[&Target],
) -> Vec<Result<User, userphoto_directory::Error>> {
    let Some(src) = state.target(source) else {
        return targets
            .iter()
            .map(|t| {
                Err(userphoto_directory::Error::other(
                    &t.directory,
                    "the listing source is not open",
                ))
            })
            .collect();
    };
    // The source first, then every other target asked about.
    let mut all: Vec<Target> = vec![src.clone()];
    all.extend(
        targets
            .iter()
            .filter(|t| t.kind != source)
            .map(|t| (*t).clone()),
    );
    let found = state.ops().resolver().counterparts(&all, 0, user).await;
    let by_kind: Vec<(TargetKind, Result<User, userphoto_directory::Error>)> =
        all.iter().map(|t| t.kind).zip(found).collect();
    let mut by_kind: Vec<Option<(TargetKind, Result<User, userphoto_directory::Error>)>> =
        by_kind.into_iter().map(Some).collect();
    targets
        .iter()
        .map(|t| {
            by_kind
                .iter_mut()
                .find(|e| e.as_ref().is_some_and(|(k, _)| *k == t.kind))
                .and_then(Option::take)
                .map(|(_, r)| r)
                .unwrap_or_else(|| {
                    Err(userphoto_directory::Error::other(
                        &t.directory,
                        "the user was not looked up here",
                    ))
                })
        })
        .collect()
}

/// The person `user` (found at `source`) as `target` knows them: see
/// [`counterparts`].
pub(crate) async fn counterpart(
    state: &AppState,
    source: TargetKind,
    user: &User,
    target: &Target,
) -> Result<User, userphoto_directory::Error> {
    counterparts(state, source, user, &[target])
        .await
        .pop()
        .unwrap_or_else(|| {
            Err(userphoto_directory::Error::other(
                &target.directory,
                "the user was not looked up here",
            ))
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

/// One change (set / remove) as the page shows it, its notes in `wording`.
pub(crate) fn change_json(change: &Change, wording: &Wording) -> Value {
    json!({
        "target": change.target.as_str(),
        "status": change.status.as_str(),
        "bytes": change.new_bytes,
        "size": change.new_size,
        "sha256": change.new_sha256,
        "backed_up": change.backup.is_some(),
        "warnings": change.warnings.iter().map(|w| wording.reason(w)).collect::<Vec<_>>(),
        "notes": change.warnings.iter().map(|w| w.code()).collect::<Vec<_>>(),
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
