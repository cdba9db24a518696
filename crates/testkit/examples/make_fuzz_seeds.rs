//! Writes the fuzzer's seed corpus: small files of every format we read,
//! whole and damaged. `cargo run -p userphoto-testkit --example make_fuzz_seeds -- fuzz/corpus/decode`
#![allow(missing_docs, clippy::unwrap_used)]
use image::ImageFormat;
use userphoto_testkit::fixtures::{self, JpegOptions};

fn main() {
    let dir = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/corpus/decode".into()),
    );
    std::fs::create_dir_all(&dir).unwrap();
    let scene = fixtures::marker_scene(24, 16);
    let mut seeds: Vec<(&str, Vec<u8>)> = vec![
        (
            "baseline.jpg",
            fixtures::jpeg(&scene, &JpegOptions::default()),
        ),
        (
            "progressive.jpg",
            fixtures::jpeg(
                &scene,
                &JpegOptions {
                    progressive: true,
                    ..JpegOptions::default()
                },
            ),
        ),
        ("exif6.jpg", fixtures::jpeg_with_orientation(&scene, 6)),
        (
            "metadata.jpg",
            fixtures::jpeg(
                &scene,
                &JpegOptions {
                    with_private_metadata: true,
                    ..JpegOptions::default()
                },
            ),
        ),
        ("grey.jpg", fixtures::grey_jpeg(16, 16)),
        ("cmyk.jpg", fixtures::adobe_cmyk_jpeg(16, 16, [200, 40, 40])),
        (
            "alpha.png",
            fixtures::half_transparent_png(16, 16, [10, 20, 30]),
        ),
        ("palette.png", fixtures::palette_png_with_trns(16, 16)),
        (
            "16bit.png",
            fixtures::sixteen_bit(ImageFormat::Png, 8, 8, [1, 2, 3]),
        ),
        (
            "16bit.tif",
            fixtures::sixteen_bit(ImageFormat::Tiff, 8, 8, [1, 2, 3]),
        ),
        ("scene.gif", fixtures::encode(ImageFormat::Gif, &scene)),
        ("scene.bmp", fixtures::encode(ImageFormat::Bmp, &scene)),
        ("scene.webp", fixtures::encode(ImageFormat::WebP, &scene)),
        ("bomb.png", fixtures::png_bomb_header(100_000, 100_000)),
        ("bomb.jpg", fixtures::jpeg_bomb_header(60_000, 60_000)),
    ];
    let truncated: Vec<(String, Vec<u8>)> = seeds
        .iter()
        .filter(|(n, _)| !n.starts_with("bomb"))
        .map(|(n, b)| (format!("truncated-{n}"), fixtures::truncated(b, 0.6)))
        .collect();
    for (name, bytes) in seeds.drain(..) {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    for (name, bytes) in truncated {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}
