//! File names made from ids a directory or a user controls.
//!
//! One rule for every such name (the folder backend's photo files, backup
//! files and folders, sync jobs' lock files), so a name that is harmless on
//! Linux cannot open a device or be silently renamed on Windows: there
//! `CON`, `aux.jpg` or `COM1.txt` name devices, and a trailing dot or space
//! is dropped by the file system, so `smith.` and `smith` would share a file.

/// A portable file-name stem for `id`: letters, digits, `-`, `_`, `@` and
/// inner dots kept; everything else (a leading or trailing dot, spaces,
/// `\`, `/`, `:`, non-ASCII) percent-encoded, and a Windows device name
/// escaped by encoding its first letter (`CON` → `%43ON`). Distinct ids
/// give distinct stems, and the result never climbs out of its folder.
///
/// ```
/// use userphoto_directory::file_name::portable_stem;
/// assert_eq!(portable_stem("john.smith"), "john.smith");
/// assert_eq!(portable_stem("aux.jpg"), "%61ux.jpg");
/// assert_eq!(portable_stem("smith. "), "smith.%20");
/// ```
pub fn portable_stem(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    let last = id.len().saturating_sub(1);
    for (i, c) in id.char_indices() {
        let keep = c.is_ascii_alphanumeric()
            || matches!(c, '-' | '_' | '@')
            || (c == '.' && i != 0 && i != last);
        if keep {
            out.push(c);
        } else {
            let mut buf = [0; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    if is_windows_device(&out) {
        // Encode the first character, e.g. "CON" -> "%43ON".
        let first = out.remove(0);
        out.insert_str(0, &format!("%{:02X}", first as u32));
    }
    out
}

/// Whether Windows reads the file name `name` as a device (`CON`, `PRN`,
/// `AUX`, `NUL`, `COM0`–`COM9`, `LPT0`–`LPT9`, with any extension and in
/// any case), whatever folder it is in.
pub fn is_windows_device(name: &str) -> bool {
    // Windows ignores the extension and spaces before it: "con .txt".
    let base = name.split('.').next().unwrap_or("").trim_end_matches(' ');
    let base = base.to_ascii_uppercase();
    let numbered = |prefix: &str| {
        base.strip_prefix(prefix).is_some_and(|n| {
            matches!(n.as_bytes(), [d] if d.is_ascii_digit())
                || matches!(n, "\u{b9}" | "\u{b2}" | "\u{b3}")
        })
    };
    matches!(base.as_str(), "CON" | "PRN" | "AUX" | "NUL") || numbered("COM") || numbered("LPT")
}

/// Whether Windows can keep a file named `name` under that very name: not
/// a device, no character it forbids (`<>:"/\|?*` or a control
/// character), and no trailing dot or space (which it would drop).
pub fn is_windows_safe(name: &str) -> bool {
    !name.is_empty()
        && !is_windows_device(name)
        && !name.ends_with(['.', ' '])
        && !name.chars().any(|c| {
            c.is_control() || matches!(c, '<' | '>' | ':' | '"' | '/' | '\\' | '|' | '?' | '*')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_are_safe_file_names() {
        assert_eq!(portable_stem("john.smith"), "john.smith");
        assert_eq!(portable_stem("a@b.example"), "a@b.example");
        assert_eq!(portable_stem("../etc/passwd"), "%2E.%2Fetc%2Fpasswd");
        assert_eq!(portable_stem(".."), "%2E%2E");
        assert_eq!(
            portable_stem("CN=Smith\\, John,OU=Staff"),
            "CN%3DSmith%5C%2C%20John%2COU%3DStaff"
        );
        assert_eq!(portable_stem("ren\u{e9}"), "ren%C3%A9");
        assert_eq!(portable_stem("trailing."), "trailing%2E");
        assert_eq!(portable_stem("con"), "%63on");
        assert_eq!(portable_stem("COM1.x"), "%43OM1.x");
        assert_eq!(portable_stem("console"), "console");
        assert_eq!(portable_stem("C:\\Photos"), "C%3A%5CPhotos");
    }

    #[test]
    fn windows_devices_are_known_in_any_case_and_with_any_extension() {
        for name in [
            "CON",
            "con",
            "aux.jpg",
            "Nul.tar.gz",
            "prn",
            "COM1",
            "lpt9.txt",
            "con .txt",
            "COM\u{b9}",
        ] {
            assert!(is_windows_device(name), "{name}");
            assert!(!is_windows_safe(name), "{name}");
        }
        for name in ["console", "auxiliary.jpg", "COM10", "LPT", "nul_", "xcon"] {
            assert!(!is_windows_device(name), "{name}");
        }
    }

    #[test]
    fn every_stem_is_windows_safe() {
        for id in [
            "CON",
            "aux.jpg",
            "smith.",
            "smith ",
            "smith. .",
            "a:b",
            "a<b>c",
            "a|b?c*",
            "\u{7}",
            "lpt1",
            ".hidden",
            "COM\u{b2}",
            "x\\y/z",
        ] {
            let stem = portable_stem(id);
            assert!(is_windows_safe(&stem), "{id:?} gave {stem:?}");
            assert!(
                is_windows_safe(&format!("{stem}.jpg")),
                "{id:?} gave {stem:?}"
            );
        }
        assert!(!is_windows_safe("smith."));
        assert!(!is_windows_safe("smith "));
        assert!(!is_windows_safe("a:b"));
    }
}
