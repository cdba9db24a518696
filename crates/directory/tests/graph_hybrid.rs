//! HYBRID identity and configuration: an Active Directory user found in
//! Microsoft 365 by UPN, then mail, then onPremisesSamAccountName (order
//! configurable), and an `[m365]` section opened through `Config`.

mod graph_common;

use graph_common::{builder, directory, jpeg};
use userphoto_directory::config::{Config, TargetKind};
use userphoto_directory::graph::find_in_cloud;
use userphoto_directory::{DirectoryExt as _, FindResult, PhotoLookup, User, UserKey};
use userphoto_emulators::graph::{
    EmulatedUser, GraphEmulator, Knobs, DEFAULT_CLIENT_SECRET, TEST_APP_PEM,
};

fn hybrid_knobs() -> Knobs {
    Knobs::default()
        .with_users(3)
        // Synced with the same UPN.
        .with_user(EmulatedUser::new(
            "30000000-0000-4000-8000-000000000001",
            "ann",
        ))
        // UPN changed in the cloud; mail still matches.
        .with_user(
            EmulatedUser::new("30000000-0000-4000-8000-000000000002", "ben")
                .with_upn("ben@contoso.onmicrosoft.test"),
        )
        // Only the on-premises account name matches.
        .with_user(
            EmulatedUser::new("30000000-0000-4000-8000-000000000003", "cat")
                .with_upn("cat.cloud@contoso.test")
                .with_mail(Some("cat.cloud.mail@contoso.test".into())),
        )
}

fn on_prem(sam: &str, upn: &str, mail: &str) -> User {
    User::new(format!("CN={sam},OU=Staff,DC=corp,DC=example,DC=test"))
        .with_sam_account_name(sam)
        .with_upn(upn)
        .with_mail(mail)
}

#[tokio::test]
async fn on_premises_users_are_found_by_upn_then_mail_then_sam() {
    let emulator = GraphEmulator::start(hybrid_knobs())
        .await
        .expect("emulator");
    let cloud = directory(&emulator);
    let order = cloud.match_order().to_vec();
    assert_eq!(
        order,
        [UserKey::Upn, UserKey::Mail, UserKey::SamAccountName]
    );

    let cases = [
        (
            on_prem("ann", "ANN@contoso.test", "x@y"),
            "30000000-0000-4000-8000-000000000001",
        ),
        (
            on_prem("ben", "ben@corp.example.test", "ben.mail@contoso.test"),
            "30000000-0000-4000-8000-000000000002",
        ),
        (
            on_prem("CAT", "cat@corp.example.test", "cat@corp.example.test"),
            "30000000-0000-4000-8000-000000000003",
        ),
    ];
    for (user, id) in &cases {
        match find_in_cloud(&cloud, user, &order).await.expect("lookup") {
            FindResult::Found(found) => assert_eq!(&found.id, id, "{user}"),
            other => panic!("{user}: {other:?}"),
        }
    }
    let nobody = on_prem("zed", "zed@corp.example.test", "zed@corp.example.test");
    assert_eq!(
        find_in_cloud(&cloud, &nobody, &order)
            .await
            .expect("lookup"),
        FindResult::NotFound
    );
    // Order is configurable: by sAMAccountName only, ben's UPN is ignored.
    let sam_only = builder(&emulator)
        .match_order(vec![UserKey::SamAccountName])
        .build()
        .expect("builds");
    let ben = on_prem(
        "nobody-by-this-name",
        "ben.mail@contoso.test",
        "ben.mail@contoso.test",
    );
    assert_eq!(
        find_in_cloud(&sam_only, &ben, sam_only.match_order())
            .await
            .expect("lookup"),
        FindResult::NotFound
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn m365_sections_open_through_config() {
    let emulator = GraphEmulator::start(hybrid_knobs())
        .await
        .expect("emulator");
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("app.pem"), TEST_APP_PEM).expect("pem");
    std::fs::write(
        tmp.path().join("secret.txt"),
        format!("{DEFAULT_CLIENT_SECRET}\n"),
    )
    .expect("secret");
    for credential in [
        "certificate_file = \"app.pem\"",
        "client_secret_file = \"secret.txt\"",
    ] {
        let text = format!(
            "[m365]\ntenant_id = \"{}\"\nclient_id = \"{}\"\n{credential}\ngraph_url = \"{}\"\nlogin_url = \"{}\"\nmatch_order = [\"mail\", \"upn\"]\nread_after_write_secs = 3\n",
            emulator.tenant_id(),
            emulator.client_id(),
            emulator.graph_url(),
            emulator.login_url()
        );
        let path = tmp.path().join("userphoto.toml");
        std::fs::write(&path, text).expect("config");
        let config = Config::load(&path).expect("valid config");
        let target = config
            .open(TargetKind::M365)
            .await
            .expect("opens and signs in");
        assert_eq!(target.photo_size, 648);
        let dir = &target.directory;
        assert_eq!(dir.capabilities().read_after_write.as_secs(), 3);
        let ann = dir.find_user(UserKey::Alias, "ann").await.expect("ann");
        let photo = jpeg(credential);
        dir.set_photo(&ann, &photo).await.expect("set");
        assert_eq!(
            dir.get_photo(&ann).await.expect("get"),
            PhotoLookup::Photo(photo)
        );
    }

    // A wrong secret is reported at open, with the code explained.
    std::fs::write(tmp.path().join("secret.txt"), "not-it").expect("secret");
    let config = Config::load(&tmp.path().join("userphoto.toml")).expect("valid config");
    let e = config.open(TargetKind::M365).await.expect_err("refused");
    assert!(e.to_string().contains("AADSTS7000215"), "{e}");
}

#[tokio::test]
async fn plain_http_to_another_machine_is_refused() {
    let e = userphoto_directory::graph::GraphDirectory::builder("t", "c")
        .graph_url("http://graph.example.test")
        .credential(userphoto_directory::graph::GraphCredential::Secret(
            "s".into(),
        ))
        .build()
        .expect_err("refused");
    assert!(e.to_string().contains("https://"), "{e}");
}
