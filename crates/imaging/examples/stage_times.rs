//! Where the time goes: decode-only vs the whole pipeline, per file.
//! `cargo run --release -p userphoto-imaging --example stage_times -- FILE...`
#![allow(missing_docs, clippy::unwrap_used)]
use std::time::Instant;

fn main() {
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).unwrap();
        let mut best = [f64::MAX; 3];
        for _ in 0..5 {
            let t = Instant::now();
            let mut d = mozjpeg::Decompress::new_mem(&bytes).unwrap();
            d.scale(2);
            let mut s = d.rgb().unwrap();
            let px: Vec<u8> = s.read_scanlines().unwrap();
            s.finish().unwrap();
            best[0] = best[0].min(t.elapsed().as_secs_f64() * 1e3);
            std::hint::black_box(px);
            let t = Instant::now();
            let p =
                userphoto_imaging::prepare(&bytes, &userphoto_imaging::PrepareOptions::default())
                    .unwrap();
            best[1] = best[1].min(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            let _ = userphoto_imaging::prepare(
                &bytes,
                &userphoto_imaging::PrepareOptions::sizes(&[96]),
            )
            .unwrap();
            best[2] = best[2].min(t.elapsed().as_secs_f64() * 1e3);
            std::hint::black_box(p);
        }
        println!(
            "{path}: decode 2/8 {:.1} ms, pipeline 648+96 {:.1} ms, pipeline 96 only {:.1} ms",
            best[0], best[1], best[2]
        );
    }
}
