//! Files and folders only the running user can read.
//!
//! Staff photos (backups, uploads), the audit log, import journals and
//! manifests, the server log and the Microsoft 365 sign-in live in the data
//! folder; on a shared machine none of them is for other local users. On
//! Unix, folders this creates are 0700 and files 0600 (an existing file is
//! narrowed to 0600 when opened). On Windows the default data folder,
//! [`data_home`], is `%LOCALAPPDATA%\userphoto\data`, inside the user's own
//! profile, whose ACL (the user, SYSTEM and Administrators) every file and
//! folder made there inherits, so other users are kept out without any
//! call here; a folder named in the config elsewhere keeps that folder's
//! ACL (docs/CONFIG.md says so).
//!
//! One place for the rule, used by `bulk` (audit, journal, backups), the
//! web UI (uploads) and the CLI (log file).

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// userphoto's own data folder, for the audit log, backups, the
/// Microsoft 365 sign-in and the demo sandbox: `$XDG_DATA_HOME/userphoto`
/// (by default `~/.local/share/userphoto`) on Linux,
/// `~/Library/Application Support/userphoto` on macOS, and
/// `%LOCALAPPDATA%\userphoto\data` on Windows (the local, not the roaming,
/// profile: staff photos and logs must not travel with a roaming profile).
/// `None` when there is no home folder.
pub fn data_home() -> Option<std::path::PathBuf> {
    directories::ProjectDirs::from("", "", "userphoto").map(|d| d.data_local_dir().to_path_buf())
}

/// `path` and its missing parents, created 0700 (Unix). Folders that
/// already exist are left as they are: they may be shared on purpose.
///
/// # Errors
/// As [`std::fs::create_dir_all`].
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(path)
}

/// `OpenOptions` whose newly created files are 0600 (Unix). Pair with
/// [`open`] (or call [`restrict`] on the file) so that an existing file is
/// narrowed too.
pub fn options() -> OpenOptions {
    #[cfg_attr(not(unix), allow(unused_mut))] // only Unix sets a mode
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options
}

/// Opens `path` with `options` and makes it private: a file created before
/// this rule (0644) is narrowed to 0600.
///
/// # Errors
/// As [`OpenOptions::open`] and [`restrict`].
pub fn open(options: &OpenOptions, path: &Path) -> io::Result<File> {
    let file = options.open(path)?;
    restrict(&file)?;
    Ok(file)
}

/// Narrows an open file to 0600 (Unix; a no-op elsewhere).
///
/// # Errors
/// When the mode cannot be changed (a file owned by someone else).
pub fn restrict(file: &File) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = file.metadata()?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(mode & 0o700))?;
        }
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

/// Narrows the folder `path` to 0700 (Unix; a no-op elsewhere). For
/// folders this program owns outright (an upload folder, one backup run).
///
/// # Errors
/// When the mode cannot be changed.
pub fn restrict_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0)
    }

    #[test]
    fn folders_are_0700_and_files_0600_even_if_they_existed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let deep = dir.path().join("a/b");
        create_dir_all(&deep).expect("create");
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&deep), 0o700);
        let file = deep.join("log.jsonl");
        open(options().create(true).append(true), &file).expect("open");
        assert_eq!(mode(&file), 0o600);
        let old = deep.join("old.jsonl");
        std::fs::write(&old, b"x").expect("write");
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        open(options().append(true), &old).expect("open");
        assert_eq!(mode(&old), 0o600);
    }
}
