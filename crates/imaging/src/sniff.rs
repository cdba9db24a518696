//! Format detection from the bytes themselves; file extensions lie.

use serde::Serialize;

/// A format we recognise by its signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    /// JPEG, including MPO (its first picture is a plain JPEG).
    Jpeg,
    /// PNG and APNG.
    Png,
    /// GIF 87a/89a.
    Gif,
    /// Windows bitmap.
    Bmp,
    /// TIFF, little- or big-endian.
    Tiff,
    /// WebP (lossy, lossless, animated).
    Webp,
}

impl SourceFormat {
    /// Lower-case name used in messages and reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Jpeg => "JPEG",
            Self::Png => "PNG",
            Self::Gif => "GIF",
            Self::Bmp => "BMP",
            Self::Tiff => "TIFF",
            Self::Webp => "WebP",
        }
    }
}

/// What the first bytes say, when they are not a format we read.
pub(crate) fn describe_unknown(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(12)];
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        let brand = String::from_utf8_lossy(&head[8..12]).into_owned();
        return match brand.as_str() {
            "avif" | "avis" => "AVIF images are not supported yet".into(),
            "heic" | "heix" | "mif1" | "msf1" | "hevc" => {
                "HEIC/HEIF images (iPhone photos) are not supported; export them as JPEG".into()
            }
            _ => format!("an ISO media file with brand '{brand}'"),
        };
    }
    if head.starts_with(b"%PDF") {
        return "a PDF document".into();
    }
    if head.starts_with(b"PK\x03\x04") {
        return "a ZIP archive or Office document".into();
    }
    if head
        .iter()
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
    {
        return "a text file".into();
    }
    let hex: Vec<String> = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("unknown signature {}", hex.join(" "))
}

/// Detect the format from the leading bytes.
pub fn sniff(bytes: &[u8]) -> Option<SourceFormat> {
    match bytes {
        [0xFF, 0xD8, 0xFF, ..] => Some(SourceFormat::Jpeg),
        [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some(SourceFormat::Png),
        [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => Some(SourceFormat::Gif),
        [b'B', b'M', ..] => Some(SourceFormat::Bmp),
        [b'I', b'I', 42, 0, ..] | [b'M', b'M', 0, 42, ..] => Some(SourceFormat::Tiff),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => {
            Some(SourceFormat::Webp)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_content_not_name() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(SourceFormat::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some(SourceFormat::Png));
        assert_eq!(sniff(b"GIF89a"), Some(SourceFormat::Gif));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(SourceFormat::Webp));
        assert_eq!(sniff(b"II*\0"), Some(SourceFormat::Tiff));
        assert_eq!(sniff(b"hello"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn names_heic_and_avif() {
        let heic = b"\0\0\0\x18ftypheic\0\0\0\0";
        assert!(describe_unknown(heic).contains("HEIC"));
        let avif = b"\0\0\0\x1cftypavif\0\0\0\0";
        assert!(describe_unknown(avif).contains("AVIF"));
    }
}
