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

/// Smallest face size setting accepted by the detector. `rustface` 0.1.7
/// does not upsample (its pyramid starts at scale 1), so the real floor is
/// its 40 px window: on the 400 px working copy, a face of 10 % of the
/// picture's long side.
const MIN_FACE: u32 = 20;
/// The detector's window: smaller faces are not found.
const WINDOW: u32 = 40;
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
    if wc.width < WINDOW || wc.height < WINDOW {
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
