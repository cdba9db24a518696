use super::*;
use crate::model::Filter;

fn new(user: &str, photo: &[u8]) -> NewRequest {
    NewRequest {
        user: user.to_owned(),
        display_name: Some(format!("{user} Display")),
        photo: photo.to_vec(),
        crop: CropMode::Auto,
    }
}

fn approve_start<'a>() -> Transition<'a> {
    Transition {
        from: &[State::Pending, State::Failed],
        to: State::Approving,
        wanted: "approved",
        reviewer: Some("helpdesk1"),
        reason: None,
        outcome: None,
        attempt: true,
    }
}

#[test]
fn a_request_survives_reopening_with_its_photo_and_checks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("team").join("requests.sqlite");
    let checks = vec![Check {
        code: "no_face".into(),
        text: "no face was found".into(),
    }];
    let id = {
        let store = SqliteStore::open(&path).expect("open");
        let r = store
            .insert(&new("Alice", b"photo-a"), "aa", &checks)
            .expect("insert");
        assert_eq!(r.state, State::Pending);
        assert_eq!(r.checks, checks);
        r.id
    };
    let store = SqliteStore::open(&path).expect("reopen");
    let r = store.get(id).expect("get");
    assert_eq!((r.user.as_str(), r.photo_bytes), ("Alice", 7));
    assert_eq!(store.photo(id).expect("photo"), b"photo-a");
    let mode: String = store
        .with(|c| {
            c.pragma_query_value(None, "journal_mode", |r| r.get(0))
                .map_err(db)
        })
        .expect("journal mode");
    assert_eq!(mode.to_lowercase(), "wal");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the database holds staff photos");
        let dir_mode = std::fs::metadata(path.parent().expect("dir"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
    }
}

#[test]
fn a_new_submission_replaces_the_pending_one_of_the_same_employee_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("q.sqlite")).expect("open");
    let first = store.insert(&new("alice", b"1"), "1", &[]).expect("1");
    let bob = store.insert(&new("bob", b"2"), "2", &[]).expect("2");
    let second = store.insert(&new("ALICE", b"3"), "3", &[]).expect("3");
    let first = store.get(first.id).expect("first");
    assert_eq!(first.state, State::Withdrawn);
    assert_eq!(
        first.reason,
        Some(format!("replaced by request {}", second.id))
    );
    assert_eq!(store.get(bob.id).expect("bob").state, State::Pending);
    let alice = store
        .list(&Filter {
            states: vec![State::Pending],
            user: Some("Alice".into()),
        })
        .expect("list");
    assert_eq!(
        alice.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![second.id]
    );
    assert_eq!(store.list(&Filter::queue()).expect("queue").len(), 2);
    assert_eq!(store.list(&Filter::default()).expect("all").len(), 3);
}

#[test]
fn transitions_are_compare_and_set() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("q.sqlite")).expect("open");
    let r = store.insert(&new("carol", b"1"), "1", &[]).expect("insert");
    let approving = store.transition(r.id, &approve_start()).expect("start");
    assert_eq!((approving.state, approving.attempts), (State::Approving, 1));
    assert_eq!(approving.reviewer.as_deref(), Some("helpdesk1"));
    // A second approver, or the employee withdrawing, finds it taken.
    match store.transition(r.id, &approve_start()) {
        Err(StoreError::WrongState { state, .. }) => assert_eq!(state, State::Approving),
        other => panic!("expected WrongState, got {other:?}"),
    }
    // While it is being approved, no new request of carol's replaces it.
    assert!(matches!(
        store.insert(&new("carol", b"2"), "2", &[]),
        Err(StoreError::WrongState { .. })
    ));
    assert!(matches!(
        store.transition(999, &approve_start()),
        Err(StoreError::NotFound(999))
    ));
}

#[test]
fn a_database_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("q.sqlite");
    drop(SqliteStore::open(&path).expect("open"));
    let conn = Connection::open(&path).expect("raw");
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .expect("bump");
    drop(conn);
    match SqliteStore::open(&path) {
        Err(StoreError::TooNew { found, .. }) => assert_eq!(found, SCHEMA_VERSION + 1),
        other => panic!("expected TooNew, got {other:?}"),
    }
}
