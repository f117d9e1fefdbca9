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
        people::fingerprint_of(&self.dir)
    }

    /// The image encoder's cache fingerprint, read from its file without starting a session.
    pub fn image_fingerprint(&self) -> Result<[u8; 16], ModelError> {
        model::image::fingerprint_of(&self.dir)
    }

    /// The legal image check's fingerprint without starting the people models (None when
    /// the scorer has no child detector): what a stored library is keyed by.
    pub fn check_fingerprint(&self) -> Result<Option<[u8; 16]>, ModelError> {
        let people = self.people_fingerprint()?;
        Ok(check::fingerprint_of(&*self.scorer()?, &people))
    }
}
