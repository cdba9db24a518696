//! Exchange Server on-premises through Exchange Web Services (EWS): the HD
//! (648×648) photo kept in the mailbox.
//!
//! Why a backend of its own: Exchange 2016, 2019 and Subscription Edition
//! keep the HD photo in the mailbox, and the only way to it that does not
//! need Windows PowerShell remoting is EWS:
//!
//! * **read**: the REST form of `GetUserPhoto` (Exchange 2013 and later),
//!   `GET {ews_url}/s/GetUserPhoto?email=…&size=HR648x648`: 200 with the
//!   image, 404 when the mailbox has no photo. Any other answer is asked
//!   again through the SOAP `GetUserPhoto`, whose `ResponseCode` tells a
//!   missing mailbox (`ErrorNonExistentMailbox` → [`PhotoLookup::NoMailbox`])
//!   from a refusal (`ErrorAccessDenied` → [`PhotoLookup::NotAccessible`]);
//! * **write**: the SOAP `SetUserPhoto` (MS-OXWSCONT §3.1.4.8; Exchange
//!   2016 and later, not 2013) with `RequestServerVersion Exchange2016`,
//!   the photo base64 in `Content`, `TypeRequested` `UserPhoto`. A server
//!   that does not know the operation or the version (Exchange 2013) is
//!   explained: "Exchange 2016 or later is required";
//! * **remove**: EWS has no operation that removes a user photo (the
//!   MS-OXWSCONT photo operations are `GetUserPhoto` and `SetUserPhoto`
//!   only). [`remove_photo`](Directory::remove_photo) answers
//!   [`Error::NotSupported`] naming the Exchange Management Shell command
//!   that does it, `Remove-UserPhoto`, and the capabilities say
//!   `can_delete = false`, so the UI and `detect` show it;
//! * **busy**: `ErrorServerBusy` carries a `BackOffMilliseconds` hint; it is
//!   waited (at most [`EwsDirectoryBuilder::max_backoff`]) and the request
//!   sent again, up to three times, then [`Error::Throttled`];
//! * **users** are not EWS's business: the backend is a photo store keyed by
//!   the primary SMTP address, and lists and resolves users through another
//!   directory (Active Directory, whose `mail` is that address). A user
//!   without `mail` has no mailbox.
//!
//! Authentication ([`EwsAuth`]) is NTLM (the default: Windows
//! authentication is what the EWS virtual directory allows out of the box;
//! see [`http`](self) for why each NTLM session is a connection of its own)
//! or HTTP Basic. Kerberos/Negotiate is not built in. TLS is verified
//! against the system's roots plus an optional `ca_file`; plain `http://`
//! only with `allow_insecure` (tests).

mod answers;
mod builder;
mod http;
mod negotiate;
mod ntlm;
mod xml;

use answers::{
    classify, is_access_denied, is_no_mailbox, is_version_error, parse_server_info, Reply,
};
pub use builder::EwsDirectoryBuilder;

pub use http::EwsAuth;
use http::{HttpError, Incoming, Outgoing, Transport};

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use futures::stream::BoxStream;

use crate::capabilities::Capabilities;
use crate::directory::Directory;
use crate::error::{Error, Result};
use crate::photo::{Photo, PhotoLookup};
use crate::user::{FindResult, User, UserKey, UserQuery};

/// The schema version requests are sent with (SetUserPhoto needs 2016).
pub const REQUEST_SERVER_VERSION: &str = "Exchange2016";

/// The REST size code of the HD photo.
pub const HD_SIZE_CODE: &str = "HR648x648";

const SOAP_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const TYPES_NS: &str = "http://schemas.microsoft.com/exchange/services/2006/types";
const MESSAGES_NS: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";

/// How often a request that met `ErrorServerBusy` is sent again.
const BUSY_RETRIES: u32 = 3;

/// What [`Directory::remove_photo`] answers.
pub const REMOVE_NOT_SUPPORTED: &str = "remove photos: EWS has no operation for it (only GetUserPhoto and SetUserPhoto); remove it on the Exchange server with `Remove-UserPhoto -Identity <mailbox>` in the Exchange Management Shell";

/// What a server without SetUserPhoto (Exchange 2013) is told.
pub const SET_NOT_SUPPORTED: &str = "write photos: this server does not support SetUserPhoto; Exchange 2016 or later is required (on Exchange 2013 use `Set-UserPhoto` in the Exchange Management Shell)";

/// The Exchange server as it describes itself (`ServerVersionInfo`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerInfo {
    /// `MajorVersion` (15 for 2013, 2016, 2019 and Subscription Edition).
    pub major: u32,
    /// `MinorVersion` (15.0 is 2013, 15.1 is 2016, 15.2 is 2019 / SE).
    pub minor: u32,
    /// `MajorBuildNumber`.
    pub build: u32,
    /// The `Version` attribute, e.g. `V2017_07_11` or `Exchange2013`.
    pub version: String,
}

impl ServerInfo {
    /// Whether this server has `SetUserPhoto` (Exchange 2016 = 15.1 or later).
    pub fn supports_set_user_photo(&self) -> bool {
        (self.major, self.minor) >= (15, 1)
    }

    /// `Exchange 2016 (15.1.2507)` and the like.
    pub fn product(&self) -> String {
        let name = match (self.major, self.minor) {
            (15, 0) => "Exchange 2013",
            (15, 1) => "Exchange 2016",
            (15, 2) => "Exchange 2019 or Subscription Edition",
            (14, _) => "Exchange 2010",
            _ => "Exchange",
        };
        format!("{name} ({}.{}.{})", self.major, self.minor, self.build)
    }
}

/// Counters for tests and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EwsStats {
    /// HTTP requests sent (REST and SOAP).
    pub requests: u64,
    /// `ErrorServerBusy` answers met.
    pub busy: u64,
    /// Milliseconds waited because the server asked to back off.
    pub backoff_ms: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    busy: AtomicU64,
    backoff_ms: AtomicU64,
}

/// Exchange Server's mailbox photos through EWS (see the module docs).
pub struct EwsDirectory {
    url: String,
    username: String,
    auth: EwsAuth,
    password_source: String,
    max_backoff: Duration,
    timeout: Duration,
    transport: Transport,
    users: Arc<dyn Directory>,
    caps: Capabilities,
    server: Option<ServerInfo>,
    counters: Arc<Counters>,
}

impl fmt::Debug for EwsDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EwsDirectory")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for EwsDirectory {
    /// `Exchange EWS https://mail.example.com/EWS/Exchange.asmx`, plus, when
    /// the server was probed, its version and whether it has `SetUserPhoto`
    /// (`detect` shows this; messages built from capabilities, such as
    /// "… cannot write photos", then say why).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Exchange EWS {}", self.url)?;
        match &self.server {
            Some(info) if !info.supports_set_user_photo() => write!(
                f,
                " ({}: no SetUserPhoto; Exchange 2016 or later is required to write photos)",
                info.product()
            ),
            Some(info) => write!(f, " ({}, SetUserPhoto supported)", info.product()),
            None => Ok(()),
        }
    }
}

impl EwsDirectory {
    /// A builder.
    pub fn builder() -> EwsDirectoryBuilder {
        EwsDirectoryBuilder::default()
    }

    /// The configured EWS URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The account requests are made as.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// How requests sign in.
    pub fn auth(&self) -> EwsAuth {
        self.auth
    }

    /// What the server said it is, if the builder was told
    /// ([`EwsDirectoryBuilder::server`]).
    pub fn server(&self) -> Option<&ServerInfo> {
        self.server.as_ref()
    }

    /// Request counters.
    pub fn stats(&self) -> EwsStats {
        EwsStats {
            requests: self.counters.requests.load(Ordering::Relaxed),
            busy: self.counters.busy.load(Ordering::Relaxed),
            backoff_ms: self.counters.backoff_ms.load(Ordering::Relaxed),
        }
    }

    /// Asks the server who it is (a `GetServerTimeZones` request without
    /// data, which every EWS version answers) and checks the credentials.
    ///
    /// # Errors
    /// `Unauthenticated`, `Unavailable`, `Timeout`, or `Other` for an answer
    /// without `ServerVersionInfo`.
    pub async fn server_info(&self) -> Result<ServerInfo> {
        let body = "<m:GetServerTimeZones ReturnFullTimeZoneData=\"false\"></m:GetServerTimeZones>";
        // Exchange2013 here: any 2013+ server accepts it, so the answer tells the version.
        let text = self
            .soap_raw(body, "GetServerTimeZones", "Exchange2013")
            .await?;
        parse_server_info(&text).ok_or_else(|| {
            Error::other(
                self.to_string(),
                "the answer to GetServerTimeZones has no ServerVersionInfo header; is this an Exchange EWS URL?",
            )
        })
    }

    fn mail_of<'u>(&self, user: &'u User) -> Option<&'u str> {
        user.mail
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
    }

    /// Sends one request, counted, and maps what went wrong to an [`Error`].
    async fn send(&self, out: &Outgoing<'_>) -> Result<Incoming> {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        self.transport.send(out).await.map_err(|e| match e {
            HttpError::Timeout => Error::Timeout {
                after: self.timeout,
            },
            HttpError::Transport(why) if why.contains("certificate") => Error::Unavailable {
                message: format!(
                    "cannot reach {}: {why} (if the server's certificate comes from an internal CA, give that CA as ca_file in [exchange])",
                    self.url
                ),
            },
            HttpError::Transport(why) => Error::Unavailable {
                message: format!("cannot reach {}: {why}", self.url),
            },
            HttpError::NtlmNotOffered { offered } => Error::Unauthenticated {
                message: format!(
                    "EWS at {} does not offer NTLM (it offers: {offered})",
                    self.url
                ),
                hint: if offered.to_ascii_lowercase().contains("basic") {
                    "set auth = \"basic\" in [exchange], or enable Windows authentication on the EWS virtual directory".into()
                } else {
                    "enable Windows authentication (NTLM) on the EWS virtual directory".into()
                },
            },
            HttpError::Ntlm(why) => Error::other(self.to_string(), why),
            HttpError::Kerberos { message, no_ticket } => Error::Unauthenticated {
                message: format!("signing in to EWS at {} with Kerberos: {message}", self.url),
                hint: if no_ticket {
                    crate::ldap::ticket_hint(realm_of_host(&self.url).as_deref())
                } else {
                    "the Exchange server's account must have the service name HTTP/<host of ews_url> (setspn -L), and ews_url must use that name; or add username and password_env to [exchange] for the NTLM fallback".into()
                },
            },
            HttpError::TooLarge => Error::other(
                self.to_string(),
                format!(
                    "the answer from {} is larger than {} MiB, so it was not read; check that ews_url points at Exchange Web Services (…/EWS/Exchange.asmx)",
                    self.url,
                    http::MAX_ANSWER_BYTES / (1024 * 1024)
                ),
            ),
        })
    }

    fn unauthenticated(&self) -> Error {
        if self.auth == EwsAuth::Kerberos && self.username.is_empty() {
            return Error::Unauthenticated {
                message: format!(
                    "EWS at {} refused the Kerberos sign-in of the ticket's user",
                    self.url
                ),
                hint: "check that your account may open the mailboxes (Full Access or ApplicationImpersonation)".into(),
            };
        }
        let hint = match self.auth {
            EwsAuth::Basic => format!(
                "check username (DOMAIN\\user or a UPN) and {}; Basic authentication must be enabled on the EWS virtual directory (or use auth = \"ntlm\")",
                self.password_source
            ),
            EwsAuth::Ntlm | EwsAuth::Kerberos => format!(
                "check username (DOMAIN\\user or a UPN) and {}; the account must not be locked out",
                self.password_source
            ),
        };
        Error::Unauthenticated {
            message: format!(
                "EWS at {} refused the credentials of {} ({} authentication)",
                self.url,
                self.username,
                self.auth.as_str().to_ascii_uppercase()
            ),
            hint,
        }
    }

    /// Sends one SOAP request; returns the body of any answer that is XML.
    async fn soap_raw(&self, body: &str, action: &str, version: &str) -> Result<String> {
        let envelope = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
<soap:Envelope xmlns:soap=\"{SOAP_NS}\" xmlns:t=\"{TYPES_NS}\" xmlns:m=\"{MESSAGES_NS}\">\
<soap:Header><t:RequestServerVersion Version=\"{version}\"/></soap:Header>\
<soap:Body>{body}</soap:Body></soap:Envelope>"
        );
        let url = url::Url::parse(&self.url)
            .map_err(|e| Error::other(self.to_string(), format!("bad URL: {e}")))?;
        let reply = self
            .send(&Outgoing {
                url: &url,
                soap: Some((format!("\"{MESSAGES_NS}/{action}\""), envelope)),
            })
            .await?;
        if reply.status == 401 {
            return Err(self.unauthenticated());
        }
        let text = String::from_utf8_lossy(&reply.body).into_owned();
        if !text.trim_start().starts_with('<') {
            return Err(match reply.status {
                503 => Error::Unavailable {
                    message: format!("{} answered 503 Service Unavailable", self.url),
                },
                s => Error::other(
                    self.to_string(),
                    format!("{action} answered HTTP {s} without a SOAP body"),
                ),
            });
        }
        Ok(text)
    }

    /// Sends one SOAP request (retrying `ErrorServerBusy` after its back-off)
    /// and classifies the answer.
    async fn soap(&self, body: &str, action: &str) -> Result<Reply> {
        let mut attempt = 0;
        loop {
            let text = self.soap_raw(body, action, REQUEST_SERVER_VERSION).await?;
            let reply = classify(&text);
            if let Reply::Code { code, backoff, .. } = &reply {
                if code == "ErrorServerBusy" {
                    self.counters.busy.fetch_add(1, Ordering::Relaxed);
                    let wait = backoff.unwrap_or(Duration::from_secs(1));
                    if attempt >= BUSY_RETRIES || wait > self.max_backoff {
                        return Err(Error::Throttled {
                            retry_after: Some(wait),
                        });
                    }
                    attempt += 1;
                    tracing::debug!(?wait, attempt, "EWS ErrorServerBusy: backing off");
                    self.counters.backoff_ms.fetch_add(
                        u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                        Ordering::Relaxed,
                    );
                    tokio::time::sleep(wait).await;
                    continue;
                }
            }
            return Ok(reply);
        }
    }

    /// The SOAP `GetUserPhoto`, used when the REST form gave no clear answer.
    async fn get_photo_soap(&self, user: &User, mail: &str) -> Result<PhotoLookup> {
        let body = format!(
            "<m:GetUserPhoto><m:Email>{}</m:Email><m:SizeRequested>{HD_SIZE_CODE}</m:SizeRequested></m:GetUserPhoto>",
            xml::escape(mail)
        );
        match self.soap(&body, "GetUserPhoto").await? {
            Reply::Ok { picture_data } => match picture_data.filter(|d| !d.is_empty()) {
                None => Ok(PhotoLookup::NoPhoto),
                Some(data) => {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(data.split_whitespace().collect::<String>())
                        .map_err(|e| {
                            Error::other(
                                self.to_string(),
                                format!("PictureData of {mail} is not base64: {e}"),
                            )
                        })?;
                    Ok(PhotoLookup::Photo(Photo::new(bytes)?))
                }
            },
            Reply::Code { code, text, .. } => match code.as_str() {
                c if is_no_mailbox(c) => Ok(PhotoLookup::NoMailbox),
                "ErrorItemNotFound" => Ok(PhotoLookup::NoPhoto),
                c if is_access_denied(c) => Ok(PhotoLookup::NotAccessible {
                    reason: format!(
                        "Exchange refused to show the photo of {user} ({code}: {text})"
                    ),
                }),
                _ => Err(self.code_error(&code, &text, "reading the photo", mail)),
            },
        }
    }

    fn code_error(&self, code: &str, text: &str, what: &str, mail: &str) -> Error {
        Error::other(
            self.to_string(),
            format!(
                "{what} of {mail} failed: {code}{}",
                if text.is_empty() {
                    String::new()
                } else {
                    format!(" ({text})")
                }
            ),
        )
    }
}

/// [`classify`] and [`parse_server_info`] for `crate::fuzzing`.
pub(crate) fn fuzz_classify(text: &str) -> String {
    let _ = parse_server_info(text);
    format!("{:?}", classify(text))
}

#[async_trait]
impl Directory for EwsDirectory {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn list_users(&self, query: &UserQuery) -> BoxStream<'_, Result<User>> {
        self.users.list_users(query)
    }

    async fn find_users(&self, key: UserKey, values: &[String]) -> Result<Vec<FindResult>> {
        self.users.find_users(key, values).await
    }

    async fn get_photo(&self, user: &User) -> Result<PhotoLookup> {
        let Some(mail) = self.mail_of(user) else {
            return Ok(PhotoLookup::NoMailbox);
        };
        let mut url = match url::Url::parse(&format!("{}/s/GetUserPhoto", self.url)) {
            Ok(u) => u,
            Err(e) => return Err(Error::other(self.to_string(), format!("bad URL: {e}"))),
        };
        url.query_pairs_mut()
            .append_pair("email", mail)
            .append_pair("size", HD_SIZE_CODE);
        let mut attempt = 0;
        loop {
            let reply = self
                .send(&Outgoing {
                    url: &url,
                    soap: None,
                })
                .await?;
            match reply.status {
                200 => {
                    if reply.body.is_empty() {
                        return Ok(PhotoLookup::NoPhoto);
                    }
                    return Ok(PhotoLookup::Photo(Photo::new(reply.body)?));
                }
                404 => return Ok(PhotoLookup::NoPhoto),
                401 => return Err(self.unauthenticated()),
                503 if attempt < BUSY_RETRIES => {
                    attempt += 1;
                    self.counters.busy.fetch_add(1, Ordering::Relaxed);
                    let wait = reply
                        .retry_after
                        .map_or(Duration::from_secs(1), Duration::from_secs)
                        .min(self.max_backoff);
                    tokio::time::sleep(wait).await;
                }
                // Anything else: the SOAP form says why (no mailbox, denied, busy…).
                _ => return self.get_photo_soap(user, mail).await,
            }
        }
    }

    async fn set_photo(&self, user: &User, photo: &Photo) -> Result<()> {
        self.caps.check_photo(photo)?;
        let Some(mail) = self.mail_of(user) else {
            return Err(Error::Precondition {
                message: format!(
                    "{user} has no mail address, so no Exchange mailbox to hold the photo; give the user a mailbox or use another target"
                ),
            });
        };
        let body = format!(
            "<m:SetUserPhoto><m:Email>{}</m:Email><m:Content>{}</m:Content><m:TypeRequested>UserPhoto</m:TypeRequested></m:SetUserPhoto>",
            xml::escape(mail),
            base64::engine::general_purpose::STANDARD.encode(photo.bytes())
        );
        match self.soap(&body, "SetUserPhoto").await? {
            Reply::Ok { .. } => Ok(()),
            Reply::Code { code, text, .. } => Err(match code.as_str() {
                c if is_no_mailbox(c) => Error::Precondition {
                    message: format!(
                        "{user} ({mail}) has no Exchange mailbox ({code}); create the mailbox, or write the photo to another target"
                    ),
                },
                c if is_access_denied(c) => Error::PermissionDenied {
                    message: format!("Exchange refused to change the photo of {user} ({mail}): {code}"),
                    hint: format!(
                        "give {} the right to change this mailbox's photo (Full Access on the mailbox, or the ApplicationImpersonation role)",
                        self.username
                    ),
                },
                c if is_version_error(c) => Error::NotSupported {
                    operation: SET_NOT_SUPPORTED,
                    backend: format!("{self} ({code}: {text})"),
                },
                "ErrorInvalidPhotoSize" | "ErrorPhotoTooLarge" | "ErrorInvalidImageFormat" => {
                    Error::PhotoRejected {
                        reason: format!("Exchange answered {code}: {text}"),
                    }
                }
                _ => self.code_error(&code, &text, "writing the photo", mail),
            }),
        }
    }

    async fn remove_photo(&self, _user: &User) -> Result<()> {
        Err(Error::NotSupported {
            operation: REMOVE_NOT_SUPPORTED,
            backend: self.to_string(),
        })
    }
}

/// The Kerberos realm a server's DNS name suggests
/// (`mail.corp.example.com` → `CORP.EXAMPLE.COM`), for the `kinit` hint.
fn realm_of_host(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let (_, domain) = parsed.host_str()?.split_once('.')?;
    (domain.contains('.') && !domain.chars().all(|c| c.is_ascii_digit() || c == '.'))
        .then(|| domain.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_and_response_codes_are_classified() {
        let busy = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>
            <faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">a:ErrorServerBusy</faultcode>
            <faultstring xml:lang="en-US">The server cannot service this request right now. Try again later.</faultstring>
            <detail><e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">ErrorServerBusy</e:ResponseCode>
            <e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">The server cannot service this request right now. Try again later.</e:Message>
            <t:MessageXml xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
            <t:Value Name="Policy">MaxConcurrency</t:Value><t:Value Name="BackOffMilliseconds">297</t:Value></t:MessageXml>
            </detail></s:Fault></s:Body></s:Envelope>"#;
        match classify(busy) {
            Reply::Code { code, backoff, .. } => {
                assert_eq!(code, "ErrorServerBusy");
                assert_eq!(backoff, Some(Duration::from_millis(297)));
            }
            other => panic!("{other:?}"),
        }
        let fault_only = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>a:ErrorInvalidServerVersion</faultcode>
            <faultstring>The specified server version is invalid.</faultstring></s:Fault></s:Body></s:Envelope>"#;
        match classify(fault_only) {
            Reply::Code { code, text, .. } => {
                assert_eq!(code, "ErrorInvalidServerVersion");
                assert!(is_version_error(&code));
                assert_eq!(text, "The specified server version is invalid.");
            }
            other => panic!("{other:?}"),
        }
        let ok = r#"<s:Envelope xmlns:s="s" xmlns:m="m"><s:Body><m:SetUserPhotoResponse ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode></m:SetUserPhotoResponse></s:Body></s:Envelope>"#;
        assert!(matches!(classify(ok), Reply::Ok { picture_data: None }));
        let photo = r#"<s:Envelope xmlns:s="s"><s:Body><GetUserPhotoResponse ResponseClass="Success" xmlns="m"><ResponseCode>NoError</ResponseCode>
            <HasChanged>true</HasChanged><PictureData> /9j/
            4AA= </PictureData></GetUserPhotoResponse></s:Body></s:Envelope>"#;
        assert!(
            matches!(classify(photo), Reply::Ok { picture_data: Some(d) } if d == "/9j/\n            4AA=")
        );
        assert!(
            matches!(classify("<html>oops</html>"), Reply::Code { code, .. } if code == "NoResponseCode")
        );
    }

    #[test]
    fn server_versions_say_whether_set_user_photo_exists() {
        let v = |major, minor| ServerInfo {
            major,
            minor,
            build: 1,
            version: String::new(),
        };
        assert!(!v(15, 0).supports_set_user_photo());
        assert!(v(15, 1).supports_set_user_photo());
        assert!(v(15, 2).supports_set_user_photo());
        assert!(v(15, 0).product().starts_with("Exchange 2013"));
        let text = r#"<s:Header xmlns:s="s"><h:ServerVersionInfo MajorVersion="15" MinorVersion="1" MajorBuildNumber="2507" MinorBuildNumber="6" Version="V2017_07_11" xmlns:h="x"/></s:Header>"#;
        let info = parse_server_info(text).expect("info");
        assert_eq!((info.major, info.minor, info.build), (15, 1, 2507));
        assert_eq!(info.version, "V2017_07_11");
    }
}
