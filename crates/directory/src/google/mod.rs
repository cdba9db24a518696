//! Google Workspace through the Admin SDK Directory API: the `google`
//! target, the photo Gmail, Chat, Meet and Drive show.
//!
//! * **sign-in** ([`ServiceAccountKey`]): a service account with
//!   domain-wide delegation, acting as an admin (`subject`); an RS256 JWT
//!   exchanged for an access token (jwt-bearer grant), cached until
//!   shortly before it expires;
//! * **transport** (`transport.rs`): the one place requests are paced (the
//!   documented default quota, 2,400 queries a minute per user, slowing
//!   down when Google says it is used up) and retried
//!   (`403 userRateLimitExceeded`/`rateLimitExceeded`, `429`, `5xx`) with
//!   the Graph backend's backoff and jitter; a write is never repeated
//!   after it may have succeeded;
//! * **users**: `users.list` with `customer=my_customer` (or `domain`),
//!   `maxResults=500` (the most Google allows), `pageToken` followed page
//!   by page as a stream, `query` for searches; each user with primary
//!   e-mail, aliases, the `organization` external id (employee id) and
//!   names;
//! * **photos**: `users.photos` get/update/delete, `photoData` in the
//!   web-safe base64 alphabet, `mimeType`, `width`/`height`. Google keeps
//!   96×96 whatever is sent, so 96×96 is prepared (docs/GOOGLE.md);
//! * **replace replaces**: an update can leave a photo the user set
//!   themself in place while reporting success, and a read-back cannot
//!   tell (Google re-encodes what it keeps), so by default the photo is
//!   deleted first — the bulk engine has backed it up before it calls
//!   `set_photo` — as GAM does.
//!
//! Tests run it against the Google Workspace emulator
//! (`userphoto-emulators`).

mod builder;
mod credential;
mod errors;
mod transport;

use std::collections::VecDeque;
use std::fmt;

use async_trait::async_trait;
use base64::Engine as _;
use futures::stream::{self, BoxStream, StreamExt as _};
use reqwest::Method;
use serde::Deserialize;

pub use self::builder::{
    GoogleBuilder, DEFAULT_API_URL, DEFAULT_REQUESTS_PER_MINUTE, DEFAULT_TOKEN_URL,
    MAX_PHOTO_BYTES, PHOTO_PIXELS, USER_SCOPE,
};
pub use self::credential::ServiceAccountKey;
pub use self::transport::{retry_totals, RetryTotals};

use self::errors::{forbidden, GoogleFailure};
use self::transport::{Answer, Request, Transport};
use crate::capabilities::Capabilities;
use crate::directory::Directory;
use crate::error::{Error, Result};
use crate::photo::{Photo, PhotoFormat, PhotoLookup};
use crate::user::{normalize_key, FindResult, User, UserKey, UserQuery};

/// The largest page `users.list` gives.
const MAX_PAGE: usize = 500;

/// Google Workspace through the Admin SDK. Build one with
/// [`GoogleBuilder`].
pub struct GoogleDirectory {
    api_url: String,
    subject: String,
    client_id: String,
    customer: Option<String>,
    domain: Option<String>,
    delete_before_update: bool,
    caps: Capabilities,
    transport: Transport,
}

impl fmt::Debug for GoogleDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleDirectory")
            .field("api_url", &self.api_url)
            .field("subject", &self.subject)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for GoogleDirectory {
    /// `Google Workspace https://admin.googleapis.com (as admin@…)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Google Workspace {} (as {})", self.api_url, self.subject)
    }
}

/// A user as the Directory API returns it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GUser {
    id: String,
    primary_email: String,
    #[serde(default)]
    name: GName,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    emails: Vec<GEmail>,
    #[serde(default)]
    external_ids: Vec<GExternalId>,
    #[serde(default)]
    suspended: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GName {
    #[serde(default)]
    full_name: Option<String>,
    #[serde(default)]
    given_name: Option<String>,
    #[serde(default)]
    family_name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct GEmail {
    #[serde(default)]
    address: String,
}

#[derive(Debug, Deserialize)]
struct GExternalId {
    #[serde(default)]
    value: String,
    #[serde(default, rename = "type")]
    kind: String,
}

/// A user with every address it answers to (aliases are matched too).
#[derive(Clone, Debug)]
struct Found {
    user: User,
    addresses: Vec<String>,
}

impl From<GUser> for Found {
    fn from(g: GUser) -> Self {
        let mut u = User::new(g.id);
        let local = g
            .primary_email
            .split('@')
            .next()
            .unwrap_or_default()
            .to_owned();
        u.upn = Some(g.primary_email.clone());
        u.mail = Some(g.primary_email.clone());
        u.alias = Some(local);
        u.display_name =
            g.name
                .full_name
                .or_else(|| match (g.name.given_name, g.name.family_name) {
                    (Some(a), Some(b)) => Some(format!("{a} {b}")),
                    (a, b) => a.or(b),
                });
        u.employee_id = g
            .external_ids
            .into_iter()
            .find(|e| e.kind.eq_ignore_ascii_case("organization") && !e.value.is_empty())
            .map(|e| e.value);
        u.enabled = g.suspended.map(|s| !s);
        let mut addresses = vec![g.primary_email];
        addresses.extend(g.aliases);
        addresses.extend(g.emails.into_iter().map(|e| e.address));
        addresses.retain(|a| !a.is_empty());
        Found { user: u, addresses }
    }
}

/// One page of `users.list`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserPage {
    #[serde(default)]
    users: Vec<GUser>,
    #[serde(default)]
    next_page_token: Option<String>,
}

/// `users.photos` as returned.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GPhoto {
    #[serde(default)]
    photo_data: String,
}

/// A value inside a `query` clause: single-quoted, `\` and `'` escaped, so
/// a value is data, never syntax.
fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Encodes `photoData` in the web-safe alphabet the reference page asks
/// for (`-` and `_` instead of `+` and `/`), padded with `=` as Google's
/// own client libraries send it.
pub fn encode_photo_data(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}

/// Decodes `photoData` as Google returns it: web-safe, padded or not (the
/// reference page also names `*` and `.` as padding).
fn decode_photo_data(data: &str) -> Option<Vec<u8>> {
    let trimmed = data.trim().trim_end_matches(['=', '*', '.']);
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(trimmed)
        .ok()
}

/// Width and height of a JPEG (from its SOF marker) or PNG (IHDR).
fn dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() >= 24 {
        let be =
            |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        return Some((be(16), be(20)));
    }
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut i = 2;
    while i + 9 < bytes.len() {
        if bytes[i] != 0xFF {
            return None;
        }
        let marker = bytes[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        let len = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
        let sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if sof {
            let h = u32::from(u16::from_be_bytes([bytes[i + 5], bytes[i + 6]]));
            let w = u32::from(u16::from_be_bytes([bytes[i + 7], bytes[i + 8]]));
            return Some((w, h));
        }
        i += 2 + len;
    }
    None
}

impl GoogleDirectory {
    /// Settings acting as the admin `subject`.
    pub fn builder(subject: impl Into<String>) -> GoogleBuilder {
        GoogleBuilder::new(subject)
    }

    /// Signs in now (or reuses a valid token), so a missing delegation or
    /// a wrong subject is reported before any work starts.
    ///
    /// # Errors
    /// [`Error::Unauthenticated`] saying what to fix, or
    /// [`Error::Unavailable`] when the token endpoint cannot be reached.
    pub async fn sign_in(&self) -> Result<()> {
        self.transport.tokens.get().await.map(drop)
    }

    /// The service account's client id (the one domain-wide delegation
    /// is granted to).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The admin acted as.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// How many times this directory signed in.
    pub fn sign_ins(&self) -> u64 {
        self.transport.tokens.sign_ins()
    }

    /// How many quota answers (403 rate limits, 429) were retried or
    /// ended in an error.
    pub fn rate_limited_count(&self) -> u64 {
        self.transport
            .counters
            .rate_limited
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many requests were sent again after a quota answer, a 5xx or a
    /// connection failure.
    pub fn retries(&self) -> u64 {
        self.transport
            .counters
            .retries
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many requests were sent (retries included).
    pub fn requests_sent(&self) -> u64 {
        self.transport
            .counters
            .sent
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// `{api}/admin/directory/v1/users[/{key}/…]` with each segment escaped.
    fn url(&self, rest: &[&str]) -> Result<url::Url> {
        let mut url = url::Url::parse(&self.api_url)
            .map_err(|e| Error::other(self.to_string(), format!("api_url: {e}")))?;
        {
            let mut segments = url
                .path_segments_mut()
                .map_err(|()| Error::other(self.to_string(), "api_url cannot hold a path"))?;
            segments
                .pop_if_empty()
                .extend(["admin", "directory", "v1", "users"]);
            segments.extend(rest);
        }
        Ok(url)
    }

    fn photo_url(&self, user: &User) -> Result<String> {
        Ok(self.url(&[&user.id, "photos", "thumbnail"])?.to_string())
    }

    /// `users.list` for `query`, from `page_token`.
    fn list_url(
        &self,
        query: Option<&str>,
        max: usize,
        page_token: Option<&str>,
    ) -> Result<String> {
        let mut url = self.url(&[])?;
        {
            let mut q = url.query_pairs_mut();
            match (&self.domain, &self.customer) {
                (Some(d), None) => q.append_pair("domain", d),
                (_, Some(c)) => q.append_pair("customer", c),
                (None, None) => q.append_pair("customer", "my_customer"),
            };
            q.append_pair("maxResults", &max.clamp(1, MAX_PAGE).to_string());
            q.append_pair("projection", "basic");
            if let Some(query) = query {
                q.append_pair("query", query);
            }
            if let Some(t) = page_token {
                q.append_pair("pageToken", t);
            }
        }
        Ok(url.to_string())
    }

    /// One page of users.
    async fn page(&self, url: &str) -> Result<UserPage> {
        let answer = self
            .transport
            .send(&Request::new(Method::GET, url, "listing users"))
            .await?;
        if !answer.is_success() {
            return Err(self.general(&answer.failure(), "listing users"));
        }
        serde_json::from_slice(&answer.body).map_err(|e| {
            Error::other(
                self.to_string(),
                format!("a page of users could not be read ({e})"),
            )
        })
    }

    /// Every user matching `query`, all pages.
    async fn query_all(&self, query: &str) -> Result<Vec<Found>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let url = self.list_url(Some(query), MAX_PAGE, token.as_deref())?;
            let page = self.page(&url).await?;
            out.extend(page.users.into_iter().map(Found::from));
            match page.next_page_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => return Ok(out),
            }
        }
    }

    /// `users.get` by id or address; `None` when there is no such user.
    async fn get_user(&self, key: &str) -> Result<Option<Found>> {
        let url = self.url(&[key])?.to_string();
        let answer = self
            .transport
            .send(&Request::new(Method::GET, url, format!("looking up {key}")))
            .await?;
        if answer.status == 404 {
            return Ok(None);
        }
        if !answer.is_success() {
            return Err(self.general(&answer.failure(), &format!("looking up {key}")));
        }
        serde_json::from_slice::<GUser>(&answer.body)
            .map(|g| Some(Found::from(g)))
            .map_err(|e| Error::other(self.to_string(), format!("a user could not be read ({e})")))
    }

    /// The error for a failure no endpoint gives a special meaning.
    fn general(&self, f: &GoogleFailure, what: &str) -> Error {
        match f.status {
            401 => Error::Unauthenticated {
                message: format!("Google refused the access token while {what} ({})", f.describe()),
                hint: "sign-in succeeded but the token was refused: check the service account's domain-wide delegation and the subject".to_owned(),
            },
            403 => forbidden(f, what, &self.subject),
            404 => Error::NotFound {
                what: format!("{what}: {}", f.describe()),
            },
            429 => Error::Throttled { retry_after: None },
            s if s >= 500 => Error::Unavailable {
                message: format!("Google failed while {what} ({})", f.describe()),
            },
            _ => Error::other(self.to_string(), format!("{what} failed ({})", f.describe())),
        }
    }

    /// Whether a 404 is about the user rather than the photo.
    fn is_no_user(f: &GoogleFailure) -> bool {
        f.status == 404 && f.message.contains("userKey")
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
            404 if Self::is_no_user(&f) => self.no_user(user),
            400 | 413 => Error::photo_rejected(format!(
                "Google refused it ({}); send a JPEG or PNG (userphoto prepares a {PHOTO_PIXELS}×{PHOTO_PIXELS} JPEG)",
                f.describe()
            )),
            _ => self.general(&f, what),
        }
    }

    /// `DELETE …/photos/thumbnail`; "no photo" is success.
    async fn delete(&self, user: &User, what: &str) -> Result<()> {
        let url = self.photo_url(user)?;
        let answer = self
            .transport
            .send(&Request::new(Method::DELETE, url, what.to_owned()))
            .await?;
        if answer.is_success() {
            return Ok(());
        }
        let f = answer.failure();
        if f.status == 404 && !Self::is_no_user(&f) {
            return Ok(());
        }
        Err(self.write_error(user, &answer, what))
    }
}

/// Says, in an error after the old photo was deleted, that the user has no
/// photo now and where the old one is.
fn removed_first(e: Error) -> Error {
    const NOTE: &str = "; the previous photo had already been removed (deleted first so the new one replaces it), so the user has none now: run the command again, or put the old one back with userphoto restore";
    match e {
        Error::PhotoRejected { reason } => Error::PhotoRejected {
            reason: format!("{reason}{NOTE}"),
        },
        Error::Unavailable { message } => Error::Unavailable {
            message: format!("{message}{NOTE}"),
        },
        Error::PermissionDenied { message, hint } => Error::PermissionDenied {
            message: format!("{message}{NOTE}"),
            hint,
        },
        other => other,
    }
}

/// Where a listing is.
struct Listing {
    token: Option<String>,
    started: bool,
    buffered: VecDeque<User>,
    yielded: usize,
}

#[async_trait]
impl Directory for GoogleDirectory {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn list_users(&self, query: &UserQuery) -> BoxStream<'_, Result<User>> {
        let query = query.clone();
        // A bare value compares givenName, familyName and email; ours is a
        // prefix, and the result is checked against our own rule below.
        let search = query
            .prefix()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| format!("{}*", quoted(p)));
        let page_size = query.limit.map_or(MAX_PAGE, |l| l.clamp(1, MAX_PAGE));
        let start = Listing {
            token: None,
            started: false,
            buffered: VecDeque::new(),
            yielded: 0,
        };
        stream::try_unfold(start, move |mut st| {
            let query = query.clone();
            let search = search.clone();
            async move {
                loop {
                    if query.limit.is_some_and(|l| st.yielded >= l) {
                        return Ok(None);
                    }
                    if let Some(user) = st.buffered.pop_front() {
                        if query.matches(&user) {
                            st.yielded += 1;
                            return Ok(Some((user, st)));
                        }
                        continue;
                    }
                    if st.started && st.token.is_none() {
                        return Ok(None);
                    }
                    let url = self.list_url(search.as_deref(), page_size, st.token.as_deref())?;
                    let page = self.page(&url).await?;
                    st.started = true;
                    st.buffered
                        .extend(page.users.into_iter().map(|g| Found::from(g).user));
                    st.token = page.next_page_token.filter(|t| !t.is_empty());
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
            .filter(|v| !v.is_empty())
            .collect();
        wanted.sort_by_key(|v| normalize_key(v));
        wanted.dedup_by_key(|v| normalize_key(v));
        let mut found: Vec<Found> = Vec::new();
        for value in wanted {
            match key {
                // users.get takes an id, a primary address or an alias.
                UserKey::Id | UserKey::Mail | UserKey::Upn => {
                    if key == UserKey::Id || value.contains('@') {
                        found.extend(self.get_user(value).await?);
                    }
                }
                UserKey::EmployeeId => {
                    found.extend(
                        self.query_all(&format!("externalId={}", quoted(value)))
                            .await?,
                    );
                }
                UserKey::Alias => {
                    found.extend(self.query_all(&format!("email:{}*", quoted(value))).await?);
                }
                _ => {
                    found.extend(self.query_all(&format!("name={}", quoted(value))).await?);
                }
            }
        }
        Ok(values
            .iter()
            .map(|value| {
                let want = normalize_key(value);
                let mut unique: Vec<User> = Vec::new();
                for f in &found {
                    let hit = !want.is_empty()
                        && match key {
                            UserKey::Mail | UserKey::Upn => {
                                f.addresses.iter().any(|a| normalize_key(a) == want)
                            }
                            _ => f.user.key(key).is_some_and(|v| normalize_key(v) == want),
                        };
                    if hit && !unique.iter().any(|u| u.same_as(&f.user)) {
                        unique.push(f.user.clone());
                    }
                }
                FindResult::from_matches(unique)
            })
            .collect())
    }

    async fn get_photo(&self, user: &User) -> Result<PhotoLookup> {
        let what = format!("reading the photo of {user}");
        let url = self.photo_url(user)?;
        let answer = self
            .transport
            .send(&Request::new(Method::GET, url, what.clone()))
            .await?;
        if answer.is_success() {
            let photo: GPhoto = serde_json::from_slice(&answer.body).map_err(|e| {
                Error::other(
                    self.to_string(),
                    format!("the photo of {user} could not be read ({e})"),
                )
            })?;
            let bytes = decode_photo_data(&photo.photo_data).ok_or_else(|| {
                Error::other(
                    self.to_string(),
                    format!("the photo of {user} is not web-safe base64"),
                )
            })?;
            return Photo::new(bytes).map(PhotoLookup::Photo).map_err(|e| {
                Error::other(
                    self.to_string(),
                    format!("the photo of {user} is not an image we can read ({e})"),
                )
            });
        }
        let f = answer.failure();
        match f.status {
            404 if Self::is_no_user(&f) => Err(self.no_user(user)),
            404 => Ok(PhotoLookup::NoPhoto),
            403 if f.is_not_authorized() => Ok(PhotoLookup::NotAccessible {
                reason: format!(
                    "Google refused to read it as {} ({})",
                    self.subject,
                    f.describe()
                ),
            }),
            _ => Err(self.general(&f, &what)),
        }
    }

    async fn set_photo(&self, user: &User, photo: &Photo) -> Result<()> {
        self.caps.check_photo(photo)?;
        let what = format!("writing the photo of {user}");
        if self.delete_before_update {
            // An update may leave a photo the user set themself; the caller
            // has backed the current photo up before calling us.
            self.delete(user, &format!("removing the old photo of {user}"))
                .await?;
        }
        let mut body = serde_json::json!({
            "photoData": encode_photo_data(photo.bytes()),
            "mimeType": match photo.format() {
                PhotoFormat::Png => "PNG",
                _ => "JPEG",
            },
        });
        if let Some((w, h)) = dimensions(photo.bytes()) {
            body["width"] = w.into();
            body["height"] = h.into();
        }
        let url = self.photo_url(user)?;
        let req = Request::new(Method::PUT, url, what.clone()).json(body.to_string().into_bytes());
        let result = match self.transport.send(&req).await {
            Ok(answer) if answer.is_success() => {
                tracing::debug!(%user, bytes = photo.len(), "google: photo written");
                return Ok(());
            }
            Ok(answer) => self.write_error(user, &answer, &what),
            Err(e) => e,
        };
        Err(if self.delete_before_update {
            removed_first(result)
        } else {
            result
        })
    }

    async fn remove_photo(&self, user: &User) -> Result<()> {
        self.delete(user, &format!("removing the photo of {user}"))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photo_data_is_web_safe() {
        let data = encode_photo_data(&[0xFB, 0xFF, 0xBF]);
        assert_eq!(data, "-_-_");
        assert!(!encode_photo_data(&[0xFF; 100]).contains(['+', '/']));
        assert_eq!(decode_photo_data("_-8="), Some(vec![0xFF, 0xEF]));
        assert_eq!(decode_photo_data("_-8*"), Some(vec![0xFF, 0xEF]));
    }

    #[test]
    fn query_values_are_data() {
        assert_eq!(quoted("O'Brien"), "'O\\'Brien'");
        assert_eq!(quoted("a b"), "'a b'");
    }

    #[test]
    fn jpeg_and_png_dimensions() {
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0, 0];
        jpeg.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 8, 0x00, 0x60, 0x00, 0x60, 3]);
        jpeg.extend_from_slice(&[0; 16]);
        assert_eq!(dimensions(&jpeg), Some((96, 96)));
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend_from_slice(&[0, 0, 0, 48, 0, 0, 0, 40]);
        assert_eq!(dimensions(&png), Some((48, 40)));
        assert_eq!(dimensions(b"nope"), None);
    }
}
