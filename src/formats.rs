//! Which files are images, by their names: what the scan looks at and what a query term that
//! names a file is taken for.

use std::path::Path;

/// File name endings picseek treats as images (case-insensitive).
pub const IMAGE_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "jpe", "png", "webp", "gif", "bmp", "tif", "tiff",
];

/// Whether `path`'s name ends like an image file's.
pub fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}
