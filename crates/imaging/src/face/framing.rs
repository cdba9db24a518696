//! Where the square goes once a face is known.
//!
//! Proportions (why: docs/FACES.md): the face box takes [`FACE_SHARE`] of
//! the square's side, the eyes sit at [`EYE_LINE`] of the side from the
//! top, the face is centred horizontally. Near an edge the square shrinks
//! (it never pads and never shifts the face off-centre by more than
//! [`CENTRE_TOLERANCE`] of its side) down to a floor where the face still
//! fits with a margin.
//!
//! A small source is framed looser rather than cut down: when the square
//! above is smaller than the largest output, it grows towards that size as
//! long as the head is still framed well — the face box at least
//! [`LOOSEST_FACE_SHARE`] of the side, the eyes within [`EYE_BAND`] from
//! the top, the face centred within the tolerance, all inside the picture.
//! Why: a 512×512 portrait with the face in the upper part made a 252×252
//! HD photo (a fifth of the pixels the 648 slot takes) although a wider
//! square around the same head was there to take.

use super::FaceBox;
use crate::CropBox;

/// Share of the square's side taken by the detector's face box.
pub const FACE_SHARE: f64 = 0.40;
/// Height of the eyes below the top of the square, as a share of its side.
pub const EYE_LINE: f64 = 0.42;
/// Most the face centre may sit off the square's vertical centre line, as a
/// share of the side, before the square is shrunk instead.
pub const CENTRE_TOLERANCE: f64 = 0.04;
/// Where the eyes are inside a SeetaFace box, from its top, as a share of
/// its height (measured on the corpus: 0.32–0.33 for astronaut and
/// grace_hopper).
const EYES_IN_BOX: f64 = 0.33;
/// The loosest framing a small source may get: the face box at 25 % of the
/// side makes the head about a third of the square, a head-and-shoulders
/// portrait (the usual framing, [`FACE_SHARE`], makes it about half).
pub const LOOSEST_FACE_SHARE: f64 = 0.25;
/// Where the eyes may sit when a small source is framed looser, from the
/// top, as shares of the side: the band ICAO allows for a portrait (eyes
/// between 50 % and 70 % of the height from the bottom).
pub const EYE_BAND: (f64, f64) = (0.30, 0.50);
/// Smallest square around a face, in face sizes, when shrinking at an edge.
const MIN_SIDE_IN_FACES: f64 = 1.25;

/// The square framing `face` in a `w`×`h` upright image, for outputs of
/// at most `largest_out` pixels a side.
pub(crate) fn frame_face(face: &FaceBox, w: f64, h: f64, largest_out: f64) -> CropBox {
    // Faces the detector reports partly outside the picture are cut to it.
    let fx = face.x.clamp(0.0, w);
    let fy = face.y.clamp(0.0, h);
    let fw = (face.x + face.width).min(w) - fx;
    let fh = (face.y + face.height).min(h) - fy;
    let size = fw.max(fh).max(1.0);
    let cx = fx + fw / 2.0;
    let eyes = fy + EYES_IN_BOX * fh;

    let ideal = size / FACE_SHARE;
    // Largest side that keeps the face within the tolerance of the centre.
    let room_x = 2.0 * cx.min(w - cx) / (1.0 - 2.0 * CENTRE_TOLERANCE);
    let floor = (size * MIN_SIDE_IN_FACES).min(w).min(h);
    let side = ideal.min(room_x).min(w).min(h).max(floor).floor().max(1.0);
    let side = if side < largest_out {
        looser(side, size, eyes, room_x, w, h, largest_out)
    } else {
        side
    };
    let x = (cx - side / 2.0).round().clamp(0.0, (w - side).max(0.0));
    let y = (eyes - EYE_LINE * side)
        .round()
        .clamp(0.0, (h - side).max(0.0));
    CropBox { x, y, side }
}

/// The largest side up to `largest_out` that still frames the head well
/// (see the module's notes), never less than `side`.
fn looser(side: f64, size: f64, eyes: f64, room_x: f64, w: f64, h: f64, largest_out: f64) -> f64 {
    let (eye_top, eye_bottom) = EYE_BAND;
    // Clamped at the top, the eyes sit at `eyes / side` of it: keep that
    // at least `eye_top`. Clamped at the bottom, at `1 - (h - eyes) / side`:
    // keep that at most `eye_bottom`.
    let by_eyes_top = eyes / eye_top;
    let by_eyes_bottom = (h - eyes) / (1.0 - eye_bottom);
    let loose = (size / LOOSEST_FACE_SHARE)
        .min(largest_out)
        .min(room_x)
        .min(by_eyes_top)
        .min(by_eyes_bottom)
        .min(w)
        .min(h)
        .floor();
    loose.max(side)
}

/// The square for a portrait source without a face: full width, placed as
/// if the eyes were at a third of the height (the usual head-and-shoulders
/// composition) and at [`EYE_LINE`] of the square.
pub(crate) fn upper_centre(w: f64, h: f64) -> CropBox {
    let side = w.min(h).floor().max(1.0);
    let x = ((w - side) / 2.0).floor();
    let y = (h / 3.0 - EYE_LINE * side)
        .round()
        .clamp(0.0, (h - side).max(0.0));
    CropBox { x, y, side }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x: f64, y: f64, s: f64) -> FaceBox {
        FaceBox {
            x,
            y,
            width: s,
            height: s,
            score: 10.0,
        }
    }

    fn inside(b: &CropBox, w: f64, h: f64) -> bool {
        b.x >= 0.0 && b.y >= 0.0 && b.x + b.side <= w && b.y + b.side <= h
    }

    #[test]
    fn a_face_in_the_open_gets_the_ideal_square() {
        let f = face(900.0, 500.0, 200.0);
        // Outputs no larger than the usual square: nothing to loosen (a
        // 648 output would take the looser 648, tested below).
        let b = frame_face(&f, 2000.0, 2000.0, 500.0);
        assert_eq!(b.side, 500.0);
        assert!((b.x + b.side / 2.0 - f.centre_x()).abs() <= 1.0);
        // Eyes at 42 % of the side.
        let eyes = 500.0 + EYES_IN_BOX * 200.0;
        assert!(((eyes - b.y) / b.side - EYE_LINE).abs() < 0.01);
    }

    #[test]
    fn near_an_edge_the_square_shrinks_and_keeps_the_face_centred() {
        let f = face(20.0, 300.0, 200.0);
        let b = frame_face(&f, 2000.0, 1000.0, 648.0);
        assert!(inside(&b, 2000.0, 1000.0));
        assert!(b.side < 500.0 && b.side >= 240.0, "{b:?}");
        let off = (b.x + b.side / 2.0 - f.centre_x()).abs();
        assert!(off <= CENTRE_TOLERANCE * b.side + 1.0, "{b:?}");
        assert!(b.x <= f.x && b.x + b.side >= f.x + f.width);
    }

    #[test]
    fn a_face_filling_the_picture_gets_the_largest_square() {
        let f = face(10.0, 10.0, 180.0);
        let b = frame_face(&f, 200.0, 300.0, 648.0);
        assert!(inside(&b, 200.0, 300.0));
        assert_eq!(b.side, 200.0);
    }

    /// The corpus's astronaut (512×512, SeetaFace box 174,65,101): the
    /// usual framing gives 252, less than the 648 the HD slot takes.
    #[test]
    fn a_small_source_is_framed_looser_not_cut_down() {
        let f = face(174.0, 65.0, 101.0);
        let tight = frame_face(&f, 512.0, 512.0, 96.0);
        assert_eq!(tight.side, 252.0, "{tight:?}");
        let b = frame_face(&f, 512.0, 512.0, 648.0);
        assert!(inside(&b, 512.0, 512.0), "{b:?}");
        assert!(b.side > 300.0, "framed {b:?}: cut down, not looser");
        // Still frames the head: face share, eye line, centre.
        assert!(101.0 / b.side >= LOOSEST_FACE_SHARE - 1e-9, "{b:?}");
        let eyes = (65.0 + EYES_IN_BOX * 101.0 - b.y) / b.side;
        assert!(
            eyes >= EYE_BAND.0 - 0.01 && eyes <= EYE_BAND.1 + 0.01,
            "eyes at {eyes}"
        );
        let off = (b.x + b.side / 2.0 - f.centre_x()).abs();
        assert!(off <= CENTRE_TOLERANCE * b.side + 1.0, "{b:?}");
    }

    #[test]
    fn looser_framing_stops_at_the_largest_output_and_the_face_share() {
        // Room all around: the face share is the limit (160 / 0.25 = 640).
        let f = face(900.0, 900.0, 160.0);
        let b = frame_face(&f, 2000.0, 2000.0, 648.0);
        assert_eq!(b.side, 640.0, "{b:?}");
        // A 96 px output needs no more than the usual 400.
        let b = frame_face(&f, 2000.0, 2000.0, 96.0);
        assert_eq!(b.side, 400.0, "{b:?}");
        // A smaller largest output than the face share allows: that size.
        let b = frame_face(&f, 2000.0, 2000.0, 500.0);
        assert_eq!(b.side, 500.0, "{b:?}");
    }

    #[test]
    fn looser_framing_keeps_the_eyes_in_the_band_near_the_bottom() {
        // A face low in a small picture: growing would push the eyes
        // below half the square once it is clamped at the bottom.
        // (Without the band: 400 at the bottom, eyes at 53 %.)
        let f = face(250.0, 200.0, 100.0);
        let b = frame_face(&f, 600.0, 420.0, 648.0);
        assert!(inside(&b, 600.0, 420.0), "{b:?}");
        let eyes = (200.0 + EYES_IN_BOX * 100.0 - b.y) / b.side;
        assert!(eyes <= EYE_BAND.1 + 0.005, "eyes at {eyes} of {b:?}");
        assert!(b.side > 250.0, "{b:?}");
    }

    #[test]
    fn upper_centre_takes_the_top_of_a_tall_picture() {
        let b = upper_centre(300.0, 400.0);
        assert_eq!(b.side, 300.0);
        assert_eq!(b.x, 0.0);
        assert!(b.y < 50.0, "{b:?}");
        let b = upper_centre(200.0, 600.0);
        assert!(inside(&b, 200.0, 600.0));
        assert!(b.y > 0.0 && b.y < 200.0);
    }
}
