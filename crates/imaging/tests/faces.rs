//! Face framing and quality checks.
//!
//! * On the real portraits of `../shared/corpus/faces` (or
//!   `$USERPHOTO_CORPUS/faces`), with the boxes of its `faces.tsv`: the whole
//!   face box lies inside the crop, and its centre is within 10 % of the
//!   crop's side from the crop's vertical centre line. A face the detector
//!   is not built to find (smaller than 10 % of the picture's long side, see
//!   docs/FACES.md) may be missed, but then the fallback and the `no_face`
//!   warning must be there. The corpus is not in the repository: when it is
//!   absent the test says so loudly, and fails if
//!   `USERPHOTO_REQUIRE_CORPUS=1`.
//! * Generated pictures without a face fall back as specified: `face` →
//!   centred square, `auto` → centred (landscape) or upper-centre (portrait).
//! * `auto` on the orientation set frames the same square of the upright
//!   picture for every EXIF orientation.
//! * Quality: dark, blurry and small pictures are flagged, sharp corpus
//!   portraits are not, and `strict` turns findings into an error.
//!
//! Face-cropped outputs are saved as PNG (with a preview of the source
//! showing the face box in green and the crop in red) to
//! `test-output/faces/` for people to look at.

use image::{ImageFormat, Rgb as Px, RgbImage};
use std::path::{Path, PathBuf};
use userphoto_imaging::{
    prepare, CropMode, Framing, ImagingError, PrepareOptions, Prepared, QualityIssue,
    BLUR_THRESHOLD, CENTRE_TOLERANCE, FACE_SHARE,
};
use userphoto_testkit::fixtures;
use userphoto_testkit::jpeg::{decode_rgb, mean_abs_diff};

fn corpus_dir() -> Option<PathBuf> {
    userphoto_testkit::corpus::dir("faces/faces.tsv", "face framing on real photos")
}

fn output_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-output/faces");
    std::fs::create_dir_all(&dir).expect("test-output/faces can be created");
    dir
}

fn with_crop(crop: CropMode) -> PrepareOptions {
    PrepareOptions {
        crop,
        ..PrepareOptions::default()
    }
}

/// A face box from faces.tsv: x, y, w, h.
type Face = (f64, f64, f64, f64);

struct Row {
    file: String,
    width: f64,
    height: f64,
    faces: Vec<Face>,
}

fn rows(dir: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(dir.join("faces.tsv")).expect("faces.tsv readable");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("faces.tsv has no {name} column"))
    };
    let (c_file, c_w, c_h, c_boxes) = (
        col("file"),
        col("width"),
        col("height"),
        col("face_boxes_xywh"),
    );
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cells: Vec<&str> = l.split('\t').collect();
            let faces = cells[c_boxes]
                .split(';')
                .filter(|b| !b.trim().is_empty())
                .map(|b| {
                    let v: Vec<f64> = b
                        .split(',')
                        .map(|n| n.trim().parse().expect("numeric box"))
                        .collect();
                    (v[0], v[1], v[2], v[3])
                })
                .collect();
            Row {
                file: cells[c_file].to_string(),
                width: cells[c_w].parse().expect("width"),
                height: cells[c_h].parse().expect("height"),
                faces,
            }
        })
        .collect()
}

/// Save the largest output as PNG and a source preview with the face boxes
/// (green) and the crop (red).
fn save(name: &str, source: &[u8], prepared: &Prepared) {
    let dir = output_dir();
    let (w, h, px) = decode_rgb(&prepared.photos[0].jpeg);
    let out = RgbImage::from_raw(w, h, px).expect("output buffer");
    out.save_with_format(dir.join(format!("{name}.face.png")), ImageFormat::Png)
        .expect("output PNG written");
    let Ok(src) = image::load_from_memory(source) else {
        return;
    };
    let mut src = src.to_rgb8();
    let r = &prepared.report;
    for f in &r.faces {
        rect(&mut src, f.x, f.y, f.width, f.height, Px([0, 220, 0]));
    }
    rect(
        &mut src,
        r.crop.x,
        r.crop.y,
        r.crop.side,
        r.crop.side,
        Px([230, 0, 0]),
    );
    src.save_with_format(dir.join(format!("{name}.source.png")), ImageFormat::Png)
        .expect("preview PNG written");
}

fn rect(img: &mut RgbImage, x: f64, y: f64, w: f64, h: f64, c: Px<u8>) {
    let (iw, ih) = (img.width() as i64, img.height() as i64);
    let t = (iw.max(ih) / 200).max(1);
    let (x0, y0) = (x as i64, y as i64);
    let (x1, y1) = ((x + w) as i64 - 1, (y + h) as i64 - 1);
    for yy in y0..=y1 {
        for xx in x0..=x1 {
            let edge = xx - x0 < t || x1 - xx < t || yy - y0 < t || y1 - yy < t;
            if edge && (0..iw).contains(&xx) && (0..ih).contains(&yy) {
                img.put_pixel(xx as u32, yy as u32, c);
            }
        }
    }
}

#[test]
fn corpus_faces_are_framed() {
    let Some(corpus) = corpus_dir() else { return };
    let dir = corpus.join("faces");
    let rows = rows(&dir);
    assert!(!rows.is_empty(), "faces.tsv lists no photo");
    let mut framed = 0;
    for row in &rows {
        let bytes = std::fs::read(dir.join(&row.file)).expect("corpus face readable");
        // Expected: the largest listed face.
        let &(fx, fy, fw, fh) = row
            .faces
            .iter()
            .max_by(|a, b| (a.2 * a.3).total_cmp(&(b.2 * b.3)))
            .expect("a face box");
        for mode in [CropMode::Face, CropMode::Auto] {
            let p =
                prepare(&bytes, &with_crop(mode)).unwrap_or_else(|e| panic!("{}: {e}", row.file));
            let r = &p.report;
            let c = r.crop;
            eprintln!(
                "{} {mode:?}: framing {:?}, crop {:.0},{:.0} side {:.0}; faces {:?}; quality {:?}; checks {:?}",
                row.file, r.framing, c.x, c.y, c.side, r.faces, r.quality, r.checks
            );
            assert!(
                c.x >= 0.0 && c.y >= 0.0 && c.x + c.side <= row.width && c.y + c.side <= row.height,
                "{}: crop outside the picture",
                row.file
            );
            let findable = fh.max(fw) >= 0.10 * row.width.max(row.height);
            if r.framing != Framing::Face {
                assert!(
                    !findable,
                    "{}: the {fw}×{fh} face was not found ({mode:?})",
                    row.file
                );
                eprintln!(
                    "*** {}: small face ({fw}×{fh}) not found — fallback checked instead ***",
                    row.file
                );
                assert!(r.checks.contains(&QualityIssue::NoFace), "{}", row.file);
                let centre = (row.width - c.side) / 2.0;
                assert!(
                    (c.x - centre).abs() <= 1.0,
                    "{}: fallback is not centred horizontally",
                    row.file
                );
                continue;
            }
            let slack = 1.0;
            assert!(
                fx >= c.x - slack
                    && fy >= c.y - slack
                    && fx + fw <= c.x + c.side + slack
                    && fy + fh <= c.y + c.side + slack,
                "{}: face {fx},{fy},{fw},{fh} not inside crop {c:?}",
                row.file
            );
            let off = (fx + fw / 2.0 - (c.x + c.side / 2.0)).abs() / c.side;
            assert!(
                off <= 0.10,
                "{}: face centre is {:.1} % of the side off the centre line",
                row.file,
                off * 100.0
            );
            assert!(
                !r.checks.contains(&QualityIssue::TooBlurry)
                    && !r.checks.contains(&QualityIssue::TooDark),
                "{}: a good portrait flagged {:?}",
                row.file,
                r.checks
            );
            if row.faces.len() > 1 && r.faces.len() > 1 {
                assert!(r.checks.contains(&QualityIssue::SeveralFaces));
            }
            if mode == CropMode::Face {
                let stem = row.file.rsplit_once('.').map_or(&*row.file, |s| s.0);
                save(stem, &bytes, &p);
                framed += 1;
            }
        }
    }
    assert!(framed > 0, "no corpus face was framed");
    eprintln!(
        "framed {framed} of {} corpus portraits; PNGs in test-output/faces/",
        rows.len()
    );
}

#[test]
fn corpus_portraits_blurred_on_purpose_are_flagged() {
    let Some(corpus) = corpus_dir() else { return };
    let bytes = std::fs::read(corpus.join("faces/grace_hopper.jpg")).expect("readable");
    let img = image::load_from_memory(&bytes).expect("decodes").to_rgb8();
    let options = with_crop(CropMode::Face);
    let sharp = prepare(&bytes, &options).expect("converts");
    let sharpness = |p: &Prepared| p.report.quality.expect("measured").sharpness;
    eprintln!("grace_hopper sharpness {:.1}", sharpness(&sharp));
    for sigma in [1.0f32, 2.0, 3.0, 5.0] {
        let blurred = image::imageops::blur(&img, sigma);
        let mut png = Vec::new();
        blurred
            .write_to(&mut std::io::Cursor::new(&mut png), ImageFormat::Png)
            .expect("PNG");
        let p = prepare(&png, &options).expect("converts");
        let s = sharpness(&p);
        eprintln!(
            "grace_hopper blurred σ={sigma}: sharpness {s:.1}, framing {:?}, checks {:?}",
            p.report.framing, p.report.checks
        );
        if sigma >= 3.0 {
            assert!(
                p.report.checks.contains(&QualityIssue::TooBlurry),
                "σ={sigma} blur not flagged (sharpness {s:.1}, threshold {BLUR_THRESHOLD})"
            );
        }
        if sigma <= 1.0 {
            assert!(!p.report.checks.contains(&QualityIssue::TooBlurry));
        }
    }
}

#[test]
fn pictures_without_a_face_fall_back_as_specified() {
    let landscape = fixtures::encode(ImageFormat::Png, &fixtures::marker_scene(900, 600));
    let portrait = fixtures::encode(ImageFormat::Png, &fixtures::marker_scene(600, 900));
    let noise = fixtures::jpeg(
        &fixtures::noise(800, 1000, 7),
        &fixtures::JpegOptions::default(),
    );
    for (what, bytes, w, h) in [
        ("landscape", &landscape, 900.0, 600.0),
        ("portrait", &portrait, 600.0, 900.0),
        ("noise portrait", &noise, 800.0, 1000.0),
    ] {
        let side = f64::min(w, h);
        let face = prepare(bytes, &with_crop(CropMode::Face)).expect("converts");
        let r = &face.report;
        assert!(r.faces.is_empty(), "{what}: phantom face {:?}", r.faces);
        assert_eq!(r.framing, Framing::Centre, "{what}");
        assert_eq!(
            (r.crop.x, r.crop.y, r.crop.side),
            (((w - side) / 2.0).floor(), ((h - side) / 2.0).floor(), side),
            "{what}: face falls back to the centred square"
        );
        assert!(r.checks.contains(&QualityIssue::NoFace), "{what}");
        assert!(r.warnings.iter().any(|w| w.contains("no face")), "{what}");

        let auto = prepare(bytes, &with_crop(CropMode::Auto)).expect("converts");
        let r = &auto.report;
        assert!(r.checks.contains(&QualityIssue::NoFace), "{what}");
        if w >= h {
            assert_eq!(r.framing, Framing::Centre, "{what}");
            assert_eq!(r.crop.y, 0.0);
            assert_eq!(r.crop.x, ((w - side) / 2.0).floor());
        } else {
            assert_eq!(r.framing, Framing::UpperCentre, "{what}");
            assert_eq!((r.crop.x, r.crop.side), (0.0, w), "{what}");
            // Upper part: above the centred square, never outside.
            assert!(
                r.crop.y < (h - side) / 2.0 && r.crop.y >= 0.0,
                "{what}: {:?}",
                r.crop
            );
        }

        // Centre mode never looks for faces.
        let centre = prepare(bytes, &with_crop(CropMode::Centre)).expect("converts");
        assert!(!centre.report.checks.contains(&QualityIssue::NoFace));
        assert!(centre.report.faces.is_empty());
    }
}

#[test]
fn auto_on_the_orientation_set_frames_the_same_square() {
    let Some(corpus) = corpus_dir() else { return };
    let dir = corpus.join("orientation");
    let mut reference = None;
    for n in 0..=8 {
        let file = format!("Landscape_{n}.jpg");
        let bytes = std::fs::read(dir.join(&file)).expect("readable");
        let p = prepare(&bytes, &with_crop(CropMode::Auto)).expect("converts");
        let r = &p.report;
        assert_eq!((r.width, r.height), (1800, 1200), "{file} upright");
        // A landscape without a face: the centred square of the upright
        // picture, whatever the stored orientation.
        assert!(r.faces.is_empty(), "{file}: phantom face {:?}", r.faces);
        assert_eq!(r.framing, Framing::Centre, "{file}");
        assert_eq!(
            (r.crop.x, r.crop.y, r.crop.side),
            (300.0, 0.0, 1200.0),
            "{file}"
        );
        let small = decode_rgb(&p.photos[1].jpeg).2;
        match &reference {
            None => reference = Some(small),
            Some(first) => {
                let mad = mean_abs_diff(first, &small);
                assert!(
                    mad < 8.0,
                    "{file}: mean abs diff {mad:.2} against Landscape_0"
                );
            }
        }
    }
}

#[test]
fn dark_blurry_and_small_pictures_are_flagged_and_strict_refuses_them() {
    let scene = fixtures::marker_scene(800, 800);
    let dark = fixtures::Rgb {
        pixels: scene.pixels.iter().map(|&p| p / 5).collect(),
        ..scene.clone()
    };
    let flat = fixtures::solid(800, 800, [128, 128, 128]);
    let sharp = fixtures::noise(800, 800, 3);
    let small = fixtures::noise(64, 64, 3);
    // Centre framing: these checks are about the pixels, not faces (the
    // default `auto` would add `no_face` to each).
    let check = |img: &fixtures::Rgb| {
        prepare(
            &fixtures::encode(ImageFormat::Png, img),
            &with_crop(CropMode::Centre),
        )
        .expect("converts")
        .report
    };
    assert!(check(&dark).checks.contains(&QualityIssue::TooDark));
    assert!(check(&flat).checks.contains(&QualityIssue::TooBlurry));
    let ok = check(&sharp);
    assert!(ok.checks.is_empty(), "{:?}", ok.warnings);
    let small_report = check(&small);
    assert_eq!(small_report.checks, vec![QualityIssue::SourceTooSmall]);

    let strict = PrepareOptions {
        strict: true,
        ..with_crop(CropMode::Centre)
    };
    let err = prepare(&fixtures::encode(ImageFormat::Png, &dark), &strict)
        .expect_err("strict refuses a dark photo");
    match &err {
        ImagingError::QualityCheckFailed { codes, .. } => {
            assert!(codes.contains(&QualityIssue::TooDark))
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(err.code(), "quality_check_failed");
    assert!(err.to_string().contains("very dark"), "{err}");
    assert!(prepare(&fixtures::encode(ImageFormat::Png, &sharp), &strict).is_ok());
}

#[test]
fn a_small_face_in_a_large_rotated_jpeg_is_found_and_decoded_finely() {
    let Some(corpus) = corpus_dir() else { return };
    let bytes = std::fs::read(corpus.join("faces/grace_hopper.jpg")).expect("readable");
    let portrait = image::load_from_memory(&bytes).expect("decodes").to_rgb8();
    // The 512×600 portrait pasted into a 1800×1200 scene (the face is 11 %
    // of the long side): the face square (~490 px) is far smaller than the
    // centred one the decode is planned for (1200 px → 5/8 scale), so the
    // JPEG must be decoded again finer.
    let mut canvas = fixtures::marker_scene(1800, 1200);
    let (ox, oy) = (1100u32, 500u32);
    for (x, y, p) in portrait.enumerate_pixels() {
        let i = (((oy + y) * canvas.width + ox + x) * 3) as usize;
        canvas.pixels[i..i + 3].copy_from_slice(&p.0);
    }
    let reference = prepare(
        &fixtures::encode(ImageFormat::Png, &canvas),
        &with_crop(CropMode::Face),
    )
    .expect("converts");
    for orientation in [1u8, 6, 3, 8] {
        let jpeg = fixtures::jpeg_with_orientation(&canvas, orientation);
        let p = prepare(&jpeg, &with_crop(CropMode::Face)).expect("converts");
        let r = &p.report;
        assert_eq!(
            (r.width, r.height),
            (1800, 1200),
            "orientation {orientation}"
        );
        assert_eq!(r.framing, Framing::Face, "orientation {orientation}");
        let f = r.faces[0];
        // grace_hopper's face (faces.tsv 152,105,222,222), moved by the paste.
        let (ex, ey) = (f64::from(ox) + 152.0 + 111.0, f64::from(oy) + 105.0 + 111.0);
        assert!(
            (f.x + f.width / 2.0 - ex).abs() < 0.15 * 222.0
                && (f.y + f.height / 2.0 - ey).abs() < 0.15 * 222.0,
            "orientation {orientation}: face {f:?}"
        );
        assert!(r.crop.side < 700.0, "{:?}", r.crop);
        assert_eq!(
            r.decode_scale, 8,
            "orientation {orientation}: decoded again at full scale"
        );
        // The same square taken from the upright PNG looks the same.
        let boxed = prepare(
            &fixtures::encode(ImageFormat::Png, &canvas),
            &with_crop(CropMode::Box(r.crop)),
        )
        .expect("converts");
        let mad = mean_abs_diff(
            &decode_rgb(&p.photos[1].jpeg).2,
            &decode_rgb(&boxed.photos[1].jpeg).2,
        );
        eprintln!(
            "orientation {orientation}: face {f:?}, crop {:?}, diff {mad:.2}",
            r.crop
        );
        assert!(mad < 4.0, "orientation {orientation}: diff {mad:.2}");
        // Detector boxes move a little with resampling (the PNG is decoded
        // in full, the JPEG at a DCT scale): same place, similar size.
        let c = reference.report.crop;
        let (cx, rx) = (c.x + c.side / 2.0, r.crop.x + r.crop.side / 2.0);
        assert!(
            (cx - rx).abs() < 0.1 * c.side && (r.crop.side / c.side - 1.0).abs() < 0.15,
            "orientation {orientation}: {:?} vs upright PNG {:?}",
            r.crop,
            c
        );
    }
}

/// A small source is framed looser rather than cut down (docs/FACES.md,
/// "Small sources"): with the default outputs (648 and 96), the corpus's
/// 512×512 astronaut, whose usual square is 252, and grace_hopper (usual
/// 491 of 512) take the largest square that still frames the head: face
/// box ≥ 25 % of the side, eyes 30–50 % from the top, inside the picture.
/// Before the rule they came out 252 and 491.
#[test]
fn small_corpus_portraits_are_framed_looser_not_cut_down() {
    let Some(corpus) = corpus_dir() else { return };
    let dir = corpus.join("faces");
    for (file, at_least) in [("astronaut.png", 320.0), ("grace_hopper.jpg", 512.0)] {
        let bytes = std::fs::read(dir.join(file)).expect("readable");
        let p = prepare(&bytes, &PrepareOptions::default()).expect("converts");
        let r = &p.report;
        assert_eq!(r.framing, Framing::Face, "{file}");
        let f = r.faces.first().expect("a face");
        let c = r.crop;
        eprintln!(
            "{file}: face {:.0},{:.0},{:.0}; square {:.0},{:.0},{:.0}; face share {:.2}",
            f.x,
            f.y,
            f.width,
            c.x,
            c.y,
            c.side,
            f.height / c.side
        );
        assert!(c.side >= at_least, "{file}: square {c:?}, cut down");
        assert!(
            f.height / c.side >= 0.25 - 0.01,
            "{file}: face too small in {c:?}"
        );
        let eyes = (f.y + 0.33 * f.height - c.y) / c.side;
        assert!((0.29..=0.51).contains(&eyes), "{file}: eyes at {eyes:.2}");
        assert!(
            c.x <= f.x && c.x + c.side >= f.x + f.width,
            "{file}: face cut"
        );
        // The HD output is the square itself (not enlarged), so bigger.
        let hd = p.photos.iter().map(|o| o.size).max().expect("outputs");
        assert_eq!(f64::from(hd), c.side.floor(), "{file}");
    }

    // Every corpus portrait, whole and at half size: the square for the
    // default outputs (648 + 96) is never smaller than the usual framing
    // of the same face (FACE_SHARE, within the picture and the centre
    // tolerance), and the figures of docs/FACES.md.
    for row in rows(&dir) {
        let bytes = std::fs::read(dir.join(&row.file)).expect("readable");
        let img = image::load_from_memory(&bytes).expect("decodes");
        let (w, h) = (f64::from(img.width()), f64::from(img.height()));
        let mut half = Vec::new();
        img.resize(
            img.width() / 2,
            img.height() / 2,
            image::imageops::FilterType::Triangle,
        )
        .write_to(&mut std::io::Cursor::new(&mut half), ImageFormat::Png)
        .expect("PNG");
        for (what, b, scale) in [("whole", &bytes, 1.0), ("half", &half, 0.5)] {
            let loose = prepare(b, &PrepareOptions::default())
                .expect("converts")
                .report;
            let (w, h) = ((w * scale).floor(), (h * scale).floor());
            let usual = loose.faces.first().map_or(loose.crop.side, |f| {
                let size = f.width.max(f.height);
                let cx = f.x + f.width / 2.0;
                let room_x = 2.0 * cx.min(w - cx) / (1.0 - 2.0 * CENTRE_TOLERANCE);
                (size / FACE_SHARE)
                    .min(room_x)
                    .min(w)
                    .min(h)
                    .max((size * 1.25).min(w).min(h))
                    .floor()
            });
            eprintln!(
                "{} {what} {w}×{h} ({:?}): usual square {usual:.0} → for 648+96 {:.0}{}",
                row.file,
                loose.framing,
                loose.crop.side,
                loose
                    .faces
                    .first()
                    .map(|f| format!(
                        ", face {:.0} = {:.0} % of the side, eyes at {:.0} %",
                        f.height,
                        100.0 * f.height / loose.crop.side,
                        100.0 * (f.y + 0.33 * f.height - loose.crop.y) / loose.crop.side
                    ))
                    .unwrap_or_default()
            );
            assert!(
                loose.crop.side >= usual,
                "{} {what}: {:?} smaller than the usual {usual}",
                row.file,
                loose.crop
            );
        }
    }
}
