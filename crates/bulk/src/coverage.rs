//! `userphoto report`: who has a photo where — coverage per target, and
//! when `userphoto` last wrote each photo (from the sync state).
//!
//! Why a module of its own: the question after a sync is "who still has no
//! photo?", and in a hybrid setup "is the thumbnail in AD the one Exchange
//! made (64×64), or none at all while the cloud has an HD photo?". Teams
//! and Outlook take hours to show a new photo, so the report also answers
//! "was it written, and from which file?".
//!
//! It streams: users are listed from the primary target a page at a time,
//! taken in batches, found in the other targets in one batched lookup per
//! batch ([`Resolver::users`]), their photos read concurrently, and each
//! row handed to a sink at once — only the counts are kept, so 100,000
//! users take the memory of one batch.

use std::collections::HashMap;

use futures::StreamExt as _;
use serde::Serialize;
use userphoto_directory::config::{Target, TargetKind};
use userphoto_directory::{PhotoLookup, PhotoSlot, User, UserQuery};
use userphoto_imaging::Limits;

use crate::identity::Resolver;
use crate::import::sync_state::SyncState;

/// The side of the thumbnail Exchange writes into AD's `thumbnailPhoto`
/// when it takes an HD photo.
pub const EXCHANGE_THUMBNAIL_PIXELS: u32 = 64;

/// What the report looks at.
#[derive(Clone, Debug)]
pub struct CoverageOptions {
    /// Photos `userphoto` wrote more than this many days ago are flagged.
    pub older_than_days: Option<u32>,
    /// Keep each photo's bytes on its row (for a page with thumbnails).
    pub keep_photos: bool,
    /// Users per batch (lookups in the other targets, photo reads).
    pub batch: usize,
    /// The keys a primary user is looked for by in the other targets.
    pub match_order: Vec<userphoto_directory::UserKey>,
    /// The time the age is measured from, in seconds since the epoch.
    pub now: i64,
}

impl Default for CoverageOptions {
    fn default() -> Self {
        CoverageOptions {
            older_than_days: None,
            keep_photos: false,
            batch: 500,
            match_order: Vec::new(),
            now: crate::import::sync_state::now(),
        }
    }
}

/// What a row is flagged for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Finding {
    /// No photo in this target.
    NoPhoto,
    /// Only the 64×64 thumbnail Exchange places in AD.
    OnlyExchangeThumbnail,
    /// An HD photo in `hd`, but no AD thumbnail.
    HdWithoutThumbnail {
        /// The target with the HD photo.
        hd: TargetKind,
    },
    /// Written by `userphoto` more than the given number of days ago.
    Older {
        /// How many days ago.
        days: i64,
    },
    /// The photo cannot be read (no mailbox, no access, an error).
    Unreadable {
        /// Why.
        detail: String,
    },
}

/// One user in one target.
#[derive(Clone, Debug, Serialize)]
pub struct CoverageRow {
    /// The target.
    pub target: TargetKind,
    /// The user as the primary target names them (its listing key).
    pub user: String,
    /// The display name, when known.
    pub display_name: Option<String>,
    /// The user's id in this target.
    pub user_id: String,
    /// Whether there is a photo.
    pub has_photo: bool,
    /// Its size in bytes.
    pub bytes: Option<usize>,
    /// Its width and height, when the header could be read.
    pub pixels: Option<(u32, u32)>,
    /// What the row is flagged for (empty: all well).
    pub findings: Vec<Finding>,
    /// When `userphoto` last wrote this user's photo here (seconds since
    /// the epoch), from the sync state.
    pub last_written: Option<i64>,
    /// From which file.
    pub last_file: Option<String>,
    /// The photo (only with [`CoverageOptions::keep_photos`]).
    #[serde(skip)]
    pub photo: Option<Vec<u8>>,
}

/// Counts per target.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TargetCoverage {
    /// Users seen.
    pub users: usize,
    /// With a photo.
    pub with_photo: usize,
    /// Without one.
    pub no_photo: usize,
    /// Only Exchange's 64×64 (AD).
    pub only_exchange_thumbnail: usize,
    /// An HD photo elsewhere but no thumbnail here (AD).
    pub hd_without_thumbnail: usize,
    /// Written by us longer ago than asked.
    pub older: usize,
    /// Photos that could not be read.
    pub unreadable: usize,
    /// Photos `userphoto` wrote (the sync state knows them).
    pub written_by_userphoto: usize,
}

/// The totals of a report, per target in the order of the targets.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CoverageSummary {
    /// Per target.
    pub targets: Vec<(TargetKind, TargetCoverage)>,
}

/// Lists every user of the primary target (see [`Resolver::primary`]),
/// finds each in the other targets, reads their photos, and hands each
/// (target, user) row to `sink` as soon as its batch is read.
///
/// # Errors
/// When the primary target cannot list its users (per-user problems are
/// rows with [`Finding::Unreadable`]).
pub async fn coverage(
    targets: &[Target],
    sync: &SyncState,
    options: &CoverageOptions,
    sink: &mut dyn FnMut(CoverageRow),
) -> Result<CoverageSummary, userphoto_directory::Error> {
    let mut summary = CoverageSummary {
        targets: targets
            .iter()
            .map(|t| (t.kind, TargetCoverage::default()))
            .collect(),
    };
    let Some(primary) = Resolver::primary(targets) else {
        return Ok(summary);
    };
    let resolver = Resolver::new(options.match_order.clone());
    let listing = targets[primary].directory.list_users(&UserQuery::all());
    let mut chunks = listing.chunks(options.batch.max(1));
    while let Some(chunk) = chunks.next().await {
        let mut users = Vec::with_capacity(chunk.len());
        for u in chunk {
            users.push(u?);
        }
        let found = resolver.users(targets, primary, &users).await;
        // Per target, per user of the batch: the user there, if any.
        let per_target: Vec<Vec<Option<User>>> = found
            .into_iter()
            .map(|r| match r {
                Ok(list) => list.into_iter().map(|f| f.user().cloned()).collect(),
                Err(_) => vec![None; users.len()],
            })
            .collect();
        let rows = read_batch(targets, primary, &users, &per_target, sync, options).await;
        for row in rows {
            if let Some((_, c)) = summary.targets.iter_mut().find(|(k, _)| *k == row.target) {
                count(c, &row);
            }
            sink(row);
        }
    }
    Ok(summary)
}

fn count(c: &mut TargetCoverage, row: &CoverageRow) {
    c.users += 1;
    if row.has_photo {
        c.with_photo += 1;
    }
    if row.last_written.is_some() {
        c.written_by_userphoto += 1;
    }
    for f in &row.findings {
        match f {
            Finding::NoPhoto => c.no_photo += 1,
            Finding::OnlyExchangeThumbnail => c.only_exchange_thumbnail += 1,
            Finding::HdWithoutThumbnail { .. } => c.hd_without_thumbnail += 1,
            Finding::Older { .. } => c.older += 1,
            Finding::Unreadable { .. } => c.unreadable += 1,
        }
    }
}

/// What one photo read gave.
struct Read {
    has_photo: bool,
    bytes: Option<usize>,
    pixels: Option<(u32, u32)>,
    unreadable: Option<String>,
    photo: Option<Vec<u8>>,
}

/// Reads the photos of one batch (every target, concurrently within each
/// target's suggested concurrency) and makes its rows, in batch order.
async fn read_batch(
    targets: &[Target],
    primary: usize,
    users: &[User],
    per_target: &[Vec<Option<User>>],
    sync: &SyncState,
    options: &CoverageOptions,
) -> Vec<CoverageRow> {
    let mut jobs = Vec::new();
    for (ti, list) in per_target.iter().enumerate() {
        for (ui, u) in list.iter().enumerate() {
            if let Some(u) = u {
                jobs.push((ti, ui, u.clone()));
            }
        }
    }
    let limit = targets
        .iter()
        .map(|t| t.directory.capabilities().suggested_concurrency.max(1))
        .sum::<usize>()
        .max(1)
        * 2;
    let keep = options.keep_photos;
    let mut reads: HashMap<(usize, usize), Read> = futures::stream::iter(jobs)
        .map(|(ti, ui, user)| {
            let dir = std::sync::Arc::clone(&targets[ti].directory);
            async move {
                let read = match dir.get_photo(&user).await {
                    Ok(PhotoLookup::Photo(p)) => Read {
                        has_photo: true,
                        bytes: Some(p.len()),
                        pixels: crate::prepare::probe(p.bytes(), &Limits::default())
                            .ok()
                            .map(|i| (i.width, i.height)),
                        unreadable: None,
                        photo: keep.then(|| p.bytes().to_vec()),
                    },
                    Ok(PhotoLookup::NoPhoto) => Read {
                        has_photo: false,
                        bytes: None,
                        pixels: None,
                        unreadable: None,
                        photo: None,
                    },
                    Ok(PhotoLookup::NoMailbox) => unreadable("no mailbox".to_owned()),
                    Ok(PhotoLookup::NotAccessible { reason }) => unreadable(reason),
                    Err(e) => unreadable(e.to_string()),
                };
                ((ti, ui), read)
            }
        })
        .buffer_unordered(limit)
        .collect()
        .await;
    let listing_key = targets[primary].directory.capabilities().listing_key;
    let mut rows = Vec::new();
    for (ui, anchor) in users.iter().enumerate() {
        // An HD photo of this person in any HD target, for the AD rows.
        let hd_with_photo = targets.iter().enumerate().find_map(|(ti, t)| {
            (t.slot() == PhotoSlot::Hd && reads.get(&(ti, ui)).is_some_and(|r| r.has_photo))
                .then_some(t.kind)
        });
        for (ti, t) in targets.iter().enumerate() {
            let (Some(Some(user)), Some(read)) = (
                per_target.get(ti).and_then(|l| l.get(ui)),
                reads.remove(&(ti, ui)),
            ) else {
                continue;
            };
            let mut findings = Vec::new();
            if let Some(detail) = read.unreadable {
                findings.push(Finding::Unreadable { detail });
            } else if !read.has_photo {
                findings.push(Finding::NoPhoto);
                if let (PhotoSlot::Thumbnail, Some(hd)) = (t.slot(), hd_with_photo) {
                    findings.push(Finding::HdWithoutThumbnail { hd });
                }
            } else if t.kind == TargetKind::Ad
                && read.pixels == Some((EXCHANGE_THUMBNAIL_PIXELS, EXCHANGE_THUMBNAIL_PIXELS))
            {
                findings.push(Finding::OnlyExchangeThumbnail);
            }
            let record = sync.get(t.kind, &user.id);
            if let (Some(days), Some(r)) = (options.older_than_days, &record) {
                let age = (options.now - r.at) / 86_400;
                if read.has_photo && age > i64::from(days) {
                    findings.push(Finding::Older { days: age });
                }
            }
            rows.push(CoverageRow {
                target: t.kind,
                user: anchor.key(listing_key).unwrap_or(&anchor.id).to_owned(),
                display_name: anchor.display_name.clone(),
                user_id: user.id.clone(),
                has_photo: read.has_photo,
                bytes: read.bytes,
                pixels: read.pixels,
                findings,
                last_written: record.as_ref().map(|r| r.at),
                last_file: record.map(|r| r.file),
                photo: read.photo,
            });
        }
    }
    rows
}

fn unreadable(detail: String) -> Read {
    Read {
        has_photo: false,
        bytes: None,
        pixels: None,
        unreadable: Some(detail),
        photo: None,
    }
}

/// A photo small enough to embed in a page: as it is when it is a
/// thumbnail already (≤ 24 KB), else scaled to 96×96 within 8 KB; `None`
/// when it cannot be decoded.
pub fn page_thumbnail(photo: &[u8]) -> Option<Vec<u8>> {
    if photo.len() <= 24 * 1024 {
        return Some(photo.to_vec());
    }
    let mut pipeline = userphoto_imaging::Pipeline::new();
    let spec = userphoto_imaging::OutputSpec {
        size: 96,
        max_bytes: 8 * 1024,
    };
    let mode = crate::prepare::PrepareMode {
        crop: userphoto_imaging::CropMode::Centre,
        limits: Limits::default(),
        strict: false,
    };
    crate::prepare::prepare_bytes(&mut pipeline, photo, vec![spec], mode)
        .ok()?
        .outputs
        .into_iter()
        .next()
        .map(|o| o.photo.bytes().to_vec())
}

/// The header line of [`write_csv_row`]: the columns of `userphoto report
/// --csv` and of the web UI's coverage download.
pub const CSV_HEADER: &str =
    "target,user,display_name,has_photo,bytes,width,height,findings,last_written,last_file";

/// The findings of a row in words (`ok` when there are none), as the
/// report's table and CSV say them.
pub fn findings_text(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return "ok".into();
    }
    findings
        .iter()
        .map(|f| match f {
            Finding::NoPhoto => "no photo".to_owned(),
            Finding::OnlyExchangeThumbnail => "only Exchange's 64×64".to_owned(),
            Finding::HdWithoutThumbnail { hd } => format!("HD in {hd}, no thumbnail"),
            Finding::Older { days } => format!("written {days} days ago"),
            Finding::Unreadable { detail } => format!("unreadable: {detail}"),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// One CSV line (with its newline) for `row`, columns as [`CSV_HEADER`].
/// Quoting is the `csv` crate's; a text field a spreadsheet would run as a
/// formula (it starts with `=`, `+`, `-`, `@`, a tab or a carriage return)
/// gets a leading `'`, because names and file names come from the directory
/// and from whoever named the photos, and the CSV is meant to be opened in
/// Excel (OWASP's advice for CSV injection).
///
/// # Errors
/// When `w` fails.
pub fn write_csv_row(w: &mut impl std::io::Write, row: &CoverageRow) -> std::io::Result<()> {
    let (width, height) = row.pixels.map_or((String::new(), String::new()), |(x, y)| {
        (x.to_string(), y.to_string())
    });
    let record = [
        row.target.as_str().to_owned(),
        inert(&row.user),
        inert(row.display_name.as_deref().unwrap_or("")),
        row.has_photo.to_string(),
        row.bytes.map(|b| b.to_string()).unwrap_or_default(),
        width,
        height,
        inert(&findings_text(&row.findings)),
        row.last_written
            .map(crate::wording::date)
            .unwrap_or_default(),
        inert(row.last_file.as_deref().unwrap_or("")),
    ];
    let mut out = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(&mut *w);
    out.write_record(&record).map_err(std::io::Error::other)?;
    out.flush()
}

/// `text` as a spreadsheet shows it rather than runs it.
fn inert(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use userphoto_directory::folder::FolderDirectory;
    use userphoto_directory::{DirectoryExt as _, Photo, UserKey};

    use super::*;
    use crate::sync::SyncRecord;

    #[test]
    fn csv_rows_are_quoted_and_never_run_as_formulas() {
        let row = CoverageRow {
            target: TargetKind::Ad,
            user: "=cmd|' /C calc'!A0".into(),
            display_name: Some("Doe, \"Jo\"".into()),
            user_id: "u1".into(),
            has_photo: false,
            bytes: None,
            pixels: None,
            findings: vec![Finding::NoPhoto],
            last_written: None,
            last_file: Some("@SUM(1+1).jpg".into()),
            photo: None,
        };
        let mut out = Vec::new();
        write_csv_row(&mut out, &row).expect("write");
        let line = String::from_utf8(out).expect("utf-8");
        assert!(line.ends_with('\n'), "{line:?}");
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(line.as_bytes());
        let record = reader.records().next().expect("one row").expect("parses");
        assert_eq!(&record[1], "'=cmd|' /C calc'!A0");
        assert_eq!(&record[2], "Doe, \"Jo\"");
        assert_eq!(&record[7], "no photo");
        assert_eq!(&record[9], "'@SUM(1+1).jpg");
        assert_eq!(record.len(), CSV_HEADER.split(',').count());
    }

    fn jpeg(side: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(side, side, |x, y| image::Rgb([x as u8, y as u8, 90]));
        let mut out = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut out, image::ImageFormat::Jpeg)
            .expect("jpeg");
        out.into_inner()
    }

    #[tokio::test]
    async fn every_user_without_a_photo_and_only_those_are_flagged() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut csv = String::from("id,sam_account_name,display_name\n");
        for i in 0..1200 {
            csv.push_str(&format!("u{i},user{i},User {i}\n"));
        }
        std::fs::write(dir.path().join("users.csv"), csv).expect("users");
        let folder = FolderDirectory::open(dir.path()).await.expect("folder");
        let target = Target::new(TargetKind::Ad, Arc::new(folder), "tester");
        // Every third user has a photo; user3 only Exchange's 64×64.
        for i in (0..1200).step_by(3) {
            let u = target
                .directory
                .find_user(UserKey::SamAccountName, &format!("user{i}"))
                .await
                .expect("user");
            let side = if i == 3 { 64 } else { 96 };
            target
                .directory
                .set_photo(&u, &Photo::new(jpeg(side)).expect("photo"))
                .await
                .expect("set");
        }
        let sync = SyncState::in_memory();
        sync.record(SyncRecord {
            target: TargetKind::Ad,
            user_id: "u0".into(),
            file: "user0.jpg".into(),
            written_sha256: "x".into(),
            at: 0,
            seen_sha256: None,
            version: None,
        });
        let options = CoverageOptions {
            older_than_days: Some(30),
            batch: 100,
            now: 40 * 86_400,
            ..CoverageOptions::default()
        };
        let mut without = Vec::new();
        let mut rows = 0;
        let summary = coverage(&[target], &sync, &options, &mut |row| {
            rows += 1;
            if row.findings.contains(&Finding::NoPhoto) {
                without.push(row.user.clone());
            }
            if row.user == "user3" {
                assert_eq!(row.findings, vec![Finding::OnlyExchangeThumbnail]);
            }
            if row.user == "user0" {
                assert_eq!(row.findings, vec![Finding::Older { days: 40 }]);
                assert_eq!(row.last_file.as_deref(), Some("user0.jpg"));
            }
        })
        .await
        .expect("report");
        assert_eq!(rows, 1200);
        let mut expected: Vec<String> = (0..1200)
            .filter(|i| i % 3 != 0)
            .map(|i| format!("user{i}"))
            .collect();
        expected.sort();
        without.sort();
        assert_eq!(without, expected);
        let c = &summary.targets[0].1;
        assert_eq!(
            (
                c.users,
                c.with_photo,
                c.no_photo,
                c.only_exchange_thumbnail,
                c.older
            ),
            (1200, 400, 800, 1, 1)
        );
    }
}
