//! The sandbox behind `userphoto demo`: two real folder directories — an
//! Active Directory-like one holding 96×96 thumbnails and an HD one holding
//! 648×648 photos — with 20 sample users, so the whole UI can be tried with
//! one command and no server.
//!
//! ```text
//! <root>/ad/users.csv, ad/photos/     the "AD" target (thumbnail slot)
//! <root>/hd/users.csv, hd/photos/     the "HD" target (HD slot)
//! <root>/backups/, <root>/audit.jsonl what every change keeps and logs
//! ```
//!
//! Sample photos are coloured initials avatars drawn here and written
//! through the real imaging pipeline. The users cover every pane state:
//! both photos, HD only with Exchange's 64×64 in AD ("Use existing HD"),
//! AD only, none, one without a mailbox, one not accessible.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use userphoto_bulk::audit::AuditLog;
use userphoto_bulk::backup::BackupStore;
use userphoto_bulk::ops::Ops;
use userphoto_bulk::prepare;
use userphoto_directory::config::{Target, TargetKind};
use userphoto_directory::folder::{Access, FolderDirectory, FolderOptions, FolderUser};
use userphoto_directory::{Directory, Photo, PhotoSlot, User};
use userphoto_imaging::{CropMode, OutputSpec};

/// The sample people: display name and what they start with.
const PEOPLE: [(&str, Sample); 20] = [
    ("Ada Lovelace", Sample::Both),
    ("Alan Turing", Sample::Both),
    ("Grace Hopper", Sample::None),
    ("Katherine Johnson", Sample::Both),
    ("Linus Torvalds", Sample::HdWithExchangeThumb),
    ("Margaret Hamilton", Sample::Both),
    ("Dennis Ritchie", Sample::AdOnly),
    ("Barbara Liskov", Sample::HdWithExchangeThumb),
    ("Ken Thompson", Sample::None),
    ("Frances Allen", Sample::Both),
    ("Donald Knuth", Sample::AdOnly),
    ("Radia Perlman", Sample::None),
    ("Tim Berners-Lee", Sample::Both),
    ("Hedy Lamarr", Sample::HdWithExchangeThumb),
    ("John Smith", Sample::None),
    ("Shafi Goldwasser", Sample::Both),
    ("Edsger Dijkstra", Sample::AdOnly),
    ("Annie Easley", Sample::None),
    ("Kiosk Account", Sample::NoMailbox),
    ("Board Member", Sample::NotAccessible),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sample {
    Both,
    HdWithExchangeThumb,
    AdOnly,
    None,
    NoMailbox,
    NotAccessible,
}

/// A ready sandbox: its targets, the engine writing to them, and where it
/// lives.
#[derive(Debug)]
pub struct Demo {
    /// The AD-like target (kind `ad`, thumbnail slot) and the HD target
    /// (kind `folder`, HD slot).
    pub targets: Vec<Target>,
    /// Backups and the audit log inside the sandbox.
    pub ops: Ops,
    /// The sandbox folder.
    pub root: PathBuf,
    /// Sample files to try folder import with (`<root>/incoming`).
    pub incoming: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

/// Where `userphoto demo` keeps its sandbox unless told otherwise, so that
/// what was tried survives a restart: `<platform data folder>/demo`
/// (`None`: there is no home folder to keep it in).
pub fn default_dir() -> Option<PathBuf> {
    userphoto_directory::private_fs::data_home().map(|d| d.join("demo"))
}

/// Whether `dir` holds a demo sandbox (its two sample directories).
fn is_sandbox(dir: &Path) -> bool {
    dir.join("ad").join("users.csv").is_file() && dir.join("hd").join("users.csv").is_file()
}

/// Removes the sandbox in `dir` so that the next start seeds it afresh.
/// Nothing there is fine; a folder that is not a demo sandbox is refused,
/// so a mistyped `--data` never deletes anything else.
///
/// # Errors
/// `dir` is not a demo sandbox, or cannot be removed.
pub fn reset(dir: &Path) -> Result<(), userphoto_directory::Error> {
    if !dir.exists() {
        return Ok(());
    }
    if !is_sandbox(dir) {
        return Err(userphoto_directory::Error::other(
            "demo",
            format!(
                "{} is not a demo sandbox (it has no ad/users.csv and hd/users.csv), so it is left alone; choose another folder",
                dir.display()
            ),
        ));
    }
    std::fs::remove_dir_all(dir).map_err(|e| {
        userphoto_directory::Error::other(
            "demo",
            format!("cannot remove the sandbox {}: {e}", dir.display()),
        )
    })
}

/// Opens the sandbox in `dir`, creating and seeding it if it is new; with
/// `None`, a fresh temporary folder removed when the [`Demo`] is dropped.
///
/// # Errors
/// When the folder cannot be created or written, or an existing sandbox
/// is damaged (the message names the file).
pub async fn sandbox(dir: Option<&Path>) -> Result<Demo, userphoto_directory::Error> {
    let (root, temp) = match dir {
        Some(d) => (d.to_path_buf(), None),
        None => {
            let temp = tempfile::Builder::new()
                .prefix("userphoto-demo-")
                .tempdir()
                .map_err(|e| userphoto_directory::Error::other("demo", e))?;
            (temp.path().to_path_buf(), Some(temp))
        }
    };
    let ad_options = FolderOptions::new().with_slot(PhotoSlot::Thumbnail);
    let hd_options = FolderOptions::new().with_slot(PhotoSlot::Hd);
    let (ad_path, hd_path) = (root.join("ad"), root.join("hd"));
    let (ad, hd) = if ad_path.join("users.csv").is_file() && hd_path.join("users.csv").is_file() {
        (
            FolderDirectory::open_with(&ad_path, ad_options).await?,
            FolderDirectory::open_with(&hd_path, hd_options).await?,
        )
    } else {
        let ad = FolderDirectory::create_with(&ad_path, users(false), ad_options).await?;
        let hd = FolderDirectory::create_with(&hd_path, users(true), hd_options).await?;
        seed(&ad, &hd).await?;
        seed_incoming(&root.join("incoming")).await?;
        (ad, hd)
    };
    let identity = "demo user";
    let targets = vec![
        Target::new(TargetKind::Ad, Arc::new(ad), identity),
        Target::new(TargetKind::Folder, Arc::new(hd), identity),
    ];
    let ops = Ops::new(
        BackupStore::new(root.join("backups")),
        AuditLog::new(root.join("audit.jsonl")),
    );
    Ok(Demo {
        targets,
        ops,
        incoming: root.join("incoming"),
        root,
        _temp: temp,
    })
}

/// The logon name of a sample person: `Ada.Lovelace`.
pub fn logon_name(display: &str) -> String {
    display.replace(' ', ".")
}

fn users(hd: bool) -> Vec<FolderUser> {
    PEOPLE
        .iter()
        .enumerate()
        .map(|(i, (name, sample))| {
            let logon = logon_name(name);
            let lower = logon.to_lowercase();
            let user = User::new(format!("u{:02}", i + 1))
                .with_sam_account_name(&logon)
                .with_upn(format!("{lower}@demo.example"))
                .with_mail(format!("{lower}@demo.example"))
                .with_alias(&lower)
                .with_employee_id(format!("E{}", 1001 + i))
                .with_display_name(*name)
                .with_enabled(true);
            let access = match sample {
                Sample::NotAccessible => Access::NotAccessible,
                Sample::NoMailbox if hd => Access::NoMailbox,
                _ => Access::Ok,
            };
            FolderUser::new(user, access)
        })
        .collect()
}

/// Writes the sample photos (drawn and prepared on the blocking pool, all
/// at once).
async fn seed(
    ad: &FolderDirectory,
    hd: &FolderDirectory,
) -> Result<(), userphoto_directory::Error> {
    let jobs = PEOPLE.iter().enumerate().filter_map(|(i, (name, sample))| {
        let (want_hd, ad_size) = match sample {
            Sample::Both => (true, Some(96)),
            Sample::HdWithExchangeThumb => (true, Some(64)),
            Sample::AdOnly => (false, Some(96)),
            _ => return None,
        };
        let name = (*name).to_owned();
        Some(async move {
            let photos = tokio::task::spawn_blocking(move || avatar_jpegs(&name, i, ad_size))
                .await
                .map_err(|e| userphoto_directory::Error::other("demo", e))??;
            Ok::<_, userphoto_directory::Error>((i, want_hd, photos))
        })
    });
    for done in futures::future::join_all(jobs).await {
        let (i, want_hd, (big, thumb)) = done?;
        let user = ad.users()[i].user.clone();
        if let Some(thumb) = thumb {
            ad.set_photo(&user, &Photo::new(thumb)?).await?;
        }
        if want_hd {
            hd.set_photo(&user, &Photo::new(big)?).await?;
        }
    }
    Ok(())
}

/// Files for folder import: new photos, a replacement, one for a user
/// without a mailbox, a name that matches nobody, and a duplicate.
const INCOMING: [(&str, usize); 7] = [
    ("Grace.Hopper 800x800.jpg", 2),
    ("Ken.Thompson.jpg", 8),
    ("Ken.Thompson 2019.jpg", 9),
    ("radia.perlman photo.jpg", 11),
    ("Annie.Easley.jpg", 17),
    ("Kiosk.Account.jpg", 18),
    ("Nobody.Here.jpg", 5),
];

async fn seed_incoming(dir: &Path) -> Result<(), userphoto_directory::Error> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&dir).map_err(|e| userphoto_directory::Error::other("demo", e))?;
        for (file, index) in INCOMING {
            let name = file.split([' ', '.']).take(2).collect::<Vec<_>>().join(" ");
            let source = avatar_image(&name, index + 3, 800, 800, image::ImageFormat::Bmp)?;
            // Drawn square samples: kept whole, as a camera would give them.
            let jpeg = prepare::preview(&source, 800, CropMode::Centre)
                .map_err(|e| userphoto_directory::Error::other("demo", e))?;
            std::fs::write(dir.join(file), jpeg)
                .map_err(|e| userphoto_directory::Error::other("demo", e))?;
        }
        Ok(())
    })
    .await
    .map_err(|e| userphoto_directory::Error::other("demo", e))?
}

/// The 648×648 and (if asked) the small JPEG of person `index`.
fn avatar_jpegs(
    name: &str,
    index: usize,
    small: Option<u32>,
) -> Result<(Vec<u8>, Option<Vec<u8>>), userphoto_directory::Error> {
    let source = avatar_image(name, index, 648, 648, image::ImageFormat::Bmp)?;
    let mut outputs = vec![OutputSpec::with_default_budget(648)];
    if let Some(size) = small {
        outputs.push(OutputSpec::with_default_budget(size));
    }
    // The drawn avatars are already square and framed.
    let photos = prepare::squares(&source, outputs, CropMode::Centre)
        .map_err(|e| userphoto_directory::Error::other("demo", e))?;
    let mut photos = photos.into_iter();
    let hd = photos.next().unwrap_or_default();
    Ok((hd, photos.next()))
}

/// A PNG of `width`×`height`: a coloured background, a lighter head-and-
/// shoulders silhouette, and the initials of `name` (sample photos for the
/// demo and for tests).
///
/// # Errors
/// When the image cannot be encoded.
pub fn avatar_png(
    name: &str,
    index: usize,
    width: u32,
    height: u32,
) -> Result<Vec<u8>, userphoto_directory::Error> {
    avatar_image(name, index, width, height, image::ImageFormat::Png)
}

fn avatar_image(
    name: &str,
    index: usize,
    width: u32,
    height: u32,
    format: image::ImageFormat,
) -> Result<Vec<u8>, userphoto_directory::Error> {
    const PALETTE: [[u8; 3]; 8] = [
        [0x1f, 0x6f, 0xb2],
        [0x2e, 0x8b, 0x57],
        [0xb5, 0x4a, 0x2a],
        [0x7b, 0x3f, 0xa0],
        [0x00, 0x7c, 0x89],
        [0xa8, 0x32, 0x5e],
        [0x5d, 0x6d, 0x1e],
        [0x44, 0x55, 0x88],
    ];
    let bg = PALETTE[index % PALETTE.len()];
    let light = bg.map(|c| c + (255 - c) / 3);
    let initials: String = name
        .split([' ', '-'])
        .filter_map(|w| w.chars().next())
        .filter(char::is_ascii_alphabetic)
        .take(2)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let (w, h) = (width as f64, height as f64);
    let (cx, cy, r) = (w / 2.0, h * 0.42, w.min(h) * 0.26);
    let mut img = image::RgbImage::from_pixel(width, height, image::Rgb(bg));
    for (x, y, px) in img.enumerate_pixels_mut() {
        let (fx, fy) = (x as f64, y as f64);
        let head = (fx - cx).powi(2) + (fy - cy).powi(2) <= r * r;
        let shoulders = fy > cy + r * 1.25
            && ((fx - cx) / (r * 1.9)).powi(2) + ((fy - (h * 0.98)) / (r * 1.5)).powi(2) <= 1.0;
        if head || shoulders {
            *px = image::Rgb(light);
        }
    }
    // Initials in a 5×7 bitmap font, centred on the head.
    let scale = (r * 0.16).max(1.0) as u32;
    let glyph_w = 6 * scale;
    let total = glyph_w * initials.len() as u32;
    let x0 = (cx as u32).saturating_sub(total / 2);
    let y0 = (cy as u32).saturating_sub(7 * scale / 2);
    for (i, c) in initials.chars().enumerate() {
        let rows = glyph(c);
        for (row, bits) in rows.iter().enumerate() {
            for col in 0..5u32 {
                if bits & (0x10 >> col) == 0 {
                    continue;
                }
                for dy in 0..scale {
                    for dx in 0..scale {
                        let x = x0 + i as u32 * glyph_w + col * scale + dx;
                        let y = y0 + row as u32 * scale + dy;
                        if x < width && y < height {
                            img.put_pixel(x, y, image::Rgb(bg));
                        }
                    }
                }
            }
        }
    }
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format)
        .map_err(|e| userphoto_directory::Error::other("demo", e))?;
    Ok(out.into_inner())
}

/// A 5×7 glyph (rows top to bottom, bit 4 leftmost) for A–Z.
fn glyph(c: char) -> [u8; 7] {
    match c {
        'A' => [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1E],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        _ => [0; 7],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use userphoto_directory::PhotoLookup;

    #[tokio::test]
    async fn a_kept_sandbox_is_reused_and_reset_removes_only_a_sandbox() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("demo");
        let first = sandbox(Some(&dir)).await.expect("seeded");
        let hd = first.targets[1].clone();
        drop(first);
        // A change made in the sandbox is still there after a restart.
        let marker = dir.join("hd").join("photos").join("kept-by-test.jpg");
        std::fs::write(&marker, b"x").expect("marker");
        let again = sandbox(Some(&dir)).await.expect("reused");
        assert_eq!(again.targets[1].kind, hd.kind);
        drop(again);
        assert!(marker.is_file(), "a restart keeps the sandbox");
        reset(&dir).expect("reset");
        assert!(!dir.exists(), "reset removes it");
        reset(&dir).expect("nothing there is fine");
        // Anything that is not a sandbox is left alone.
        let other = tmp.path().join("documents");
        std::fs::create_dir_all(&other).expect("mkdir");
        std::fs::write(other.join("thesis.txt"), b"precious").expect("file");
        let e = reset(&other).expect_err("not a sandbox");
        assert!(e.to_string().contains("not a demo sandbox"), "{e}");
        assert!(other.join("thesis.txt").is_file());
    }

    #[tokio::test]
    async fn the_sandbox_has_every_pane_state() {
        let demo = sandbox(None).await.expect("sandbox");
        let [ad, hd] = [&demo.targets[0], &demo.targets[1]];
        assert_eq!(ad.slot(), PhotoSlot::Thumbnail);
        assert_eq!(hd.slot(), PhotoSlot::Hd);
        let find = |t: &Target, name: &str| {
            let t = t.clone();
            let name = name.to_owned();
            async move {
                let u = userphoto_bulk::ops::find_user(&t, None, &name)
                    .await
                    .expect("user");
                t.directory.get_photo(&u).await.expect("lookup")
            }
        };
        assert!(matches!(
            find(hd, "Ada.Lovelace").await,
            PhotoLookup::Photo(_)
        ));
        assert!(matches!(
            find(ad, "Ada.Lovelace").await,
            PhotoLookup::Photo(_)
        ));
        assert!(matches!(
            find(hd, "Grace.Hopper").await,
            PhotoLookup::NoPhoto
        ));
        assert!(matches!(
            find(hd, "Kiosk.Account").await,
            PhotoLookup::NoMailbox
        ));
        assert!(matches!(
            find(ad, "Board.Member").await,
            PhotoLookup::NotAccessible { .. }
        ));
        let PhotoLookup::Photo(thumb) = find(ad, "Linus.Torvalds").await else {
            panic!("Exchange-style thumbnail expected");
        };
        let info = userphoto_imaging::probe(thumb.bytes(), &Default::default()).expect("probe");
        assert_eq!((info.width, info.height), (64, 64));
        // Opening the same folder again keeps what is there.
        let again = sandbox(Some(&demo.root)).await.expect("reopen");
        assert_eq!(again.targets.len(), 2);
    }
}
