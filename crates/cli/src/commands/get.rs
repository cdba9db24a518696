//! `userphoto get`: a user's photo state at one target, and the bytes with
//! `--out`.

use anyhow::{anyhow, bail, Context as _};
use serde_json::json;
use userphoto_bulk::ops::get_photo;
use userphoto_bulk::prepare;
use userphoto_directory::config::Config;
use userphoto_directory::PhotoLookup;
use userphoto_imaging::{CropMode, Limits};

use super::open;
use crate::args::GetArgs;
use crate::output::{human_bytes, Output, Status};

pub(crate) async fn run(args: &GetArgs, config: &Config, out: &Output) -> anyhow::Result<Status> {
    let target = open(config, args.target).await?;
    let (user, lookup) = get_photo(&target, args.user.by, &args.user.user)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let name = user
        .key(target.directory.capabilities().listing_key)
        .unwrap_or(user.label())
        .to_owned();

    let mut bytes: Option<Vec<u8>> = lookup.photo().map(|p| p.bytes().to_vec());
    if let (Some(size), Some(original)) = (args.size, &bytes) {
        // A stored photo is already framed: resize it, never re-frame it.
        let resized = prepare::preview(original, size, CropMode::Centre).map_err(|e| {
            anyhow!(
                "the photo of {name} at {} cannot be resized: {e}",
                args.target
            )
        })?;
        bytes = Some(resized);
    }
    let dims = bytes
        .as_deref()
        .and_then(|b| prepare::probe(b, &Limits::default()).ok());
    let written = match (&args.out, &bytes) {
        (Some(path), Some(data)) => {
            write_file(path, data)?;
            Some(path)
        }
        _ => None,
    };

    if out.json {
        let mut line = json!({
            "type": "photo",
            "target": args.target.as_str(),
            "user": name,
            "user_id": user.id,
            "state": lookup.state(),
        });
        if let PhotoLookup::NotAccessible { reason } = &lookup {
            line["reason"] = json!(reason);
        }
        if let (Some(photo), Some(data)) = (lookup.photo(), &bytes) {
            line["content_type"] = json!(photo.content_type());
            line["sha256"] = json!(photo.digest());
            line["bytes"] = json!(data.len());
            line["width"] = json!(dims.map(|d| d.width));
            line["height"] = json!(dims.map(|d| d.height));
        }
        line["out"] = json!(written);
        out.json_line(&line);
    } else {
        let bar = indicatif::ProgressBar::hidden();
        let state = match (&lookup, &bytes) {
            (PhotoLookup::Photo(photo), Some(data)) => {
                let size = dims.map_or_else(String::new, |d| format!(" {}×{}", d.width, d.height));
                let short = photo.digest().get(..12).unwrap_or(photo.digest());
                format!(
                    "photo, {}{size}, {}, sha256 {short}",
                    photo.format(),
                    human_bytes(data.len() as u64)
                )
            }
            (other, _) => other.to_string(),
        };
        out.line(&bar, &format!("{}: {name}: {state}", args.target));
        if let Some(path) = written {
            out.line(&bar, &format!("written to {}", path.display()));
        }
    }
    if let (Some(path), None) = (&args.out, &bytes) {
        bail!(
            "{name} has {} at {}, so nothing was written to {}",
            lookup,
            args.target,
            path.display()
        );
    }
    Ok(Status::Success)
}

/// Writes `data` to `path` through a staged file, so a reader never sees
/// half a photo.
fn write_file(path: &std::path::Path, data: &[u8]) -> anyhow::Result<()> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => std::path::PathBuf::from("."),
    };
    let mut staged = tempfile::NamedTempFile::new_in(&folder).with_context(|| {
        format!(
            "cannot write into {}; check that the folder exists",
            folder.display()
        )
    })?;
    std::io::Write::write_all(&mut staged, data)
        .with_context(|| format!("cannot write {}", path.display()))?;
    staged
        .persist(path)
        .map_err(|e| anyhow!("cannot write {}: {}", path.display(), e.error))?;
    Ok(())
}
