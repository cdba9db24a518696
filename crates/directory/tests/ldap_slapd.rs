//! The LDAP backend, configured for a plain directory (`[ldap]`:
//! `inetOrgPerson`, `uid`, `jpegPhoto`), against a real OpenLDAP `slapd`
//! (started by `scripts/test-servers up slapd`; these tests FAIL, with that
//! instruction, when it is not running).
//!
//! What they prove: the conformance suite passes scoped to `person0001` …
//! `person0009`, bound as `cn=photo-writer` (which may write `jpegPhoto`
//! and nothing else; `person0009`'s photo it may not write at all); every
//! seeded user lists although slapd stops any one search at 1,000 entries
//! (`olcSizeLimit`), because the backend pages; an account whose paged total
//! is capped gets an error, never a silently short list; awkward `uid`s and
//! DN escapes resolve; StartTLS works; the writer can set, get and remove a
//! photo and cannot write anything else.

// Not in the Windows build (its tests run under Wine, scripts/windows-tests):
// this needs slapd, a Linux test server of scripts/test-servers (docs/TESTING.md,
// "Windows under Wine"). The Linux run covers it.
#![cfg(not(windows))]

mod ldap_common;

use std::path::PathBuf;

use futures::TryStreamExt as _;
use secrecy::SecretString;
use userphoto_directory::conformance::{self, fixtures, SuiteFlags, TestScope};
use userphoto_directory::ldap::{LdapConfig, LdapDirectory, LdapDirectoryBuilder, LdapFlavor};
use userphoto_directory::{
    Directory, DirectoryExt as _, Error, FindResult, PhotoLookup, UserKey, UserQuery,
};

use ldap_common::START_HINT;

/// The slapd facts (`USERPHOTO_TEST_LDAP_*`), from the environment when
/// `USERPHOTO_TEST_LDAP_URL` is set, else from `.test-servers/slapd/env`.
#[derive(Debug, Clone)]
struct SlapdEnv {
    url: String,
    starttls_url: String,
    base_dn: String,
    suffix: String,
    ca_file: PathBuf,
    writer_dn: String,
    writer_password: String,
    capped_dn: String,
    capped_password: String,
    size_limit: usize,
    denied_user: String,
    user_count: usize,
}

const SLAPD_HINT: &str =
    "run `scripts/test-servers up slapd` (or `scripts/test-servers up`; see docs/TESTING.md), then run the tests again";

impl SlapdEnv {
    fn load() -> Result<Self, String> {
        let vars = userphoto_testkit::servers::facts("slapd", "LDAP")
            .map_err(|e| format!("the slapd test server: {e}; {SLAPD_HINT}"))?;
        let get = |key: &str| -> Result<String, String> {
            vars.get(&format!("USERPHOTO_TEST_LDAP_{key}"))
                .filter(|v| !v.is_empty())
                .cloned()
                .ok_or_else(|| {
                    format!("USERPHOTO_TEST_LDAP_{key} is missing from the test environment; {SLAPD_HINT}")
                })
        };
        let number = |key: &str| -> Result<usize, String> {
            get(key)?
                .parse()
                .map_err(|e| format!("USERPHOTO_TEST_LDAP_{key} is not a number ({e})"))
        };
        Ok(SlapdEnv {
            url: get("URL")?,
            starttls_url: get("STARTTLS_URL")?,
            base_dn: get("BASE_DN")?,
            suffix: get("SUFFIX")?,
            ca_file: PathBuf::from(get("CA_FILE")?),
            writer_dn: get("WRITER_DN")?,
            writer_password: get("WRITER_PASSWORD")?,
            capped_dn: get("CAPPED_DN")?,
            capped_password: get("CAPPED_PASSWORD")?,
            size_limit: number("SIZE_LIMIT")?,
            denied_user: get("DENIED_USER")?,
            user_count: number("USER_COUNT")?,
        })
    }

    /// Loads the facts, panicking with the instructions.
    fn get() -> Self {
        let env = Self::load().unwrap_or_else(|e| panic!("OpenLDAP slapd test server: {e}"));
        let host = url::Url::parse(&env.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        conformance::require_local_host(&host);
        env
    }

    /// An `[ldap]` section as an admin would write it, bound as `dn`.
    fn config(&self, url: &str, dn: &str) -> LdapConfig {
        let mut c = LdapConfig::plain_ldap().with_server(url, &self.base_dn);
        c.bind_dn = Some(dn.to_owned());
        c.ca_file = Some(self.ca_file.clone());
        c
    }

    /// The least-privilege writer (may write `jpegPhoto` below ou=people).
    fn writer(&self) -> LdapDirectoryBuilder {
        self.config(&self.url, &self.writer_dn)
            .builder()
            .password(SecretString::from(self.writer_password.clone()))
            .password_source("USERPHOTO_TEST_LDAP_WRITER_PASSWORD")
    }

    /// An ordinary reader without `olcLimits`: the global size limit caps
    /// even its paged searches.
    fn capped(&self) -> LdapDirectoryBuilder {
        self.config(&self.url, &self.capped_dn)
            .builder()
            .password(SecretString::from(self.capped_password.clone()))
    }
}

/// The suite's filter: the plain default minus `filter.inject`, whose
/// display name is the very text the suite expects to match nobody.
const SUITE_USER_FILTER: &str = "(&(objectClass=inetOrgPerson)(!(uid=filter.inject)))";

async fn connect(builder: LdapDirectoryBuilder) -> LdapDirectory {
    match builder.build().await {
        Ok(dir) => dir,
        Err(e) if e.is_transient() => {
            panic!(
                "the OpenLDAP slapd test server is not reachable: {e}; {SLAPD_HINT} ({START_HINT})"
            )
        }
        Err(e) => panic!("connecting to the slapd test server failed: {e}"),
    }
}

fn person(n: usize) -> String {
    format!("person{n:04}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slapd_passes_the_conformance_suite_as_the_photo_writer() {
    let env = SlapdEnv::get();
    let dir = connect(env.writer().user_filter(SUITE_USER_FILTER)).await;
    let caps = dir.capabilities();
    assert!(
        caps.can_read && caps.can_write && caps.can_delete,
        "{caps:?}"
    );
    let flags = SuiteFlags::from_capabilities(caps);
    let scope = TestScope::new(UserKey::SamAccountName, "person000", (1..=9).map(person))
        .and_then(|s| s.with_denied_user(env.denied_user.clone()))
        .map(|s| s.with_base(env.base_dn.clone()))
        .expect("scope");
    conformance::run_all_with(&dir, &scope, &flags).await;
}

#[tokio::test]
async fn plain_ldap_defaults_are_inetorgperson_uid_and_jpegphoto() {
    let env = SlapdEnv::get();
    let c = env.config(&env.url, &env.writer_dn);
    assert_eq!(c.flavor, LdapFlavor::Plain);
    assert_eq!(c.effective_user_filter(), "(objectClass=inetOrgPerson)");
    assert_eq!(c.effective_name_attribute(), "uid");
    assert_eq!(c.effective_photo_attribute(), "jpegPhoto");
    // The section connects as written, the password read from password_env.
    let var = "USERPHOTO_TEST_LDAP_WRITER_PASSWORD";
    if std::env::var_os(var).is_some() {
        let mut c = c;
        c.password_env = Some(var.to_owned());
        let dir = c.connect().await.expect("connect from the [ldap] section");
        let u = dir
            .find_user(UserKey::SamAccountName, "person0001")
            .await
            .expect("person0001");
        assert_eq!(u.mail.as_deref(), Some("person0001@example.test"));
        assert_eq!(u.employee_id.as_deref(), Some("200001"));
        assert_eq!(u.display_name.as_deref(), Some("Test Person 0001"));
    }
}

#[tokio::test]
async fn every_seeded_user_lists_past_the_servers_size_limit() {
    let env = SlapdEnv::get();
    assert!(env.user_count >= 1_500, "{}", env.user_count);
    assert!(
        env.user_count > env.size_limit,
        "the seed must exceed olcSizeLimit"
    );
    let dir = connect(env.writer()).await;
    let before = dir.stats();
    let users = dir
        .collect_users(&UserQuery::all())
        .await
        .expect("the writer lists every user");
    assert_eq!(users.len(), env.user_count, "every user below ou=people");
    let mut names: Vec<_> = users
        .iter()
        .map(|u| u.sam_account_name.clone().unwrap_or_default())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), env.user_count, "no user listed twice");
    let s = dir.stats();
    let pages = s.pages - before.pages;
    assert!(
        pages >= 2,
        "{} users in pages of 1,000 take at least 2 pages, got {}",
        env.user_count,
        pages
    );
    assert_eq!(s.largest_page_size_sent, 1_000);
    assert!(
        s.largest_page_received <= 1_000,
        "{}",
        s.largest_page_received
    );
    assert_eq!(
        s.search_requests - before.search_requests,
        s.paged_requests - before.paged_requests,
        "every listing request carries the paged-results control"
    );

    // Small pages too.
    let small = connect(env.writer().page_size(300)).await;
    let n = small
        .list_users(&UserQuery::all())
        .try_fold(0usize, |n, _| async move { Ok(n + 1) })
        .await
        .expect("pages of 300");
    assert_eq!(n, env.user_count);
    let s = small.stats();
    assert_eq!(s.largest_page_received, 300);
    assert!(s.pages >= n.div_ceil(300) as u64, "{}", s.pages);
}

#[tokio::test]
async fn an_unpaged_search_stops_at_the_limit_with_rc_4() {
    // What a tool that forgets to page sees: 1,000 entries and
    // sizeLimitExceeded — ldap3 hands over the entries with rc 4.
    let env = SlapdEnv::get();
    // Plain LDAP on the loopback test port keeps this raw check free of TLS
    // setup; the backend itself never sends a password unencrypted.
    let (conn, mut ldap) = ldap3::LdapConnAsync::new(&env.starttls_url)
        .await
        .unwrap_or_else(|e| panic!("slapd at {}: {e}; {SLAPD_HINT}", env.starttls_url));
    ldap3::drive!(conn);
    ldap.simple_bind(&env.writer_dn, &env.writer_password)
        .await
        .expect("bind")
        .success()
        .expect("bind ok");
    let ldap3::SearchResult(entries, result) = ldap
        .search(
            &env.base_dn,
            ldap3::Scope::OneLevel,
            "(objectClass=inetOrgPerson)",
            vec!["1.1"],
        )
        .await
        .expect("search");
    assert_eq!(result.rc, 4, "{result:?}");
    assert_eq!(entries.len(), env.size_limit);
    let _ = ldap.unbind().await;
}

#[tokio::test]
async fn a_capped_listing_is_an_error_never_a_short_list() {
    let env = SlapdEnv::get();
    let dir = connect(env.capped()).await;
    let mut n = 0usize;
    let mut users = dir.list_users(&UserQuery::all());
    let err = loop {
        match users.try_next().await {
            Ok(Some(_)) => n += 1,
            Ok(None) => panic!("the capped account listed {n} users and reported success"),
            Err(e) => break e,
        }
    };
    drop(users);
    assert!(n <= env.size_limit, "{n}");
    let text = err.to_string();
    assert!(text.contains("sizeLimitExceeded"), "{text}");
    assert!(text.contains("incomplete"), "{text}");
    assert!(
        text.contains("size.prtotal=unlimited"),
        "says what to do: {text}"
    );
    assert!(!err.is_transient(), "{err:?}");
    // A lookup of one user still works for it.
    let one = dir
        .find_user(UserKey::SamAccountName, "person1500")
        .await
        .expect("one user");
    assert_eq!(one.display_name.as_deref(), Some("Test Person 1500"));
}

#[tokio::test]
async fn the_writer_sets_gets_and_removes_jpegphoto_and_nothing_else() {
    let env = SlapdEnv::get();
    let dir = connect(env.writer()).await;
    let user = dir
        .find_user(UserKey::SamAccountName, "person0100")
        .await
        .expect("person0100");
    assert_eq!(
        user.id.to_ascii_lowercase(),
        format!("uid=person0100,{}", env.base_dn).to_ascii_lowercase()
    );
    let photo = fixtures::jpeg("slapd-writer");
    dir.set_photo(&user, &photo).await.expect("set");
    match dir.get_photo(&user).await.expect("get") {
        PhotoLookup::Photo(p) => assert_eq!(p.bytes(), photo.bytes()),
        other => panic!("{other:?}"),
    }
    // A bigger photo than the AD limit is fine here (olcDbMaxSize is large).
    let big = fixtures::jpeg_of_size("slapd-big", 60_000);
    dir.set_photo(&user, &big).await.expect("set 60 KB");
    assert_eq!(
        dir.get_photo(&user)
            .await
            .expect("get")
            .photo()
            .map(|p| p.bytes().len()),
        Some(60_000)
    );
    dir.remove_photo(&user).await.expect("remove");
    assert_eq!(
        dir.get_photo(&user).await.expect("get"),
        PhotoLookup::NoPhoto
    );
    dir.remove_photo(&user)
        .await
        .expect("removing nothing is fine");

    // The one user whose photo nobody may write: explained, not accessible.
    let denied = dir
        .find_user(UserKey::SamAccountName, &env.denied_user)
        .await
        .expect("denied user");
    let e = dir.set_photo(&denied, &photo).await.expect_err("denied");
    assert!(matches!(e, Error::PermissionDenied { .. }), "{e:?}");
    let e = dir.remove_photo(&denied).await;
    assert!(
        matches!(e, Ok(()) | Err(Error::PermissionDenied { .. })),
        "{e:?}"
    );
    // Larger than the configured max_bytes (64 KiB by default): refused before sending.
    let huge = fixtures::jpeg_of_size("slapd-huge", 70_000);
    let e = dir.set_photo(&user, &huge).await.expect_err("too large");
    assert!(matches!(e, Error::PhotoRejected { .. }), "{e:?}");
    assert_eq!(
        dir.get_photo(&user).await.expect("get"),
        PhotoLookup::NoPhoto
    );
}

#[tokio::test]
async fn awkward_uids_and_dn_escapes_resolve() {
    let env = SlapdEnv::get();
    let dir = connect(env.writer()).await;
    // Non-ASCII, given in NFD (as macOS writes file names) and upper case.
    let jose = dir
        .find_user(UserKey::SamAccountName, "JOSE\u{301}.MU\u{308}LLER")
        .await
        .expect("josé");
    assert_eq!(jose.sam_account_name.as_deref(), Some("josé.müller"));
    // `+` in the RDN: slapd returns it as `\2B`; the id still finds it, in
    // either spelling.
    let anna = dir
        .find_user(UserKey::SamAccountName, "anna+smith")
        .await
        .expect("anna+smith");
    assert_eq!(anna.display_name.as_deref(), Some("Smith, Anna"));
    for id in [
        anna.id.clone(),
        format!("uid=anna\\+smith,{}", env.base_dn),
        format!("UID=anna\\2bsmith,{}", env.base_dn.to_uppercase()),
    ] {
        let by_id = dir.find_user(UserKey::Id, &id).await.expect("by id");
        assert!(by_id.same_as(&anna), "{id}: {by_id:?}");
    }
    let john = dir
        .find_user(UserKey::SamAccountName, "smith,john")
        .await
        .expect("smith,john");
    assert_eq!(john.mail.as_deref(), Some("john.smith@example.test"));
    let sean = dir
        .find_user(UserKey::SamAccountName, "o'brien(ext)")
        .await
        .expect("o'brien(ext)");
    assert_eq!((sean.employee_id, sean.mail.is_some()), (None, true));
    let no_mail = dir
        .find_user(UserKey::SamAccountName, "no.mail")
        .await
        .expect("no.mail");
    assert_eq!(no_mail.mail, None);
    // By mail and employeeNumber.
    let r = dir
        .find_users(
            UserKey::EmployeeId,
            &[
                "200042".to_owned(),
                "300002".to_owned(),
                "999999".to_owned(),
            ],
        )
        .await
        .expect("employee numbers");
    assert_eq!(
        r.iter()
            .map(|r| r.user().and_then(|u| u.sam_account_name.clone()))
            .collect::<Vec<_>>(),
        [
            Some("person0042".to_owned()),
            Some("anna+smith".to_owned()),
            None
        ]
    );
    // A filter fragment as a name is a literal.
    let evil = "*)(objectClass=*";
    let by_display = dir
        .find_user(UserKey::DisplayName, evil)
        .await
        .expect("the filter.inject user");
    assert_eq!(
        by_display.sam_account_name.as_deref(),
        Some("filter.inject")
    );
    let r = dir
        .find_users(UserKey::SamAccountName, &[evil.to_owned(), "*".to_owned()])
        .await
        .expect("lookup");
    assert_eq!(r, vec![FindResult::NotFound, FindResult::NotFound]);
    // Keys inetOrgPerson does not have are refused, not guessed.
    let r = dir.find_users(UserKey::Alias, &["x".to_owned()]).await;
    assert!(matches!(r, Err(Error::NotSupported { .. })), "{r:?}");
    // A DN outside the base is nobody, even if it exists.
    let r = dir
        .find_users(UserKey::Id, std::slice::from_ref(&env.writer_dn))
        .await
        .expect("outside");
    assert_eq!(r, vec![FindResult::NotFound]);
    assert!(env.writer_dn.ends_with(&env.suffix));
}

#[tokio::test]
async fn starttls_on_the_plain_port_works_and_a_wrong_password_is_explained() {
    let env = SlapdEnv::get();
    let dir = connect(
        env.config(&env.starttls_url, &env.writer_dn)
            .builder()
            .password(SecretString::from(env.writer_password.clone())),
    )
    .await;
    let u = dir
        .find_user(UserKey::Mail, "PERSON0007@example.test")
        .await
        .expect("by mail over StartTLS");
    assert_eq!(u.sam_account_name.as_deref(), Some("person0007"));

    let e = env
        .writer()
        .password(SecretString::from("not-the-password".to_owned()))
        .build()
        .await
        .expect_err("wrong password");
    assert!(matches!(e, Error::Unauthenticated { .. }), "{e:?}");
    let text = e.to_string();
    assert!(!text.contains("not-the-password"), "{text}");
}
