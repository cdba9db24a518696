//! Microsoft 365 / Entra ID through Microsoft Graph: the `m365` target.
//!
//! Why: since Microsoft retired the Exchange Online photo cmdlets, Graph is
//! the only supported way to manage profile photos in the cloud. Graph is
//! throttled, eventually consistent and strict about auth; this backend
//! handles each of those once, so the engine above sees a plain
//! [`Directory`]:
//!
//! * **auth** ([`credential`](self::GraphCredential)): app-only sign-in with
//!   a client secret or a certificate (JWT client assertion), one token
//!   shared and renewed before expiry and after a 401;
//! * **transport** (`transport.rs`): the one place requests are retried
//!   (429/503/504 honouring `Retry-After`, else exponential backoff with
//!   jitter, bounded by count and total time), behind one adaptive limiter
//!   per app and tenant (`limiter.rs`);
//! * **users**: `GET /v1.0/users?$select=…&$top=999`, following
//!   `@odata.nextLink` verbatim page by page as a stream; searches and
//!   lookups use `$filter` (`startswith`, `in` with at most 15 values);
//! * **photos**: `GET /users/{id}/photo/$value`, `PUT` (JPEG or PNG,
//!   ≤ 4 MB, checked before sending), `DELETE /users/{id}/photo`; 404
//!   `ImageNotFound` is "no photo", mailbox errors are "no mailbox", 403
//!   names the permission to grant;
//! * **read-after-write**: [`Capabilities::read_after_write`] is the
//!   configured patience (default 30 s) that
//!   [`DirectoryExt::verify_photo`](crate::DirectoryExt::verify_photo)
//!   waits for a write to show;
//! * **hybrid**: [`find_in_cloud`] finds an Active Directory user here by
//!   UPN, then mail, then `onPremisesSamAccountName` (configurable).
//!
//! Tests run it against the Graph emulator (`userphoto-emulators`); see
//! `docs/M365.md` for registering the app in Entra ID.

// check_endpoint is shared with the `google` backend.
pub(crate) mod builder;
// TokenSlot is shared with the `google` backend.
pub(crate) mod credential;
mod device;
pub(crate) mod errors;
pub(crate) mod http;
mod hybrid;
mod limiter;
mod photo_settings;
// Shared with the `google` backend: backoff, body limit, Retry-After.
pub(crate) mod transport;

use std::collections::VecDeque;
use std::fmt;

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt as _};
use reqwest::Method;
use serde::Deserialize;

pub use self::builder::{GraphBuilder, DEFAULT_GRAPH_URL, DEFAULT_LOGIN_URL, DEFAULT_MATCH_ORDER};
pub use self::credential::{CertificateCredential, GraphCredential};
pub use self::device::{device_code_login, DevicePrompt, TokenFile};
pub use self::hybrid::find_in_cloud;
pub use self::transport::RetryConfig;

use self::errors::{general, WRITE_PERMISSION_HINT};
use self::transport::{Answer, Request, Transport};
use crate::capabilities::Capabilities;
use crate::directory::Directory;
use crate::error::{Error, Result};
use crate::photo::{Photo, PhotoLookup};
use crate::user::{normalize_key, FindResult, User, UserKey, UserQuery};

/// The properties asked for in every user listing.
const SELECT: &str =
    "id,userPrincipalName,mail,mailNickname,displayName,onPremisesSamAccountName,employeeId,accountEnabled";
/// The largest page Graph gives for users.
const MAX_PAGE: usize = 999;
/// The most values Graph accepts in one `in (…)` clause.
const MAX_IN_VALUES: usize = 15;

/// Microsoft 365 / Entra ID through Microsoft Graph. Build one with
/// [`GraphBuilder`].
pub struct GraphDirectory {
    graph_url: String,
    tenant_id: String,
    client_id: String,
    caps: Capabilities,
    match_order: Vec<UserKey>,
    transport: Transport,
}

impl fmt::Debug for GraphDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphDirectory")
            .field("graph_url", &self.graph_url)
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for GraphDirectory {
    /// `Microsoft Graph https://graph.microsoft.com (tenant …)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Microsoft Graph {} (tenant {})",
            self.graph_url, self.tenant_id
        )
    }
}

/// A user as Graph returns it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphUser {
    id: String,
    user_principal_name: Option<String>,
    mail: Option<String>,
    mail_nickname: Option<String>,
    display_name: Option<String>,
    on_premises_sam_account_name: Option<String>,
    employee_id: Option<String>,
    account_enabled: Option<bool>,
}

impl From<GraphUser> for User {
    fn from(g: GraphUser) -> Self {
        let mut u = User::new(g.id);
        u.upn = g.user_principal_name;
        u.mail = g.mail;
        u.alias = g.mail_nickname;
        u.display_name = g.display_name;
        u.sam_account_name = g.on_premises_sam_account_name;
        u.employee_id = g.employee_id;
        u.enabled = g.account_enabled;
        u
    }
}

/// A page of `/users` read and turned into users, for `crate::fuzzing`.
pub(crate) fn fuzz_user_page(body: &[u8]) {
    if let Ok(page) = serde_json::from_slice::<UserPage>(body) {
        let users: Vec<User> = page.value.into_iter().map(User::from).collect();
        let _ = (users.len(), page.next_link);
    }
}

/// One page of `/users`.
#[derive(Debug, Deserialize)]
struct UserPage {
    #[serde(default)]
    value: Vec<GraphUser>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

/// Where a listing is.
struct Listing {
    next: Option<String>,
    buffered: VecDeque<User>,
    yielded: usize,
}

/// The Graph property for a lookup key.
fn property(key: UserKey) -> &'static str {
    match key {
        UserKey::Upn => "userPrincipalName",
        UserKey::Mail => "mail",
        UserKey::Alias => "mailNickname",
        UserKey::SamAccountName => "onPremisesSamAccountName",
        UserKey::EmployeeId => "employeeId",
        UserKey::DisplayName => "displayName",
        UserKey::Id => "id",
    }
}

/// An OData string literal: quotes doubled, so a value is data, never
/// syntax.
fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Whether `value` is shaped like a Graph object id (a GUID); Graph answers
/// 400 to an `id` filter with anything else.
fn is_guid(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

impl GraphDirectory {
    /// Settings for the app `client_id` in `tenant_id`.
    pub fn builder(tenant_id: impl Into<String>, client_id: impl Into<String>) -> GraphBuilder {
        GraphBuilder::new(tenant_id, client_id)
    }

    /// Signs in now (or reuses a valid token), so a wrong secret or an
    /// unregistered certificate is reported before any work starts.
    ///
    /// # Errors
    /// [`Error::Unauthenticated`] with the AADSTS code explained, or
    /// [`Error::Unavailable`] when the login endpoint cannot be reached.
    pub async fn sign_in(&self) -> Result<()> {
        self.transport.tokens.get().await.map(drop)
    }

    /// The application (client) id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The keys an on-premises user is looked for by (see [`find_in_cloud`]).
    pub fn match_order(&self) -> &[UserKey] {
        &self.match_order
    }

    /// How many times this directory signed in (renewals included).
    pub fn sign_ins(&self) -> u64 {
        self.transport.tokens.sign_ins()
    }

    /// How many 429 answers this directory's requests received.
    pub fn throttled_count(&self) -> u64 {
        self.transport
            .counters
            .throttled
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many requests were sent (retries included).
    pub fn requests_sent(&self) -> u64 {
        self.transport
            .counters
            .sent
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The photo at one of Graph's sizes (48, 64, 96, 120, 240, 360, 432,
    /// 504, 648) — `648` is the HD photo "use existing HD" starts from.
    ///
    /// # Errors
    /// As for [`Directory::get_photo`].
    pub async fn get_photo_sized(&self, user: &User, size: u32) -> Result<PhotoLookup> {
        let url = self.user_url(&user.id, &["photos", &format!("{size}x{size}"), "$value"])?;
        self.read_photo(user, url).await
    }

    /// `{graph}/v1.0/users/{id}/{rest…}` with each segment escaped.
    fn user_url(&self, id: &str, rest: &[&str]) -> Result<String> {
        let mut url = url::Url::parse(&self.graph_url)
            .map_err(|e| Error::other(self.to_string(), format!("graph_url: {e}")))?;
        {
            let mut segments = url
                .path_segments_mut()
                .map_err(|()| Error::other(self.to_string(), "graph_url cannot hold a path"))?;
            segments.pop_if_empty().extend(["v1.0", "users", id]);
            segments.extend(rest);
        }
        Ok(url.to_string())
    }

    /// `{graph}/v1.0/users?$select=…&$top=…[&$filter=…]`.
    fn users_url(&self, filter: Option<&str>, top: usize) -> Result<String> {
        let mut url = url::Url::parse(&format!("{}/v1.0/users", self.graph_url))
            .map_err(|e| Error::other(self.to_string(), format!("graph_url: {e}")))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("$select", SELECT);
            q.append_pair("$top", &top.clamp(1, MAX_PAGE).to_string());
            if let Some(f) = filter {
                q.append_pair("$filter", f);
                q.append_pair("$count", "true");
            }
        }
        Ok(url.to_string())
    }

    /// Fetches one page (a first URL we built, or a nextLink verbatim).
    async fn page(&self, url: &str) -> Result<UserPage> {
        let req = Request::new(Method::GET, url, "listing users")
            // Needed by Graph for advanced queries ($count, startswith on
            // some properties); harmless otherwise.
            .header("ConsistencyLevel", "eventual");
        let answer = self.transport.send(&req).await?;
        if !answer.is_success() {
            let f = answer.failure();
            return Err(match f.status {
                403 => Error::PermissionDenied {
                    message: format!("Microsoft Graph refused to list users ({})", f.describe()),
                    hint: "grant the app the Microsoft Graph application permission User.Read.All (and ProfilePhoto.ReadWrite.All to change photos), then grant admin consent".to_owned(),
                },
                _ => general(&f, "listing users", &self.to_string()),
            });
        }
        serde_json::from_slice(&answer.body).map_err(|e| {
            Error::other(
                self.to_string(),
                format!("a page of users could not be read ({e})"),
            )
        })
    }

    async fn read_photo(&self, user: &User, url: String) -> Result<PhotoLookup> {
        let what = format!("reading the photo of {user}");
        let answer = self
            .transport
            .send(&Request::new(Method::GET, url, what.clone()))
            .await?;
        if answer.is_success() {
            return Photo::new(answer.body)
                .map(PhotoLookup::Photo)
                .map_err(|e| {
                    Error::other(
                        self.to_string(),
                        format!("the photo of {user} is not an image we can read ({e})"),
                    )
                });
        }
        let f = answer.failure();
        match f.status {
            404 if f.is_no_mailbox() => Ok(PhotoLookup::NoMailbox),
            404 if f.is_no_user() => Err(self.no_user(user)),
            404 => Ok(PhotoLookup::NoPhoto),
            403 => Ok(PhotoLookup::NotAccessible {
                reason: format!(
                    "Microsoft Graph refused to read it ({}); grant ProfilePhoto.Read.All or User.Read.All",
                    f.describe()
                ),
            }),
            _ => Err(general(&f, &what, &self.to_string())),
        }
    }

    fn no_user(&self, user: &User) -> Error {
        Error::NotFound {
            what: format!("{user} in {self}"),
        }
    }

    /// Maps a refused write or removal.
    fn write_error(&self, user: &User, answer: &Answer, what: &str) -> Error {
        let f = answer.failure();
        match f.status {
            404 if f.is_no_mailbox() => Error::Precondition {
                message: format!(
                    "{user} has no mailbox in Microsoft 365, so it holds no photo there ({}); give the user a mailbox (a licence with Exchange Online) or write to Active Directory instead",
                    f.describe()
                ),
            },
            404 => self.no_user(user),
            403 => Error::PermissionDenied {
                message: format!("Microsoft Graph refused {what} ({})", f.describe()),
                hint: WRITE_PERMISSION_HINT.to_owned(),
            },
            400 | 413 | 415 => Error::photo_rejected(format!(
                "Microsoft Graph refused it ({}); send a JPEG or PNG of at most 4 MB",
                f.describe()
            )),
            _ => general(&f, what, &self.to_string()),
        }
    }

    /// Every user matching `filter`, all pages.
    async fn query_all(&self, filter: &str) -> Result<Vec<User>> {
        let mut out = Vec::new();
        let mut next = Some(self.users_url(Some(filter), MAX_PAGE)?);
        while let Some(url) = next {
            let page = self.page(&url).await?;
            out.extend(page.value.into_iter().map(User::from));
            next = page.next_link;
        }
        Ok(out)
    }
}

#[async_trait]
impl Directory for GraphDirectory {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn list_users(&self, query: &UserQuery) -> BoxStream<'_, Result<User>> {
        let query = query.clone();
        let filter = query.prefix().map(|p| {
            let p = literal(p.trim());
            [
                "displayName",
                "userPrincipalName",
                "mail",
                "mailNickname",
                "onPremisesSamAccountName",
            ]
            .iter()
            .map(|prop| format!("startswith({prop},{p})"))
            .collect::<Vec<_>>()
            .join(" or ")
        });
        let top = query.limit.map_or(MAX_PAGE, |l| l.clamp(1, MAX_PAGE));
        let first = match self.users_url(filter.as_deref(), top) {
            Ok(url) => url,
            Err(e) => return stream::once(async move { Err(e) }).boxed(),
        };
        let start = Listing {
            next: Some(first),
            buffered: VecDeque::new(),
            yielded: 0,
        };
        stream::try_unfold(start, move |mut st| {
            let query = query.clone();
            async move {
                loop {
                    if query.limit.is_some_and(|l| st.yielded >= l) {
                        return Ok(None);
                    }
                    if let Some(user) = st.buffered.pop_front() {
                        // Graph's startswith is broader on some tenants
                        // (word starts of display names): keep to ours.
                        if query.matches(&user) {
                            st.yielded += 1;
                            return Ok(Some((user, st)));
                        }
                        continue;
                    }
                    let Some(url) = st.next.take() else {
                        return Ok(None);
                    };
                    let page = self.page(&url).await?;
                    st.buffered.extend(page.value.into_iter().map(User::from));
                    // Followed verbatim: the link carries Graph's own state.
                    st.next = page.next_link;
                }
            }
        })
        .boxed()
    }

    async fn find_users(&self, key: UserKey, values: &[String]) -> Result<Vec<FindResult>> {
        self.caps.ensure_key(key, self)?;
        let mut wanted: Vec<&str> = values
            .iter()
            .map(|v| v.trim())
            .filter(|v| !v.is_empty() && (key != UserKey::Id || is_guid(v)))
            .collect();
        wanted.sort_by_key(|v| normalize_key(v));
        wanted.dedup_by_key(|v| normalize_key(v));
        let mut found: Vec<User> = Vec::new();
        for chunk in wanted.chunks(MAX_IN_VALUES) {
            let list: Vec<String> = chunk.iter().map(|v| literal(v)).collect();
            let filter = format!("{} in ({})", property(key), list.join(","));
            found.extend(self.query_all(&filter).await?);
        }
        Ok(values
            .iter()
            .map(|value| {
                let want = normalize_key(value);
                let matches: Vec<User> = found
                    .iter()
                    .filter(|u| {
                        !want.is_empty() && u.key(key).is_some_and(|v| normalize_key(v) == want)
                    })
                    .cloned()
                    .collect();
                let mut unique: Vec<User> = Vec::new();
                for m in matches {
                    if !unique.iter().any(|u| u.same_as(&m)) {
                        unique.push(m);
                    }
                }
                FindResult::from_matches(unique)
            })
            .collect())
    }

    async fn get_photo(&self, user: &User) -> Result<PhotoLookup> {
        let url = self.user_url(&user.id, &["photo", "$value"])?;
        self.read_photo(user, url).await
    }

    async fn set_photo(&self, user: &User, photo: &Photo) -> Result<()> {
        self.caps.check_photo(photo)?;
        let what = format!("writing the photo of {user}");
        let url = self.user_url(&user.id, &["photo", "$value"])?;
        let req = Request::new(Method::PUT, url, what.clone())
            .body(photo.bytes().to_vec(), photo.content_type());
        let answer = self.transport.send(&req).await?;
        if answer.is_success() {
            tracing::debug!(%user, bytes = photo.len(), "m365: photo written");
            Ok(())
        } else {
            Err(self.write_error(user, &answer, &what))
        }
    }

    async fn photo_policy(&self) -> Result<Option<crate::PhotoPolicy>> {
        self.photo_update_settings().await.map(Some)
    }

    async fn remove_photo(&self, user: &User) -> Result<()> {
        let what = format!("removing the photo of {user}");
        let url = self.user_url(&user.id, &["photo"])?;
        let answer = self
            .transport
            .send(&Request::new(Method::DELETE, url, what.clone()))
            .await?;
        if answer.is_success() {
            return Ok(());
        }
        let f = answer.failure();
        // No photo to remove: the wanted end state holds (trait contract).
        if f.status == 404 && !f.is_no_mailbox() && !f.is_no_user() {
            return Ok(());
        }
        Err(self.write_error(user, &answer, &what))
    }
}

#[cfg(test)]
mod tests {
    use super::errors::GraphFailure;
    use super::*;

    #[test]
    fn literals_are_data() {
        assert_eq!(literal("O'Brien"), "'O''Brien'");
        assert_eq!(literal("*)(x"), "'*)(x'");
    }

    #[test]
    fn guids() {
        assert!(is_guid("00000000-0000-4000-8000-000000000001"));
        assert!(!is_guid("emu*"));
        assert!(!is_guid(""));
    }

    #[test]
    fn failure_kinds() {
        let f = GraphFailure::parse(404, br#"{"error":{"code":"Request_ResourceNotFound"}}"#);
        assert!(f.is_no_user());
    }
}
