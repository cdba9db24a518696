//! The relative path of one file of a folder uploaded from the browser.
//!
//! A folder's files keep their place in its subfolders (as `import -r`
//! sees them), so two files with one name in different subfolders are both
//! kept. The path comes from the page, so it is checked here: `/`-separated
//! relative components only — no absolute path, no `.` or `..`, no hidden
//! component, no `\`, `:` or control characters.

use std::path::PathBuf;

/// Longest accepted path, in bytes.
const MAX_PATH_BYTES: usize = 1024;
/// Longest accepted component, in bytes (most file systems' limit).
const MAX_COMPONENT_BYTES: usize = 255;
/// Deepest accepted nesting.
const MAX_DEPTH: usize = 32;

/// `text` as a safe relative path, or why it is refused (one sentence).
pub(crate) fn relative_upload_path(text: &str) -> Result<PathBuf, String> {
    let refuse = |why: &str| {
        Err(format!(
            "{text:?} is not a file of the chosen folder ({why}); only relative paths inside the folder can be uploaded"
        ))
    };
    if text.is_empty() {
        return refuse("empty");
    }
    if text.len() > MAX_PATH_BYTES {
        return refuse("too long");
    }
    if text
        .chars()
        .any(|c| c.is_control() || matches!(c, '\\' | ':'))
    {
        return refuse("it holds \\, : or a control character");
    }
    let parts: Vec<&str> = text.split('/').collect();
    if parts.len() > MAX_DEPTH {
        return refuse("too deeply nested");
    }
    let mut path = PathBuf::new();
    for part in parts {
        if part.is_empty() {
            return refuse("absolute, or an empty folder name");
        }
        if part.starts_with('.') {
            return refuse("a hidden, `.` or `..` component");
        }
        if part.len() > MAX_COMPONENT_BYTES {
            return refuse("a name too long");
        }
        // Names a Windows server would not keep as given: it strips a
        // trailing dot or space (two names become one), and a device name
        // (`CON`, `nul.jpg`) is a device, not a file. Elsewhere they are
        // ordinary names (Con O'Brien's photo may be `Con.OBrien.jpg`).
        if cfg!(windows) && part.ends_with(['.', ' ']) {
            return refuse("a name ending in a dot or a space");
        }
        if cfg!(windows) && is_windows_device(part) {
            return refuse("a device name on Windows");
        }
        path.push(part);
    }
    Ok(path)
}

/// `CON`, `PRN`, `AUX`, `NUL`, `COM1`–`COM9`, `LPT1`–`LPT9`, with or
/// without an extension, in any case.
fn is_windows_device(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name).trim_end();
    let upper = stem.to_ascii_uppercase();
    matches!(upper.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ((upper.starts_with("COM") || upper.starts_with("LPT"))
            && upper.len() == 4
            && upper.as_bytes()[3].is_ascii_digit()
            && upper.as_bytes()[3] != b'0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_in_subfolders_are_kept() {
        assert_eq!(
            relative_upload_path("John.Smith.jpg"),
            Ok(PathBuf::from("John.Smith.jpg"))
        );
        assert_eq!(
            relative_upload_path("sales/2026/John.Smith.jpg"),
            Ok(["sales", "2026", "John.Smith.jpg"].iter().collect())
        );
    }

    #[test]
    fn windows_device_names_are_known() {
        for device in ["CON", "nul.jpg", "Com1", "lpt9.tar.gz", "Con.Smith.jpg"] {
            assert!(is_windows_device(device), "{device}");
        }
        for name in [
            "Connor.jpg",
            "COM10.jpg",
            "LPT0.png",
            "Aux Hand.jpg",
            "John.Smith.jpg",
        ] {
            assert!(!is_windows_device(name), "{name}");
        }
    }

    #[test]
    fn escapes_absolute_hidden_and_odd_paths_are_refused() {
        for bad in [
            "",
            "/etc/passwd",
            "../x.jpg",
            "a/../../x.jpg",
            "a/./x.jpg",
            ".hidden.jpg",
            "a/.git/x.jpg",
            "a//x.jpg",
            "a/",
            "a\\..\\x.jpg",
            "C:/x.jpg",
            "a/x\0.jpg",
            "a/x\n.jpg",
        ] {
            let err = relative_upload_path(bad).expect_err(bad);
            assert!(err.contains("only relative paths"), "{bad}: {err}");
        }
        assert!(relative_upload_path(&"a/".repeat(40)).is_err());
        assert!(relative_upload_path(&"x".repeat(256)).is_err());
    }
}
