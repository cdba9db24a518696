//! Face detection with SeetaFace's frontal detector (the `rustface` port,
//! BSD-2-Clause). The model file ships inside this crate
//! (`models/seeta_fd_frontal_v1.0.bin`, 1.2 MB) and is compiled into the
//! binary: nothing is downloaded or read from disk at run time.

use super::working::WorkingCopy;
use super::FaceBox;
use rustface::{Detector, ImageData};
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The SeetaFace frontal face detection model, v1.0.
static MODEL: &[u8] = include_bytes!("../../models/seeta_fd_frontal_v1.0.bin");

/// Longest side of the copy the detector scans: the working copy is halved
/// (2×2 box) until it is at most this long. The detector's cost grows with
/// the pixels; 320 px keeps it at a few milliseconds (docs/FACES.md).
pub(crate) const DETECT_MAX_SIDE: u32 = 360;
/// Smallest face looked for, in detection-copy pixels (the detector's
/// floor): on a 320 px copy, a face of 6 % of the long side.
const MIN_FACE: u32 = 20;
/// Detector score below which a window is not a face. SeetaFace's authors
/// suggest 0.95, 2.8 or 4.5; see docs/FACES.md for the corpus figures.
const SCORE_THRESHOLD: f64 = 2.0;
/// Ratio between pyramid levels (SeetaFace's demo uses 0.8; 0.7 scans
/// fewer levels for the same boxes on the corpus).
const PYRAMID_SCALE: f32 = 0.7;
/// Sliding-window step in pixels.
const WINDOW_STEP: u32 = 4;

thread_local! {
    // The parsed model and the detector's buffers: one per thread, made on
    // first use (parsing takes a few milliseconds), so `Pipeline` stays
    // `Send` and cheap to create.
    static DETECTOR: RefCell<Option<Box<dyn Detector>>> = const { RefCell::new(None) };
}

fn new_detector() -> Result<Box<dyn Detector>, String> {
    let model = rustface::read_model(MODEL).map_err(|e| format!("face model unreadable: {e}"))?;
    let mut d = rustface::create_detector_with_model(model);
    d.set_min_face_size(MIN_FACE);
    d.set_score_thresh(SCORE_THRESHOLD);
    d.set_pyramid_scale_factor(PYRAMID_SCALE);
    d.set_slide_window_step(WINDOW_STEP, WINDOW_STEP);
    Ok(d)
}

/// Faces in the working copy, largest first, in working-copy pixels.
/// An error (which would be a bug in the detector) is returned as text for
/// the report's notes, never as a panic.
pub(crate) fn detect_faces(wc: &WorkingCopy) -> Result<Vec<FaceBox>, String> {
    let mut small: Option<WorkingCopy> = None;
    loop {
        let current = small.as_ref().unwrap_or(wc);
        if current.width.max(current.height) <= DETECT_MAX_SIDE {
            break;
        }
        let next = current.halved();
        small = Some(next);
    }
    let scan = small.as_ref().unwrap_or(wc);
    let k = f64::from(wc.width) / f64::from(scan.width);
    let mut faces = detect_in(scan)?;
    for f in &mut faces {
        f.x *= k;
        f.y *= k;
        f.width *= k;
        f.height *= k;
    }
    Ok(faces)
}

fn detect_in(wc: &WorkingCopy) -> Result<Vec<FaceBox>, String> {
    if wc.width < MIN_FACE || wc.height < MIN_FACE {
        return Ok(Vec::new());
    }
    DETECTOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(new_detector()?);
        }
        let Some(detector) = slot.as_mut() else {
            return Err("face detector unavailable".to_string());
        };
        let image = ImageData::new(&wc.pixels, wc.width, wc.height);
        let found = catch_unwind(AssertUnwindSafe(|| detector.detect(&image)));
        match found {
            Ok(faces) => {
                let mut boxes: Vec<FaceBox> = faces
                    .iter()
                    .map(|f| {
                        let b = f.bbox();
                        FaceBox {
                            x: f64::from(b.x()),
                            y: f64::from(b.y()),
                            width: f64::from(b.width()),
                            height: f64::from(b.height()),
                            score: f.score(),
                        }
                    })
                    .collect();
                boxes.sort_by(|a, b| b.area().total_cmp(&a.area()));
                Ok(boxes)
            }
            Err(_) => {
                // Drop a detector that panicked half-way.
                *slot = None;
                Err("face detection failed on this image".to_string())
            }
        }
    })
}
