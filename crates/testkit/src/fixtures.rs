//! Images made on the fly for tests: nobody has to download anything.

use image::ImageFormat;
use mozjpeg::{ColorSpace, Compress, Marker};
use std::io::Cursor;

/// An 8-bit RGB picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgb {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

impl Rgb {
    pub fn get(&self, x: u32, y: u32) -> [u8; 3] {
        crate::jpeg::pixel(&self.pixels, self.width, x, y)
    }

    /// A square crop.
    pub fn crop(&self, x: u32, y: u32, side: u32) -> Rgb {
        let mut pixels = Vec::with_capacity((side * side * 3) as usize);
        for yy in y..y + side {
            for xx in x..x + side {
                pixels.extend_from_slice(&self.get(xx, yy));
            }
        }
        Rgb {
            width: side,
            height: side,
            pixels,
        }
    }
}

/// A plain colour.
pub fn solid(width: u32, height: u32, rgb: [u8; 3]) -> Rgb {
    Rgb {
        width,
        height,
        pixels: rgb
            .iter()
            .copied()
            .cycle()
            .take((width * height * 3) as usize)
            .collect(),
    }
}

/// A scene that looks different under every rotation and mirror: a soft
/// gradient with a red block top-left, a blue bar along the bottom right
/// and a green dot right of centre.
pub fn marker_scene(width: u32, height: u32) -> Rgb {
    let mut pixels = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            let fx = x as f32 / width as f32;
            let fy = y as f32 / height as f32;
            let mut p = [(60.0 + 120.0 * fx) as u8, (80.0 + 100.0 * fy) as u8, 110];
            if fx < 0.3 && fy < 0.35 {
                p = [220, 30, 30];
            }
            if fx > 0.5 && fy > 0.8 {
                p = [30, 40, 220];
            }
            let (dx, dy) = (fx - 0.62, fy - 0.45);
            if dx * dx + dy * dy < 0.006 {
                p = [30, 200, 40];
            }
            pixels.extend_from_slice(&p);
        }
    }
    Rgb {
        width,
        height,
        pixels,
    }
}

/// Noise: incompressible, for byte-budget tests.
pub fn noise(width: u32, height: u32, seed: u32) -> Rgb {
    let mut state = seed.wrapping_mul(2_654_435_761).max(1);
    let pixels = (0..width * height * 3)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 24) as u8
        })
        .collect();
    Rgb {
        width,
        height,
        pixels,
    }
}

/// The stored pixels that, displayed with EXIF `orientation`, show `img`.
pub fn stored_for_orientation(img: &Rgb, orientation: u8) -> Rgb {
    let (w, h) = (img.width, img.height);
    let swaps = orientation >= 5;
    let (sw, sh) = if swaps { (h, w) } else { (w, h) };
    let mut pixels = vec![0u8; (sw * sh * 3) as usize];
    // For each displayed pixel (u, v), find where it is stored.
    for v in 0..h {
        for u in 0..w {
            let (sx, sy) = match orientation {
                2 => (w - 1 - u, v),
                3 => (w - 1 - u, h - 1 - v),
                4 => (u, h - 1 - v),
                5 => (v, u),
                6 => (v, sh - 1 - u),
                7 => (sw - 1 - v, sh - 1 - u),
                8 => (sw - 1 - v, u),
                _ => (u, v),
            };
            let s = ((sy * sw + sx) * 3) as usize;
            pixels[s..s + 3].copy_from_slice(&img.get(u, v));
        }
    }
    Rgb {
        width: sw,
        height: sh,
        pixels,
    }
}

/// An APP1 EXIF payload ("Exif\0\0" + little-endian TIFF) with the given
/// orientation and, optionally, a GPS IFD pointer (to prove it is stripped).
pub fn exif_payload(orientation: u16, with_gps: bool) -> Vec<u8> {
    let mut t = b"Exif\0\0II*\0".to_vec();
    t.extend_from_slice(&8u32.to_le_bytes()); // IFD0 at offset 8
    let entries: u16 = if with_gps { 2 } else { 1 };
    t.extend_from_slice(&entries.to_le_bytes());
    // Orientation, SHORT, count 1, value.
    t.extend_from_slice(&0x0112u16.to_le_bytes());
    t.extend_from_slice(&3u16.to_le_bytes());
    t.extend_from_slice(&1u32.to_le_bytes());
    t.extend_from_slice(&orientation.to_le_bytes());
    t.extend_from_slice(&[0, 0]);
    if with_gps {
        // GPSInfo pointer, LONG, count 1 → an (empty) GPS IFD after IFD0.
        t.extend_from_slice(&0x8825u16.to_le_bytes());
        t.extend_from_slice(&4u16.to_le_bytes());
        t.extend_from_slice(&1u32.to_le_bytes());
        let gps_offset = 8 + 2 + 12 * u32::from(entries) + 4;
        t.extend_from_slice(&gps_offset.to_le_bytes());
    }
    t.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
    if with_gps {
        t.extend_from_slice(&0u16.to_le_bytes()); // GPS IFD with no entries
        t.extend_from_slice(&0u32.to_le_bytes());
    }
    t
}

/// How to write a test JPEG.
#[derive(Debug, Clone, Default)]
pub struct JpegOptions {
    pub quality: u8,
    pub progressive: bool,
    /// EXIF orientation to record (None: no EXIF).
    pub orientation: Option<u16>,
    /// Add GPS, XMP and a comment: metadata that must never survive.
    pub with_private_metadata: bool,
}

/// Encode RGB as JPEG with libjpeg.
pub fn jpeg(img: &Rgb, options: &JpegOptions) -> Vec<u8> {
    let mut c = Compress::new(ColorSpace::JCS_RGB);
    // mozjpeg defaults to progressive; plain libjpeg settings are baseline.
    c.set_fastest_defaults();
    c.set_size(img.width as usize, img.height as usize);
    c.set_quality(f32::from(if options.quality == 0 {
        92
    } else {
        options.quality
    }));
    if options.progressive {
        c.set_progressive_mode();
    }
    let mut started = c.start_compress(Vec::new()).unwrap();
    if let Some(o) = options.orientation {
        started.write_marker(
            Marker::APP(1),
            &exif_payload(o, options.with_private_metadata),
        );
    } else if options.with_private_metadata {
        started.write_marker(Marker::APP(1), &exif_payload(1, true));
    }
    if options.with_private_metadata {
        let xmp = b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta><dc:creator>Secret Photographer</dc:creator></x:xmpmeta>";
        started.write_marker(Marker::APP(1), xmp);
        started.write_marker(Marker::COM, b"taken at 51.5007N 0.1246W");
    }
    started.write_scanlines(&img.pixels).unwrap();
    started.finish().unwrap()
}

/// A progressive JPEG (quality 85, 4:2:0) of seeded noise: every scan
/// carries data, so scan handling is really exercised.
pub fn progressive_noise_jpeg(width: u32, height: u32, seed: u32) -> Vec<u8> {
    jpeg(
        &noise(width, height, seed),
        &JpegOptions {
            quality: 85,
            progressive: true,
            ..JpegOptions::default()
        },
    )
}

/// A JPEG of `img` recorded sideways with EXIF `orientation`, so that a
/// correct reader shows `img`.
pub fn jpeg_with_orientation(img: &Rgb, orientation: u8) -> Vec<u8> {
    let stored = stored_for_orientation(img, orientation);
    jpeg(
        &stored,
        &JpegOptions {
            quality: 95,
            orientation: Some(u16::from(orientation)),
            ..JpegOptions::default()
        },
    )
}

/// A greyscale JPEG (one component).
pub fn grey_jpeg(width: u32, height: u32) -> Vec<u8> {
    let mut c = Compress::new(ColorSpace::JCS_GRAYSCALE);
    c.set_size(width as usize, height as usize);
    c.set_quality(90.0);
    let px: Vec<u8> = (0..width * height)
        .map(|i| ((i % width) * 255 / width.max(1)) as u8)
        .collect();
    let mut s = c.start_compress(Vec::new()).unwrap();
    s.write_scanlines(&px).unwrap();
    s.finish().unwrap()
}

/// A CMYK JPEG as Photoshop writes it: Adobe APP14 marker, inverted
/// samples (255 − ink), filled with the CMYK equivalent of `rgb`.
pub fn adobe_cmyk_jpeg(width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
    cmyk_jpeg(&solid(width, height, rgb), 95)
}

/// `picture` separated to CMYK the naive way ImageMagick's
/// `-colorspace CMYK` does (K = 1 − max(R, G, B), the rest under it), with
/// no colour profile, stored as Photoshop and ImageMagick store CMYK JPEGs:
/// inverted (255 − ink) under an Adobe marker.
pub fn cmyk_jpeg(picture: &Rgb, quality: u8) -> Vec<u8> {
    let px: Vec<u8> = picture
        .pixels
        .chunks_exact(3)
        .flat_map(|p| {
            let [r, g, b] = [p[0], p[1], p[2]].map(|v| f32::from(v) / 255.0);
            let k = 1.0 - r.max(g).max(b);
            let ink = |v: f32| {
                if k >= 1.0 {
                    0.0
                } else {
                    (1.0 - v - k) / (1.0 - k)
                }
            };
            [ink(r), ink(g), ink(b), k].map(|i| (255.0 * (1.0 - i)).round() as u8)
        })
        .collect();
    let mut c = Compress::new(ColorSpace::JCS_CMYK);
    c.set_size(picture.width as usize, picture.height as usize);
    c.set_quality(f32::from(quality));
    // libjpeg writes the Adobe marker itself for CMYK output.
    let mut s = c.start_compress(Vec::new()).unwrap();
    s.write_scanlines(&px).unwrap();
    s.finish().unwrap()
}

fn encode_with(format: ImageFormat, img: image::DynamicImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// An RGBA PNG: the left half opaque `rgb`, the right half fully
/// transparent (its hidden colour black, to catch naive alpha dropping).
pub fn half_transparent_png(width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
    let img = image::RgbaImage::from_fn(width, height, |x, _| {
        if x < width / 2 {
            image::Rgba([rgb[0], rgb[1], rgb[2], 255])
        } else {
            image::Rgba([0, 0, 0, 0])
        }
    });
    encode_with(ImageFormat::Png, image::DynamicImage::ImageRgba8(img))
}

/// A 16-bit RGB image of `rgb` (scaled to 16 bits) in `format` (PNG or TIFF).
pub fn sixteen_bit(format: ImageFormat, width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
    let px = rgb.map(|v| u16::from(v) * 257);
    let img =
        image::ImageBuffer::<image::Rgb<u16>, Vec<u16>>::from_pixel(width, height, image::Rgb(px));
    encode_with(format, image::DynamicImage::ImageRgb16(img))
}

/// `img` in another container format (PNG, GIF, BMP, TIFF, WebP lossless).
pub fn encode(format: ImageFormat, img: &Rgb) -> Vec<u8> {
    let buf = image::RgbImage::from_raw(img.width, img.height, img.pixels.clone()).unwrap();
    let dynamic = image::DynamicImage::ImageRgb8(buf);
    if format == ImageFormat::Gif {
        return encode_with(format, image::DynamicImage::ImageRgba8(dynamic.to_rgba8()));
    }
    encode_with(format, dynamic)
}

/// A palette PNG with a tRNS chunk: left half colour 0 (red, opaque),
/// right half colour 1 (black, fully transparent).
pub fn palette_png_with_trns(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 3, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    png_chunk(&mut out, b"PLTE", &[200, 20, 20, 0, 0, 0]);
    png_chunk(&mut out, b"tRNS", &[255, 0]);
    let mut raw = Vec::new();
    for _ in 0..height {
        raw.push(0); // filter: none
        raw.extend((0..width).map(|x| u8::from(x >= width / 2)));
    }
    png_chunk(&mut out, b"IDAT", &zlib_stored(&raw));
    png_chunk(&mut out, b"IEND", &[]);
    out
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut h = crc32fast::Hasher::new();
    h.update(kind);
    h.update(data);
    out.extend_from_slice(&h.finalize().to_be_bytes());
}

/// zlib with stored (uncompressed) deflate blocks: enough for fixtures.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = if data.is_empty() {
        vec![&[][..]]
    } else {
        data.chunks(65535).collect()
    };
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i == blocks.len() - 1));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &d in data {
        a = (a + u32::from(d)) % 65521;
        b = (b + a) % 65521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

/// A PNG whose header declares `width`×`height` but carries no pixels: a
/// decompression bomb's calling card.
pub fn png_bomb_header(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    png_chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x01, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0, 0, 0, 1],
    );
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// A valid small JPEG whose frame header is patched to claim
/// `width`×`height` pixels.
pub fn jpeg_bomb_header(width: u16, height: u16) -> Vec<u8> {
    let mut j = jpeg(&solid(16, 16, [128, 128, 128]), &JpegOptions::default());
    let sof = j
        .windows(2)
        .position(|w| w == [0xFF, 0xC0] || w == [0xFF, 0xC2])
        .unwrap();
    j[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    j[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    j
}

/// The first `fraction` of `bytes`.
pub fn truncated(bytes: &[u8], fraction: f64) -> Vec<u8> {
    bytes[..((bytes.len() as f64) * fraction) as usize].to_vec()
}

/// Writes JPEG entropy-coded bits, MSB first, with 0xFF byte stuffing.
struct JpegBits {
    out: Vec<u8>,
    acc: u32,
    n: u32,
}

impl JpegBits {
    fn new() -> Self {
        Self {
            out: Vec::new(),
            acc: 0,
            n: 0,
        }
    }

    fn put(&mut self, value: u32, bits: u32) {
        for i in (0..bits).rev() {
            self.acc = (self.acc << 1) | ((value >> i) & 1);
            self.n += 1;
            if self.n == 8 {
                let byte = self.acc as u8;
                self.out.push(byte);
                if byte == 0xFF {
                    self.out.push(0);
                }
                self.acc = 0;
                self.n = 0;
            }
        }
    }

    /// Pads the last byte with 1 bits, as the standard asks.
    fn finish(mut self) -> Vec<u8> {
        while self.n != 0 {
            self.put(1, 1);
        }
        self.out
    }
}

/// A valid progressive 4:2:0 JPEG of `width`×`height` (a flat grey) made of
/// one DC scan and then `scans` − 1 chroma AC scans that each say "all
/// zero" in a few bytes (EOB runs) — the "scan bomb" of libjpeg-turbo's
/// LJT-01-003 report: tiny on disk, while a decoder walks every chroma
/// block once per scan. Chroma scans survive the 1/8-scale shortcut that
/// drops luma AC scans, so they cost CPU at every decode scale.
pub fn progressive_scan_bomb(width: u16, height: u16, scans: usize) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    let segment = |out: &mut Vec<u8>, code: u8, body: &[u8]| {
        out.extend_from_slice(&[0xFF, code]);
        out.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(body);
    };
    let mut dqt = vec![0u8];
    dqt.extend_from_slice(&[1u8; 64]);
    segment(&mut out, 0xDB, &dqt);
    let mut sof = vec![8];
    sof.extend_from_slice(&height.to_be_bytes());
    sof.extend_from_slice(&width.to_be_bytes());
    sof.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 0, 3, 0x11, 0]);
    segment(&mut out, 0xC2, &sof);
    // DC table: only category 0 ("no change"), code `0`.
    let mut dht = vec![0x00, 1];
    dht.extend_from_slice(&[0u8; 15]);
    dht.push(0x00);
    // AC table: EOB runs EOB0..EOB14, 4-bit codes 0000..1110.
    dht.push(0x10);
    let mut counts = [0u8; 16];
    counts[3] = 15;
    dht.extend_from_slice(&counts);
    dht.extend((0..15u8).map(|r| r << 4));
    segment(&mut out, 0xC4, &dht);
    // DC scan, all three components interleaved: 6 blocks per MCU, 1 bit each.
    segment(&mut out, 0xDA, &[3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 0, 0]);
    let mcus = usize::from(width).div_ceil(16) * usize::from(height).div_ceil(16);
    let mut dc = JpegBits::new();
    for _ in 0..mcus * 6 {
        dc.put(0, 1);
    }
    out.extend(dc.finish());
    // One chroma component's blocks: ceil(ceil(w/2)/8) × ceil(ceil(h/2)/8).
    let blocks =
        usize::from(width).div_ceil(2).div_ceil(8) * usize::from(height).div_ceil(2).div_ceil(8);
    let mut ac = JpegBits::new();
    let mut left = blocks;
    while left > 0 {
        let run = left.min(32767) as u32;
        let r = 31 - run.leading_zeros();
        ac.put(r, 4);
        ac.put(run - (1 << r), r);
        left -= run as usize;
    }
    let ac = ac.finish();
    for i in 1..scans {
        let component = 2 + (i % 2) as u8;
        segment(&mut out, 0xDA, &[1, component, 0x00, 1, 63, 0]);
        out.extend_from_slice(&ac);
    }
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// Writes a `width`×`height` 16-bit RGBA PNG to `path` row by row (a
/// gradient with half-transparent stripes), without holding the picture:
/// 10000×10000 is 800 MB of samples in a file of a few MB.
pub fn write_png16_rgba(path: &std::path::Path, width: u32, height: u32) -> std::io::Result<()> {
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut encoder = png::Encoder::new(file, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Sixteen);
    encoder.set_compression(png::Compression::Fast);
    encoder.set_filter(png::Filter::Up);
    let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
    let mut stream = writer
        .stream_writer_with_size(width as usize * 8)
        .map_err(std::io::Error::other)?;
    let row: Vec<u8> = (0..width)
        .flat_map(|x| {
            let v = ((x * 65535) / width.max(1)) as u16;
            let a: u16 = if (x / 64) % 2 == 0 { 65535 } else { 32768 };
            [v, 65535 - v, v / 2, a]
        })
        .flat_map(u16::to_be_bytes)
        .collect();
    for _ in 0..height {
        std::io::Write::write_all(&mut stream, &row)?;
    }
    stream.finish().map_err(std::io::Error::other)?;
    Ok(())
}

/// A 64×64 PNG whose `iCCP` chunk inflates to `inflated` bytes of zeros
/// (a colour-profile decompression bomb: 800 MB fit in ~5 MB).
pub fn png_with_iccp_bomb(inflated: u64) -> Vec<u8> {
    let small = encode(ImageFormat::Png, &noise(64, 64, 5));
    // zlib header, then one fixed-Huffman deflate block: a literal 0 and
    // copies of 258 bytes at distance 1, the rest as literals.
    let mut bits = LsbBits::default();
    let mut z = vec![0x78, 0x01];
    bits.put(1, 1); // BFINAL
    bits.put(1, 2); // BTYPE = fixed Huffman
    let literal_zero = |b: &mut LsbBits| b.put_code(0x30, 8);
    literal_zero(&mut bits);
    let rest = inflated.saturating_sub(1);
    for _ in 0..rest / 258 {
        bits.put_code(0xC5, 8); // length code 285 = 258
        bits.put_code(0, 5); // distance code 0 = 1
    }
    for _ in 0..rest % 258 {
        literal_zero(&mut bits);
    }
    bits.put_code(0, 7); // end of block
    z.extend(bits.finish());
    // Adler-32 of zeros: a stays 1, b adds 1 per byte.
    let adler = (((inflated % 65521) as u32) << 16) | 1;
    z.extend_from_slice(&adler.to_be_bytes());
    let mut body = b"bomb\0\0".to_vec();
    body.extend(z);
    let mut chunk = Vec::new();
    png_chunk(&mut chunk, b"iCCP", &body);
    // After the signature (8) and IHDR (25).
    let mut out = small[..33].to_vec();
    out.extend(chunk);
    out.extend_from_slice(&small[33..]);
    out
}

/// Deflate's bit order: fields LSB first, Huffman codes MSB first.
#[derive(Default)]
struct LsbBits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl LsbBits {
    fn put(&mut self, value: u64, bits: u32) {
        self.acc |= value << self.n;
        self.n += bits;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    fn put_code(&mut self, code: u64, bits: u32) {
        let reversed = (0..bits).fold(0, |r, i| (r << 1) | ((code >> i) & 1));
        self.put(reversed, bits);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}
