//! The pipeline, stage by stage, on images the tests make themselves.

use image::ImageFormat;
use userphoto_imaging::{
    prepare, probe, CropBox, CropMode, ImagingError, Limits, OutputSpec, PrepareOptions,
    SourceFormat,
};
use userphoto_testkit::fixtures::{self, JpegOptions, Rgb};
use userphoto_testkit::jpeg::{decode_rgb, has_metadata, mean_abs_diff, pixel, segments};

fn sizes(s: &[u32]) -> PrepareOptions {
    PrepareOptions::sizes(s)
}

fn only(bytes: &[u8], size: u32) -> (u32, Vec<u8>) {
    let prepared = prepare(bytes, &sizes(&[size])).expect("prepares");
    let (w, h, px) = decode_rgb(&prepared.photos[0].jpeg);
    assert_eq!(w, h, "output is square");
    (w, px)
}

fn close(a: [u8; 3], b: [u8; 3], tolerance: u8) -> bool {
    a.iter().zip(b).all(|(&x, y)| x.abs_diff(y) <= tolerance)
}

#[test]
fn every_exif_orientation_comes_out_upright() {
    let scene = fixtures::marker_scene(240, 160);
    let (_, reference) = only(&fixtures::jpeg_with_orientation(&scene, 1), 64);
    // A wrong orientation differs a lot (the red block moves to another
    // corner): measured here ≈ 40–60 per sample. Re-encoding noise between
    // correct ones stays under 2.
    for o in 2..=8u8 {
        let bytes = fixtures::jpeg_with_orientation(&scene, o);
        let prepared = prepare(&bytes, &sizes(&[64])).expect("prepares");
        assert_eq!(prepared.report.orientation, o);
        assert_eq!(
            (prepared.report.width, prepared.report.height),
            (240, 160),
            "upright size for {o}"
        );
        let (_, _, px) = decode_rgb(&prepared.photos[0].jpeg);
        let mad = mean_abs_diff(&px, &reference);
        assert!(
            mad < 4.0,
            "orientation {o}: mean abs diff {mad:.2} against upright"
        );
    }
    // Sanity: the check can fail — a mirrored picture is far from upright.
    let mirrored = fixtures::jpeg(
        &fixtures::stored_for_orientation(&scene, 2),
        &JpegOptions {
            quality: 95,
            ..JpegOptions::default()
        },
    );
    let (_, px) = only(&mirrored, 64);
    assert!(mean_abs_diff(&px, &reference) > 15.0);
}

#[test]
fn centre_crop_takes_the_middle_square() {
    // Landscape: left third red, middle green, right third blue.
    let mut img = fixtures::solid(300, 100, [0, 200, 0]);
    for y in 0..100 {
        for x in 0..300 {
            let i = ((y * 300 + x) * 3) as usize;
            if x < 100 {
                img.pixels[i..i + 3].copy_from_slice(&[220, 0, 0]);
            } else if x >= 200 {
                img.pixels[i..i + 3].copy_from_slice(&[0, 0, 220]);
            }
        }
    }
    let bytes = fixtures::encode(ImageFormat::Png, &img);
    let prepared = prepare(&bytes, &sizes(&[50])).expect("prepares");
    assert_eq!(
        prepared.report.crop,
        CropBox {
            x: 100.0,
            y: 0.0,
            side: 100.0
        }
    );
    let (w, _, px) = decode_rgb(&prepared.photos[0].jpeg);
    assert!(
        close(pixel(&px, w, 25, 25), [0, 200, 0], 12),
        "{:?}",
        pixel(&px, w, 25, 25)
    );
}

#[test]
fn explicit_crop_box_is_honoured_in_upright_coordinates() {
    let scene = fixtures::marker_scene(240, 160);
    // The red block sits in the top-left 72×56: crop inside it.
    let options = PrepareOptions {
        crop: CropMode::Box(CropBox {
            x: 4.0,
            y: 4.0,
            side: 40.0,
        }),
        ..sizes(&[32])
    };
    for o in [1u8, 6, 8, 3] {
        let bytes = fixtures::jpeg_with_orientation(&scene, o);
        let prepared = prepare(&bytes, &options).expect("prepares");
        let (w, _, px) = decode_rgb(&prepared.photos[0].jpeg);
        assert!(
            close(pixel(&px, w, 16, 16), [220, 30, 30], 20),
            "orientation {o}: {:?}",
            pixel(&px, w, 16, 16)
        );
    }
    let outside = PrepareOptions {
        crop: CropMode::Box(CropBox {
            x: 200.0,
            y: 0.0,
            side: 100.0,
        }),
        ..sizes(&[32])
    };
    let err = prepare(&fixtures::jpeg_with_orientation(&scene, 1), &outside).unwrap_err();
    assert!(matches!(err, ImagingError::InvalidOptions(_)), "{err}");
}

#[test]
fn outputs_are_exact_within_budget_and_carry_no_metadata() {
    let scene = fixtures::marker_scene(1200, 900);
    let bytes = fixtures::jpeg(
        &scene,
        &JpegOptions {
            quality: 92,
            orientation: Some(6),
            with_private_metadata: true,
            progressive: true,
        },
    );
    assert!(has_metadata(&bytes), "fixture carries EXIF/XMP/COM");
    let prepared = prepare(&bytes, &PrepareOptions::default()).expect("prepares");
    assert!(
        prepared.report.decode_scale < 8,
        "a large JPEG is shrunk while decoding"
    );
    for (photo, spec) in prepared
        .photos
        .iter()
        .zip(&PrepareOptions::default().outputs)
    {
        let (w, h, _) = decode_rgb(&photo.jpeg);
        assert_eq!((w, h), (spec.size, spec.size));
        assert!(
            photo.jpeg.len() <= spec.max_bytes,
            "{} > {}",
            photo.jpeg.len(),
            spec.max_bytes
        );
        assert!(
            !has_metadata(&photo.jpeg),
            "segments {:02x?}",
            segments(&photo.jpeg)
        );
        let text = String::from_utf8_lossy(&photo.jpeg);
        assert!(!text.contains("Exif") && !text.contains("xmp") && !text.contains("51.5007"));
        // Baseline (SOF0), readable by every directory client.
        assert!(segments(&photo.jpeg).contains(&0xC0));
    }
}

#[test]
fn budget_lowers_quality_and_fails_clearly_when_impossible() {
    let noisy = fixtures::encode(ImageFormat::Png, &fixtures::noise(300, 300, 7));
    let roomy = prepare(&noisy, &sizes(&[96])).expect("fits 10 KB");
    let tight = PrepareOptions {
        outputs: vec![OutputSpec {
            size: 96,
            max_bytes: 4_000,
        }],
        ..PrepareOptions::default()
    };
    let fitted = prepare(&noisy, &tight).expect("fits 4 KB at a lower quality");
    assert!(fitted.photos[0].jpeg.len() <= 4_000);
    assert!(fitted.photos[0].quality < roomy.photos[0].quality);
    let impossible = PrepareOptions {
        outputs: vec![OutputSpec {
            size: 648,
            max_bytes: 2_000,
        }],
        upscale: true,
        ..PrepareOptions::default()
    };
    let err = prepare(&noisy, &impossible).unwrap_err();
    assert!(
        matches!(
            err,
            ImagingError::BudgetUnreachable {
                size: 648,
                max_bytes: 2_000,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("2000 bytes"), "{err}");
}

#[test]
fn small_sources_are_not_upscaled_unless_asked() {
    let small = fixtures::encode(ImageFormat::Png, &fixtures::marker_scene(64, 64));
    // Centre framing: two "smaller than" warnings, no `no_face` from `auto`.
    let centre = PrepareOptions {
        crop: CropMode::Centre,
        ..PrepareOptions::default()
    };
    let prepared = prepare(&small, &centre).expect("prepares");
    let sides: Vec<u32> = prepared.photos.iter().map(|p| p.size).collect();
    assert_eq!(sides, vec![64, 64]);
    assert_eq!(
        prepared.report.warnings.len(),
        2,
        "{:?}",
        prepared.report.warnings
    );
    let up = prepare(
        &small,
        &PrepareOptions {
            upscale: true,
            ..centre
        },
    )
    .expect("prepares");
    let sides: Vec<u32> = up.photos.iter().map(|p| p.size).collect();
    assert_eq!(sides, vec![648, 96]);
    assert!(up.report.warnings.is_empty());
}

#[test]
fn adobe_cmyk_becomes_the_right_rgb() {
    // Inks for sRGB (200, 40, 40) by the naive separation, printed on the
    // default CMYK press (no profile in the file): a duller red, as
    // libvips renders it ((194, 71, 61), `vipsthumbnail` 8.14; the
    // comparison over whole photos is tests/cmyk_colour.rs).
    let bytes = fixtures::adobe_cmyk_jpeg(64, 64, [200, 40, 40]);
    let (w, px) = only(&bytes, 32);
    let centre = pixel(&px, w, 16, 16);
    assert!(
        close(centre, [194, 71, 61], 10),
        "CMYK red came out {centre:?}"
    );
}

#[test]
fn alpha_is_flattened_onto_white() {
    let bytes = fixtures::half_transparent_png(100, 100, [30, 90, 200]);
    let (w, px) = only(&bytes, 100);
    assert!(close(pixel(&px, w, 20, 50), [30, 90, 200], 12));
    assert!(
        close(pixel(&px, w, 80, 50), [255, 255, 255], 6),
        "{:?}",
        pixel(&px, w, 80, 50)
    );
    let palette = fixtures::palette_png_with_trns(64, 64);
    let (w, px) = only(&palette, 64);
    assert!(
        close(pixel(&px, w, 56, 32), [255, 255, 255], 6),
        "transparent palette entry is white"
    );
    assert!(close(pixel(&px, w, 8, 32), [200, 20, 20], 20));
}

#[test]
fn sixteen_bit_png_and_tiff_become_8_bit() {
    for format in [ImageFormat::Png, ImageFormat::Tiff] {
        let bytes = fixtures::sixteen_bit(format, 50, 50, [10, 120, 240]);
        let (w, px) = only(&bytes, 50);
        assert!(
            close(pixel(&px, w, 25, 25), [10, 120, 240], 8),
            "{format:?}: {:?}",
            pixel(&px, w, 25, 25)
        );
    }
}

#[test]
fn every_container_format_decodes_by_content() {
    let scene = fixtures::marker_scene(120, 80);
    let cases = [
        (ImageFormat::Png, SourceFormat::Png),
        (ImageFormat::Gif, SourceFormat::Gif),
        (ImageFormat::Bmp, SourceFormat::Bmp),
        (ImageFormat::Tiff, SourceFormat::Tiff),
        (ImageFormat::WebP, SourceFormat::Webp),
    ];
    let (_, reference) = only(&fixtures::encode(ImageFormat::Png, &scene), 64);
    for (format, expected) in cases {
        let bytes = fixtures::encode(format, &scene);
        let prepared = prepare(&bytes, &sizes(&[64])).expect("prepares");
        assert_eq!(prepared.report.format, expected);
        let (_, _, px) = decode_rgb(&prepared.photos[0].jpeg);
        // GIF quantises to 256 colours; allow for it.
        assert!(mean_abs_diff(&px, &reference) < 6.0, "{format:?}");
    }
    let grey = fixtures::grey_jpeg(80, 80);
    let (w, px) = only(&grey, 40);
    let p = pixel(&px, w, 20, 20);
    assert!(
        p[0].abs_diff(p[1]) <= 2 && p[1].abs_diff(p[2]) <= 2,
        "grey stays grey: {p:?}"
    );
}

#[test]
fn damaged_files_are_rejected_not_published() {
    let scene = fixtures::marker_scene(400, 300);
    let progressive = fixtures::jpeg(
        &scene,
        &JpegOptions {
            progressive: true,
            ..JpegOptions::default()
        },
    );
    let baseline = fixtures::jpeg(&scene, &JpegOptions::default());
    let png = fixtures::encode(ImageFormat::Png, &fixtures::noise(200, 200, 3));
    for (name, bytes) in [
        ("baseline JPEG", fixtures::truncated(&baseline, 0.6)),
        ("progressive JPEG", fixtures::truncated(&progressive, 0.5)),
        ("PNG", fixtures::truncated(&png, 0.7)),
    ] {
        let err = prepare(&bytes, &PrepareOptions::default()).unwrap_err();
        assert!(matches!(err, ImagingError::Corrupt { .. }), "{name}: {err}");
        assert!(err.to_string().contains("damaged"), "{name}: {err}");
    }
}

#[test]
fn bombs_are_refused_by_declared_size_before_decoding() {
    for (name, bytes) in [
        ("PNG", fixtures::png_bomb_header(100_000, 100_000)),
        ("JPEG", fixtures::jpeg_bomb_header(60_000, 60_000)),
    ] {
        let err = prepare(&bytes, &PrepareOptions::default()).unwrap_err();
        assert!(
            matches!(err, ImagingError::TooManyPixels { .. }),
            "{name}: {err}"
        );
        let text = err.to_string();
        assert!(text.contains("100000000-pixel limit"), "{name}: {text}");
    }
    let tight = Limits {
        max_pixels: 1_000,
        ..Limits::default()
    };
    let err = probe(
        &fixtures::encode(ImageFormat::Png, &fixtures::solid(40, 40, [0, 0, 0])),
        &tight,
    )
    .unwrap_err();
    assert!(matches!(
        err,
        ImagingError::TooManyPixels {
            width: 40,
            height: 40,
            limit: 1_000
        }
    ));
}

#[test]
fn non_images_and_limits_get_clear_errors() {
    assert_eq!(
        prepare(b"", &PrepareOptions::default()).unwrap_err(),
        ImagingError::Empty
    );
    let err = prepare(b"name,photo\njohn,x\n", &PrepareOptions::default()).unwrap_err();
    assert!(err.to_string().contains("text file"), "{err}");
    let big = fixtures::encode(ImageFormat::Png, &fixtures::noise(100, 100, 1));
    let limits = Limits {
        max_input_bytes: 1_000,
        ..Limits::default()
    };
    let err = prepare(
        &big,
        &PrepareOptions {
            limits,
            ..PrepareOptions::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, ImagingError::InputTooLarge { .. }), "{err}");
}

#[test]
fn probe_reports_upright_size_without_decoding() {
    let scene = fixtures::marker_scene(240, 160);
    let info = probe(
        &fixtures::jpeg_with_orientation(&scene, 6),
        &Limits::default(),
    )
    .expect("probes");
    assert_eq!((info.width, info.height, info.orientation), (240, 160, 6));
    assert_eq!(info.square_side(), 160);
}

#[test]
fn one_decode_serves_many_sizes_consistently() {
    let scene = fixtures::marker_scene(800, 600);
    let bytes = fixtures::jpeg(&scene, &JpegOptions::default());
    let prepared = prepare(&bytes, &sizes(&[648, 240, 96, 48])).expect("prepares");
    let got: Vec<u32> = prepared.photos.iter().map(|p| p.size).collect();
    assert_eq!(
        got,
        vec![600, 240, 96, 48],
        "600 is the source square; nothing upscaled"
    );
    let expected = Rgb {
        ..fixtures::marker_scene(800, 600).crop(100, 0, 600)
    };
    let expected = fixtures::encode(ImageFormat::Png, &expected);
    let (_, reference) = only(&expected, 96);
    let (_, _, px) = decode_rgb(&prepared.photos[2].jpeg);
    assert!(mean_abs_diff(&px, &reference) < 3.0);
}
