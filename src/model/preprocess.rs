//! Turning image file bytes into the image encoder's input tensor.
//!
//! Must match `scripts/export_models.py` exactly: apply EXIF orientation, centre square crop of
//! side `int(224/256 * min(h, w))` at offset `((h - c) + 1) / 2`, bicubic resize to 260×260,
//! RGB, `(v - 127) / 128`, channels first.

use std::io::Cursor;

use fast_image_resize::{images::Image, FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::{ImageDecoder, ImageReader, RgbImage};

/// Side of the square the encoder sees (EfficientNet-Lite2's native resolution).
pub const INPUT_SIZE: u32 = 260;
/// Values per preprocessed image (3 × 260 × 260).
pub const TENSOR_LEN: usize = 3 * (INPUT_SIZE as usize) * (INPUT_SIZE as usize);
/// Images with more pixels than this are refused before decoding (100 megapixels).
pub const MAX_PIXELS: u64 = 100_000_000;
/// Ceiling on what decoding one image may take: the decoder's buffer, the 8-bit RGB copy and a
/// rotated copy. A 100-megapixel 8-bit image fits; a 16-bit one that large does not.
pub const MAX_DECODE_BYTES: u64 = 768 << 20;
/// Decodes that need more than this share [`MAX_DECODE_BYTES`] between them: at most that
/// much is being decoded at once, whatever the number of threads, so indexing stays near 1 GB.
const LARGE_DECODE_BYTES: u64 = 32 << 20;
const MEAN: f32 = 127.0;
const STD: f32 = 128.0;
/// Share of the shorter side kept by the centre crop (the crop is then resized to [`INPUT_SIZE`]).
const CROP_RATIO: f64 = 224.0 / 256.0;
/// Changes whenever the preprocessing changes, so cached vectors from older code are not reused.
/// v2: large JPEGs are decoded at a reduced DCT scale (see [`decode_for_encoder`]).
/// v4: 260×260 input for EfficientNet-Lite2 (was 224×224 for Lite0).
/// v5: exact int8 kernels on x86 without VNNI (`session.x64quantprecision`), so vectors cached
/// with the overflowing ones are not reused.
pub const PREPROCESS_ID: &str = "crop224/256-bicubic260-rgb-m127s128-nchw-v5-tjdct520";
/// A JPEG is decoded at 1/2, 1/4 or 1/8 scale only while its centre crop keeps at least this
/// many pixels a side (twice the encoder's input), so the crop is still shrunk, never enlarged.
pub const MIN_SCALED_CROP: u32 = 2 * INPUT_SIZE;

/// Why an image could not be turned into a tensor.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("empty file")]
    Empty,
    #[error("not an image in a supported format (JPEG, PNG, WebP, GIF, BMP, TIFF)")]
    UnknownFormat,
    #[error("image is {width}×{height} pixels, over the {limit} megapixel limit")]
    TooLarge { width: u32, height: u32, limit: u64 },
    #[error("image needs {need_mib} MiB to decode, over the {limit_mib} MiB limit")]
    TooMuchMemory { need_mib: u64, limit_mib: u64 },
    #[error("image has no pixels ({width}×{height})")]
    Degenerate { width: u32, height: u32 },
    #[error("cannot decode image: {0}")]
    Decode(String),
    #[error("cannot resize image: {0}")]
    Resize(String),
}

/// Decodes image bytes to RGB with the EXIF orientation applied, refusing huge images by their
/// header before any pixel is decoded.
pub fn decode(bytes: &[u8]) -> Result<RgbImage, DecodeError> {
    decode_reserved(bytes).map(|(image, _)| image)
}

/// [`decode`], with the memory reservation that the decode took (held while the image is).
fn decode_reserved(bytes: &[u8]) -> Result<(RgbImage, budget::Reservation), DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| DecodeError::Decode(e.to_string()))?;
    match reader.format() {
        None => return Err(DecodeError::UnknownFormat),
        Some(image::ImageFormat::Jpeg) if is_truncated_jpeg(bytes) => {
            return Err(DecodeError::Decode(
                "truncated JPEG (no end-of-image marker after the image data)".into(),
            ))
        }
        Some(_) => {}
    }
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(DecodeError::TooLarge {
            width,
            height,
            limit: MAX_PIXELS / 1_000_000,
        });
    }
    if width == 0 || height == 0 {
        return Err(DecodeError::Degenerate { width, height });
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let rgb8 = u64::from(width) * u64::from(height) * 3;
    let mut need = decoder.total_bytes();
    if decoder.color_type() != image::ColorType::Rgb8 {
        need += rgb8;
    }
    if orientation != image::metadata::Orientation::NoTransforms {
        need += decoder.total_bytes();
    }
    let reservation = budget::reserve(need)?;
    let mut img = image::DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    img.apply_orientation(orientation);
    Ok((img.into_rgb8(), reservation))
}

/// The memory that large decodes may take at once.
mod budget {
    use std::sync::{Condvar, Mutex};

    use super::{DecodeError, LARGE_DECODE_BYTES, MAX_DECODE_BYTES};

    static IN_USE: Mutex<u64> = Mutex::new(0);
    static FREED: Condvar = Condvar::new();

    /// Bytes held by a decode until dropped.
    pub struct Reservation(u64);

    impl Reservation {
        /// A decode too small to count.
        pub fn none() -> Self {
            Reservation(0)
        }
    }

    /// Waits until `need` bytes fit beside the decodes under way; refuses a decode that could
    /// never fit. Small decodes pass at once.
    pub fn reserve(need: u64) -> Result<Reservation, DecodeError> {
        if need > MAX_DECODE_BYTES {
            return Err(DecodeError::TooMuchMemory {
                need_mib: need.div_ceil(1 << 20),
                limit_mib: MAX_DECODE_BYTES >> 20,
            });
        }
        if need <= LARGE_DECODE_BYTES {
            return Ok(Reservation(0));
        }
        let mut in_use = IN_USE.lock().unwrap_or_else(|e| e.into_inner());
        while *in_use + need > MAX_DECODE_BYTES {
            in_use = FREED.wait(in_use).unwrap_or_else(|e| e.into_inner());
        }
        *in_use += need;
        Ok(Reservation(need))
    }

    impl Drop for Reservation {
        fn drop(&mut self) {
            if self.0 > 0 {
                let mut in_use = IN_USE.lock().unwrap_or_else(|e| e.into_inner());
                *in_use -= self.0;
                FREED.notify_all();
            }
        }
    }

    /// Bytes reserved right now (for tests).
    #[cfg(test)]
    pub fn in_use() -> u64 {
        *IN_USE.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// An image decoded for the encoder, with the pixel size of the full image (after orientation).
pub struct Decoded {
    pub image: RgbImage,
    pub width: u32,
    pub height: u32,
    /// The decode's share of the memory budget, given back when this is dropped.
    _memory: budget::Reservation,
}

/// Decodes for the encoder: like [`decode`], but a large JPEG is decoded at 1/2, 1/4 or 1/8 of
/// its size directly in the DCT domain (far less work than decoding every pixel only to shrink
/// them), at the smallest scale whose centre crop keeps [`MIN_SCALED_CROP`] pixels a side.
/// Small images, and JPEGs it cannot scale (CMYK, 16-bit), take the [`decode`] path unchanged.
pub fn decode_for_encoder(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    if let Some(scaled) = decode_jpeg_scaled(bytes)? {
        return Ok(scaled);
    }
    let (image, memory) = decode_reserved(bytes)?;
    Ok(Decoded {
        width: image.width(),
        height: image.height(),
        image,
        _memory: memory,
    })
}

/// The DCT scale denominator (2, 4 or 8) for a `width`×`height` image, if any.
pub fn dct_denominator(width: u32, height: u32) -> Option<u32> {
    let (_, _, side) = centre_crop(width, height);
    [8, 4, 2].into_iter().find(|d| side / d >= MIN_SCALED_CROP)
}

fn decode_jpeg_scaled(bytes: &[u8]) -> Result<Option<Decoded>, DecodeError> {
    use jpeg_decoder::PixelFormat;
    if !bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(None);
    }
    let mut dec = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    if dec.read_info().is_err() {
        // Let the general path report it.
        return Ok(None);
    }
    let Some(info) = dec.info() else {
        return Ok(None);
    };
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    if u64::from(width) * u64::from(height) > MAX_PIXELS
        || width == 0
        || height == 0
        || !matches!(info.pixel_format, PixelFormat::RGB24 | PixelFormat::L8)
    {
        return Ok(None);
    }
    let Some(denom) = dct_denominator(width, height) else {
        return Ok(None);
    };
    if is_truncated_jpeg(bytes) {
        return Err(DecodeError::Decode(
            "truncated JPEG (no end-of-image marker after the image data)".into(),
        ));
    }
    // libjpeg-turbo does the scaled decode (SIMD Huffman decoding and IDCT); jpeg-decoder only
    // read the headers above (size, pixel format, EXIF).
    let factor = turbojpeg::ScalingFactor::new(1, denom as usize);
    let tj_err = |e: turbojpeg::Error| DecodeError::Decode(e.to_string());
    let mut tj = turbojpeg::Decompressor::new().map_err(tj_err)?;
    tj.set_scaling_factor(factor).map_err(tj_err)?;
    let scaled = tj.read_header(bytes).map_err(tj_err)?.scaled(factor);
    let (sw, sh) = (scaled.width, scaled.height);
    let mut out = turbojpeg::Image {
        pixels: vec![0u8; 3 * sw * sh],
        width: sw,
        pitch: 3 * sw,
        height: sh,
        format: turbojpeg::PixelFormat::RGB,
    };
    tj.decompress(bytes, out.as_deref_mut()).map_err(tj_err)?;
    let image = RgbImage::from_raw(sw as u32, sh as u32, out.pixels)
        .ok_or_else(|| DecodeError::Decode("decoded buffer has the wrong size".into()))?;
    let orientation = dec
        .exif_data()
        .and_then(image::metadata::Orientation::from_exif_chunk)
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = image::DynamicImage::ImageRgb8(image);
    img.apply_orientation(orientation);
    let (width, height) = match orientation {
        image::metadata::Orientation::Rotate90
        | image::metadata::Orientation::Rotate270
        | image::metadata::Orientation::Rotate90FlipH
        | image::metadata::Orientation::Rotate270FlipH => (height, width),
        _ => (width, height),
    };
    Ok(Some(Decoded {
        image: img.into_rgb8(),
        width,
        height,
        _memory: budget::Reservation::none(),
    }))
}

/// JPEG decoders fill in missing data silently, so a cut-off file decodes to a grey smear.
/// In a complete file an end-of-image marker (FF D9) follows the last start-of-scan (FF DA);
/// inside entropy-coded data FF is always stuffed, so the marker cannot appear by chance.
fn is_truncated_jpeg(bytes: &[u8]) -> bool {
    let last_sos = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    match last_sos {
        Some(sos) => !bytes[sos..].windows(2).any(|w| w == [0xFF, 0xD9]),
        None => true,
    }
}

fn decode_error(e: image::ImageError) -> DecodeError {
    match e {
        image::ImageError::Unsupported(_) => DecodeError::UnknownFormat,
        image::ImageError::Limits(_) => {
            DecodeError::Decode("over the decoder's memory limit".into())
        }
        other => DecodeError::Decode(other.to_string()),
    }
}

/// The centre crop (left, top, side) applied before resizing.
pub fn centre_crop(width: u32, height: u32) -> (u32, u32, u32) {
    let side = (CROP_RATIO * f64::from(width.min(height))) as u32;
    let side = side.max(1);
    // Python's ((w - c) + 1) // 2
    let left = (width - side).div_ceil(2);
    let top = (height - side).div_ceil(2);
    (left, top, side)
}

/// Crops and resizes to the encoder's 260×260 RGB square.
pub fn to_square(img: &RgbImage, resizer: &mut Resizer) -> Result<RgbImage, DecodeError> {
    let (left, top, side) = centre_crop(img.width(), img.height());
    let mut dst = Image::new(INPUT_SIZE, INPUT_SIZE, PixelType::U8x3);
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::CatmullRom))
        .crop(
            f64::from(left),
            f64::from(top),
            f64::from(side),
            f64::from(side),
        );
    resizer
        .resize(img, &mut dst, &options)
        .map_err(|e| DecodeError::Resize(e.to_string()))?;
    RgbImage::from_raw(INPUT_SIZE, INPUT_SIZE, dst.into_vec())
        .ok_or_else(|| DecodeError::Resize("resized buffer has the wrong size".into()))
}

/// Writes the normalised channels-first tensor of a 260×260 RGB square into `out`
/// (length [`TENSOR_LEN`]); `flip` mirrors it left to right.
pub fn write_tensor(square: &RgbImage, flip: bool, out: &mut [f32]) {
    let n = INPUT_SIZE as usize;
    debug_assert_eq!(out.len(), TENSOR_LEN);
    let raw = square.as_raw();
    for y in 0..n {
        for x in 0..n {
            let sx = if flip { n - 1 - x } else { x };
            let p = &raw[(y * n + sx) * 3..(y * n + sx) * 3 + 3];
            for c in 0..3 {
                out[c * n * n + y * n + x] = (f32::from(p[c]) - MEAN) / STD;
            }
        }
    }
}

/// Decode, orient, crop, resize and normalise in one go.
pub fn tensor_from_bytes(bytes: &[u8], resizer: &mut Resizer) -> Result<Prepared, DecodeError> {
    let img = decode_for_encoder(bytes)?;
    let square = to_square(&img.image, resizer)?;
    let mut tensor = vec![0.0; TENSOR_LEN];
    write_tensor(&square, false, &mut tensor);
    Ok(Prepared {
        width: img.width,
        height: img.height,
        tensor,
    })
}

/// A preprocessed image, with the pixel size it had after orientation.
pub struct Prepared {
    pub width: u32,
    pub height: u32,
    pub tensor: Vec<f32>,
}

#[cfg(test)]
mod tests {
    use super::budget;

    #[test]
    fn large_decodes_wait_for_memory_and_oversized_ones_are_refused() {
        let mib = |n: u64| n << 20;
        assert!(matches!(
            budget::reserve(mib(900)),
            Err(DecodeError::TooMuchMemory {
                need_mib: 900,
                limit_mib: 768
            })
        ));
        // Small decodes never wait or count.
        let small = budget::reserve(mib(8)).unwrap();
        assert_eq!(budget::in_use(), 0);
        let first = budget::reserve(mib(500)).unwrap();
        assert_eq!(budget::in_use(), mib(500));
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let second = budget::reserve(mib(500)).unwrap();
            tx.send(budget::in_use()).unwrap();
            drop(second);
        });
        // 500 + 500 MiB do not fit in 768: the second waits for the first.
        assert!(rx
            .recv_timeout(std::time::Duration::from_millis(300))
            .is_err());
        drop(first);
        let seen = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert_eq!(seen, mib(500));
        waiter.join().unwrap();
        drop(small);
        assert_eq!(budget::in_use(), 0);
    }

    use super::*;

    #[test]
    fn crop_matches_python_formula() {
        // int(224/256*375) = 328; offset ((500-328)+1)//2 = 86, ((375-328)+1)//2 = 24
        assert_eq!(centre_crop(500, 375), (86, 24, 328));
        assert_eq!(centre_crop(375, 500), (24, 86, 328));
        assert_eq!(centre_crop(1, 1), (0, 0, 1));
    }

    #[test]
    fn tensor_is_normalised_and_flip_mirrors() {
        let mut sq = RgbImage::new(INPUT_SIZE, INPUT_SIZE);
        sq.put_pixel(0, 0, image::Rgb([255, 127, 0]));
        let mut t = vec![0.0; TENSOR_LEN];
        write_tensor(&sq, false, &mut t);
        let plane = (INPUT_SIZE * INPUT_SIZE) as usize;
        assert_eq!(t[0], 1.0);
        assert_eq!(t[plane], 0.0);
        assert_eq!(t[2 * plane], -127.0 / 128.0);
        write_tensor(&sq, true, &mut t);
        assert_eq!(t[INPUT_SIZE as usize - 1], 1.0);
        assert_eq!(t[0], -127.0 / 128.0);
    }

    #[test]
    fn detects_truncated_jpeg() {
        let mut buf = Vec::new();
        let img =
            image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 99]));
        img.write_to(&mut Cursor::new(&mut buf), image::ImageFormat::Jpeg)
            .unwrap();
        assert!(!is_truncated_jpeg(&buf));
        assert!(decode(&buf).is_ok());
        let cut = &buf[..buf.len() - 40];
        assert!(is_truncated_jpeg(cut));
        assert!(matches!(decode(cut), Err(DecodeError::Decode(m)) if m.contains("truncated")));
        // Trailing bytes after the end marker are fine.
        let mut padded = buf.clone();
        padded.extend_from_slice(b"trailer");
        assert!(decode(&padded).is_ok());
    }

    #[test]
    fn dct_scale_keeps_the_crop_large() {
        // Flickr size: never scaled.
        assert_eq!(dct_denominator(500, 375), None);
        assert_eq!(dct_denominator(1024, 768), None);
        // 12 MP: 4000×3000 has a 2625-pixel crop; 1/4 keeps 656, 1/8 would keep only 328.
        assert_eq!(dct_denominator(4000, 3000), Some(4));
        assert_eq!(dct_denominator(3000, 4000), Some(4));
        assert_eq!(dct_denominator(8000, 6000), Some(8));
        assert_eq!(dct_denominator(1300, 1200), Some(2));
        assert_eq!(dct_denominator(1200, 1100), None);
    }

    #[test]
    fn scaled_decode_orients_and_checks_truncation() {
        let img = image::RgbImage::from_fn(1600, 1200, |x, y| {
            image::Rgb([(x / 7) as u8, (y / 5) as u8, ((x + y) / 11) as u8])
        });
        let mut buf = Vec::new();
        img.write_to(&mut Cursor::new(&mut buf), image::ImageFormat::Jpeg)
            .unwrap();
        let d = decode_for_encoder(&buf).unwrap();
        assert_eq!((d.width, d.height), (1600, 1200));
        assert_eq!((d.image.width(), d.image.height()), (800, 600));
        // A scaled decode looks like the full decode, shrunk.
        let full = decode(&buf).unwrap();
        let small = image::imageops::resize(&full, 800, 600, image::imageops::FilterType::Triangle);
        let diff: f64 = small
            .as_raw()
            .iter()
            .zip(d.image.as_raw())
            .map(|(a, b)| (f64::from(*a) - f64::from(*b)).abs())
            .sum::<f64>()
            / small.as_raw().len() as f64;
        assert!(diff < 3.0, "mean abs difference {diff}");
        let cut = &buf[..buf.len() - 40];
        assert!(
            matches!(decode_for_encoder(cut), Err(DecodeError::Decode(m)) if m.contains("truncated"))
        );
    }

    #[test]
    fn refuses_empty_and_garbage() {
        assert!(matches!(decode(b""), Err(DecodeError::Empty)));
        assert!(matches!(
            decode(b"hello, world"),
            Err(DecodeError::UnknownFormat)
        ));
    }
}
