//! Colour: turn whatever the source holds (grey, RGB in some ICC space,
//! CMYK) into 8-bit sRGB.
//!
//! Conversion runs on the small resized outputs, not the decoded picture:
//! it is a per-pixel map, so doing it after resizing costs a few thousand
//! pixels instead of millions. Colour profiles go through `moxcms`; a
//! profile that does not parse is ignored (broken metadata is not fatal).
//!
//! CMYK without a usable profile is read through a built-in proofing-press
//! profile, the one libvips uses for the same case (Graeme Gill's public
//! domain "Chemical proof"; `profiles/README.md` says where it comes from),
//! so the colours are those of `vipsthumbnail`, not of a naive formula.

use crate::decode::PixelLayout;
use moxcms::{
    ColorProfile, DataColorSpace, Layout, RenderingIntent, Transform8BitExecutor, TransformOptions,
};
use std::sync::{Arc, OnceLock};

/// The default CMYK profile (see `profiles/README.md`).
const CMYK_PROFILE: &[u8] = include_bytes!("profiles/chemical-proof.icc");

/// The default CMYK transform, built once per process (parsing the profile
/// and building its lookup tables costs more than converting a thumbnail).
fn default_cmyk_transform() -> Option<Arc<Transform8BitExecutor>> {
    static CMYK: OnceLock<Option<Arc<Transform8BitExecutor>>> = OnceLock::new();
    CMYK.get_or_init(|| {
        build_transform(PixelLayout::Cmyk { inverted: false }, CMYK_PROFILE)
            .ok()
            .flatten()
    })
    .clone()
}

/// Converts samples of one layout (and optional profile) to sRGB RGB8.
pub(crate) struct ToSrgb {
    layout: PixelLayout,
    transform: Option<Arc<Transform8BitExecutor>>,
}

impl std::fmt::Debug for ToSrgb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToSrgb")
            .field("layout", &self.layout)
            .field("icc", &self.transform.is_some())
            .finish()
    }
}

impl ToSrgb {
    /// Prepare a converter. `notes` gets a line when a profile is applied
    /// or ignored.
    pub(crate) fn new(layout: PixelLayout, icc: Option<&[u8]>, notes: &mut Vec<String>) -> Self {
        let mut transform = icc.and_then(|icc| match build_transform(layout, icc) {
            Ok(Some(t)) => {
                notes.push("embedded colour profile converted to sRGB".into());
                Some(t)
            }
            Ok(None) => None,
            Err(why) => {
                notes.push(format!("embedded colour profile ignored ({why})"));
                None
            }
        });
        if transform.is_none() && matches!(layout, PixelLayout::Cmyk { .. }) {
            // Ink amounts mean nothing without a press: take the usual one.
            transform = default_cmyk_transform();
            if transform.is_some() {
                notes.push("CMYK without a colour profile read with the default press profile, as libvips does".into());
            }
        }
        Self { layout, transform }
    }

    /// Convert `src` (in this converter's layout) to RGB8.
    pub(crate) fn convert(&self, src: Vec<u8>) -> Vec<u8> {
        if self.transform.is_none() && self.layout == PixelLayout::Rgb {
            return src; // already sRGB (untagged RGB is taken as sRGB)
        }
        let src = &src[..];
        let pixels = src.len() / self.layout.channels();
        let mut out = vec![0u8; pixels * 3];
        if let Some(t) = &self.transform {
            let input: std::borrow::Cow<'_, [u8]> = match self.layout {
                // Profiles describe ink amounts; Adobe files store 255 − ink.
                PixelLayout::Cmyk { inverted: true } => {
                    src.iter().map(|v| 255 - v).collect::<Vec<_>>().into()
                }
                _ => src.into(),
            };
            if t.transform(&input, &mut out).is_ok() {
                return out;
            }
        }
        match self.layout {
            PixelLayout::Gray => {
                for (o, &g) in out.chunks_exact_mut(3).zip(src) {
                    o.fill(g);
                }
            }
            PixelLayout::Rgb => out.copy_from_slice(&src[..pixels * 3]),
            PixelLayout::Cmyk { inverted } => {
                for (o, p) in out.chunks_exact_mut(3).zip(src.chunks_exact(4)) {
                    // Only if even the built-in profile failed: the classic naive conversion
                    // R = (1 − C)(1 − K), on "paper white" values.
                    let w = |v: u8| {
                        if inverted {
                            u32::from(v)
                        } else {
                            255 - u32::from(v)
                        }
                    };
                    let k = w(p[3]);
                    for i in 0..3 {
                        o[i] = ((w(p[i]) * k + 127) / 255) as u8;
                    }
                }
            }
        }
        out
    }
}

fn build_transform(
    layout: PixelLayout,
    icc: &[u8],
) -> Result<Option<Arc<Transform8BitExecutor>>, String> {
    let profile = ColorProfile::new_from_slice(icc).map_err(|e| format!("{e:?}"))?;
    let (expected, src_layout) = match layout {
        PixelLayout::Gray => (DataColorSpace::Gray, Layout::Gray),
        PixelLayout::Rgb => (DataColorSpace::Rgb, Layout::Rgb),
        PixelLayout::Cmyk { .. } => (DataColorSpace::Cmyk, Layout::Rgba),
    };
    if profile.color_space != expected {
        return Err(format!(
            "profile is for {:?} data, the pixels are {:?}",
            profile.color_space, expected
        ));
    }
    let srgb = ColorProfile::new_srgb();
    let options = TransformOptions {
        // What libvips uses: a photo's colours kept as measured, the
        // profile's white mapped to sRGB's.
        rendering_intent: RenderingIntent::RelativeColorimetric,
        ..TransformOptions::default()
    };
    profile
        .create_transform_8bit(src_layout, &srgb, Layout::Rgb, options)
        .map(Some)
        .map_err(|e| format!("{e:?}"))
}
