//! CMYK JPEGs without a colour profile come out as libvips makes them (both
//! read them through the same public-domain press profile): mean CIEDE2000 against
//! `vipsthumbnail`'s output of the same square, on the corpus's CMYK file and
//! on camera photos separated to CMYK the way ImageMagick does.
//!
//! Needs `vipsthumbnail` (Debian: libvips-tools), installed by `.ci/run`.

use palette::color_difference::Ciede2000;
use palette::{FromColor, Lab, Srgb};
use std::path::Path;
use std::process::Command;
use userphoto_imaging::{prepare, CropMode, OutputSpec, PrepareOptions};
use userphoto_testkit::fixtures::{self, Rgb};
use userphoto_testkit::jpeg::decode_rgb;

/// Side compared: large enough to average over real detail (a smaller
/// source is compared at its own size).
const SIDE: u32 = 256;

/// Ours: the centred square at `side`, as RGB.
fn ours(bytes: &[u8], side: u32) -> Vec<u8> {
    let options = PrepareOptions {
        outputs: vec![OutputSpec {
            size: side,
            // Room for a high quality: the test is about colour, not the budget.
            max_bytes: 1 << 20,
        }],
        crop: CropMode::Centre,
        // The colour, not JPEG's loss (vips' side is lossless PNG): at the
        // default quality 90 the 100 px corpus file measures 3.3, of which
        // 1 is chroma subsampling and quantisation.
        max_quality: 100,
        ..PrepareOptions::default()
    };
    let prepared = prepare(bytes, &options).expect("prepares");
    let (w, h, px) = decode_rgb(&prepared.photos[0].jpeg);
    assert_eq!((w, h), (side, side));
    px
}

/// vipsthumbnail's centred square at `side`, lossless (PNG), as RGB.
fn vips(bytes: &[u8], side: u32) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path().join("src.jpg");
    std::fs::write(&src, bytes).expect("write source");
    let out = dir.path().join("out.png");
    let run = Command::new("vipsthumbnail")
        .arg(&src)
        .args([
            "--size",
            &format!("{side}x{side}"),
            "--smartcrop",
            "centre",
            "-o",
        ])
        .arg(&out)
        .output()
        .unwrap_or_else(|e| {
            panic!("vipsthumbnail cannot run ({e}); install it: apt-get install libvips-tools")
        });
    assert!(
        run.status.success(),
        "vipsthumbnail failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let img = image::open(&out).expect("vips output decodes").to_rgb8();
    assert_eq!((img.width(), img.height()), (side, side));
    img.into_raw()
}

fn lab(p: &[u8]) -> Lab {
    Lab::from_color(Srgb::new(p[0], p[1], p[2]).into_format::<f32>())
}

/// Mean CIEDE2000 between two same-size RGB8 buffers.
fn mean_delta_e(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let sum: f64 = a
        .chunks_exact(3)
        .zip(b.chunks_exact(3))
        .map(|(x, y)| f64::from(lab(x).difference(lab(y))))
        .sum();
    sum / (a.len() / 3) as f64
}

/// The target of issue 21 (7.8 before SWOP was the default).
const MAX_MEAN_DELTA_E: f64 = 3.0;

fn check(name: &str, cmyk: &[u8]) -> f64 {
    let info = userphoto_imaging::probe(cmyk, &Default::default()).expect("probes");
    let side = SIDE.min(info.square_side());
    let (a, b) = (ours(cmyk, side), vips(cmyk, side));
    let de = mean_delta_e(&a, &b);
    let mid = ((side / 2 * side + side / 2) * 3) as usize;
    eprintln!(
        "{name}: mean CIEDE2000 to vipsthumbnail {de:.2} (centre pixel: ours {:?}, vips {:?})",
        &a[mid..mid + 3],
        &b[mid..mid + 3]
    );
    de
}

#[test]
fn the_delta_e_measure_tells_colours_apart() {
    // Identical is 0, black to white is 100.
    let black = [0u8, 0, 0];
    let white = [255u8, 255, 255];
    assert!(mean_delta_e(&white, &white) < 1e-6);
    assert!((mean_delta_e(&black, &white) - 100.0).abs() < 0.5);
    // Sharma et al. pair 1: Lab(50, 2.6772, -79.7751) vs Lab(50, 0, -82.7485) → 2.0425.
    type Lab64 = Lab<palette::white_point::D65, f64>;
    let d = Lab64::new(50.0, 2.6772, -79.7751).difference(Lab64::new(50.0, 0.0, -82.7485));
    assert!((d - 2.0425).abs() < 1e-3, "{d}");
}

#[test]
#[cfg_attr(
    windows,
    ignore = "its reference is the Linux vipsthumbnail, which a test under Wine cannot run; the Linux run covers the colour (docs/TESTING.md)"
)]
fn untagged_cmyk_matches_libvips() {
    let mut checked = Vec::new();
    // Solid colours across the gamut, separated naively (what a
    // "convert -colorspace CMYK" without profiles gives).
    let patches = [
        [200u8, 40, 40],
        [40, 160, 60],
        [30, 60, 200],
        [230, 200, 150],
        [90, 90, 90],
    ];
    for rgb in patches {
        let de = check(
            &format!("solid {rgb:?}"),
            &fixtures::adobe_cmyk_jpeg(300, 300, rgb),
        );
        checked.push((format!("solid {rgb:?}"), de));
    }
    // Real photos: the corpus's CMYK file (Adobe, inverted), and camera
    // photos separated to CMYK.
    if let Some(corpus) = userphoto_testkit::corpus::dir(
        "odd/MANIFEST.tsv",
        "CMYK colour against vipsthumbnail on real photos",
    ) {
        let cmyk = std::fs::read(corpus.join("odd/pil_sample_cmyk.jpg")).expect("corpus CMYK file");
        checked.push((
            "odd/pil_sample_cmyk.jpg".into(),
            check("pil_sample_cmyk", &cmyk),
        ));
        for photo in [
            "faces/grace_hopper.jpg",
            "large/derived_colorfulcups_4000x3000.jpg",
        ] {
            let rgb = camera_photo(&corpus.join(photo));
            let cmyk = fixtures::cmyk_jpeg(&rgb, 95);
            checked.push((format!("{photo} as CMYK"), check(photo, &cmyk)));
        }
    }
    // Photos: the target of issue 21. Solid patches: each within 4 (a
    // saturated blue measures 3.1: moxcms and lcms interpolate the
    // profile's coarse 9-point grid differently there).
    let over: Vec<_> = checked
        .iter()
        .filter(|(name, de)| {
            *de > if name.starts_with("solid") {
                4.0
            } else {
                MAX_MEAN_DELTA_E
            }
        })
        .collect();
    assert!(
        over.is_empty(),
        "mean CIEDE2000 to vipsthumbnail over {MAX_MEAN_DELTA_E} (photos) or 4 (solid patches): {over:?}"
    );
}

/// A corpus photo as RGB, its centred square brought to about 800 px by
/// our own pipeline (a 12 MP decode in a debug build would be slow).
fn camera_photo(path: &Path) -> Rgb {
    let bytes = std::fs::read(path).expect("corpus photo");
    let options = PrepareOptions {
        outputs: vec![OutputSpec {
            size: 800,
            max_bytes: 4 << 20,
        }],
        crop: CropMode::Centre,
        ..PrepareOptions::default()
    };
    let prepared = prepare(&bytes, &options).expect("prepares");
    let (width, height, pixels) = decode_rgb(&prepared.photos[0].jpeg);
    Rgb {
        width,
        height,
        pixels,
    }
}
