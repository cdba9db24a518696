//! The identity resolver's conformance suite: one set of people, one set
//! of checks, run against every pair of backends that can hold them — the
//! folder directory on both sides, the Graph EMULATOR as the cloud, and the
//! real Samba AD DC on-premises (its fixture users are added by the test,
//! as the administrator, to an OU of their own beside the test OU, whose
//! users other tests count; it fails, saying how to start the server, when
//! Samba is not running).
//!
//! The people: on-premises `idm-ann` … `idm-fay`; in the cloud, accounts
//! whose keys differ from theirs in every way HYBRID tenants know:
//!
//! | on-prem | found in the cloud as | because |
//! |---|---|---|
//! | idm-ann | c-ann | same UPN |
//! | idm-ben | c-ben | UPN differs, mail matches |
//! | idm-cat | c-cat | only onPremisesSamAccountName matches |
//! | idm-dee | c-dee-upn; with `match_order = [mail, upn]` c-dee-mail | UPN and mail lead to two accounts |
//! | idm-eve | nobody | |
//! | idm-fay | ambiguous (never c-fay-1, which a later key would find) | two cloud accounts share the mail |
//!
//! Every entry point must agree: the batched `names` (a folder import),
//! `one` (`userphoto set NAME`), `users` (use existing HD for many) and
//! `counterparts` (the web UI's panes and writes).

mod import_common;

use std::sync::Arc;

use userphoto_bulk::identity::Resolver;
use userphoto_directory::config::{Target, TargetKind};
use userphoto_directory::folder::{FolderDirectory, FolderOptions, FolderUser};
use userphoto_directory::graph::{GraphCredential, GraphDirectory};
use userphoto_directory::{DirectoryExt as _, FindResult, PhotoSlot, User, UserKey};
use userphoto_emulators::graph::{EmulatedUser, GraphEmulator, Knobs, DEFAULT_CLIENT_SECRET};

/// What the resolver must answer for a person.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Expect {
    /// The cloud account with this role (`c-ann`, …).
    Cloud(&'static str),
    NotFound,
    Ambiguous,
}

/// (on-premises name, expected with the default order, expected with
/// `[mail, upn]`).
const CASES: [(&str, Expect, Expect); 6] = [
    ("idm-ann", Expect::Cloud("c-ann"), Expect::Cloud("c-ann")),
    ("idm-ben", Expect::Cloud("c-ben"), Expect::Cloud("c-ben")),
    ("idm-cat", Expect::Cloud("c-cat"), Expect::NotFound),
    (
        "idm-dee",
        Expect::Cloud("c-dee-upn"),
        Expect::Cloud("c-dee-mail"),
    ),
    ("idm-eve", Expect::NotFound, Expect::NotFound),
    ("idm-fay", Expect::Ambiguous, Expect::Ambiguous),
];

/// The on-premises people: (sAMAccountName, UPN, mail).
const ON_PREM: [(&str, &str, &str); 6] = [
    (
        "idm-ann",
        "idm-ann@corp.example.test",
        "idm-ann@corp.example.test",
    ),
    (
        "idm-ben",
        "idm-ben@corp.example.test",
        "idm-ben.mail@corp.example.test",
    ),
    (
        "idm-cat",
        "idm-cat@corp.example.test",
        "idm-cat@corp.example.test",
    ),
    (
        "idm-dee",
        "idm-dee@corp.example.test",
        "idm-dee.mail@corp.example.test",
    ),
    (
        "idm-eve",
        "idm-eve@corp.example.test",
        "idm-eve@corp.example.test",
    ),
    (
        "idm-fay",
        "idm-fay@corp.example.test",
        "idm-fay.shared@corp.example.test",
    ),
];

/// The cloud accounts: (role, UPN, mail, onPremisesSamAccountName).
const CLOUD: [(&str, &str, Option<&str>, Option<&str>); 7] = [
    ("c-ann", "idm-ann@corp.example.test", None, None),
    (
        "c-ben",
        "idm-ben@cloud.example.test",
        Some("idm-ben.mail@corp.example.test"),
        None,
    ),
    (
        "c-cat",
        "idm-cat@cloud.example.test",
        Some("idm-cat@cloud.example.test"),
        Some("idm-cat"),
    ),
    ("c-dee-upn", "idm-dee@corp.example.test", None, None),
    (
        "c-dee-mail",
        "idm-dee2@cloud.example.test",
        Some("idm-dee.mail@corp.example.test"),
        None,
    ),
    (
        "c-fay-1",
        "idm-fay1@cloud.example.test",
        Some("idm-fay.shared@corp.example.test"),
        Some("idm-fay"),
    ),
    (
        "c-fay-2",
        "idm-fay2@cloud.example.test",
        Some("idm-fay.shared@corp.example.test"),
        None,
    ),
];

/// Runs every check on `onprem` and `cloud`; `role_of` names the role of a
/// cloud user (backends give users their own ids).
async fn suite(onprem: &Target, cloud: &Target, role_of: &dyn Fn(&User) -> String) {
    let targets = [onprem.clone(), cloud.clone()];
    let names: Vec<String> = CASES.iter().map(|(n, _, _)| (*n).to_owned()).collect();
    let got = |r: &FindResult| match r {
        FindResult::Found(u) => format!("found {}", role_of(u)),
        FindResult::NotFound => "not found".to_owned(),
        FindResult::Ambiguous(_) => "ambiguous".to_owned(),
    };
    let want = |e: &Expect| match e {
        Expect::Cloud(role) => format!("found {role}"),
        Expect::NotFound => "not found".to_owned(),
        Expect::Ambiguous => "ambiguous".to_owned(),
    };
    let what = format!("{} ↔ {}", onprem.directory, cloud.directory);
    for (order, pick) in [
        (Vec::new(), 1usize),
        (vec![UserKey::Mail, UserKey::Upn], 2usize),
    ] {
        let resolver = Resolver::new(order.clone());
        let expected: Vec<String> = CASES
            .iter()
            .map(|c| want(if pick == 1 { &c.1 } else { &c.2 }))
            .collect();

        // A folder import: every name at once.
        let batch = resolver
            .names(&targets, UserKey::SamAccountName, &names)
            .await;
        let at_prem = batch[0].as_ref().expect("on-premises lookup");
        assert!(
            at_prem.iter().all(|r| matches!(r, FindResult::Found(_))),
            "{what}: every person is on-premises: {at_prem:?}"
        );
        let in_cloud: Vec<String> = batch[1]
            .as_ref()
            .expect("cloud lookup")
            .iter()
            .map(got)
            .collect();
        assert_eq!(in_cloud, expected, "{what}, order {order:?}: batched names");

        // The same people, one at a time, and as already-known users.
        let users: Vec<User> = at_prem.iter().filter_map(|r| r.user().cloned()).collect();
        let by_user = resolver.users(&targets, 0, &users).await;
        let by_user: Vec<String> = by_user[1]
            .as_ref()
            .expect("cloud lookup")
            .iter()
            .map(got)
            .collect();
        assert_eq!(by_user, expected, "{what}, order {order:?}: known users");
        for ((name, ..), (user, expected)) in CASES.iter().zip(users.iter().zip(&expected)) {
            let one = resolver.one(&targets, None, name).await;
            let pane = resolver.counterparts(&targets, 0, user).await;
            for (how, answer) in [("one", &one[1]), ("counterparts", &pane[1])] {
                let answer = match answer {
                    Ok(u) => format!("found {}", role_of(u)),
                    Err(userphoto_directory::Error::NotFound { .. }) => "not found".to_owned(),
                    Err(userphoto_directory::Error::Ambiguous { .. }) => "ambiguous".to_owned(),
                    Err(e) => panic!("{what}: {name}: {e}"),
                };
                assert_eq!(
                    &answer, expected,
                    "{what}, order {order:?}: {how} for {name}"
                );
            }
        }
    }
}

/// The on-premises people in a folder directory (the thumbnail slot, as AD).
async fn folder_on_prem(root: &std::path::Path) -> Target {
    let users = ON_PREM.iter().map(|(sam, upn, mail)| {
        FolderUser::from(
            User::new(format!("ad-{sam}"))
                .with_sam_account_name(*sam)
                .with_upn(*upn)
                .with_mail(*mail),
        )
    });
    let dir = FolderDirectory::create_with(
        root.join("ad"),
        users.collect::<Vec<_>>(),
        FolderOptions::new().with_slot(PhotoSlot::Thumbnail),
    )
    .await
    .expect("folder");
    Target::new(TargetKind::Ad, Arc::new(dir), "tester")
}

/// The cloud accounts in a folder directory (the HD slot, as Microsoft 365).
async fn folder_cloud(root: &std::path::Path) -> Target {
    let users = CLOUD.iter().map(|(role, upn, mail, sam)| {
        let mut u = User::new(*role).with_upn(*upn);
        if let Some(mail) = mail {
            u = u.with_mail(*mail);
        }
        if let Some(sam) = sam {
            u = u.with_sam_account_name(*sam);
        }
        FolderUser::from(u)
    });
    let dir = FolderDirectory::create_with(
        root.join("cloud"),
        users.collect::<Vec<_>>(),
        FolderOptions::new().with_slot(PhotoSlot::Hd),
    )
    .await
    .expect("folder");
    Target::new(TargetKind::M365, Arc::new(dir), "tester")
}

/// The cloud accounts in the Graph emulator (ids are GUIDs: the role is
/// kept as the display name).
async fn graph_cloud() -> (GraphEmulator, Target) {
    let mut knobs = Knobs::default().with_users(2);
    for (i, (role, upn, mail, sam)) in CLOUD.iter().enumerate() {
        let mut u = EmulatedUser::new(format!("40000000-0000-4000-8000-{i:012}"), role)
            .with_upn(*upn)
            .with_mail(mail.map(str::to_owned))
            .with_sam(sam.map(str::to_owned));
        u.display_name = (*role).to_owned();
        knobs = knobs.with_user(u);
    }
    let emulator = GraphEmulator::start(knobs).await.expect("emulator");
    let dir = GraphDirectory::builder(emulator.tenant_id(), emulator.client_id())
        .graph_url(emulator.graph_url())
        .login_url(emulator.login_url())
        .credential(GraphCredential::Secret(DEFAULT_CLIENT_SECRET.into()))
        .build()
        .expect("graph directory");
    (
        emulator,
        Target::new(TargetKind::M365, Arc::new(dir), "tester"),
    )
}

fn role_by_id(u: &User) -> String {
    u.id.clone()
}

fn role_by_display_name(u: &User) -> String {
    u.display_name.clone().unwrap_or_default()
}

#[tokio::test]
async fn folder_and_folder() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let onprem = folder_on_prem(tmp.path()).await;
    let cloud = folder_cloud(tmp.path()).await;
    suite(&onprem, &cloud, &role_by_id).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn folder_and_the_graph_emulator() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let onprem = folder_on_prem(tmp.path()).await;
    let (_emulator, cloud) = graph_cloud().await;
    suite(&onprem, &cloud, &role_by_display_name).await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    windows,
    ignore = "needs the Samba AD test server, Linux only (docs/TESTING.md)"
)]
async fn samba_ad_and_the_graph_emulator() {
    let vars = import_common::samba::ad_vars();
    let ou = import_common::samba::ensure_users(&vars, "userphoto-identity", &ON_PREM);
    let tmp = tempfile::tempdir().expect("tempdir");
    let (onprem, _) = import_common::samba::ad_target_in(tmp.path(), &vars, &ou).await;
    // The fixture users are there, as the suite expects them.
    for (sam, upn, mail) in ON_PREM {
        let u = onprem
            .directory
            .find_user(UserKey::SamAccountName, sam)
            .await
            .unwrap_or_else(|e| panic!("{sam} in Samba: {e}"));
        assert_eq!(
            (u.upn.as_deref(), u.mail.as_deref()),
            (Some(upn), Some(mail))
        );
    }
    let (_emulator, cloud) = graph_cloud().await;
    suite(&onprem, &cloud, &role_by_display_name).await;
}
