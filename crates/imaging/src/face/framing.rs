//! Where the square goes once a face is known.
//!
//! Proportions (why: docs/FACES.md): the face box takes [`FACE_SHARE`] of
//! the square's side, the eyes sit at [`EYE_LINE`] of the side from the
//! top, the face is centred horizontally. Near an edge the square shrinks
//! (it never pads and never shifts the face off-centre by more than
//! [`CENTRE_TOLERANCE`] of its side) down to a floor where the face still
//! fits with a margin.

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
/// Smallest square around a face, in face sizes, when shrinking at an edge.
const MIN_SIDE_IN_FACES: f64 = 1.25;

/// The square framing `face` in a `w`×`h` upright image.
pub(crate) fn frame_face(face: &FaceBox, w: f64, h: f64) -> CropBox {
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
    let x = (cx - side / 2.0).round().clamp(0.0, (w - side).max(0.0));
    let y = (eyes - EYE_LINE * side)
        .round()
        .clamp(0.0, (h - side).max(0.0));
    CropBox { x, y, side }
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
        let b = frame_face(&f, 2000.0, 2000.0);
        assert_eq!(b.side, 500.0);
        assert!((b.x + b.side / 2.0 - f.centre_x()).abs() <= 1.0);
        // Eyes at 42 % of the side.
        let eyes = 500.0 + EYES_IN_BOX * 200.0;
        assert!(((eyes - b.y) / b.side - EYE_LINE).abs() < 0.01);
    }

    #[test]
    fn near_an_edge_the_square_shrinks_and_keeps_the_face_centred() {
        let f = face(20.0, 300.0, 200.0);
        let b = frame_face(&f, 2000.0, 1000.0);
        assert!(inside(&b, 2000.0, 1000.0));
        assert!(b.side < 500.0 && b.side >= 240.0, "{b:?}");
        let off = (b.x + b.side / 2.0 - f.centre_x()).abs();
        assert!(off <= CENTRE_TOLERANCE * b.side + 1.0, "{b:?}");
        assert!(b.x <= f.x && b.x + b.side >= f.x + f.width);
    }

    #[test]
    fn a_face_filling_the_picture_gets_the_largest_square() {
        let f = face(10.0, 10.0, 180.0);
        let b = frame_face(&f, 200.0, 300.0);
        assert!(inside(&b, 200.0, 300.0));
        assert_eq!(b.side, 200.0);
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
