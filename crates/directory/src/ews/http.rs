//! The HTTP under EWS: Basic authentication through `reqwest`, or NTLM on
//! HTTP/1.1 connections this module holds itself.
//!
//! Why NTLM does not go through `reqwest`: NTLM authenticates a
//! *connection*, not a request. The server's CHALLENGE is answered on the
//! connection that received it, and IIS then treats that connection as
//! signed in. A pooled client may send the answer over another connection
//! (its pool hands out whichever is idle, or opens a new one while the
//! previous is being returned), which fails the handshake at random. So
//! each NTLM session is one `hyper` HTTP/1.1 connection (plain TCP for the
//! emulator, TLS through `tokio-rustls` with the same verified trust store
//! as LDAP): the request goes out with a NEGOTIATE message, comes back 401
//! with the CHALLENGE, and is sent again with the AUTHENTICATE message on
//! the same connection. Signed-in connections wait in a small idle list and
//! carry later requests without any header; one the server no longer
//! accepts (401, closed) is dropped and a new one is signed in. A server
//! that offers `Negotiate` but not `NTLM` gets the same NTLM messages under
//! the `Negotiate` scheme (Windows' Negotiate package accepts raw NTLM).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use secrecy::{ExposeSecret as _, SecretString};

use super::ntlm::{tls_server_end_point, NtlmHandshake};

/// How the EWS client signs in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum EwsAuth {
    /// NTLM (Windows authentication), what the EWS virtual directory
    /// allows out of the box. The default.
    #[default]
    Ntlm,
    /// HTTP Basic: the password is sent with each request (over HTTPS);
    /// Basic must be enabled on the EWS virtual directory.
    Basic,
    /// `Negotiate` with the current user's Kerberos ticket (no password);
    /// NTLM when the ticket is missing or refused and a username and
    /// password are configured too.
    Kerberos,
}

impl EwsAuth {
    /// `ntlm` or `basic`, as in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            EwsAuth::Ntlm => "ntlm",
            EwsAuth::Basic => "basic",
            EwsAuth::Kerberos => "kerberos",
        }
    }
}

impl std::fmt::Display for EwsAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for EwsAuth {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ntlm" => Ok(EwsAuth::Ntlm),
            "basic" => Ok(EwsAuth::Basic),
            "kerberos" => Ok(EwsAuth::Kerberos),
            other => Err(format!(
                "{other:?} is not an EWS authentication; use ntlm, basic or kerberos"
            )),
        }
    }
}

/// One request.
#[derive(Debug)]
pub(crate) struct Outgoing<'a> {
    /// The full URL.
    pub url: &'a url::Url,
    /// `SOAPAction` for a POST; `None` is a GET.
    pub soap: Option<(String, String)>,
}

/// One answer, read whole.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub status: u16,
    /// `Retry-After` in seconds.
    pub retry_after: Option<u64>,
    pub body: Vec<u8>,
}

/// Why no answer came.
#[derive(Debug)]
pub(crate) enum HttpError {
    /// The request took longer than the timeout.
    Timeout,
    /// No connection, TLS refused, connection broken.
    Transport(String),
    /// The server asked for credentials but does not offer NTLM.
    NtlmNotOffered { offered: String },
    /// The NTLM messages could not be made or read.
    Ntlm(String),
    /// No Kerberos token could be made (`no_ticket`: none, or expired), or
    /// the server refused it, and there is no password for NTLM.
    Kerberos { message: String, no_ticket: bool },
    /// The answer is larger than [`MAX_ANSWER_BYTES`]; it was not read.
    TooLarge,
}

/// The most of one answer we read. The largest EWS answer we ask for is a
/// photo (a few MB at most) as base64; anything far larger is not an EWS
/// answer, and reading it whole would let a wrong URL or a hostile server
/// fill our memory.
pub(crate) const MAX_ANSWER_BYTES: usize = 32 * 1024 * 1024;

/// Basic through `reqwest`, or NTLM sessions.
#[derive(Debug)]
pub(crate) enum Transport {
    Basic {
        http: reqwest::Client,
        username: String,
        password: SecretString,
        timeout: Duration,
    },
    Ntlm(NtlmTransport),
}

impl Transport {
    pub(crate) async fn send(&self, out: &Outgoing<'_>) -> Result<Incoming, HttpError> {
        match self {
            Transport::Basic {
                http,
                username,
                password,
                timeout,
            } => {
                let request = match &out.soap {
                    Some((action, body)) => http
                        .post(out.url.clone())
                        .header("Content-Type", "text/xml; charset=utf-8")
                        .header("SOAPAction", action.as_str())
                        .body(body.clone()),
                    None => http.get(out.url.clone()),
                };
                let send = async {
                    let mut response = request
                        .basic_auth(username, Some(password.expose_secret()))
                        .send()
                        .await
                        .map_err(|e| reqwest_error(&e))?;
                    let status = response.status().as_u16();
                    let retry_after = retry_after(response.headers());
                    if response
                        .content_length()
                        .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
                    {
                        return Err(HttpError::TooLarge);
                    }
                    let mut body = Vec::new();
                    while let Some(chunk) = response.chunk().await.map_err(|e| reqwest_error(&e))? {
                        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                            return Err(HttpError::TooLarge);
                        }
                        body.extend_from_slice(&chunk);
                    }
                    Ok(Incoming {
                        status,
                        retry_after,
                        body,
                    })
                };
                tokio::time::timeout(*timeout, send)
                    .await
                    .map_err(|_| HttpError::Timeout)?
            }
            Transport::Ntlm(ntlm) => tokio::time::timeout(ntlm.timeout, ntlm.send(out))
                .await
                .map_err(|_| HttpError::Timeout)?,
        }
    }
}

fn retry_after(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

fn reqwest_error(e: &reqwest::Error) -> HttpError {
    if e.is_timeout() {
        HttpError::Timeout
    } else {
        HttpError::Transport(describe(e))
    }
}

/// An error in words, with its causes (rustls says why a certificate was
/// refused).
pub(crate) fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// NTLM sessions to one server.
pub(crate) struct NtlmTransport {
    host: String,
    port: u16,
    /// TLS configuration and server name for `https`; `None` for `http`.
    tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    username: String,
    /// `None` with Kerberos and no NTLM fallback.
    password: Option<SecretString>,
    timeout: Duration,
    max_idle: usize,
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
    /// The server offered `Negotiate` and not `NTLM`.
    negotiate: AtomicBool,
    /// Sign in with a Kerberos ticket first (`auth = "kerberos"`).
    kerberos: bool,
    /// Kerberos failed once and NTLM took over: not tried again.
    kerberos_failed: AtomicBool,
}

impl std::fmt::Debug for NtlmTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NtlmTransport")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls.is_some())
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl NtlmTransport {
    /// NTLM to the server of `url`; `tls` is required for `https`.
    pub(crate) fn new(
        url: &url::Url,
        tls: Option<Arc<rustls::ClientConfig>>,
        username: String,
        password: Option<SecretString>,
        timeout: Duration,
        max_idle: usize,
        kerberos: bool,
    ) -> Result<Self, String> {
        let host = url
            .host_str()
            .ok_or_else(|| format!("{url} has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = url
            .port_or_known_default()
            .ok_or_else(|| format!("{url} has no port"))?;
        let tls = match (url.scheme(), tls) {
            ("https", Some(config)) => {
                let mut config = (*config).clone();
                config.alpn_protocols = vec![b"http/1.1".to_vec()];
                let name = ServerName::try_from(host.clone())
                    .map_err(|e| format!("{host} is not a TLS server name: {e}"))?;
                Some((Arc::new(config), name))
            }
            ("https", None) => return Err("https needs a TLS configuration".into()),
            _ => None,
        };
        Ok(NtlmTransport {
            host,
            port,
            tls,
            username,
            password,
            timeout,
            max_idle: max_idle.max(1),
            idle: Mutex::new(Vec::new()),
            negotiate: AtomicBool::new(false),
            kerberos,
            kerberos_failed: AtomicBool::new(false),
        })
    }

    fn take_idle(&self) -> Option<SendRequest<Full<Bytes>>> {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while let Some(conn) = idle.pop() {
            if !conn.is_closed() {
                return Some(conn);
            }
        }
        None
    }

    fn put_idle(&self, conn: SendRequest<Full<Bytes>>) {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < self.max_idle && !conn.is_closed() {
            idle.push(conn);
        }
    }

    async fn send(&self, out: &Outgoing<'_>) -> Result<Incoming, HttpError> {
        // A signed-in connection first: it needs no header.
        while let Some(mut conn) = self.take_idle() {
            match self.round_trip(&mut conn, out, None).await {
                Ok((reply, _)) if reply.status != 401 => {
                    self.put_idle(conn);
                    return Ok(reply);
                }
                // Signed out (401) or closed under us: sign in anew.
                Ok(_) => break,
                Err(e) => {
                    tracing::debug!(error = ?e, "EWS: an idle NTLM connection failed; opening another")
                }
            }
        }
        if self.kerberos && !self.kerberos_failed.load(Ordering::Relaxed) {
            match self.sign_in_kerberos(out).await {
                Err(HttpError::Kerberos { message, .. }) if self.password.is_some() => {
                    tracing::info!(%message, "EWS: Kerberos sign-in failed; falling back to NTLM");
                    self.kerberos_failed.store(true, Ordering::Relaxed);
                }
                other => return other,
            }
        }
        if self.negotiate.load(Ordering::Relaxed) {
            return self.sign_in(out, "Negotiate").await;
        }
        match self.sign_in(out, "NTLM").await {
            Err(HttpError::NtlmNotOffered { offered })
                if offered
                    .split(", ")
                    .any(|s| s.eq_ignore_ascii_case("Negotiate")) =>
            {
                self.negotiate.store(true, Ordering::Relaxed);
                self.sign_in(out, "Negotiate").await
            }
            other => other,
        }
    }

    /// Signs in a new connection with a Kerberos ticket for `HTTP/<host>`
    /// under `Negotiate` (one leg: IIS answers the request itself) and
    /// returns the answer.
    async fn sign_in_kerberos(&self, out: &Outgoing<'_>) -> Result<Incoming, HttpError> {
        let token =
            super::negotiate::kerberos_token(&self.host).map_err(|why| HttpError::Kerberos {
                no_ticket: crate::ldap::is_missing_ticket(&why),
                message: format!("no Kerberos ticket for HTTP/{} ({why})", self.host),
            })?;
        let (mut conn, _) = self.connect().await?;
        let (reply, headers) = self
            .round_trip(&mut conn, out, Some(("Negotiate", &token)))
            .await?;
        if reply.status == 401 {
            return Err(HttpError::Kerberos {
                message: format!(
                    "the server refused the Kerberos ticket for HTTP/{} (it offers: {})",
                    self.host,
                    offered_schemes(&headers)
                ),
                no_ticket: false,
            });
        }
        self.put_idle(conn);
        Ok(reply)
    }

    /// Signs in a new connection with `out` under `scheme` (`NTLM` or
    /// `Negotiate`) and returns the answer to it.
    async fn sign_in(&self, out: &Outgoing<'_>, scheme: &str) -> Result<Incoming, HttpError> {
        let Some(password) = &self.password else {
            return Err(HttpError::Ntlm(
                "NTLM needs a username and password (password_env or password_file)".into(),
            ));
        };
        let (mut conn, binding) = self.connect().await?;
        let (mut handshake, negotiate) =
            NtlmHandshake::start(&self.username, password, &self.host).map_err(HttpError::Ntlm)?;
        let (reply, headers) = self
            .round_trip(&mut conn, out, Some((scheme, &negotiate)))
            .await?;
        if reply.status != 401 {
            // The server did not ask for credentials.
            self.put_idle(conn);
            return Ok(reply);
        }
        let Some(challenge) = ntlm_challenge(&headers, scheme)? else {
            return Err(HttpError::NtlmNotOffered {
                offered: offered_schemes(&headers),
            });
        };
        let authenticate = handshake
            .answer(&challenge, binding.as_deref())
            .map_err(HttpError::Ntlm)?;
        let (reply, _) = self
            .round_trip(&mut conn, out, Some((scheme, &authenticate)))
            .await?;
        if reply.status != 401 {
            self.put_idle(conn);
        }
        // A 401 now means the credentials were refused; the caller says so.
        Ok(reply)
    }

    /// Opens a connection (TLS for https) and returns its channel binding.
    async fn connect(&self) -> Result<(SendRequest<Full<Bytes>>, Option<Vec<u8>>), HttpError> {
        let connect = |e: std::io::Error| {
            HttpError::Transport(format!("connection failed: {}", describe(&e)))
        };
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(connect)?;
        let _ = tcp.set_nodelay(true);
        let handshake_error =
            |e: hyper::Error| HttpError::Transport(format!("HTTP/1.1 handshake: {}", describe(&e)));
        match &self.tls {
            Some((config, name)) => {
                let tls = tokio_rustls::TlsConnector::from(config.clone())
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(connect)?;
                let binding = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|certs| certs.first())
                    .map(|cert| tls_server_end_point(cert.as_ref()));
                let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                    .await
                    .map_err(handshake_error)?;
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "EWS: NTLM connection ended");
                    }
                });
                Ok((sender, binding))
            }
            None => {
                let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                    .await
                    .map_err(handshake_error)?;
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "EWS: NTLM connection ended");
                    }
                });
                Ok((sender, None))
            }
        }
    }

    /// Sends `out` on `conn` (with an NTLM token when given) and reads the
    /// whole answer, so the connection is free for the next request.
    async fn round_trip(
        &self,
        conn: &mut SendRequest<Full<Bytes>>,
        out: &Outgoing<'_>,
        token: Option<(&str, &[u8])>,
    ) -> Result<(Incoming, http::HeaderMap), HttpError> {
        let broken =
            |e: hyper::Error| HttpError::Transport(format!("request failed: {}", describe(&e)));
        conn.ready().await.map_err(broken)?;
        let path = match out.url.query() {
            Some(q) => format!("{}?{q}", out.url.path()),
            None => out.url.path().to_owned(),
        };
        let host = match out.url.port() {
            Some(p) => format!("{}:{p}", out.url.host_str().unwrap_or_default()),
            None => out.url.host_str().unwrap_or_default().to_owned(),
        };
        let mut builder = http::Request::builder()
            .uri(path)
            .header(http::header::HOST, host)
            .header(
                http::header::USER_AGENT,
                concat!("userphoto/", env!("CARGO_PKG_VERSION")),
            );
        if let Some((scheme, token)) = token {
            builder = builder.header(
                http::header::AUTHORIZATION,
                format!(
                    "{scheme} {}",
                    base64::engine::general_purpose::STANDARD.encode(token)
                ),
            );
        }
        let body = match &out.soap {
            Some((action, body)) => {
                builder = builder
                    .method(http::Method::POST)
                    .header(http::header::CONTENT_TYPE, "text/xml; charset=utf-8")
                    .header("SOAPAction", action.as_str());
                Full::new(Bytes::from(body.clone()))
            }
            None => {
                builder = builder.method(http::Method::GET);
                Full::new(Bytes::new())
            }
        };
        let request = builder
            .body(body)
            .map_err(|e| HttpError::Transport(format!("cannot build the request: {e}")))?;
        let response = conn.send_request(request).await.map_err(broken)?;
        let (parts, body) = response.into_parts();
        let body = http_body_util::Limited::new(body, MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    HttpError::TooLarge
                } else {
                    HttpError::Transport(format!("request failed: {e}"))
                }
            })?
            .to_bytes();
        Ok((
            Incoming {
                status: parts.status.as_u16(),
                retry_after: retry_after(&parts.headers),
                body: body.to_vec(),
            },
            parts.headers,
        ))
    }
}

/// The CHALLENGE in `WWW-Authenticate: <scheme> <base64>`; `None` when the
/// server does not offer `scheme`.
fn ntlm_challenge(headers: &http::HeaderMap, scheme: &str) -> Result<Option<Vec<u8>>, HttpError> {
    for value in headers.get_all(http::header::WWW_AUTHENTICATE) {
        let Ok(value) = value.to_str() else { continue };
        let mut words = value.trim().splitn(2, ' ');
        if !words
            .next()
            .unwrap_or_default()
            .eq_ignore_ascii_case(scheme)
        {
            continue;
        }
        let Some(token) = words.next().map(str::trim).filter(|t| !t.is_empty()) else {
            // A bare scheme: offered, but no challenge to our NEGOTIATE
            // message (a `Negotiate` server that wants Kerberos only).
            return Err(HttpError::Ntlm(format!(
                "the server answered the NTLM NEGOTIATE message (sent as {scheme}) without a CHALLENGE; it may accept Kerberos only"
            )));
        };
        return base64::engine::general_purpose::STANDARD
            .decode(token)
            .map(Some)
            .map_err(|e| HttpError::Ntlm(format!("the NTLM CHALLENGE is not base64: {e}")));
    }
    Ok(None)
}

/// `Basic, Negotiate`: the schemes a 401 offers.
fn offered_schemes(headers: &http::HeaderMap) -> String {
    let schemes: Vec<String> = headers
        .get_all(http::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split_whitespace().next().map(str::to_owned))
        .collect();
    if schemes.is_empty() {
        "none".into()
    } else {
        schemes.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_and_offered_schemes_are_read_from_www_authenticate() {
        let mut h = http::HeaderMap::new();
        h.append(
            http::header::WWW_AUTHENTICATE,
            "Negotiate".parse().expect("v"),
        );
        h.append(
            http::header::WWW_AUTHENTICATE,
            "Basic realm=\"x\"".parse().expect("v"),
        );
        assert!(ntlm_challenge(&h, "NTLM").expect("ok").is_none());
        assert!(matches!(
            ntlm_challenge(&h, "Negotiate"),
            Err(HttpError::Ntlm(_))
        ));
        assert_eq!(offered_schemes(&h), "Negotiate, Basic");
        h.append(
            http::header::WWW_AUTHENTICATE,
            "NTLM TlRMTVNTUAAC".parse().expect("v"),
        );
        assert_eq!(
            ntlm_challenge(&h, "NTLM").expect("ok").expect("challenge"),
            b"NTLMSSP\0\x02"
        );
        let mut bare = http::HeaderMap::new();
        bare.append(http::header::WWW_AUTHENTICATE, "NTLM".parse().expect("v"));
        assert!(matches!(
            ntlm_challenge(&bare, "ntlm"),
            Err(HttpError::Ntlm(_))
        ));
        assert_eq!("NTLM".parse::<EwsAuth>(), Ok(EwsAuth::Ntlm));
        assert_eq!("Kerberos".parse::<EwsAuth>(), Ok(EwsAuth::Kerberos));
        assert!("spnego".parse::<EwsAuth>().is_err());
    }
}
