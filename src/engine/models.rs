//! The models of one models folder, each loaded on first use and then shared: what every
//! command and the terminal UI's workers take their encoders, scorer and people models from.
//!
//! A command that only reads a stored library never starts the image encoder or the person
//! detector; one that needs a model twice loads it once. Loading is serialised per model, so two
//! threads asking at once wait for one load instead of making two.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::legal::check;
use crate::model::{self, ImageEncoder, ModelError, Scorer, TextEncoder};
use crate::people::{self, PeopleModels};

/// One model, loaded on first use. A failed load is not kept: the next call tries again (and
/// fails again, with the same message, unless the file was fixed meanwhile).
struct Lazy<T>(Mutex<Option<Arc<T>>>);

impl<T> Default for Lazy<T> {
    fn default() -> Self {
        Lazy(Mutex::new(None))
    }
}

impl<T> Lazy<T> {
    fn get(&self, load: impl FnOnce() -> Result<T, ModelError>) -> Result<Arc<T>, ModelError> {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(model) = &*slot {
            return Ok(Arc::clone(model));
        }
        let model = Arc::new(load()?);
        *slot = Some(Arc::clone(&model));
        Ok(model)
    }
}

/// The models of a models folder (ONNX Runtime must be initialised first, see
/// [`crate::model::runtime::init`]).
pub struct Models {
    dir: PathBuf,
    /// Where forms derived from the model files are kept (the tokenizer's compact form).
    derived: Option<PathBuf>,
    text: Lazy<TextEncoder>,
    scorer: Lazy<Scorer>,
    image: Lazy<ImageEncoder>,
    people: Lazy<PeopleModels>,
    /// The fingerprints, each read from its files once (hashing tens of MB per call would cost
    /// every search that shows cached details).
    image_fp: std::sync::OnceLock<[u8; 16]>,
    people_fp: std::sync::OnceLock<[u8; 16]>,
}

impl Models {
    /// Nothing is read until a model is asked for.
    pub fn new(dir: &Path) -> Self {
        Models {
            dir: dir.to_path_buf(),
            derived: None,
            text: Lazy::default(),
            scorer: Lazy::default(),
            image: Lazy::default(),
            people: Lazy::default(),
            image_fp: std::sync::OnceLock::new(),
            people_fp: std::sync::OnceLock::new(),
        }
    }

    /// Keeps forms derived from the model files in `dir` (the cache folder): the tokenizer is
    /// then read from its compact form instead of its 16.8 MB JSON.
    pub fn with_derived_dir(mut self, dir: &Path) -> Self {
        self.derived = Some(dir.to_path_buf());
        self
    }

    /// The models folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The text encoder (multilingual-e5-small).
    pub fn text(&self) -> Result<Arc<TextEncoder>, ModelError> {
        self.text
            .get(|| TextEncoder::load_with(&self.dir, self.derived.as_deref()))
    }

    /// The relevance scorer (also the legal check's whole-image child detector).
    pub fn scorer(&self) -> Result<Arc<Scorer>, ModelError> {
        self.scorer.get(|| Scorer::load(&self.dir))
    }

    /// The image encoder (EfficientNet-Lite2). Searching a stored library does not need it.
    pub fn image(&self) -> Result<Arc<ImageEncoder>, ModelError> {
        self.image.get(|| ImageEncoder::load(&self.dir))
    }

    /// The people models the legal check looks with (person and face detectors, face ages).
    /// Only images its whole-image check flags need them.
    pub fn people(&self) -> Result<Arc<PeopleModels>, ModelError> {
        self.people.get(|| PeopleModels::load(&self.dir))
    }

    /// The people models' fingerprint, read from their files without starting a session.
    pub fn people_fingerprint(&self) -> Result<[u8; 16], ModelError> {
        once(&self.people_fp, || people::fingerprint_of(&self.dir))
    }

    /// The image encoder's cache fingerprint, read from its file without starting a session.
    pub fn image_fingerprint(&self) -> Result<[u8; 16], ModelError> {
        once(&self.image_fp, || model::image::fingerprint_of(&self.dir))
    }

    /// The legal image check's fingerprint without starting the people models (None when
    /// the scorer has no child detector): what a stored library is keyed by.
    pub fn check_fingerprint(&self) -> Result<Option<[u8; 16]>, ModelError> {
        let people = self.people_fingerprint()?;
        Ok(check::fingerprint_of(&*self.scorer()?, &people))
    }
}

/// The value in `slot`, computed and kept the first time it succeeds.
fn once(
    slot: &std::sync::OnceLock<[u8; 16]>,
    compute: impl FnOnce() -> Result<[u8; 16], ModelError>,
) -> Result<[u8; 16], ModelError> {
    if let Some(v) = slot.get() {
        return Ok(*v);
    }
    let v = compute()?;
    Ok(*slot.get_or_init(|| v))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fingerprint is read from its file once per process: searches ask for it per result.
    #[test]
    fn fingerprints_are_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("image_encoder.onnx");
        std::fs::write(&file, b"first").unwrap();
        let models = Models::new(dir.path());
        let first = models.image_fingerprint().unwrap();
        std::fs::write(&file, b"second").unwrap();
        assert_eq!(models.image_fingerprint().unwrap(), first);
        assert_ne!(Models::new(dir.path()).image_fingerprint().unwrap(), first);
        // a failed read is not kept
        let empty = tempfile::tempdir().unwrap();
        let models = Models::new(empty.path());
        assert!(models.image_fingerprint().is_err());
        std::fs::write(empty.path().join("image_encoder.onnx"), b"first").unwrap();
        assert_eq!(models.image_fingerprint().unwrap(), first);
    }
}
