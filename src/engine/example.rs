//! An example image as a query (`search --image`, "more like this", an image term): read from
//! the cache or encoded into it, and put through the legal image check exactly like an image of
//! a library. An example judged to show a child refuses the query, as a blocked text does.

use std::path::{Path, PathBuf};

use crate::cache::{Cache, CacheError};
use crate::display::escape_path;
use crate::index::{self, view_fingerprint, Checker, IndexOptions};
use crate::model::{ImageEmbedding, ImageEncoder};

#[derive(Debug, thiserror::Error)]
pub enum ExampleError {
    #[error("{}: not a file", escape_path(.0))]
    NotAFile(PathBuf),
    /// The file could not be used as an image (the reason names the file).
    #[error("example image {0}")]
    Unusable(String),
    #[error(transparent)]
    Index(#[from] index::IndexError),
    #[error(transparent)]
    Cache(#[from] CacheError),
}

/// What the legal image check made of an example.
#[derive(Debug, Clone)]
pub enum Example {
    Allowed(ImageEmbedding),
    /// Judged to show a child (or it could not be checked): the query is refused.
    Refused,
}

/// Reads (or encodes and caches) the example image at `path` and checks it. Without a fitted
/// check (`None`) nothing can be cleared, so the example is refused, as such images are
/// withheld from a library. `declared_no_child` says whether the owner declared the content to
/// show no child (it is then allowed whatever the check says).
pub(super) fn prepare(
    path: &Path,
    cache: &Cache,
    encoder: &ImageEncoder,
    check: Option<&Checker>,
    options: &IndexOptions,
    declared_no_child: &dyn Fn(&crate::cache::ContentHash) -> bool,
) -> Result<Example, ExampleError> {
    if !path.is_file() {
        return Err(ExampleError::NotAFile(path.to_path_buf()));
    }
    let report = index::index_dir(path, cache, encoder, check, options, &mut |_| {})?;
    if let Some(f) = report.failures.first() {
        return Err(ExampleError::Unusable(f.to_string()));
    }
    let Some((file, hash)) = report.indexed.first() else {
        return Err(ExampleError::Unusable(format!(
            "{}: not read as an image",
            escape_path(path)
        )));
    };
    let fp = view_fingerprint(encoder, false);
    let Some(record) = cache.embedding(&fp, hash) else {
        return Ok(Example::Refused);
    };
    if declared_no_child(hash) {
        return Ok(Example::Allowed(record.embedding));
    }
    let Some(check) = check else {
        return Ok(Example::Refused);
    };
    let mut resizer = fast_image_resize::Resizer::new();
    match check.verdict_for(cache, &fp, file, hash, &mut resizer)? {
        Some(v) if !v.withheld() => Ok(Example::Allowed(record.embedding)),
        _ => Ok(Example::Refused),
    }
}
