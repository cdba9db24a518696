//! The LDAP backend against a scripted, in-process LDAP server: what goes
//! on the wire, and what the backend does with answers real test servers
//! cannot be made to give. Needs no external server.
//!
//! * every search carries the paged-results control with a size of at most
//!   1,000, and the cookie of each answer is sent back until the last page;
//! * `sizeLimitExceeded` (4) after some entries fails the listing (Samba
//!   ignores client size limits; slapd's `olcSizeLimit` does this);
//! * a server that ignores the control, or answers it malformed;
//! * busy (51) is retried; AD sub-codes Samba cannot produce (775, 532);
//! * an injected filter fragment arrives as one equality assertion.
//!
//! The server speaks plain LDAP (no TLS), so the backend is built with
//! `allow_insecure`, as a test directory may be.

use std::sync::{Arc, Mutex};

use futures::StreamExt as _;
use secrecy::SecretString;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use userphoto_directory::ldap::{LdapDirectory, LdapDirectoryBuilder, LdapFlavor};
use userphoto_directory::{Directory, DirectoryExt as _, Error, Photo, User, UserKey, UserQuery};

const PAGED_OID: &[u8] = b"1.2.840.113556.1.4.319";
const BASE: &str = "ou=people,dc=example,dc=org";

// ---- BER, just enough of it -------------------------------------------

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (4 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

fn int(tag: u8, n: u32) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let mut skip = bytes.iter().take_while(|&&b| b == 0).count().min(3);
    if bytes[skip] & 0x80 != 0 {
        skip -= 1; // keep it positive (n < 2^31 here)
    }
    tlv(tag, &bytes[skip..])
}

fn octets(s: &[u8]) -> Vec<u8> {
    tlv(0x04, s)
}

fn seq(tag: u8, items: &[Vec<u8>]) -> Vec<u8> {
    tlv(tag, &items.concat())
}

/// (tag, content, rest)
fn read_tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)?;
    let (len, header) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let n = (first & 0x7F) as usize;
        let len = b
            .get(2..2 + n)?
            .iter()
            .fold(0usize, |a, &x| (a << 8) | x as usize);
        (len, 2 + n)
    };
    let content = b.get(header..header + len)?;
    Some((tag, content, &b[header + len..]))
}

fn children(mut b: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    while let Some((tag, content, rest)) = read_tlv(b) {
        out.push((tag, content));
        b = rest;
    }
    out
}

fn uint(b: &[u8]) -> u32 {
    b.iter().fold(0u32, |a, &x| (a << 8) | u32::from(x))
}

fn result(tag: u8, rc: u32, text: &str) -> Vec<u8> {
    seq(tag, &[int(0x0A, rc), octets(b""), octets(text.as_bytes())])
}

fn message(id: u32, op: Vec<u8>, controls: Option<Vec<u8>>) -> Vec<u8> {
    let mut items = vec![int(0x02, id), op];
    if let Some(c) = controls {
        items.push(c);
    }
    seq(0x30, &items)
}

fn paged_control(cookie: &[u8]) -> Vec<u8> {
    let value = seq(0x30, &[int(0x02, 0), octets(cookie)]);
    seq(0xA0, &[seq(0x30, &[octets(PAGED_OID), octets(&value)])])
}

fn entry(n: usize) -> Vec<u8> {
    let attr = |name: &str, value: String| {
        seq(
            0x30,
            &[
                octets(name.as_bytes()),
                seq(0x31, &[octets(value.as_bytes())]),
            ],
        )
    };
    seq(
        0x64,
        &[
            octets(format!("uid=user{n:05},{BASE}").as_bytes()),
            seq(
                0x30,
                &[
                    attr("uid", format!("user{n:05}")),
                    attr("mail", format!("user{n:05}@example.org")),
                    attr("displayName", format!("User {n:05}")),
                ],
            ),
        ],
    )
}

// ---- the scripted server ----------------------------------------------

/// How the server treats the paged-results control.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Paging {
    Honour,
    Ignore,
    Malformed,
}

/// What the server saw.
#[derive(Clone, Debug)]
enum Seen {
    Bind(String),
    Search {
        base: String,
        subtree: bool,
        page_size: Option<u32>,
        cookie: Vec<u8>,
        filter: Vec<u8>,
    },
    Modify(String),
    Abandon,
}

#[derive(Clone)]
struct Script {
    users: usize,
    paging: Paging,
    /// Stop a subtree search with rc 4 after this many entries in total.
    size_limit: Option<usize>,
    bind: (u32, &'static str),
    /// Answer this many subtree searches with 51 busy first.
    busy: usize,
    modify: (u32, &'static str),
    /// Never answer subtree searches.
    silent: bool,
    /// The result of base searches of anything but the base DN.
    read: (u32, &'static str),
}

impl Default for Script {
    fn default() -> Self {
        Script {
            users: 2_600,
            paging: Paging::Honour,
            size_limit: None,
            bind: (0, ""),
            busy: 0,
            modify: (0, ""),
            silent: false,
            read: (0, ""),
        }
    }
}

struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    async fn start(script: Script) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let log = seen.clone();
        let busy = Arc::new(Mutex::new(script.busy));
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (script, log, busy) = (script.clone(), log.clone(), busy.clone());
                tokio::spawn(serve(socket, script, log, busy));
            }
        });
        Server { port, seen }
    }

    fn builder(&self) -> LdapDirectoryBuilder {
        LdapDirectory::builder_for(LdapFlavor::Plain)
            .url(format!("ldap://127.0.0.1:{}", self.port))
            .starttls(false)
            .allow_insecure(true)
            .base_dn(BASE)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("log").clone()
    }

    fn subtree_searches(&self) -> Vec<(Option<u32>, Vec<u8>, Vec<u8>)> {
        self.seen()
            .into_iter()
            .filter_map(|s| match s {
                Seen::Search {
                    subtree: true,
                    page_size,
                    cookie,
                    filter,
                    ..
                } => Some((page_size, cookie, filter)),
                _ => None,
            })
            .collect()
    }
}

async fn serve(
    mut socket: TcpStream,
    script: Script,
    log: Arc<Mutex<Vec<Seen>>>,
    busy: Arc<Mutex<usize>>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Ok(n) = socket.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        while let Some((0x30, content, rest)) = read_tlv(&buf) {
            let consumed = buf.len() - rest.len();
            let reply = answer(content, &script, &log, &busy);
            buf.drain(..consumed);
            if socket.write_all(&reply).await.is_err() {
                return;
            }
        }
    }
}

fn answer(msg: &[u8], script: &Script, log: &Mutex<Vec<Seen>>, busy: &Mutex<usize>) -> Vec<u8> {
    let parts = children(msg);
    let id = parts.first().map_or(0, |(_, c)| uint(c));
    let Some(&(op, body)) = parts.get(1) else {
        return Vec::new();
    };
    let controls = parts.get(2).map(|(_, c)| children(c)).unwrap_or_default();
    let record = |s: Seen| log.lock().expect("log").push(s);
    match op {
        0x60 => {
            let fields = children(body);
            let dn = fields
                .get(1)
                .map(|(_, c)| String::from_utf8_lossy(c).into_owned())
                .unwrap_or_default();
            record(Seen::Bind(dn));
            message(id, result(0x61, script.bind.0, script.bind.1), None)
        }
        0x63 => {
            let fields = children(body);
            let base = String::from_utf8_lossy(fields[0].1).into_owned();
            let subtree = uint(fields[1].1) == 2;
            let filter = read_tlv_raw(body, 6);
            let mut page_size = None;
            let mut cookie = Vec::new();
            for (_, control) in &controls {
                let c = children(control);
                if c.first().map(|(_, t)| *t) == Some(PAGED_OID) {
                    if let Some((_, value)) = c.last() {
                        if let Some((_, inner, _)) = read_tlv(value) {
                            let v = children(inner);
                            page_size = Some(uint(v[0].1));
                            cookie = v[1].1.to_vec();
                        }
                    }
                }
            }
            record(Seen::Search {
                base: base.clone(),
                subtree,
                page_size,
                cookie: cookie.clone(),
                filter,
            });
            if !subtree && base != BASE && script.read.0 != 0 {
                return message(id, result(0x65, script.read.0, script.read.1), None);
            }
            if !subtree {
                // Base searches (the base DN, a user): one entry, no photo.
                let e = seq(0x64, &[octets(base.as_bytes()), seq(0x30, &[])]);
                return [message(id, e, None), message(id, result(0x65, 0, ""), None)].concat();
            }
            if script.silent {
                return Vec::new();
            }
            {
                let mut b = busy.lock().expect("busy");
                if *b > 0 {
                    *b -= 1;
                    return message(id, result(0x65, 51, "busy, try later"), None);
                }
            }
            let start: usize = std::str::from_utf8(&cookie)
                .ok()
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let size = match (script.paging, page_size) {
                (Paging::Ignore, _) | (_, None) => script.users,
                (_, Some(s)) => s as usize,
            };
            let end = (start + size).min(script.users);
            let mut out = Vec::new();
            for n in start..end {
                if script.size_limit.is_some_and(|l| n >= l) {
                    out.extend(message(id, result(0x65, 4, "size limit exceeded"), None));
                    return out;
                }
                out.extend(message(id, entry(n + 1), None));
            }
            let control = match script.paging {
                Paging::Ignore => None,
                Paging::Malformed => Some(seq(
                    0xA0,
                    &[seq(0x30, &[octets(PAGED_OID), octets(b"\x30\x05garbage")])],
                )),
                Paging::Honour if end < script.users => {
                    Some(paged_control(end.to_string().as_bytes()))
                }
                Paging::Honour => Some(paged_control(b"")),
            };
            out.extend(message(id, result(0x65, 0, ""), control));
            out
        }
        0x66 => {
            let dn = children(body)
                .first()
                .map(|(_, c)| String::from_utf8_lossy(c).into_owned())
                .unwrap_or_default();
            record(Seen::Modify(dn));
            message(id, result(0x67, script.modify.0, script.modify.1), None)
        }
        0x50 => {
            record(Seen::Abandon);
            Vec::new()
        }
        _ => Vec::new(), // unbind and anything else: no answer
    }
}

/// The raw TLV of the `index`-th field of a constructed body.
fn read_tlv_raw(body: &[u8], index: usize) -> Vec<u8> {
    let mut rest = body;
    for _ in 0..index {
        match read_tlv(rest) {
            Some((_, _, r)) => rest = r,
            None => return Vec::new(),
        }
    }
    let before = rest.len();
    match read_tlv(rest) {
        Some((_, _, r)) => rest[..before - r.len()].to_vec(),
        None => Vec::new(),
    }
}

async fn count(dir: &LdapDirectory) -> Result<usize, (usize, Error)> {
    let mut n = 0;
    let mut users = dir.list_users(&UserQuery::all());
    while let Some(u) = users.next().await {
        match u {
            Ok(_) => n += 1,
            Err(e) => return Err((n, e)),
        }
    }
    Ok(n)
}

// ---- the tests -------------------------------------------------------------

#[tokio::test]
async fn every_search_carries_the_control_with_at_most_1000_and_follows_cookies() {
    let server = Server::start(Script::default()).await;
    // Asking for 5,000 per page: 1,000 goes on the wire.
    let dir = server
        .builder()
        .page_size(5_000)
        .build()
        .await
        .expect("build");
    assert_eq!(count(&dir).await.expect("list"), 2_600);
    let searches = server.subtree_searches();
    let sizes: Vec<Option<u32>> = searches.iter().map(|s| s.0).collect();
    assert_eq!(
        sizes,
        [Some(1_000), Some(1_000), Some(1_000)],
        "three pages"
    );
    let cookies: Vec<&[u8]> = searches.iter().map(|s| s.1.as_slice()).collect();
    assert_eq!(
        cookies,
        [&b""[..], b"1000", b"2000"],
        "each answer's cookie sent back"
    );

    // The default page size is 1,000 too; a smaller one is honoured.
    let server = Server::start(Script::default()).await;
    let dir = server
        .builder()
        .page_size(700)
        .build()
        .await
        .expect("build");
    assert_eq!(count(&dir).await.expect("list"), 2_600);
    assert_eq!(server.subtree_searches().len(), 4);
    assert!(server.subtree_searches().iter().all(|s| s.0 == Some(700)));
    let stats = dir.stats();
    assert_eq!((stats.pages, stats.largest_page_received), (4, 700));
}

#[tokio::test]
async fn a_size_limit_after_some_entries_fails_the_listing() {
    // slapd with olcSizeLimit 1000 and no paging rights: 1,000 entries and rc 4.
    let script = Script {
        paging: Paging::Ignore,
        size_limit: Some(1_000),
        ..Script::default()
    };
    let server = Server::start(script).await;
    let dir = server.builder().build().await.expect("build");
    let (n, err) = count(&dir).await.expect_err("must not end quietly");
    assert_eq!(n, 1_000);
    let text = err.to_string();
    assert!(
        text.contains("size limit") && text.contains("incomplete"),
        "{text}"
    );
    assert!(text.contains("size.prtotal"), "{text}");

    // Also when paging: the page that hits the limit fails.
    let script = Script {
        size_limit: Some(1_500),
        ..Script::default()
    };
    let server = Server::start(script).await;
    let dir = server.builder().build().await.expect("build");
    let (n, _) = count(&dir).await.expect_err("rc 4 on page 2");
    assert_eq!(n, 1_500);
}

#[tokio::test]
async fn a_server_that_ignores_paging_gives_one_complete_answer() {
    let server = Server::start(Script {
        paging: Paging::Ignore,
        ..Script::default()
    })
    .await;
    let dir = server.builder().build().await.expect("build");
    assert_eq!(count(&dir).await.expect("list"), 2_600);
    assert_eq!(server.subtree_searches().len(), 1);
}

#[tokio::test]
async fn a_malformed_paging_answer_is_an_error_not_a_panic() {
    let server = Server::start(Script {
        paging: Paging::Malformed,
        users: 10,
        ..Script::default()
    })
    .await;
    let dir = server.builder().build().await.expect("build");
    let (n, err) = count(&dir).await.expect_err("malformed");
    assert_eq!(n, 10);
    assert!(err.to_string().contains("malformed"), "{err}");
}

#[tokio::test]
async fn a_busy_server_is_asked_again() {
    let server = Server::start(Script {
        busy: 2,
        users: 5,
        ..Script::default()
    })
    .await;
    let dir = server.builder().build().await.expect("build");
    assert_eq!(count(&dir).await.expect("after two busy answers"), 5);

    let server = Server::start(Script {
        busy: 10,
        users: 5,
        ..Script::default()
    })
    .await;
    let dir = server.builder().build().await.expect("build");
    let (_, err) = count(&dir).await.expect_err("still busy");
    assert!(err.is_transient(), "{err:?}");
}

#[tokio::test]
async fn a_limit_abandons_the_rest_of_the_page() {
    let server = Server::start(Script::default()).await;
    let dir = server.builder().build().await.expect("build");
    let some = dir
        .collect_users(&UserQuery::all().with_limit(3))
        .await
        .expect("three");
    assert_eq!(some.len(), 3);
    let searches = server.subtree_searches();
    assert_eq!(searches.len(), 1);
    assert_eq!(searches[0].0, Some(3), "a limit lowers the page size");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        server.seen().iter().any(|s| matches!(s, Seen::Abandon)),
        "the unfinished search is abandoned"
    );
}

#[tokio::test]
async fn bind_sub_codes_samba_cannot_produce() {
    for (text, words) in [
        ("80090308: LdapErr: DSID-0C09042A, comment: AcceptSecurityContext error, data 775, v4563", "locked out"),
        ("80090308: LdapErr: DSID-0C09042A, comment: AcceptSecurityContext error, data 532, v4563", "password has expired"),
        ("80090308: LdapErr: DSID-0C09042A, comment: AcceptSecurityContext error, data 530, v4563", "at this time"),
    ] {
        let server = Server::start(Script {
            bind: (49, text),
            ..Script::default()
        })
        .await;
        let err = server
            .builder()
            .bind_dn("svc-photos@corp.example.com")
            .password(SecretString::from("pw".to_owned()))
            .build()
            .await
            .expect_err("refused");
        assert!(matches!(err, Error::Unauthenticated { .. }), "{err:?}");
        assert!(err.to_string().contains(words), "{err}");
        assert!(matches!(&server.seen()[0], Seen::Bind(dn) if dn == "svc-photos@corp.example.com"));
    }
}

#[tokio::test]
async fn write_result_codes_become_useful_errors() {
    let user = User::new(format!("uid=user00001,{BASE}")).with_sam_account_name("user00001");
    let photo = Photo::new(b"\xFF\xD8\xFF\xE0 tiny \xFF\xD9".to_vec()).expect("jpeg");
    for (rc, check) in [
        (50u32, "permission"),
        (19, "photo"),
        (21, "photo"),
        (52, "transient"),
        (32, "not found"),
    ] {
        let server = Server::start(Script {
            modify: (rc, "server says no"),
            busy: 0,
            ..Script::default()
        })
        .await;
        let dir = server.builder().build().await.expect("build");
        let err = dir.set_photo(&user, &photo).await.expect_err("refused");
        let ok = match check {
            "permission" => {
                matches!(err, Error::PermissionDenied { .. })
                    && err
                        .to_string()
                        .contains("grant anonymous Write jpegPhoto on ou=people")
            }
            "photo" => matches!(err, Error::PhotoRejected { .. }),
            "transient" => err.is_transient(),
            _ => matches!(err, Error::NotFound { .. }),
        };
        assert!(ok, "rc {rc}: {err:?}");
    }
    // Removing a photo that is not there is done.
    let server = Server::start(Script {
        modify: (16, "no such attribute"),
        ..Script::default()
    })
    .await;
    let dir = server.builder().build().await.expect("build");
    dir.remove_photo(&user).await.expect("absent photo: ok");
    assert!(server
        .seen()
        .iter()
        .any(|s| matches!(s, Seen::Modify(dn) if dn == &user.id)));
}

#[tokio::test]
async fn an_injected_fragment_is_one_equality_assertion_on_the_wire() {
    let server = Server::start(Script {
        users: 0,
        ..Script::default()
    })
    .await;
    let dir = server.builder().build().await.expect("build");
    let evil = "*)(objectClass=*";
    let r = dir
        .find_users(UserKey::SamAccountName, &[evil.to_owned()])
        .await
        .expect("lookup");
    assert_eq!(r.len(), 1);
    let (_, _, filter) = server.subtree_searches().pop().expect("one search");
    // (&(objectClass=inetOrgPerson)(uid=<literal>)): an AND of two
    // equalityMatch items, the second with the literal bytes as its value.
    let (tag, and, _) = read_tlv(&filter).expect("filter");
    assert_eq!(tag, 0xA0, "and");
    let items = children(and);
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(
        items.iter().all(|(t, _)| *t == 0xA3),
        "only equality matches: {items:?}"
    );
    let ava = children(items[1].1);
    assert_eq!(ava[0].1, b"uid");
    assert_eq!(ava[1].1, evil.as_bytes());

    // A search prefix is one substring filter per attribute, the literal
    // as its initial part.
    let _ = dir.collect_users(&UserQuery::search(evil)).await;
    let (_, _, filter) = server.subtree_searches().pop().expect("search");
    let (_, and, _) = read_tlv(&filter).expect("filter");
    let items = children(and);
    let (or_tag, or) = items[1];
    assert_eq!(or_tag, 0xA1, "or");
    for (tag, sub) in children(or) {
        assert_eq!(tag, 0xA4, "substrings");
        let parts = children(sub);
        let initial = children(parts[1].1);
        assert_eq!(initial, [(0x80, evil.as_bytes())]);
    }
}

#[tokio::test]
async fn the_search_base_and_attributes_are_as_configured() {
    let server = Server::start(Script {
        users: 1,
        ..Script::default()
    })
    .await;
    let dir = server
        .builder()
        .name_attribute("cn")
        .build()
        .await
        .expect("build");
    let users = dir.collect_users(&UserQuery::all()).await.expect("list");
    assert_eq!(users.len(), 1);
    // The fake server names users by uid; with cn as the name they have none.
    assert_eq!(users[0].sam_account_name, None);
    assert_eq!(users[0].mail.as_deref(), Some("user00001@example.org"));
    assert!(server.seen().iter().all(|s| match s {
        Seen::Search { base, .. } => base == BASE,
        _ => true,
    }));
    assert!(matches!(
        server.seen().first(),
        Some(Seen::Search { subtree: false, .. })
    ));
    assert!(!server
        .seen()
        .iter()
        .any(|s| matches!(s, Seen::Abandon | Seen::Bind(_))));
}

#[tokio::test]
async fn a_server_that_does_not_answer_times_out() {
    let server = Server::start(Script {
        silent: true,
        ..Script::default()
    })
    .await;
    let dir = server
        .builder()
        .timeout(std::time::Duration::from_millis(300))
        .build()
        .await
        .expect("build");
    let started = std::time::Instant::now();
    let (_, err) = count(&dir).await.expect_err("no answer");
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(err.is_transient());
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[tokio::test]
async fn a_photo_we_may_not_read_is_not_accessible_not_an_error() {
    let user = User::new(format!("uid=user00001,{BASE}")).with_sam_account_name("user00001");
    let server = Server::start(Script {
        read: (50, "no read access"),
        ..Script::default()
    })
    .await;
    let dir = server.builder().build().await.expect("build");
    match dir.get_photo(&user).await.expect("an answer") {
        userphoto_directory::PhotoLookup::NotAccessible { reason } => {
            assert!(reason.contains("may not read"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // Any other failure of the read stays an error.
    let server = Server::start(Script {
        read: (80, "internal error"),
        ..Script::default()
    })
    .await;
    let dir = server.builder().build().await.expect("build");
    assert!(dir.get_photo(&user).await.is_err());
}
