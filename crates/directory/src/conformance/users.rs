//! Checks of capabilities, listing, search and lookup (no writes, except
//! the photo operations `not_supported` expects to be refused).

use std::collections::{HashMap, HashSet};

use futures::{StreamExt as _, TryStreamExt as _};

use super::{fixtures, scoped_users, SuiteFlags, TestScope};
use crate::directory::Directory;
use crate::error::Error;
use crate::ext::DirectoryExt as _;
use crate::photo::PhotoFormat;
use crate::user::{normalize_key, FindResult, User, UserKey, UserQuery};

/// The backend's capabilities are coherent and agree with `flags`.
pub fn capabilities_are_sane(dir: &dyn Directory, flags: &SuiteFlags) {
    let caps = dir.capabilities();
    assert!(caps.max_bytes > 0, "{dir}: max_bytes is 0");
    assert!(caps.recommended_bytes > 0, "{dir}: recommended_bytes is 0");
    assert!(
        caps.recommended_bytes <= caps.max_bytes,
        "{dir}: budget above the hard limit"
    );
    assert!(
        caps.recommended_pixels > 0,
        "{dir}: recommended_pixels is 0"
    );
    assert!(
        caps.suggested_concurrency >= 1,
        "{dir}: suggested_concurrency is 0"
    );
    assert!(
        caps.formats.contains(&PhotoFormat::Jpeg),
        "{dir}: every target must take JPEG"
    );
    assert!(
        caps.supports_key(UserKey::Id),
        "{dir}: every backend must find users by id"
    );
    assert!(
        caps.supports_key(caps.listing_key),
        "{dir}: the listing key must be a lookup key"
    );
    assert!(
        !caps.listing_attribute.is_empty(),
        "{dir}: the listing attribute has no name"
    );
    assert_eq!(
        (caps.can_read, caps.can_write, caps.can_delete),
        (flags.can_read, flags.can_write, flags.can_delete),
        "{dir}: capabilities (read, write, delete) differ from what the test expects"
    );
    for key in &flags.keys {
        assert!(
            caps.supports_key(*key),
            "{dir}: expected lookup by {key}, capabilities lack it"
        );
    }
    assert!(!dir.to_string().is_empty(), "Display must name the backend");
}

/// Listing everyone streams every scoped user, each user once; `limit`
/// caps the stream; a stream can be dropped after its first item.
pub async fn list_all_users(dir: &dyn Directory, scope: &TestScope) {
    let expected = scoped_users(dir, scope).await;
    let mut seen = HashSet::new();
    let mut listed = Vec::new();
    let mut stream = dir.list_users(&UserQuery::all());
    while let Some(user) = stream.next().await {
        let user = user
            .unwrap_or_else(|e| panic!("{dir}: listing failed after {} users: {e}", seen.len()));
        assert!(
            seen.insert(normalize_key(&user.id)),
            "{dir}: {user} listed twice"
        );
        if scope.contains(&user) {
            listed.push(user);
        }
    }
    drop(stream);
    for user in &expected {
        let found = listed.iter().find(|u| u.same_as(user));
        let found = found.unwrap_or_else(|| panic!("{dir}: listing everyone lacks {user}"));
        assert_eq!(
            found, user,
            "{dir}: the listing and a lookup describe {user} differently"
        );
    }

    // Streaming: the first user can be taken without draining the rest.
    let first = dir.list_users(&UserQuery::all()).next().await;
    assert!(
        matches!(first, Some(Ok(_))),
        "{dir}: the first listed user: {first:?}"
    );

    let total = seen.len();
    for limit in [1, 2] {
        let n = dir
            .list_users(&UserQuery::all().with_limit(limit))
            .try_collect::<Vec<_>>()
            .await
            .unwrap_or_else(|e| panic!("{dir}: listing with limit {limit}: {e}"))
            .len();
        assert_eq!(n, limit.min(total), "{dir}: listing with limit {limit}");
    }
}

/// Searching by the scope's prefix finds every scoped user, ignoring case;
/// a prefix nobody has finds nobody; a full name finds its user.
pub async fn search_by_prefix(dir: &dyn Directory, scope: &TestScope) {
    let expected = scoped_users(dir, scope).await;
    let search = |q: UserQuery| async move {
        let label = format!("{q:?}");
        dir.collect_users(&q)
            .await
            .unwrap_or_else(|e| panic!("{dir}: searching {label} failed: {e}"))
    };
    for prefix in [scope.prefix().to_owned(), swap_ascii_case(scope.prefix())] {
        let found = search(UserQuery::search(prefix.clone())).await;
        for user in &expected {
            assert!(
                found.iter().any(|u| u.same_as(user)),
                "{dir}: searching {prefix:?} lacks {user}"
            );
        }
        let mut ids = HashSet::new();
        for u in &found {
            assert!(
                ids.insert(normalize_key(&u.id)),
                "{dir}: searching {prefix:?} lists {u} twice"
            );
        }
    }

    let nobody = format!("{}zz-no-such-user-", scope.prefix());
    let found = search(UserQuery::search(nobody.clone())).await;
    assert!(
        found.is_empty(),
        "{dir}: searching {nobody:?} found {found:?}"
    );

    let one = &expected[0];
    if let Some(name) = one.key(scope.key()) {
        let found = search(UserQuery::search(name)).await;
        assert!(
            found.iter().any(|u| u.same_as(one)),
            "{dir}: searching {name:?} lacks {one}"
        );
        for u in found.iter().filter(|u| scope.contains(u)) {
            assert!(
                UserQuery::search(name).matches(u),
                "{dir}: searching {name:?} returned {u}, whose names do not start with it"
            );
        }
    }

    let limited = search(UserQuery::search(scope.prefix()).with_limit(1)).await;
    assert_eq!(limited.len(), 1, "{dir}: a search with limit 1");
}

/// Batch lookups by every expected key: any case finds the user, unknown
/// and wildcard-looking values find nobody, shared values are ambiguous,
/// answers come in the order asked.
pub async fn find_by_each_key(dir: &dyn Directory, scope: &TestScope, flags: &SuiteFlags) {
    let users = scoped_users(dir, scope).await;
    for &key in &flags.keys {
        // Group scoped users by their normalised value for this key.
        let mut by_value: HashMap<String, (String, Vec<&User>)> = HashMap::new();
        for u in &users {
            if let Some(v) = u.key(key) {
                by_value
                    .entry(normalize_key(v))
                    .or_insert_with(|| (v.to_owned(), Vec::new()))
                    .1
                    .push(u);
            }
        }
        let mut values = Vec::new();
        let mut expect: Vec<Option<Vec<&User>>> = Vec::new();
        for (value, owners) in by_value.values() {
            for variant in [
                value.to_ascii_uppercase(),
                value.to_ascii_lowercase(),
                value.clone(),
            ] {
                values.push(variant);
                expect.push(Some(owners.clone()));
            }
        }
        let misses = [
            format!("{}zz-no-such-user", scope.prefix()),
            format!("{}*", scope.prefix()),
            "*".to_owned(),
            "*)(objectClass=*".to_owned(),
            String::new(),
        ];
        for miss in misses {
            values.push(miss);
            expect.push(None);
        }

        let results = dir
            .find_users(key, &values)
            .await
            .unwrap_or_else(|e| panic!("{dir}: find_users by {key} failed: {e}"));
        assert_eq!(
            results.len(),
            values.len(),
            "{dir}: find_users by {key}: one answer per value"
        );
        for ((value, want), got) in values.iter().zip(&expect).zip(&results) {
            match (want.as_deref(), got) {
                (None, FindResult::NotFound) => {}
                (Some([one]), FindResult::Found(u)) if u.same_as(one) => {}
                (Some(many), FindResult::Ambiguous(found)) if many.len() > 1 => {
                    for m in many {
                        assert!(
                            found.iter().any(|f| f.same_as(m)),
                            "{dir}: {key} {value:?} is ambiguous but the candidates lack {m}"
                        );
                    }
                }
                (want, got) => panic!(
                    "{dir}: find_users by {key} {value:?}: expected {}, got {got:?} (names must be unique in the directory unless shared on purpose)",
                    match want {
                        None => "not found".to_owned(),
                        Some(us) => us.iter().map(ToString::to_string).collect::<Vec<_>>().join(" and "),
                    }
                ),
            }
        }
    }
}

/// `find_user` (one value) gives the user, `NotFound`, or `Ambiguous` when
/// two scoped users share a display name.
pub async fn find_one(dir: &dyn Directory, scope: &TestScope) {
    let users = scoped_users(dir, scope).await;
    let first = &users[0];
    let Some(name) = first.key(scope.key()) else {
        panic!("{dir}: {first} has no {}", scope.key());
    };
    let found = dir
        .find_user(scope.key(), &swap_ascii_case(name))
        .await
        .unwrap_or_else(|e| panic!("{dir}: find_user {name:?}: {e}"));
    assert!(
        found.same_as(first),
        "{dir}: find_user {name:?} gave {found}"
    );

    let missing = format!("{}zz-no-such-user", scope.prefix());
    let err = dir
        .find_user(scope.key(), &missing)
        .await
        .expect_err("a missing user");
    assert!(
        matches!(err, Error::NotFound { .. }),
        "{dir}: find_user {missing:?}: {err}"
    );

    if !dir.capabilities().supports_key(UserKey::DisplayName) {
        return;
    }
    let mut names: HashMap<String, usize> = HashMap::new();
    for u in &users {
        if let Some(d) = &u.display_name {
            *names.entry(normalize_key(d)).or_default() += 1;
        }
    }
    let shared = users
        .iter()
        .filter_map(|u| u.display_name.as_deref())
        .find(|d| names[&normalize_key(d)] > 1);
    if let Some(shared) = shared {
        let err = dir
            .find_user(UserKey::DisplayName, shared)
            .await
            .expect_err("ambiguous");
        match err {
            Error::Ambiguous {
                key, candidates, ..
            } => {
                assert_eq!(key, UserKey::DisplayName);
                assert!(
                    candidates.len() >= 2,
                    "{dir}: ambiguous with {candidates:?}"
                );
            }
            other => panic!("{dir}: find_user by shared display name {shared:?}: {other}"),
        }
    } else {
        tracing::info!(backend = %dir, "conformance: no shared display name in scope, ambiguity not checked");
    }
}

/// Operations the flags say are absent answer `NotSupported` (and change
/// nothing); so do lookups by keys the backend lacks.
pub async fn not_supported(dir: &dyn Directory, scope: &TestScope, flags: &SuiteFlags) {
    let users = scoped_users(dir, scope).await;
    let user = &users[0];
    let is_not_supported = |r: Result<(), Error>, what: &str| match r {
        Err(Error::NotSupported { .. }) => {}
        other => panic!("{dir}: {what} should be NotSupported, got {other:?}"),
    };
    if !flags.can_read {
        is_not_supported(dir.get_photo(user).await.map(drop), "get_photo");
    }
    if !flags.can_write {
        scope.guard(user);
        is_not_supported(
            dir.set_photo(user, &fixtures::jpeg("unsupported")).await,
            "set_photo",
        );
    }
    if !flags.can_delete {
        scope.guard(user);
        is_not_supported(dir.remove_photo(user).await, "remove_photo");
    }
    for key in UserKey::ALL {
        if !dir.capabilities().supports_key(key) {
            let r = dir
                .find_users(key, &[scope.prefix().to_owned()])
                .await
                .map(drop);
            is_not_supported(r, &format!("find_users by {key}"));
        }
    }
}

/// Swaps the case of ASCII letters (`Ab-c` → `aB-C`).
pub(crate) fn swap_ascii_case(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect()
}
