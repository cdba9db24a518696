//! Connections, the one reconnect, and paged searches.
//!
//! Why a module of its own: this is the LDAP backend's transport — the
//! single place that opens connections (TLS verified, bound), hands out
//! handles, retries what may be retried, and pages through searches. The
//! rules live here once:
//!
//! * **Connections** are few and shared: `ldap3` multiplexes concurrent
//!   operations over one connection (pipelining), so a small pool (default 2)
//!   keeps up with the server without opening one connection per photo.
//! * **Retries**: a connection found dropped is reopened and the operation
//!   tried once more (every operation of this backend is idempotent: a
//!   search, a replace, a delete whose "already gone" is success). A server
//!   that says busy (51) or unavailable (52) is retried twice after a short
//!   pause. Nothing else is retried; callers add no second loop.
//! * **Paging**: every search sends the RFC 2696 paged-results control with
//!   a page size of at most 1,000 (Active Directory's `MaxPageSize`; an
//!   unpaged search there silently stops at 1,000 users). Pages are fetched
//!   one at a time as the consumer reads, so memory is bounded by one page.
//!   Every page's result code is checked: `sizeLimitExceeded` (4) is an
//!   error, never a silently short list.
//! * **Counters** ([`LdapStats`]) record connections, pages and page sizes,
//!   so tests can prove paging happened against servers (Samba) that do not
//!   enforce the limit.

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ldap3::controls::{PagedResults, RawControl};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry, SearchStream};
use secrecy::{ExposeSecret as _, SecretString};
use tokio::sync::Mutex;

use super::errors::Failure;

/// The largest page size ever requested (Active Directory's default
/// `MaxPageSize`).
pub const MAX_PAGE_SIZE: u32 = 1_000;

/// The OID of the paged-results control (RFC 2696).
const PAGED_RESULTS_OID: &str = "1.2.840.113556.1.4.319";

/// Pauses before retrying an operation the server called busy.
const BUSY_PAUSES: [Duration; 2] = [Duration::from_millis(250), Duration::from_secs(1)];

/// The page size actually sent for a configured `requested` size: 0 means
/// the default (1,000); anything above 1,000 is lowered to 1,000.
pub(crate) fn clamp_page_size(requested: u32) -> u32 {
    match requested {
        0 => MAX_PAGE_SIZE,
        n => n.min(MAX_PAGE_SIZE),
    }
}

/// How the connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Security {
    /// TLS from the first byte (`ldaps://`).
    Ldaps,
    /// `ldap://` upgraded with the StartTLS extended operation.
    StartTls,
    /// No encryption at all (only with `allow_insecure`).
    Plain,
}

/// Counters of what the backend did on the wire, for tests and `detect`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LdapStats {
    /// Connections opened (and bound), including reconnects.
    pub connections: u64,
    /// Connections reopened after one was found dropped.
    pub reconnects: u64,
    /// Search requests sent (one per page).
    pub search_requests: u64,
    /// Search requests that carried the paged-results control.
    pub paged_requests: u64,
    /// The largest page size put in a paged-results control.
    pub largest_page_size_sent: u64,
    /// Pages completed (a search result received).
    pub pages: u64,
    /// The most entries received in one page.
    pub largest_page_received: u64,
    /// Modify requests sent (photo writes and removals).
    pub modify_requests: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    connections: AtomicU64,
    reconnects: AtomicU64,
    search_requests: AtomicU64,
    paged_requests: AtomicU64,
    largest_page_size_sent: AtomicU64,
    pages: AtomicU64,
    largest_page_received: AtomicU64,
    modify_requests: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> LdapStats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        LdapStats {
            connections: get(&self.connections),
            reconnects: get(&self.reconnects),
            search_requests: get(&self.search_requests),
            paged_requests: get(&self.paged_requests),
            largest_page_size_sent: get(&self.largest_page_size_sent),
            pages: get(&self.pages),
            largest_page_received: get(&self.largest_page_received),
            modify_requests: get(&self.modify_requests),
        }
    }

    pub(crate) fn modify_sent(&self) {
        self.modify_requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn search_sent(&self, page_size: Option<u32>) {
        self.search_requests.fetch_add(1, Ordering::Relaxed);
        if let Some(size) = page_size {
            self.paged_requests.fetch_add(1, Ordering::Relaxed);
            self.largest_page_size_sent
                .fetch_max(u64::from(size), Ordering::Relaxed);
        }
    }

    fn page_done(&self, entries: u64) {
        self.pages.fetch_add(1, Ordering::Relaxed);
        self.largest_page_received
            .fetch_max(entries, Ordering::Relaxed);
    }
}

/// Everything needed to open a bound connection.
pub(crate) struct ClientSettings {
    pub(crate) url: String,
    pub(crate) security: Security,
    pub(crate) tls: Option<Arc<rustls::ClientConfig>>,
    pub(crate) bind: Bind,
    pub(crate) timeout: Duration,
    pub(crate) connections: usize,
}

/// How a connection signs in.
pub(crate) enum Bind {
    /// No bind at all.
    Anonymous,
    /// A simple bind: DN (or UPN) and password.
    Simple(String, SecretString),
    /// SASL GSSAPI with the user's ticket for `ldap/<host>`; `realm` (a
    /// guess from the base DN) only fills the `kinit` hint.
    #[cfg_attr(not(any(feature = "kerberos", windows)), allow(dead_code))]
    Kerberos { host: String, realm: Option<String> },
}

struct Conn {
    ldap: Ldap,
    generation: u64,
}

/// A small pool of bound connections with one reconnect per operation.
pub(crate) struct Client {
    settings: ClientSettings,
    slots: Vec<Mutex<Option<Conn>>>,
    next_slot: AtomicUsize,
    generation: AtomicU64,
    pub(crate) counters: Counters,
    /// The Kerberos principal of the first Kerberos bind, for messages.
    principal: std::sync::OnceLock<String>,
}

/// A handle on one pooled connection, with what is needed to report it
/// dropped.
pub(crate) struct Handle {
    pub(crate) ldap: Ldap,
    slot: usize,
    generation: u64,
}

impl Client {
    pub(crate) fn new(settings: ClientSettings) -> Self {
        let n = settings.connections.max(1);
        Client {
            settings,
            slots: (0..n).map(|_| Mutex::new(None)).collect(),
            next_slot: AtomicUsize::new(0),
            generation: AtomicU64::new(0),
            counters: Counters::default(),
            principal: std::sync::OnceLock::new(),
        }
    }

    /// Who a Kerberos bind signed in as, once one has (Unix).
    pub(crate) fn principal(&self) -> Option<&str> {
        self.principal.get().map(String::as_str)
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.settings.timeout
    }

    /// A handle on a live, bound connection (opening one if needed).
    pub(crate) async fn handle(&self) -> Result<Handle, Failure> {
        let slot = self.next_slot.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let mut guard = self.slots[slot].lock().await;
        if let Some(conn) = guard.as_mut() {
            if !conn.ldap.is_closed() {
                return Ok(Handle {
                    ldap: conn.ldap.clone(),
                    slot,
                    generation: conn.generation,
                });
            }
            tracing::info!(url = %self.settings.url, "the LDAP connection was closed; reconnecting");
            self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
            *guard = None;
        }
        let ldap = self.connect().await?;
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        *guard = Some(Conn {
            ldap: ldap.clone(),
            generation,
        });
        Ok(Handle {
            ldap,
            slot,
            generation,
        })
    }

    /// Forgets `handle`'s connection, unless it was already replaced.
    pub(crate) async fn discard(&self, handle: &Handle) {
        let mut guard = self.slots[handle.slot].lock().await;
        if guard
            .as_ref()
            .is_some_and(|c| c.generation == handle.generation)
        {
            *guard = None;
            self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Opens, secures and binds one connection.
    async fn connect(&self) -> Result<Ldap, Failure> {
        let s = &self.settings;
        let mut conn_settings = LdapConnSettings::new().set_conn_timeout(s.timeout);
        if let Some(tls) = &s.tls {
            conn_settings = conn_settings.set_config(tls.clone());
        }
        if s.security == Security::StartTls {
            conn_settings = conn_settings.set_starttls(true);
        }
        let (conn, mut ldap) = LdapConnAsync::with_settings(conn_settings, &s.url)
            .await
            .map_err(Failure::Connect)?;
        let url = s.url.clone();
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(%url, error = %e, "the LDAP connection ended");
            }
        });
        match &s.bind {
            Bind::Anonymous => {}
            Bind::Simple(dn, password) => {
                let result = ldap
                    .with_timeout(s.timeout)
                    .simple_bind(dn, password.expose_secret())
                    .await
                    .map_err(|e| match Failure::from_op(e) {
                        Failure::Dropped(e) => Failure::Connect(e),
                        other => other,
                    })?;
                if result.rc != 0 {
                    return Err(Failure::Bind(result));
                }
            }
            #[cfg(any(feature = "kerberos", windows))]
            Bind::Kerberos { host, realm } => {
                if let Some(principal) =
                    super::kerberos::bind(&mut ldap, host, realm.as_deref(), s.timeout).await?
                {
                    let _ = self.principal.set(principal);
                }
            }
            // The builder refuses `auth = "kerberos"` in a build without it.
            #[cfg(not(any(feature = "kerberos", windows)))]
            Bind::Kerberos { .. } => {
                return Err(Failure::Kerberos {
                    message: "not available".into(),
                    hint: super::kerberos::NOT_BUILT.into(),
                })
            }
        }
        self.counters.connections.fetch_add(1, Ordering::Relaxed);
        Ok(ldap)
    }

    /// Whether `password` is `dn`'s: a simple bind as `dn` on a connection
    /// of its own (same URL and verified TLS as the pool), unbound after.
    /// `Ok(false)` for invalid credentials (49); other answers are
    /// failures. Never pooled: the pool stays bound as the service account.
    pub(crate) async fn check_bind(&self, dn: &str, password: &str) -> Result<bool, Failure> {
        let s = &self.settings;
        let mut conn_settings = LdapConnSettings::new().set_conn_timeout(s.timeout);
        if let Some(tls) = &s.tls {
            conn_settings = conn_settings.set_config(tls.clone());
        }
        if s.security == Security::StartTls {
            conn_settings = conn_settings.set_starttls(true);
        }
        let (conn, mut ldap) = LdapConnAsync::with_settings(conn_settings, &s.url)
            .await
            .map_err(Failure::Connect)?;
        let driver = tokio::spawn(async move {
            let _ = conn.drive().await;
        });
        let result = ldap
            .with_timeout(s.timeout)
            .simple_bind(dn, password)
            .await
            .map_err(|e| match Failure::from_op(e) {
                Failure::Dropped(e) => Failure::Connect(e),
                other => other,
            });
        let _ = ldap.unbind().await;
        driver.abort();
        let result = result?;
        match result.rc {
            0 => Ok(true),
            49 => Ok(false),
            _ => Err(Failure::Bind(result)),
        }
    }

    /// Runs `op` on a pooled connection: once more on a fresh connection if
    /// this one turns out dropped, and up to twice more (after a pause) if
    /// the server says busy or unavailable.
    pub(crate) async fn run<T, F, Fut>(&self, mut op: F) -> Result<T, Failure>
    where
        F: FnMut(Ldap) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let mut reconnected = false;
        let mut busy = 0;
        loop {
            let handle = self.handle().await?;
            match op(handle.ldap.clone()).await {
                Err(f) if f.is_dropped() && !reconnected => {
                    tracing::info!(url = %self.settings.url, error = ?f, "the LDAP connection dropped; reconnecting once");
                    self.discard(&handle).await;
                    reconnected = true;
                }
                Err(f) if f.is_busy() && busy < BUSY_PAUSES.len() => {
                    tracing::info!(url = %self.settings.url, rc = ?f.rc(), "the directory is busy; trying again shortly");
                    tokio::time::sleep(BUSY_PAUSES[busy]).await;
                    busy += 1;
                }
                other => return other,
            }
        }
    }
}

/// One search, described once and sent page by page.
#[derive(Clone, Debug)]
pub(crate) struct SearchSpec {
    pub(crate) base: String,
    pub(crate) scope: Scope,
    pub(crate) filter: String,
    pub(crate) attributes: Vec<String>,
    /// Already clamped to 1..=1000.
    pub(crate) page_size: u32,
}

/// A paged search in progress: yields entries as pages arrive, fetching
/// the next page only when the current one is used up.
///
/// Until the first entry arrives, a dropped connection is reopened once and
/// a busy server waited for (as [`Client::run`] does); after that, a
/// failure ends the search (the paging cookie belongs to the connection, so
/// a search cannot resume on another one).
pub(crate) struct Pager<'a> {
    client: &'a Client,
    spec: SearchSpec,
    /// The connection the search runs on.
    handle: Option<Handle>,
    stream: Option<SearchStream<'static, String, Vec<String>>>,
    cookie: Vec<u8>,
    in_page: u64,
    yielded: u64,
    reconnected: bool,
    busy: usize,
    done: bool,
}

impl<'a> Pager<'a> {
    pub(crate) fn new(client: &'a Client, spec: SearchSpec) -> Self {
        Pager {
            client,
            spec,
            handle: None,
            stream: None,
            cookie: Vec::new(),
            in_page: 0,
            yielded: 0,
            reconnected: false,
            busy: 0,
            done: false,
        }
    }

    /// The next entry, or `None` when every page has been read.
    pub(crate) async fn next(&mut self) -> Result<Option<SearchEntry>, Failure> {
        loop {
            let fresh = self.yielded == 0 && self.cookie.is_empty();
            match self.next_once().await {
                Err(f) if fresh && f.is_dropped() && !self.reconnected => {
                    tracing::info!(error = ?f, "the LDAP connection dropped before the first entry; reconnecting once");
                    self.reconnected = true;
                    if let Some(handle) = self.handle.take() {
                        self.client.discard(&handle).await;
                    }
                    self.restart();
                }
                Err(f) if fresh && f.is_busy() && self.busy < BUSY_PAUSES.len() => {
                    tokio::time::sleep(BUSY_PAUSES[self.busy]).await;
                    self.busy += 1;
                    self.restart();
                }
                Ok(Some(entry)) => {
                    self.yielded += 1;
                    return Ok(Some(entry));
                }
                other => return other,
            }
        }
    }

    fn restart(&mut self) {
        self.stream = None;
        self.cookie.clear();
        self.in_page = 0;
        self.done = false;
    }

    async fn next_once(&mut self) -> Result<Option<SearchEntry>, Failure> {
        loop {
            if self.done {
                return Ok(None);
            }
            if self.stream.is_none() {
                if let Err(f) = self.start_page().await {
                    self.done = true;
                    return Err(f);
                }
            }
            let Some(stream) = self.stream.as_mut() else {
                self.done = true;
                return Ok(None);
            };
            match stream.next().await {
                Ok(Some(entry)) => {
                    if entry.is_ref() || entry.is_intermediate() {
                        continue;
                    }
                    self.in_page += 1;
                    return Ok(Some(SearchEntry::construct(entry)));
                }
                Ok(None) => {
                    let result = stream.finish().await;
                    self.stream = None;
                    if let Err(f) = self.end_page(result) {
                        self.done = true;
                        return Err(f);
                    }
                }
                Err(e) => {
                    self.stream = None;
                    self.done = true;
                    return Err(Failure::from_op(e));
                }
            }
        }
    }

    async fn start_page(&mut self) -> Result<(), Failure> {
        if self.handle.is_none() {
            self.handle = Some(self.client.handle().await?);
        }
        let Some(handle) = self.handle.as_ref() else {
            return Err(Failure::Protocol("no connection for the search".into()));
        };
        let spec = &self.spec;
        let control: RawControl = PagedResults {
            size: i32::try_from(spec.page_size).unwrap_or(1_000),
            cookie: self.cookie.clone(),
        }
        .into();
        self.client.counters.search_sent(Some(spec.page_size));
        let mut ldap = handle.ldap.clone();
        let stream = ldap
            .with_controls(control)
            .with_timeout(self.client.timeout())
            .streaming_search(
                &spec.base,
                spec.scope,
                &spec.filter,
                spec.attributes.clone(),
            )
            .await
            .map_err(Failure::from_op)?;
        self.stream = Some(stream);
        self.in_page = 0;
        Ok(())
    }

    fn end_page(&mut self, result: ldap3::LdapResult) -> Result<(), Failure> {
        self.client.counters.page_done(self.in_page);
        let control = result
            .ctrls
            .iter()
            .find(|c| c.1.ctype == PAGED_RESULTS_OID)
            .map(|c| c.1.val.clone());
        let result = Failure::check(result)?;
        drop(result);
        match control {
            // The server ignored the control: this one answer is everything.
            None => self.done = true,
            Some(value) => {
                let cookie = value.as_deref().and_then(paged_cookie).ok_or_else(|| {
                    Failure::Protocol("the server's paged-results answer is malformed".into())
                })?;
                if cookie.is_empty() {
                    self.done = true;
                } else {
                    self.cookie = cookie;
                }
            }
        }
        Ok(())
    }

    /// Reads every remaining entry.
    pub(crate) async fn collect(mut self) -> Result<Vec<SearchEntry>, Failure> {
        let mut all = Vec::new();
        while let Some(entry) = self.next().await? {
            all.push(entry);
        }
        Ok(all)
    }
}

impl Drop for Pager<'_> {
    /// A search dropped before its end (a `limit` reached, a consumer gone)
    /// is abandoned on the server, so it stops sending the rest of the page.
    fn drop(&mut self) {
        let Some(mut stream) = self.stream.take() else {
            return;
        };
        let ldap = stream.ldap_handle();
        let id = ldap.last_id();
        let mut ldap = ldap.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = ldap.abandon(id).await {
                    tracing::debug!(error = %e, "abandoning a search failed");
                }
            });
        }
    }
}

/// The cookie in a paged-results response value
/// (`SEQUENCE { size INTEGER, cookie OCTET STRING }`), or `None` if the
/// value is not that shape. Written here rather than taken from `ldap3`,
/// whose parser panics on malformed input from the server.
pub(crate) fn paged_cookie(value: &[u8]) -> Option<Vec<u8>> {
    let (tag, body, _) = read_tlv(value)?;
    if tag != 0x30 {
        return None;
    }
    let (int_tag, _size, rest) = read_tlv(body)?;
    if int_tag != 0x02 {
        return None;
    }
    let (str_tag, cookie, _) = read_tlv(rest)?;
    if str_tag != 0x04 {
        return None;
    }
    Some(cookie.to_vec())
}

/// One BER tag-length-value: (tag, value, rest). Definite lengths only.
fn read_tlv(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *bytes.first()?;
    let first = *bytes.get(1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 {
            return None;
        }
        let len_bytes = bytes.get(2..2 + n)?;
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    let value = bytes.get(header..end)?;
    Some((tag, value, &bytes[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_never_exceed_1000() {
        assert_eq!(clamp_page_size(0), 1_000);
        assert_eq!(clamp_page_size(1), 1);
        assert_eq!(clamp_page_size(999), 999);
        assert_eq!(clamp_page_size(1_000), 1_000);
        assert_eq!(clamp_page_size(1_001), 1_000);
        assert_eq!(clamp_page_size(u32::MAX), 1_000);
    }

    fn encode(size: i32, cookie: &[u8]) -> Vec<u8> {
        let raw: RawControl = PagedResults {
            size,
            cookie: cookie.to_vec(),
        }
        .into();
        raw.val.unwrap_or_default()
    }

    #[test]
    fn paged_cookies_round_trip() {
        assert_eq!(paged_cookie(&encode(1000, b"")), Some(vec![]));
        assert_eq!(paged_cookie(&encode(5, b"abc")), Some(b"abc".to_vec()));
        let long = vec![7u8; 300];
        assert_eq!(paged_cookie(&encode(0, &long)), Some(long));
    }

    #[test]
    fn malformed_paged_answers_are_none_not_panics() {
        let good = encode(1000, b"cookie");
        for cut in 0..good.len() {
            assert_eq!(paged_cookie(&good[..cut]), None, "{cut}");
        }
        for bad in [
            &[0x04, 0x00][..],
            &[0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF],
            &[0x30, 0x80],
            &[],
        ] {
            assert_eq!(paged_cookie(bad), None, "{bad:?}");
        }
        assert_eq!(paged_cookie(&[0x30, 0x03, 0x04, 0x01, 0x00]), None);
    }

    #[test]
    fn counters_record_the_largest_page() {
        let c = Counters::default();
        c.search_sent(Some(100));
        c.search_sent(Some(1000));
        c.search_sent(None);
        c.page_done(10);
        c.page_done(1000);
        let s = c.snapshot();
        assert_eq!(
            (
                s.search_requests,
                s.paged_requests,
                s.largest_page_size_sent
            ),
            (3, 2, 1000)
        );
        assert_eq!((s.pages, s.largest_page_received), (2, 1000));
    }
}
