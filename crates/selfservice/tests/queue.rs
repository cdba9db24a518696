//! The approval queue against folder directories standing for Active
//! Directory and an HD target: submit with checks and policy, approve
//! through the same backup → write → audit path as import (the audit line
//! naming the approver), reject with a reason, withdraw, an employee
//! reaching only their own request, and an approval killed midway that a
//! restart finishes without writing twice.

use std::path::Path;
use std::sync::Arc;

use userphoto_bulk::audit::{AuditAction, AuditLog};
use userphoto_bulk::backup::{BackupSet, BackupStore};
use userphoto_bulk::ops::{Ops, SetOptions};
use userphoto_directory::config::{Target, TargetKind};
use userphoto_directory::folder::{FolderDirectory, FolderOptions, FolderUser};
use userphoto_directory::{DirectoryExt as _, Photo, PhotoLookup, PhotoSlot, User, UserKey};
use userphoto_imaging::CropMode;
use userphoto_selfservice::model::Filter;
use userphoto_selfservice::{
    NewRequest, Policy, Queue, QueueError, SqliteStore, State, StoreError,
};
use userphoto_testkit::fixtures;

fn photo(w: u32, h: u32, seed: u32) -> Vec<u8> {
    fixtures::jpeg(
        &fixtures::noise(w, h, seed),
        &fixtures::JpegOptions::default(),
    )
}

fn users() -> Vec<FolderUser> {
    ["alice", "bob"]
        .iter()
        .map(|n| {
            FolderUser::from(
                User::new(format!("id-{n}"))
                    .with_sam_account_name(*n)
                    .with_upn(format!("{n}@corp.example.test"))
                    .with_display_name(format!("{n} Example")),
            )
        })
        .collect()
}

async fn target(root: &Path, kind: TargetKind) -> Target {
    let slot = if kind == TargetKind::Ad {
        PhotoSlot::Thumbnail
    } else {
        PhotoSlot::Hd
    };
    let dir = FolderDirectory::create_with(
        root.join(kind.as_str()),
        users(),
        FolderOptions::new().with_slot(slot),
    )
    .await
    .expect("folder directory");
    Target::new(kind, Arc::new(dir), "svc-userphoto")
}

struct World {
    root: tempfile::TempDir,
    targets: Vec<Target>,
    ops: Ops,
}

impl World {
    async fn new() -> World {
        let root = tempfile::tempdir().expect("tempdir");
        let targets = vec![
            target(root.path(), TargetKind::Ad).await,
            target(root.path(), TargetKind::Folder).await,
        ];
        let ops = Ops::new(
            BackupStore::new(root.path().join("backups")),
            AuditLog::new(root.path().join("audit.jsonl")),
        );
        World { root, targets, ops }
    }

    fn queue(&self, policy: Policy) -> Queue {
        let store =
            SqliteStore::open(&self.root.path().join("data/requests.sqlite")).expect("open store");
        Queue::new(Arc::new(store), policy)
    }

    fn audit(&self) -> Vec<userphoto_bulk::audit::AuditRecord> {
        AuditLog::new(self.root.path().join("audit.jsonl"))
            .read()
            .expect("audit")
    }

    async fn current(&self, i: usize, user: &str) -> Option<Photo> {
        let t = &self.targets[i];
        let u = t
            .directory
            .find_user(UserKey::SamAccountName, user)
            .await
            .expect("user");
        match t.directory.get_photo(&u).await.expect("get") {
            PhotoLookup::Photo(p) => Some(p),
            _ => None,
        }
    }
}

fn new(user: &str, photo: Vec<u8>) -> NewRequest {
    NewRequest {
        user: user.to_owned(),
        display_name: None,
        photo,
        crop: CropMode::Auto,
    }
}

#[tokio::test]
async fn approve_writes_everywhere_backed_up_and_audited_naming_the_approver() {
    let w = World::new().await;
    // alice has an old thumbnail: it must be kept before it is replaced.
    let old = Photo::new(photo(96, 96, 1)).expect("old");
    let alice = w.targets[0]
        .directory
        .find_user(UserKey::SamAccountName, "alice")
        .await
        .expect("alice");
    w.targets[0]
        .directory
        .set_photo(&alice, &old)
        .await
        .expect("seed");

    let q = w.queue(Policy::default());
    let submitted = q
        .submit(new("alice", photo(1200, 900, 7)))
        .await
        .expect("submit");
    assert!(!submitted.auto_approve, "auto-approve is off by default");
    let r = submitted.request;
    assert_eq!(r.state, State::Pending);
    assert!(
        r.checks.iter().any(|c| c.code == "no_face"),
        "the same checks as the admin UI: {:?}",
        r.checks
    );
    assert!(
        w.current(1, "alice").await.is_none(),
        "nothing written before approval"
    );

    let done = q
        .approve(r.id, "helpdesk1", &w.targets, &w.ops)
        .await
        .expect("approve");
    assert_eq!(done.state, State::Approved, "{:?}", done.reason);
    assert_eq!(done.reviewer.as_deref(), Some("helpdesk1"));
    assert_eq!(
        done.outcome,
        vec!["folder: done", "ad: done"],
        "HD first, then AD"
    );

    let ad = w.current(0, "alice").await.expect("ad photo");
    assert_ne!(ad.digest(), old.digest());
    assert!(w.current(1, "alice").await.is_some());
    let lines = w.audit();
    assert_eq!(lines.len(), 2);
    for line in &lines {
        assert_eq!(line.action, AuditAction::Set);
        assert_eq!(line.approved_by.as_deref(), Some("helpdesk1"));
        assert_eq!(
            line.identity, "svc-userphoto",
            "written as the service account"
        );
    }
    let ad_line = lines.iter().find(|l| l.target == "ad").expect("ad line");
    assert_eq!(ad_line.old_sha256.as_deref(), Some(old.digest()));
    let backups = BackupSet::open(&w.root.path().join("backups")).expect("backups");
    let kept = backups
        .records()
        .iter()
        .find(|b| b.target == "ad")
        .expect("kept");
    assert_eq!(
        backups.read_photo(kept).expect("read backup").digest(),
        old.digest()
    );

    // Approving again is refused and writes nothing.
    match q.approve(r.id, "helpdesk2", &w.targets, &w.ops).await {
        Err(QueueError::Store(StoreError::WrongState { state, .. })) => {
            assert_eq!(state, State::Approved);
        }
        other => panic!("expected WrongState, got {other:?}"),
    }
    assert_eq!(w.audit().len(), 2);
}

#[tokio::test]
async fn reject_needs_a_reason_and_the_employee_sees_it() {
    let w = World::new().await;
    let q = w.queue(Policy::default());
    let r = q
        .submit(new("bob", photo(800, 800, 3)))
        .await
        .expect("submit")
        .request;
    assert!(matches!(
        q.reject(r.id, "helpdesk1", "  ").await,
        Err(QueueError::ReasonMissing)
    ));
    q.reject(r.id, "helpdesk1", "Please use a photo with your face in it")
        .await
        .expect("reject");
    let seen = q.own(r.id, "BOB").await.expect("bob's own");
    assert_eq!(seen.state, State::Rejected);
    assert_eq!(
        seen.reason.as_deref(),
        Some("Please use a photo with your face in it")
    );
    assert!(w.audit().is_empty(), "a rejection writes nothing");
    assert!(matches!(
        q.approve(r.id, "helpdesk1", &w.targets, &w.ops).await,
        Err(QueueError::Store(StoreError::WrongState { .. }))
    ));
}

#[tokio::test]
async fn an_employee_reaches_only_their_own_request() {
    let w = World::new().await;
    let q = w.queue(Policy::default());
    let alices = q
        .submit(new("alice", photo(700, 700, 4)))
        .await
        .expect("submit")
        .request;
    for outcome in [
        q.own(alices.id, "bob").await.map(|_| ()),
        q.own_photo(alices.id, "bob").await.map(|_| ()),
        q.withdraw(alices.id, "bob").await.map(|_| ()),
    ] {
        match outcome {
            Err(QueueError::Store(StoreError::NotFound(id))) => assert_eq!(id, alices.id),
            other => panic!("bob must not reach alice's request: {other:?}"),
        }
    }
    assert_eq!(q.get(alices.id).await.expect("get").state, State::Pending);
    assert!(q.mine("bob").await.expect("bob's").is_empty());
    let withdrawn = q.withdraw(alices.id, "alice").await.expect("withdraw");
    assert_eq!(withdrawn.state, State::Withdrawn);
    assert!(q.list(Filter::queue()).await.expect("queue").is_empty());
}

#[tokio::test]
async fn the_policy_refuses_named_checks_and_bad_files() {
    let w = World::new().await;
    assert!(matches!(
        Policy::new(false, vec!["no_smile".into()]),
        Err(QueueError::UnknownCheck(_))
    ));
    let q = w.queue(Policy::new(false, vec!["no_face".into()]).expect("policy"));
    match q.submit(new("alice", photo(900, 900, 5))).await {
        Err(QueueError::Refused(checks)) => {
            assert!(checks.iter().any(|c| c.code == "no_face"));
        }
        other => panic!("expected Refused, got {other:?}"),
    }
    assert!(matches!(
        q.submit(new("alice", b"not an image at all".to_vec()))
            .await,
        Err(QueueError::Image(_))
    ));
    assert!(q.list(Filter::default()).await.expect("list").is_empty());
}

#[tokio::test]
async fn auto_approve_only_when_every_check_passes() {
    let w = World::new().await;
    let q = w.queue(Policy::new(true, Vec::new()).expect("policy"));
    let noisy = q
        .submit(new("alice", photo(900, 900, 6)))
        .await
        .expect("submit");
    assert!(
        !noisy.auto_approve,
        "a photo without a face waits for a person"
    );
    let Some(corpus) = userphoto_testkit::corpus::dir(
        "faces/kodim04.png",
        "auto-approve of a photo that passes every check",
    ) else {
        return;
    };
    // kodim04 is one large face; doubled, it is big enough for HD too.
    let face = image::open(corpus.join("faces/kodim04.png")).expect("kodim04");
    let face = face.resize(1024, 1536, image::imageops::FilterType::Triangle);
    let mut png = Vec::new();
    face.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("png");
    let good = q.submit(new("bob", png)).await.expect("submit");
    assert_eq!(good.request.checks, Vec::new());
    assert!(good.auto_approve);
}

#[tokio::test]
async fn an_approval_killed_after_the_write_is_finished_on_restart_without_writing_twice() {
    let w = World::new().await;
    let id = {
        let q = w.queue(Policy::default());
        let r = q
            .submit(new("alice", photo(1000, 800, 8)))
            .await
            .expect("submit")
            .request;
        // The approver's click got as far as `approving`…
        let store = SqliteStore::open(&w.root.path().join("data/requests.sqlite")).expect("open");
        userphoto_selfservice::Store::transition(
            &store,
            r.id,
            &userphoto_selfservice::store::Transition {
                from: &[State::Pending],
                to: State::Approving,
                wanted: "approved",
                reviewer: Some("helpdesk1"),
                reason: None,
                outcome: None,
                attempt: true,
            },
        )
        .expect("approving");
        // …and the photo reached both targets, but the process died
        // before the audit lines and the state change.
        let image = q.photo(r.id).await.expect("photo");
        let bare = Ops::none();
        let users = bare.resolver().one(&w.targets, None, "alice").await;
        let run = bare
            .set_photo_to(&w.targets, users, false, &image, &SetOptions::default())
            .await
            .expect("write");
        assert!(run.results.iter().all(|(_, r)| r.is_ok()));
        r.id
    };
    let before: Vec<String> = {
        let mut v = Vec::new();
        for i in 0..2 {
            v.push(
                w.current(i, "alice")
                    .await
                    .expect("written")
                    .digest()
                    .to_owned(),
            );
        }
        v
    };
    assert!(w.audit().is_empty());

    // Restart: a new queue over the same file finishes the approval.
    let q = w.queue(Policy::default());
    let finished = q.recover(&w.targets, &w.ops).await.expect("recover");
    assert_eq!(finished.len(), 1);
    let r = &finished[0];
    assert_eq!((r.id, r.state), (id, State::Approved), "{:?}", r.reason);
    assert_eq!(
        r.outcome,
        vec!["folder: unchanged", "ad: unchanged"],
        "no second write"
    );
    assert_eq!(r.attempts, 2);
    for (i, digest) in before.iter().enumerate() {
        assert_eq!(w.current(i, "alice").await.expect("photo").digest(), digest);
    }
    // The missing audit lines were added, naming the approver, once.
    let lines = w.audit();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines
        .iter()
        .all(|l| l.approved_by.as_deref() == Some("helpdesk1")));
    assert!(q
        .recover(&w.targets, &w.ops)
        .await
        .expect("again")
        .is_empty());
    assert_eq!(w.audit().len(), 2);
}

#[tokio::test]
async fn a_failed_write_is_kept_as_failed_with_the_reason_and_can_be_approved_again() {
    let w = World::new().await;
    let q = w.queue(Policy::default());
    let r = q
        .submit(new("carol", photo(800, 800, 9)))
        .await
        .expect("submit")
        .request;
    let failed = q
        .approve(r.id, "helpdesk1", &w.targets, &w.ops)
        .await
        .expect("approve runs");
    assert_eq!(failed.state, State::Failed);
    assert!(
        failed
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("carol"),
        "the reason names who was not found: {:?}",
        failed.reason
    );
    assert!(w.audit().is_empty());
    let again = q
        .approve(r.id, "helpdesk2", &w.targets, &w.ops)
        .await
        .expect("approve again");
    assert_eq!((again.state, again.attempts), (State::Failed, 2));
    assert_eq!(again.reviewer.as_deref(), Some("helpdesk2"));
}
