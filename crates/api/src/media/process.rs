//! Image processing for uploads: decode what we accept, bound the size, re-encode, make a
//! thumbnail and a blurhash.
//!
//! Re-encoding is what strips metadata: EXIF (with its GPS position), XMP, comments and colour
//! profiles are never copied into the new file. The EXIF orientation is applied to the pixels
//! first, so photos stay upright without it.
//!
//! Accepted: JPEG, PNG, GIF (the first frame: animations become a still image) and WebP,
//! recognised by their bytes, not by the name or type the client claims. JPEG stays JPEG
//! (quality 85), PNG and GIF become PNG, WebP becomes JPEG, or PNG when it has transparency.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

/// Images with more pixels than this are refused (7680x4320; what Mastodon announces as
/// `image_matrix_limit`, so apps downscale before sending).
pub const MAX_PIXELS: u64 = 33_177_600;

/// Most bytes a decoded image may fill: an 8-bit RGBA image of [`MAX_PIXELS`]. A 16-bit image
/// (which fills twice as much per pixel) must have half as many pixels. The decoders are held
/// to this (plus a little for their own buffers) too.
pub const MAX_DECODED_BYTES: u64 = MAX_PIXELS * 4;

/// What a decoder may allocate beyond the image itself.
const DECODER_SLACK_BYTES: u64 = 16 << 20;

/// JPEG quality of re-encoded images.
const JPEG_QUALITY: u8 = 85;

/// Blurhash components across and down (as Mastodon computes them).
const BLURHASH_COMPONENTS: (u32, u32) = (4, 4);

/// How large a processed image may be, and whether it gets a thumbnail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// Widest result; larger images are scaled down to fit.
    pub max_width: u32,
    /// Tallest result.
    pub max_height: u32,
    /// Most pixels in the result (4K for attachments).
    pub max_pixels: u64,
    /// The long side of the thumbnail, if one is made.
    pub preview: Option<u32>,
}

/// A media attachment: at most 3840x2160 worth of pixels (8,294,400, as Mastodon), any shape;
/// a thumbnail of at most 400 pixels on the long side.
pub const ATTACHMENT: Profile =
    Profile { max_width: u32::MAX, max_height: u32::MAX, max_pixels: 8_294_400, preview: Some(400) };

/// An avatar: at most 400x400.
pub const AVATAR: Profile = Profile { max_width: 400, max_height: 400, max_pixels: u64::MAX, preview: None };

/// A profile header: at most 1500x500.
pub const HEADER: Profile = Profile { max_width: 1500, max_height: 500, max_pixels: u64::MAX, preview: None };

/// Why an upload was refused (422 at the edge, except [`MediaError::Encode`]).
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// Not an image format we accept.
    #[error("Validation failed: File content type is not supported (send a JPEG, PNG, GIF or WebP image)")]
    Unsupported,
    /// It claims to be an image but cannot be decoded.
    #[error("Validation failed: the image could not be read ({0})")]
    Undecodable(String),
    /// Too many pixels.
    #[error("Validation failed: the image is {0}x{1} pixels; at most {MAX_PIXELS} pixels are accepted")]
    TooLarge(u32, u32),
    /// Too many bytes once decoded (deep colour at a large size).
    #[error(
        "Validation failed: the image is {0}x{1} pixels at {2} bytes a pixel; send it with 8 bits per channel or fewer pixels"
    )]
    TooDeep(u32, u32, u16),
    /// Encoding the result failed (a bug, not the client's fault).
    #[error("encoding failed: {0}")]
    Encode(String),
}

/// The file format of a processed image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// `image/jpeg`, `.jpg`.
    Jpeg,
    /// `image/png`, `.png`.
    Png,
}

impl Output {
    /// The MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            Output::Jpeg => "image/jpeg",
            Output::Png => "image/png",
        }
    }

    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Output::Jpeg => "jpg",
            Output::Png => "png",
        }
    }
}

/// An encoded image.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// Pixel width.
    pub width: u32,
    /// Pixel height.
    pub height: u32,
}

/// A processed upload.
#[derive(Debug, Clone)]
pub struct Processed {
    /// The format of both files.
    pub format: Output,
    /// The image itself.
    pub original: Encoded,
    /// Its thumbnail, when the profile asks for one.
    pub preview: Option<Encoded>,
    /// A blurhash of the image.
    pub blurhash: Option<String>,
}

/// Decodes `bytes`, bounds the image by `profile` and re-encodes it (with a thumbnail and a
/// blurhash for attachments).
pub fn process(bytes: &[u8], profile: &Profile) -> Result<Processed, MediaError> {
    let (image, input) = decode(bytes)?;
    let image = shrink(image, profile.max_width, profile.max_height, profile.max_pixels);
    let format = match input {
        ImageFormat::Jpeg => Output::Jpeg,
        ImageFormat::WebP if !image.color().has_alpha() => Output::Jpeg,
        _ => Output::Png,
    };
    let preview = profile.preview.map(|side| shrink(image.clone(), side, side, u64::MAX));
    let blurhash = preview.as_ref().map(blurhash).transpose()?;
    Ok(Processed {
        format,
        original: encode(&image, format)?,
        preview: preview.map(|p| encode(&p, format)).transpose()?,
        blurhash,
    })
}

/// The decoded image (upright) and the format it came in.
fn decode(bytes: &[u8]) -> Result<(DynamicImage, ImageFormat), MediaError> {
    let undecodable = |e: image::ImageError| MediaError::Undecodable(e.to_string());
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| MediaError::Undecodable(e.to_string()))?;
    let format = match reader.format() {
        Some(f @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::Gif | ImageFormat::WebP)) => f,
        _ => return Err(MediaError::Unsupported),
    };
    let mut decoder = reader.into_decoder().map_err(undecodable)?;
    let (width, height) = decoder.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    if pixels > MAX_PIXELS {
        return Err(MediaError::TooLarge(width, height));
    }
    let depth = decoder.color_type().bytes_per_pixel();
    if pixels * u64::from(depth) > MAX_DECODED_BYTES {
        return Err(MediaError::TooDeep(width, height, depth.into()));
    }
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_DECODED_BYTES + DECODER_SLACK_BYTES);
    decoder.set_limits(limits).map_err(undecodable)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let image = DynamicImage::from_decoder(decoder).map_err(undecodable)?;
    // Every output is 8 bits a channel: narrow deep images now, before any copy of them.
    let mut image = match (image.color().bytes_per_pixel() > 4, image.color().has_alpha()) {
        (false, _) => image,
        (true, true) => DynamicImage::ImageRgba8(image.to_rgba8()),
        (true, false) => DynamicImage::ImageRgb8(image.to_rgb8()),
    };
    image.apply_orientation(orientation);
    Ok((image, format))
}

/// The largest size within the bounds with the image's aspect ratio; never larger than it is.
pub fn fit(width: u32, height: u32, max_width: u32, max_height: u32, max_pixels: u64) -> (u32, u32) {
    let (w, h) = (f64::from(width), f64::from(height));
    let pixels = u64::from(width) * u64::from(height);
    let mut scale = (f64::from(max_width) / w).min(f64::from(max_height) / h);
    if pixels > max_pixels {
        scale = scale.min((max_pixels as f64 / pixels as f64).sqrt());
    }
    if scale >= 1.0 {
        return (width, height);
    }
    let side = |v: f64| (v * scale).floor().clamp(1.0, f64::from(u32::MAX)) as u32;
    (side(w), side(h))
}

/// The image reduced to fit the bounds, by area averaging: it needs memory for the result
/// only, where a filtered resize holds a float copy of (old width x new height) — 265 MB for
/// the largest image we take. For reductions, averaging is also what a photo needs.
fn shrink(image: DynamicImage, max_width: u32, max_height: u32, max_pixels: u64) -> DynamicImage {
    let (width, height) = fit(image.width(), image.height(), max_width, max_height, max_pixels);
    if (width, height) == (image.width(), image.height()) {
        return image;
    }
    image.thumbnail_exact(width, height)
}

fn encode(image: &DynamicImage, format: Output) -> Result<Encoded, MediaError> {
    let mut bytes = Vec::new();
    let written = match format {
        Output::Jpeg => DynamicImage::ImageRgb8(image.to_rgb8())
            .write_with_encoder(JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY)),
        Output::Png => {
            let pixels = match image.color().has_alpha() {
                true => DynamicImage::ImageRgba8(image.to_rgba8()),
                false => DynamicImage::ImageRgb8(image.to_rgb8()),
            };
            let encoder =
                PngEncoder::new_with_quality(&mut bytes, CompressionType::Default, PngFilter::Adaptive);
            pixels.write_with_encoder(encoder)
        }
    };
    written.map_err(|e| MediaError::Encode(e.to_string()))?;
    Ok(Encoded { bytes, width: image.width(), height: image.height() })
}

/// The blurhash of an image, computed on a copy of at most 32x32 pixels.
fn blurhash(image: &DynamicImage) -> Result<String, MediaError> {
    let small = image.thumbnail(32, 32).to_rgba8();
    let (x, y) = BLURHASH_COMPONENTS;
    blurhash::encode(x, y, small.width(), small.height(), small.as_raw())
        .map_err(|e| MediaError::Encode(format!("blurhash: {e}")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use image::{ImageBuffer, Rgb, Rgba};

    use super::*;

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let image = ImageBuffer::from_fn(width, height, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(image)
            .write_with_encoder(JpegEncoder::new_with_quality(&mut out, 90))
            .unwrap();
        out
    }

    /// `jpeg` with an EXIF segment (orientation 6: rotate 90° clockwise) and a marker text.
    fn jpeg_with_exif(width: u32, height: u32) -> Vec<u8> {
        let plain = jpeg(width, height);
        #[rustfmt::skip]
        let tiff: &[u8] = &[
            b'M', b'M', 0, 42, 0, 0, 0, 8, // big-endian TIFF header, IFD at 8
            0, 1,                          // one entry
            0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, // Orientation = 6
            0, 0, 0, 0,                    // no next IFD
        ];
        let mut payload = b"Exif\0\0".to_vec();
        payload.extend_from_slice(tiff);
        payload.extend_from_slice(b"GPS-SECRET-4815");
        let mut out = plain[..2].to_vec();
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
        out.extend_from_slice(&payload);
        out.extend_from_slice(&plain[2..]);
        out
    }

    #[test]
    fn jpegs_lose_their_metadata_and_stand_upright() {
        let upload = jpeg_with_exif(64, 48);
        assert!(upload.windows(15).any(|w| w == b"GPS-SECRET-4815"));
        let done = process(&upload, &ATTACHMENT).unwrap();
        assert_eq!(done.format, Output::Jpeg);
        assert!(!done.original.bytes.windows(4).any(|w| w == b"Exif"));
        assert!(!done.original.bytes.windows(15).any(|w| w == b"GPS-SECRET-4815"));
        // Orientation 6 turns the 64x48 pixels into a 48x64 picture.
        assert_eq!((done.original.width, done.original.height), (48, 64));
        let reread = image::load_from_memory(&done.original.bytes).unwrap();
        assert_eq!((reread.width(), reread.height()), (48, 64));
        assert_eq!(done.blurhash.unwrap().len(), 6 + 2 * 15, "4x4 components");
    }

    #[test]
    fn large_images_are_scaled_down_with_a_small_thumbnail() {
        let profile = Profile { max_pixels: 100 * 50, ..ATTACHMENT };
        let done = process(&jpeg(400, 200), &profile).unwrap();
        assert_eq!((done.original.width, done.original.height), (100, 50));
        let small = process(&jpeg(1000, 500), &ATTACHMENT).unwrap().preview.unwrap();
        assert_eq!((small.width, small.height), (400, 200));
        let avatar = process(&jpeg(800, 600), &AVATAR).unwrap();
        assert_eq!(
            (avatar.original.width, avatar.original.height, avatar.preview.is_none()),
            (400, 300, true)
        );
    }

    #[test]
    fn transparency_is_kept_in_png() {
        let image = ImageBuffer::from_fn(20, 10, |x, _| Rgba([200, 10, 10, if x < 10 { 0 } else { 255 }]));
        let mut png = Vec::new();
        DynamicImage::ImageRgba8(image).write_with_encoder(PngEncoder::new(&mut png)).unwrap();
        let done = process(&png, &ATTACHMENT).unwrap();
        assert_eq!(done.format, Output::Png);
        let reread = image::load_from_memory(&done.original.bytes).unwrap();
        assert!(reread.color().has_alpha());
    }

    #[test]
    fn gif_becomes_png_and_opaque_webp_jpeg() {
        let image =
            DynamicImage::ImageRgba8(ImageBuffer::from_fn(12, 8, |x, _| Rgba([x as u8 * 20, 0, 0, 255])));
        let mut gif = Vec::new();
        image.write_with_encoder(image::codecs::gif::GifEncoder::new(&mut gif)).unwrap();
        let done = process(&gif, &ATTACHMENT).unwrap();
        assert_eq!((done.format, done.original.width, done.original.height), (Output::Png, 12, 8));
        let mut webp = Vec::new();
        DynamicImage::ImageRgb8(image.to_rgb8())
            .write_with_encoder(image::codecs::webp::WebPEncoder::new_lossless(&mut webp))
            .unwrap();
        assert_eq!(process(&webp, &ATTACHMENT).unwrap().format, Output::Jpeg);
    }

    #[test]
    fn other_files_are_refused() {
        assert!(matches!(process(b"just some text", &ATTACHMENT), Err(MediaError::Unsupported)));
        let mut broken = jpeg(32, 32);
        broken.truncate(40);
        assert!(matches!(process(&broken, &ATTACHMENT), Err(MediaError::Undecodable(_))));
    }

    #[test]
    fn fit_keeps_the_aspect_ratio_and_never_enlarges() {
        assert_eq!(fit(7680, 4320, u32::MAX, u32::MAX, 8_294_400), (3840, 2160));
        assert_eq!(fit(100, 50, 400, 400, u64::MAX), (100, 50));
        assert_eq!(fit(3000, 600, 1500, 500, u64::MAX), (1500, 300));
        assert_eq!(fit(10_000, 1, 400, 400, u64::MAX), (400, 1));
    }
}
