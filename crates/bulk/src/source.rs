//! Sources of photos beyond a folder: a CSV of `user,photo` rows, where
//! `photo` is a path or an https URL — what HR systems export — and
//! another directory (`source = "m365"` into `ad`, `ad` into `ldap`, …).
//!
//! Why it plugs in this way: the planner already knows a folder and a
//! `file,user` mapping (the digest cache keys on a file's size and mtime,
//! the journal on its relative path). So a CSV source is *materialised*
//! into a folder of the job's own (`<state>/sources/<job>/`), one file per
//! row, plus the mapping naming each file's user — and then planned like
//! any folder. A file is rewritten only when its bytes changed, so an
//! unchanged source keeps its stamps and a re-run costs nothing, as for a
//! folder.
//!
//! Downloads: https only (TLS verified with the system's roots), at most
//! [`CsvLimits::max_redirects`] redirects (never to plain http), at most
//! [`CsvLimits::max_bytes`] per photo (counted while reading: a server that
//! sends no length cannot send more), within a timeout. A bad row is
//! reported and the rest carries on.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::import::Mapping;

/// How much a CSV source may fetch.
#[derive(Clone, Debug)]
pub struct CsvLimits {
    /// The largest photo, in bytes (default 20 MB).
    pub max_bytes: u64,
    /// How many redirects a download may follow (default 3).
    pub max_redirects: usize,
    /// How long one download may take (default 60 s).
    pub timeout: Duration,
}

impl Default for CsvLimits {
    fn default() -> Self {
        CsvLimits {
            max_bytes: 20 * 1024 * 1024,
            max_redirects: 3,
            timeout: Duration::from_secs(60),
        }
    }
}

/// A row that could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowProblem {
    /// Its line in the CSV (the header is line 1).
    pub line: usize,
    /// The user it names (may be empty).
    pub user: String,
    /// What is wrong, and what to do.
    pub message: String,
}

/// A CSV source made into a folder.
#[derive(Debug)]
pub struct Materialized {
    /// The folder to plan.
    pub folder: PathBuf,
    /// The mapping naming each file's user.
    pub mapping: Mapping,
    /// Rows that could not be used.
    pub problems: Vec<RowProblem>,
}

/// Why a CSV source could not be read at all.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct SourceError {
    /// The CSV or folder.
    pub path: PathBuf,
    /// Why, and what to do.
    pub message: String,
}

/// Whether `source` names a CSV source (rather than a folder).
pub fn is_csv(source: &Path) -> bool {
    source
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// Reads `csv` (header `user,photo`; paths relative to the CSV's folder)
/// and makes `into` hold one file per usable row, named `<line>.<ext>`,
/// with the mapping to their users. Files of rows no longer in the CSV are
/// removed from `into` (the directories keep their photos: a sync job
/// never removes one).
///
/// # Errors
/// When the CSV cannot be read or has no `user` and `photo` columns, or
/// `into` cannot be written. Bad rows are [`Materialized::problems`].
pub async fn materialize(
    csv: &Path,
    into: &Path,
    limits: &CsvLimits,
) -> Result<Materialized, SourceError> {
    let err = |path: &Path, message: String| SourceError {
        path: path.to_path_buf(),
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(csv)
        .map_err(|e| err(csv, format!("cannot read the source CSV: {e}")))?;
    let headers = reader
        .headers()
        .map_err(|e| err(csv, format!("cannot read the header row: {e}")))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                err(
                    csv,
                    format!("no `{name}` column; the first row must name the columns `user,photo`"),
                )
            })
    };
    let (user_col, photo_col) = (column("user")?, column("photo")?);
    // Staff photos: private, as backups and uploads are.
    userphoto_directory::private_fs::create_dir_all(into)
        .map_err(|e| err(into, format!("cannot create the source folder: {e}")))?;
    let base = csv.parent().unwrap_or(Path::new("."));
    let client = reqwest::Client::builder()
        .https_only(true)
        .redirect(reqwest::redirect::Policy::limited(limits.max_redirects))
        .timeout(limits.timeout)
        .build()
        .map_err(|e| err(csv, format!("cannot start the HTTPS client: {e}")))?;

    let mut mapping_rows = String::from("file,user\n");
    let mut problems = Vec::new();
    let mut kept: HashSet<String> = HashSet::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                problems.push(RowProblem {
                    line,
                    user: String::new(),
                    message: format!("the row cannot be read: {e}"),
                });
                continue;
            }
        };
        let user = record.get(user_col).unwrap_or_default().to_owned();
        let photo = record.get(photo_col).unwrap_or_default();
        if user.is_empty() || photo.is_empty() {
            problems.push(RowProblem {
                line,
                user,
                message: "the row needs both a user and a photo".into(),
            });
            continue;
        }
        let bytes = if let Some(rest) = photo.strip_prefix("https://") {
            fetch(&client, &format!("https://{rest}"), limits).await
        } else if photo.contains("://") {
            Err(format!(
                "{photo}: only https:// URLs are fetched (TLS verified); give an https URL or a path"
            ))
        } else {
            read_local(&base.join(photo), limits.max_bytes)
        };
        let bytes = match bytes {
            Ok(b) => b,
            Err(message) => {
                problems.push(RowProblem {
                    line,
                    user,
                    message,
                });
                continue;
            }
        };
        let name = format!("{line}.{}", extension(&bytes));
        let path = into.join(&name);
        // Unchanged bytes keep the file (and its stamp): the digest cache
        // then knows it, and the sync state makes the re-run free.
        if std::fs::read(&path).ok().as_deref() != Some(bytes.as_slice()) {
            write_private(&path, &bytes)
                .map_err(|e| err(&path, format!("cannot write the photo: {e}")))?;
        }
        mapping_rows.push_str(&format!("{name},\"{}\"\n", user.replace('"', "\"\"")));
        kept.insert(name);
    }
    if let Ok(entries) = std::fs::read_dir(into) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !kept.contains(&name) && e.path().is_file() {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let mapping = Mapping::parse(&mapping_rows).map_err(|e| err(csv, e.to_string()))?;
    Ok(Materialized {
        folder: into.to_path_buf(),
        mapping,
        problems,
    })
}

/// Makes `into` hold the photo of every user of `source` that has one,
/// named by the user's value for `key` (falling back to UPN, then mail),
/// with the mapping to those names: another directory as the source, the
/// general form of `use-existing-hd --all`. Photos are read concurrently
/// within the source's suggested concurrency; a file is rewritten only when
/// its bytes changed, so an unchanged source writes nothing downstream
/// (each photo is still read from the source once per run).
///
/// # Errors
/// When the source cannot list its users, or `into` cannot be written.
/// Photos that cannot be read are [`Materialized::problems`].
pub async fn materialize_directory(
    source: &userphoto_directory::config::Target,
    key: userphoto_directory::UserKey,
    into: &Path,
) -> Result<Materialized, SourceError> {
    use futures::StreamExt as _;
    use userphoto_directory::{PhotoLookup, UserKey, UserQuery};

    let err = |path: &Path, message: String| SourceError {
        path: path.to_path_buf(),
        message,
    };
    // Staff photos: private, as backups and uploads are.
    userphoto_directory::private_fs::create_dir_all(into)
        .map_err(|e| err(into, format!("cannot create the source folder: {e}")))?;
    let dir = &source.directory;
    let limit = dir.capabilities().suggested_concurrency.max(1);
    let mut reads = dir
        .list_users(&UserQuery::all())
        .enumerate()
        .map(|(i, user)| async move {
            match user {
                Ok(u) => {
                    let photo = dir.get_photo(&u).await;
                    (i, Ok((u, photo)))
                }
                Err(e) => (i, Err(e)),
            }
        })
        .buffer_unordered(limit);
    let mut mapping_rows = String::from("file,user\n");
    let mut problems = Vec::new();
    let mut kept: HashSet<String> = HashSet::new();
    while let Some((i, read)) = reads.next().await {
        let (user, photo) = read.map_err(|e| {
            err(
                into,
                format!("{}: cannot list the source's users: {e}", source.kind),
            )
        })?;
        let name = user
            .key(key)
            .or_else(|| user.key(UserKey::Upn))
            .or_else(|| user.key(UserKey::Mail));
        let bytes = match photo {
            Ok(PhotoLookup::Photo(p)) => p.bytes().to_vec(),
            Ok(_) => continue,
            Err(e) => {
                problems.push(RowProblem {
                    line: i + 1,
                    user: user.to_string(),
                    message: format!("{}: the photo cannot be read: {e}", source.kind),
                });
                continue;
            }
        };
        let Some(name) = name else {
            problems.push(RowProblem {
                line: i + 1,
                user: user.to_string(),
                message: format!("{}: the user has no {key} to be matched by", source.kind),
            });
            continue;
        };
        let file = format!(
            "{}.{}",
            &userphoto_directory::sha256_hex(user.id.as_bytes())[..16],
            extension(&bytes)
        );
        let path = into.join(&file);
        if std::fs::read(&path).ok().as_deref() != Some(bytes.as_slice()) {
            write_private(&path, &bytes)
                .map_err(|e| err(&path, format!("cannot write the photo: {e}")))?;
        }
        mapping_rows.push_str(&format!("{file},\"{}\"\n", name.replace('"', "\"\"")));
        kept.insert(file);
    }
    drop(reads);
    if let Ok(entries) = std::fs::read_dir(into) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !kept.contains(&name) && e.path().is_file() {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let mapping = Mapping::parse(&mapping_rows).map_err(|e| err(into, e.to_string()))?;
    Ok(Materialized {
        folder: into.to_path_buf(),
        mapping,
        problems,
    })
}

/// Writes `bytes` to `path`, readable by the running user only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut file = userphoto_directory::private_fs::open(
        userphoto_directory::private_fs::options()
            .create(true)
            .write(true)
            .truncate(true),
        path,
    )?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn read_local(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.len() > max {
        return Err(format!(
            "{}: {} bytes is more than the {max} a photo may have",
            path.display(),
            meta.len()
        ));
    }
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

async fn fetch(client: &reqwest::Client, url: &str, limits: &CsvLimits) -> Result<Vec<u8>, String> {
    let mut response = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("{url}: {}", describe(&e)))?;
    if !response.status().is_success() {
        return Err(format!("{url}: the server answered {}", response.status()));
    }
    if response
        .content_length()
        .is_some_and(|n| n > limits.max_bytes)
    {
        return Err(format!(
            "{url}: the photo is larger than the {} bytes allowed",
            limits.max_bytes
        ));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("{url}: {}", describe(&e)))?
    {
        if (body.len() + chunk.len()) as u64 > limits.max_bytes {
            return Err(format!(
                "{url}: the photo is larger than the {} bytes allowed",
                limits.max_bytes
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_redirect() {
        "too many redirects, or a redirect to plain http".into()
    } else if e.is_timeout() {
        "no answer in time".into()
    } else {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        text
    }
}

/// The extension the image's first bytes call for (the planner picks image
/// files by extension; the pipeline sniffs the content anyway).
fn extension(bytes: &[u8]) -> &'static str {
    match bytes {
        [0x89, b'P', b'N', b'G', ..] => "png",
        [b'G', b'I', b'F', ..] => "gif",
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => "webp",
        [b'B', b'M', ..] => "bmp",
        [b'I', b'I', 42, 0, ..] | [b'M', b'M', 0, 42, ..] => "tif",
        _ => "jpg",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rows_become_files_and_bad_rows_are_reported_while_the_rest_carry_on() {
        let dir = tempfile::tempdir().expect("tempdir");
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3];
        std::fs::write(dir.path().join("a.jpg"), jpeg).expect("a");
        std::fs::write(dir.path().join("big.jpg"), vec![0u8; 2048]).expect("big");
        std::fs::write(
            dir.path().join("hr.csv"),
            "user,photo\njohn.smith,a.jpg\n\"Smith, Jane\",a.jpg\nmissing,nothere.jpg\nplain,http://127.0.0.1:9/x.jpg\nbig,big.jpg\n,a.jpg\n",
        )
        .expect("csv");
        let into = dir.path().join("state/sources/hr");
        let limits = CsvLimits {
            max_bytes: 1024,
            ..CsvLimits::default()
        };
        let m = materialize(&dir.path().join("hr.csv"), &into, &limits)
            .await
            .expect("materialized");
        let lines: Vec<usize> = m.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![4, 5, 6, 7], "{:#?}", m.problems);
        assert!(m.problems[1].message.contains("only https://"));
        assert!(m.problems[2].message.contains("more than the 1024"));
        assert_eq!(std::fs::read(into.join("2.jpg")).expect("file"), jpeg);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode(&into.join("2.jpg")), 0o600, "staff photos are private");
            assert_eq!(mode(&into), 0o700);
        }
        let stamp = std::fs::metadata(into.join("2.jpg"))
            .and_then(|m| m.modified())
            .expect("mtime");

        // Again with one row gone: its file goes, the other keeps its stamp.
        std::fs::write(dir.path().join("hr.csv"), "user,photo\njohn.smith,a.jpg\n").expect("csv");
        std::thread::sleep(Duration::from_millis(20));
        let m = materialize(&dir.path().join("hr.csv"), &into, &limits)
            .await
            .expect("again");
        assert!(m.problems.is_empty());
        assert!(!into.join("3.jpg").exists());
        assert_eq!(
            std::fs::metadata(into.join("2.jpg"))
                .and_then(|m| m.modified())
                .expect("mtime"),
            stamp
        );
    }

    #[tokio::test]
    async fn a_download_is_https_only_and_counted_while_read() {
        // Plain http is refused before any connection (the endless server
        // would otherwise send 64 MB).
        let server = userphoto_testkit::endless_http::EndlessHttp::start("image/jpeg");
        let client = reqwest::Client::builder()
            .https_only(true)
            .build()
            .expect("client");
        let url = server.url();
        let e = fetch(&client, &url, &CsvLimits::default())
            .await
            .expect_err("refused");
        assert!(e.contains(&url), "{e}");
        // Without https_only (as a misconfigured client would be), the cap
        // still stops the read.
        let client = reqwest::Client::new();
        let limits = CsvLimits {
            max_bytes: 100_000,
            ..CsvLimits::default()
        };
        let e = fetch(&client, &url, &limits).await.expect_err("capped");
        assert!(e.contains("larger than the 100000 bytes"), "{e}");
    }
}
