//! An EMULATOR of Exchange Web Services' photo operations, written from
//! Microsoft's published documentation (MS-OXWSCONT §3.1.4.7–8
//! `GetUserPhoto` / `SetUserPhoto`, MS-OXWSPHOTO's REST `GetUserPhoto`, the
//! EWS error codes and throttling faults). It is not Exchange and never
//! talks to it.
//!
//! What it does:
//! * `GET /EWS/Exchange.asmx/s/GetUserPhoto?email=…&size=HR…`: 200 with the
//!   stored photo (`image/jpeg`; the emulator does not resize), 404 when the
//!   mailbox has none, 400 for a size code that is not one of the documented
//!   `HR48x48` … `HR648x648`, 500 for an address without a mailbox;
//! * `POST /EWS/Exchange.asmx` (SOAP 1.1, `text/xml`): validates the
//!   envelope (SOAP namespace, `RequestServerVersion` header with a known
//!   version, one operation in the body, its required elements) and answers
//!   `GetServerTimeZones` (just its `ServerVersionInfo`), `GetUserPhoto`
//!   and `SetUserPhoto` with documented response messages and faults;
//! * authentication ([`EmulatedAuth`]): NTLM, HTTP Basic, or either (the
//!   default, as an Exchange server whose EWS virtual directory allows
//!   both), or NTLM under the `Negotiate` scheme only. NTLM is connection-bound as in IIS: a NEGOTIATE message is
//!   answered 401 with a real CHALLENGE (made by `sspi`'s acceptor), the
//!   AUTHENTICATE message on the same connection is checked against the
//!   configured account and password, and that connection is then signed
//!   in for the requests that follow it. Anything else is 401 with the
//!   offered schemes in `WWW-Authenticate`.
//!   The acceptor wants what Windows and `sspi` clients send: a NEGOTIATE
//!   message with the Unicode flag and an AUTHENTICATE message with a MIC
//!   (`curl --ntlm` sends neither, so it is refused; use Basic with curl).
//!
//! Knobs ([`EwsKnobs`]): Exchange 2013 mode (`ServerVersionInfo` 15.0; a
//! request for `Exchange2016` gets `ErrorInvalidServerVersion`, and
//! `SetUserPhoto` is a schema-validation fault, as 2013 does not have it);
//! `ErrorServerBusy` faults with a `BackOffMilliseconds` hint for the next
//! N SOAP requests; addresses without a mailbox; mailboxes whose photo the
//! account may not change (`ErrorAccessDenied`).

mod kerberos;
mod knobs;
mod ntlm;
mod xml;

pub use knobs::{EmulatedAuth, EwsKnobs, EwsStats};

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The account the emulator accepts by default.
pub const DEFAULT_USERNAME: &str = r"CORP\svc-photos";
/// Its password (a throwaway, emulator-only value).
pub const DEFAULT_PASSWORD: &str = "Emulated-Ews-Pass-1";

/// The size codes of MS-OXWSPHOTO (`HR48x48` … `HR648x648`).
pub const SIZE_CODES: [&str; 9] = [
    "HR48x48",
    "HR64x64",
    "HR96x96",
    "HR120x120",
    "HR240x240",
    "HR360x360",
    "HR432x432",
    "HR504x504",
    "HR648x648",
];

/// `RequestServerVersion` values Exchange 2013 understands.
const VERSIONS_2013: [&str; 7] = [
    "Exchange2007",
    "Exchange2007_SP1",
    "Exchange2010",
    "Exchange2010_SP1",
    "Exchange2010_SP2",
    "Exchange2013",
    "Exchange2013_SP1",
];

/// Values added by Exchange 2016 and later.
const VERSIONS_2016: [&str; 11] = [
    "Exchange2015",
    "Exchange2016",
    "V2015_10_05",
    "V2016_01_06",
    "V2016_04_13",
    "V2016_07_13",
    "V2016_10_10",
    "V2017_01_07",
    "V2017_04_14",
    "V2017_07_11",
    "V2017_10_09",
];

const SOAP_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const TYPES_NS: &str = "http://schemas.microsoft.com/exchange/services/2006/types";
const MESSAGES_NS: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";

/// Identifies one TCP connection (NTLM signs in connections, not
/// requests): a number per accepted connection, never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct ConnId(u64);

impl Connected<axum::serve::IncomingStream<'_, TcpListener>> for ConnId {
    fn connect_info(_: axum::serve::IncomingStream<'_, TcpListener>) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ConnId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// Where one connection's NTLM stands.
#[derive(Debug)]
enum ConnAuth {
    /// CHALLENGE sent; the AUTHENTICATE message is awaited.
    Challenged(Box<ntlm::Acceptor>),
    /// Signed in.
    SignedIn,
}

#[derive(Debug)]
struct Inner {
    knobs: EwsKnobs,
    mailboxes: HashSet<String>,
    denied: HashSet<String>,
    photos: HashMap<String, Vec<u8>>,
    busy_left: u32,
    stats: EwsStats,
    connections: HashMap<ConnId, ConnAuth>,
}

type Shared = Arc<Mutex<Inner>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Inner> {
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running EWS emulator. Stops when dropped.
#[derive(Debug)]
pub struct EwsEmulator {
    addr: SocketAddr,
    shared: Shared,
    stop: Option<oneshot::Sender<()>>,
}

impl EwsEmulator {
    /// Starts an emulator on `127.0.0.1:0` in the background.
    ///
    /// # Errors
    /// When it cannot bind.
    pub async fn start(knobs: EwsKnobs) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        Self::serve(listener, knobs).await
    }

    /// Serves on `listener` in the background.
    ///
    /// # Errors
    /// When the listener has no address.
    pub async fn serve(listener: TcpListener, knobs: EwsKnobs) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let lower = |v: &[String]| v.iter().map(|m| m.trim().to_lowercase()).collect();
        let inner = Inner {
            mailboxes: lower(&knobs.mailboxes),
            denied: lower(&knobs.denied),
            busy_left: knobs.busy_requests,
            photos: HashMap::new(),
            stats: EwsStats::default(),
            connections: HashMap::new(),
            knobs,
        };
        let shared: Shared = Arc::new(Mutex::new(inner));
        let app = Router::new()
            .route("/EWS/Exchange.asmx", axum::routing::post(soap))
            .route(
                "/EWS/Exchange.asmx/s/GetUserPhoto",
                get(rest_get_user_photo),
            )
            .layer(axum::extract::DefaultBodyLimit::max(16 * 1024 * 1024))
            .with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let served = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<ConnId>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
            if let Err(e) = served {
                tracing::warn!(error = %e, "EWS emulator: the server stopped with an error");
            }
        });
        tracing::info!(%addr, "EWS emulator: listening");
        Ok(EwsEmulator {
            addr,
            shared,
            stop: Some(stop),
        })
    }

    /// `http://127.0.0.1:PORT/EWS/Exchange.asmx`: the `ews_url`.
    pub fn ews_url(&self) -> String {
        format!("http://{}/EWS/Exchange.asmx", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What it has seen so far.
    pub fn stats(&self) -> EwsStats {
        lock(&self.shared).stats
    }

    /// The stored photo of `mail`, if any.
    pub fn photo(&self, mail: &str) -> Option<Vec<u8>> {
        lock(&self.shared)
            .photos
            .get(&mail.trim().to_lowercase())
            .cloned()
    }

    /// Stores a photo directly (as `Set-UserPhoto` on the server would).
    pub fn put_photo(&self, mail: &str, bytes: Vec<u8>) {
        lock(&self.shared)
            .photos
            .insert(mail.trim().to_lowercase(), bytes);
    }

    /// Removes a photo directly (as `Remove-UserPhoto` on the server would).
    pub fn remove_photo(&self, mail: &str) {
        lock(&self.shared)
            .photos
            .remove(&mail.trim().to_lowercase());
    }

    /// The next `n` SOAP requests answer `ErrorServerBusy` with `backoff_ms`.
    pub fn set_busy(&self, n: u32, backoff_ms: u64) {
        let mut inner = lock(&self.shared);
        inner.busy_left = n;
        inner.knobs.busy_backoff_ms = backoff_ms;
    }
}

impl Drop for EwsEmulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Lets a request in (`None`), or answers it: 401 with the offered
/// schemes, or with an NTLM CHALLENGE.
fn authorize(inner: &mut Inner, headers: &HeaderMap, conn: ConnId) -> Option<Response> {
    let mode = inner.knobs.auth;
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let refused = |inner: &mut Inner| {
        inner.stats.unauthorized += 1;
        Some(unauthorized(mode, None))
    };
    if value.is_empty() {
        if matches!(inner.connections.get(&conn), Some(ConnAuth::SignedIn)) {
            return None;
        }
        return refused(inner);
    }
    if scheme.eq_ignore_ascii_case("Basic") && mode.basic() {
        if basic_matches(inner, token) {
            inner.stats.basic_requests += 1;
            return None;
        }
        return refused(inner);
    }
    if !mode.accepts_ntlm_as(scheme) {
        return refused(inner);
    }
    let Ok(message) = base64::engine::general_purpose::STANDARD.decode(token.trim()) else {
        return refused(inner);
    };
    match ntlm::message_type(&message) {
        // Not NTLM under Negotiate: a Kerberos (SPNEGO) token.
        None if mode == EmulatedAuth::Negotiate => {
            match kerberos::accept(inner.knobs.kerberos, &message) {
                Ok(client) => {
                    tracing::info!(%client, "EWS emulator: Kerberos sign-in");
                    inner.connections.insert(conn, ConnAuth::SignedIn);
                    inner.stats.kerberos_sign_ins += 1;
                    None
                }
                Err(e) => {
                    tracing::info!(error = %e, "EWS emulator: Kerberos token refused");
                    inner.stats.kerberos_refused += 1;
                    refused(inner)
                }
            }
        }
        Some(1) => {
            match ntlm::Acceptor::challenge(&inner.knobs.username, &inner.knobs.password, &message)
            {
                Ok((acceptor, challenge)) => {
                    inner
                        .connections
                        .insert(conn, ConnAuth::Challenged(Box::new(acceptor)));
                    inner.stats.unauthorized += 1;
                    Some(unauthorized(mode, Some((scheme, &challenge))))
                }
                Err(e) => {
                    tracing::info!(error = %e, "EWS emulator: NTLM NEGOTIATE refused");
                    refused(inner)
                }
            }
        }
        Some(3) => match inner.connections.remove(&conn) {
            Some(ConnAuth::Challenged(acceptor)) => match acceptor.verify(&message) {
                Ok(()) => {
                    inner.connections.insert(conn, ConnAuth::SignedIn);
                    inner.stats.ntlm_sign_ins += 1;
                    None
                }
                Err(e) => {
                    tracing::info!(error = %e, "EWS emulator: NTLM AUTHENTICATE refused");
                    refused(inner)
                }
            },
            // An AUTHENTICATE message on a connection that was sent no
            // CHALLENGE (NTLM is connection-bound).
            _ => refused(inner),
        },
        _ => refused(inner),
    }
}

/// Checks HTTP Basic credentials (the base64 of `user:password`).
fn basic_matches(inner: &Inner, b64: &str) -> bool {
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
        return false;
    };
    let Ok(text) = String::from_utf8(decoded) else {
        return false;
    };
    let Some((user, password)) = text.split_once(':') else {
        return false;
    };
    user.eq_ignore_ascii_case(&inner.knobs.username) && password == inner.knobs.password
}

/// 401 offering the schemes of `mode`, or carrying an NTLM CHALLENGE.
fn unauthorized(mode: EmulatedAuth, challenge: Option<(&str, &[u8])>) -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        "401 - Unauthorized: Access is denied due to invalid credentials.",
    )
        .into_response();
    let headers = response.headers_mut();
    let mut offer = |value: String| {
        if let Ok(v) = header::HeaderValue::from_str(&value) {
            headers.append(header::WWW_AUTHENTICATE, v);
        }
    };
    if let Some((scheme, challenge)) = challenge {
        offer(format!(
            "{scheme} {}",
            base64::engine::general_purpose::STANDARD.encode(challenge)
        ));
        return response;
    }
    if mode == EmulatedAuth::Negotiate {
        offer("Negotiate".into());
    }
    if mode.ntlm() {
        offer("NTLM".into());
    }
    if mode.basic() {
        offer("Basic realm=\"EWS emulator\"".into());
    }
    response
}

async fn rest_get_user_photo(
    State(shared): State<Shared>,
    ConnectInfo(conn): ConnectInfo<ConnId>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = lock(&shared);
    inner.stats.rest_requests += 1;
    if let Some(refusal) = authorize(&mut inner, &headers, conn) {
        return refusal;
    }
    let (Some(email), Some(size)) = (params.get("email"), params.get("size")) else {
        return (StatusCode::BAD_REQUEST, "email and size are required").into_response();
    };
    if !SIZE_CODES.contains(&size.as_str()) {
        return (StatusCode::BAD_REQUEST, "unknown size code").into_response();
    }
    let key = email.trim().to_lowercase();
    if !inner.mailboxes.contains(&key) {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "The SMTP address has no mailbox associated with it.",
        )
            .into_response();
    }
    match inner.photos.get(&key) {
        Some(bytes) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "image/jpeg")],
            bytes.clone(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn server_version_info(exchange_2013: bool) -> &'static str {
    if exchange_2013 {
        r#"<h:ServerVersionInfo MajorVersion="15" MinorVersion="0" MajorBuildNumber="1497" MinorBuildNumber="2" Version="Exchange2013_SP1" xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types"/>"#
    } else {
        r#"<h:ServerVersionInfo MajorVersion="15" MinorVersion="1" MajorBuildNumber="2507" MinorBuildNumber="6" Version="V2017_07_11" xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types"/>"#
    }
}

fn envelope(exchange_2013: bool, body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><s:Envelope xmlns:s=\"{SOAP_NS}\"><s:Header>{}</s:Header><s:Body xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\">{body}</s:Body></s:Envelope>",
        server_version_info(exchange_2013)
    )
}

fn xml_response(status: StatusCode, text: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        text,
    )
        .into_response()
}

/// A SOAP fault as EWS sends it: HTTP 500, `faultcode` in the types
/// namespace, the `ResponseCode` (and any `MessageXml`) in `detail`.
fn fault(exchange_2013: bool, code: &str, message: &str, message_xml: &str) -> Response {
    let message = xml::escape(message);
    let body = format!(
        "<s:Fault><faultcode xmlns:a=\"http://schemas.microsoft.com/exchange/services/2006/types\">a:{code}</faultcode>\
<faultstring xml:lang=\"en-US\">{message}</faultstring><detail>\
<e:ResponseCode xmlns:e=\"http://schemas.microsoft.com/exchange/services/2006/errors\">{code}</e:ResponseCode>\
<e:Message xmlns:e=\"http://schemas.microsoft.com/exchange/services/2006/errors\">{message}</e:Message>{message_xml}</detail></s:Fault>"
    );
    xml_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        envelope(exchange_2013, &body),
    )
}

/// A response message (`ResponseClass` + `ResponseCode` + extra elements).
fn message(exchange_2013: bool, op: &str, code: &str, text: &str, extra: &str) -> Response {
    let class = if code == "NoError" {
        "Success"
    } else {
        "Error"
    };
    let text = if text.is_empty() {
        String::new()
    } else {
        format!("<MessageText>{}</MessageText>", xml::escape(text))
    };
    let body = format!(
        "<{op}Response ResponseClass=\"{class}\" xmlns=\"http://schemas.microsoft.com/exchange/services/2006/messages\">{text}<ResponseCode>{code}</ResponseCode>{extra}</{op}Response>"
    );
    xml_response(StatusCode::OK, envelope(exchange_2013, &body))
}

async fn soap(
    State(shared): State<Shared>,
    ConnectInfo(conn): ConnectInfo<ConnId>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let mut inner = lock(&shared);
    inner.stats.soap_requests += 1;
    if let Some(refusal) = authorize(&mut inner, &headers, conn) {
        return refusal;
    }
    let is2013 = inner.knobs.exchange_2013;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.to_ascii_lowercase().starts_with("text/xml") {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "EWS SOAP 1.1 requests are text/xml",
        )
            .into_response();
    }
    let schema = |msg: &str| fault(is2013, "ErrorSchemaValidation", msg, "");
    let doc = match xml::parse(&body) {
        Ok(doc) => doc,
        Err(why) => return schema(&format!("The request is not well-formed XML: {why}.")),
    };
    let env = doc.root_element();
    if env.tag_name().name() != "Envelope" {
        return schema("The request is not a SOAP envelope.");
    }
    if env.tag_name().namespace() != Some(SOAP_NS) {
        return schema("The envelope is not in the SOAP 1.1 namespace.");
    }
    // The first child of that local name, then its namespace checked: an
    // element in another namespace is an error, not skipped.
    let in_ns = |parent, name: &str, ns: &str| {
        xml::child(parent, name).filter(|e| e.tag_name().namespace() == Some(ns))
    };
    let Some(version) = in_ns(env, "Header", SOAP_NS)
        .and_then(|h| in_ns(h, "RequestServerVersion", TYPES_NS))
        .and_then(|e| e.attribute("Version"))
        .map(str::to_owned)
    else {
        return schema("The RequestServerVersion header (in the types namespace) is required by this emulator.");
    };
    let known_2016 = VERSIONS_2016.contains(&version.as_str());
    if !(VERSIONS_2013.contains(&version.as_str()) || known_2016) || (is2013 && known_2016) {
        return fault(
            is2013,
            "ErrorInvalidServerVersion",
            "The specified server version is invalid.",
            "",
        );
    }
    let Some(soap_body) = in_ns(env, "Body", SOAP_NS) else {
        return schema("The envelope has no Body.");
    };
    let ops: Vec<_> = soap_body
        .children()
        .filter(roxmltree::Node::is_element)
        .collect();
    let op = match ops[..] {
        [op] if op.tag_name().namespace() == Some(MESSAGES_NS) => op,
        [op] => {
            return schema(&format!(
                "The element 'Body' has invalid child element '{}': operations are in the namespace '{MESSAGES_NS}'.",
                op.tag_name().name()
            ))
        }
        _ => return schema("The Body must hold exactly one operation."),
    };
    let op_name = op.tag_name().name();
    // An operation's parameters: its children in the messages namespace.
    let param = |name: &str| in_ns(op, name, MESSAGES_NS).map(xml::text);
    if inner.busy_left > 0 {
        inner.busy_left -= 1;
        inner.stats.busy_faults += 1;
        let ms = inner.knobs.busy_backoff_ms;
        return fault(
            is2013,
            "ErrorServerBusy",
            "The server cannot service this request right now. Try again later.",
            &format!(
                "<t:MessageXml xmlns:t=\"http://schemas.microsoft.com/exchange/services/2006/types\"><t:Value Name=\"Policy\">MaxConcurrency</t:Value><t:Value Name=\"BackOffMilliseconds\">{ms}</t:Value></t:MessageXml>"
            ),
        );
    }
    if op_name == "GetServerTimeZones" {
        return message(
            is2013,
            "GetServerTimeZones",
            "NoError",
            "",
            "<TimeZoneDefinitions/>",
        );
    }
    if op_name == "GetUserPhoto" {
        let (Some(email), Some(size)) = (param("Email"), param("SizeRequested")) else {
            return schema("GetUserPhoto needs Email and SizeRequested.");
        };
        if !SIZE_CODES.contains(&size.as_str()) {
            return schema("SizeRequested is not a UserPhotoSizeType value.");
        }
        let key = email.trim().to_lowercase();
        if !inner.mailboxes.contains(&key) {
            return message(
                is2013,
                "GetUserPhoto",
                "ErrorNonExistentMailbox",
                "No mailbox with such guid.",
                "<HasChanged>false</HasChanged>",
            );
        }
        let extra = match inner.photos.get(&key) {
            Some(bytes) => format!(
                "<HasChanged>true</HasChanged><PictureData>{}</PictureData><ContentType>image/jpeg</ContentType>",
                base64::engine::general_purpose::STANDARD.encode(bytes)
            ),
            None => "<HasChanged>false</HasChanged>".to_owned(),
        };
        return message(is2013, "GetUserPhoto", "NoError", "", &extra);
    }
    if op_name == "SetUserPhoto" {
        if is2013 {
            return schema("The element 'Body' in namespace 'http://schemas.xmlsoap.org/soap/envelope/' has invalid child element 'SetUserPhoto' in namespace 'http://schemas.microsoft.com/exchange/services/2006/messages'.");
        }
        let (Some(email), Some(content)) = (param("Email"), param("Content")) else {
            return schema("SetUserPhoto needs Email and Content.");
        };
        if let Some(t) = param("TypeRequested") {
            if t != "UserPhoto" && t != "ProfileHeaderPhoto" {
                return schema("TypeRequested is not a UserPhotoTypeType value.");
            }
        }
        let Ok(bytes) = base64::engine::general_purpose::STANDARD
            .decode(content.split_whitespace().collect::<String>())
        else {
            return schema("Content is not base64Binary.");
        };
        let key = email.trim().to_lowercase();
        if !inner.mailboxes.contains(&key) {
            return message(
                is2013,
                "SetUserPhoto",
                "ErrorNonExistentMailbox",
                "No mailbox with such guid.",
                "",
            );
        }
        if inner.denied.contains(&key) {
            return message(
                is2013,
                "SetUserPhoto",
                "ErrorAccessDenied",
                "Access is denied. Check credentials and try again.",
                "",
            );
        }
        inner.photos.insert(key, bytes);
        inner.stats.photos_set += 1;
        return message(is2013, "SetUserPhoto", "NoError", "", "");
    }
    fault(
        is2013,
        "ErrorInvalidRequest",
        "The request is invalid: this emulator knows GetServerTimeZones, GetUserPhoto and SetUserPhoto.",
        "",
    )
}
