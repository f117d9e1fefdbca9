//! The one way in: a [`Session`] holds what searching a folder needs (the models, loaded on first
//! use; the cache; the legal image check; the owner's declarations) and does the work both front
//! ends ask for. `commands/` and `tui/` call only this.
//!
//! The flow of data: scan → hash → cache → encode → check → score → rank → show.
//! - [`Session::index`]: scan, hash, encode what the cache lacks, check each new image, and
//!   bring the folder's [`Library`] up to date (the stored one is reused where it can be);
//! - [`Session::stored`]: the library stored at the folder's last index, without a scan;
//! - [`Session::search`]: a [`CheckedQuery`] (the legal filter has read it: the type says so)
//!   over a library, example images checked like any image;
//! - [`Session::verdicts`], [`Session::review`]: the legal figures and the annotation review,
//!   deciding verdicts exactly as searches do.

pub mod example;
mod legal;
pub mod models;
mod review;
mod search;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

pub use example::{Example, ExampleError};
pub use models::Models;
pub use review::ReviewError;
pub use search::{Outcome, IMAGE_REASON};

use crate::cache::{Cache, CacheError, CacheLock, ContentHash};
use crate::declarations::{self, Cover, DeclarationError, Declarations};
use crate::index::{
    self, view_fingerprint, Checker, IndexError, IndexOptions, IndexReport, Progress,
};
use crate::legal::check::{ImageCheck, ImageVerdict};
use crate::library::{Legal, Library, LibraryError};
use crate::model::{ImageEncoder, ModelError, Scorer, TextEncoder};
use crate::people::PeopleModels;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The cache could not be opened (as its opener said).
    #[error("{0}")]
    CacheOpen(String),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Library(#[from] LibraryError),
    #[error(transparent)]
    Example(#[from] ExampleError),
    #[error(transparent)]
    Declarations(#[from] DeclarationError),
}

/// A folder indexed: what the run did, and the library it left.
pub struct Indexed {
    pub report: IndexReport,
    pub library: Library,
}

/// What the front ends share: the models, the cache, index options and the declarations file.
pub struct Session {
    models: Arc<Models>,
    cache_dir: PathBuf,
    cache: OnceLock<Result<Arc<Cache>, String>>,
    held: Mutex<Option<CacheLock>>,
    index: IndexOptions,
    declarations: Option<PathBuf>,
    /// The last warning about damaged declarations given (each is given once, not at every
    /// read).
    warned: Mutex<Option<String>>,
}

impl Session {
    /// A session over the cache folder `lock` holds (taken by the caller, so that another
    /// picseek using it is a plain error before anything starts; the database itself is opened
    /// on first use), with the models of `models` and the declarations at `declarations`
    /// (`None`: no declarations file, nothing declared).
    pub fn new(
        models: Arc<Models>,
        lock: CacheLock,
        index: IndexOptions,
        declarations: Option<PathBuf>,
    ) -> Self {
        Session {
            models,
            cache_dir: lock.dir().to_path_buf(),
            cache: OnceLock::new(),
            held: Mutex::new(Some(lock)),
            index,
            declarations,
            warned: Mutex::new(None),
        }
    }

    /// Takes the cache folder `dir` and makes a session over it.
    pub fn open(
        models: Arc<Models>,
        cache_dir: &Path,
        index: IndexOptions,
        declarations: Option<PathBuf>,
    ) -> Result<Self, EngineError> {
        Ok(Self::new(
            models,
            CacheLock::take(cache_dir)?,
            index,
            declarations,
        ))
    }

    pub fn models(&self) -> &Arc<Models> {
        &self.models
    }

    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    pub fn index_options(&self) -> &IndexOptions {
        &self.index
    }

    /// The cache database, opened on first use.
    pub fn cache(&self) -> Result<Arc<Cache>, EngineError> {
        self.cache
            .get_or_init(|| {
                let held = self
                    .held
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take()
                    .ok_or_else(|| "the cache was not held".to_string())?;
                held.open().map(Arc::new).map_err(|e| e.to_string())
            })
            .clone()
            .map_err(EngineError::CacheOpen)
    }

    /// The cache database if it is open already (never waits for it).
    pub fn cache_if_open(&self) -> Option<Arc<Cache>> {
        self.cache.get().and_then(|c| c.as_ref().ok()).cloned()
    }

    pub fn text(&self) -> Result<Arc<TextEncoder>, EngineError> {
        Ok(self.models.text()?)
    }

    pub fn scorer(&self) -> Result<Arc<Scorer>, EngineError> {
        Ok(self.models.scorer()?)
    }

    pub fn image_encoder(&self) -> Result<Arc<ImageEncoder>, EngineError> {
        Ok(self.models.image()?)
    }

    /// The image encoder's cache fingerprint (known without starting its session).
    pub fn image_fingerprint(&self) -> Result<[u8; 16], EngineError> {
        Ok(self.models.image_fingerprint()?)
    }

    /// The owner's declarations, read now (damaged lines are left out, with one warning line per
    /// session).
    pub fn declarations(&self) -> Result<Declarations, EngineError> {
        match &self.declarations {
            Some(path) => {
                let d = Declarations::load(path)?;
                if let Some(w) = d.warning() {
                    let mut last = self.warned.lock().unwrap_or_else(|p| p.into_inner());
                    if last.as_deref() != Some(w.as_str()) {
                        tracing::warn!("{w}");
                        *last = Some(w);
                    }
                }
                Ok(d)
            }
            None => Ok(Declarations::default()),
        }
    }

    /// Where the declarations are kept.
    pub fn declarations_path(&self) -> Option<&Path> {
        self.declarations.as_deref()
    }

    /// What the declarations in force today cover.
    pub fn cover(&self) -> Result<Cover, EngineError> {
        Ok(self.declarations()?.cover(&declarations::today()))
    }

    /// Runs `f` with the legal image check (`None` when the scorer has none fitted), its
    /// people models loaded the first time a flagged image needs them.
    pub fn with_check<R>(
        &self,
        f: impl FnOnce(Option<&Checker>) -> Result<R, EngineError>,
    ) -> Result<R, EngineError> {
        // No scorer trained yet (the first `picseek train` indexes before it has one): no
        // check, every image withheld until there is one.
        if !self
            .models
            .dir()
            .join(crate::model::scorer::WEIGHTS_FILE)
            .exists()
        {
            return f(None);
        }
        let scorer = self.scorer()?;
        let people_fp = self.models.people_fingerprint()?;
        let loader = || self.models.people();
        let checker = ImageCheck::new(&scorer, &people_fp)
            .map(|check| Checker::new(check, people_fp, &loader));
        f(checker.as_ref())
    }

    /// The legal check's fingerprint, without starting its models.
    pub fn check_fingerprint(&self) -> Result<Option<[u8; 16]>, EngineError> {
        Ok(self.models.check_fingerprint()?)
    }

    /// The people models (for the legal check's figures and training).
    pub fn people(&self) -> Result<Arc<PeopleModels>, EngineError> {
        Ok(self.models.people()?)
    }

    /// The library stored at the folder `root`'s last index, without scanning it (`None` when
    /// there is none that fits the models and the declarations in force).
    pub fn stored(&self, root: &Path) -> Result<Option<Library>, EngineError> {
        let abs = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
        let fp = self.image_fingerprint()?;
        let scorer = self.scorer()?;
        let check = self.check_fingerprint()?;
        let cover = self.cover()?;
        Ok(Library::open_stored(
            &self.cache_dir,
            &abs,
            &fp,
            &scorer,
            check.as_ref(),
            &cover.digest(),
        ))
    }

    /// Indexes what under `root` is not cached yet, checking each new image, and brings the
    /// folder's library up to date.
    pub fn index(
        &self,
        root: &Path,
        on_progress: &mut dyn FnMut(Progress),
    ) -> Result<Indexed, EngineError> {
        let cache = self.cache()?;
        let encoder = self.image_encoder()?;
        let cover = self.cover()?;
        self.with_check(|check| {
            let report = index::index_dir(root, &cache, &encoder, check, &self.index, on_progress)?;
            let library = self.build(root, &report.indexed, &cache, check, &cover)?;
            Ok(Indexed { report, library })
        })
    }

    /// Indexes what under `root` is not cached yet, checking each new image, without building
    /// the folder's library (what cold indexing measures).
    pub fn index_files(
        &self,
        root: &Path,
        on_progress: &mut dyn FnMut(Progress),
    ) -> Result<IndexReport, EngineError> {
        let cache = self.cache()?;
        let encoder = self.image_encoder()?;
        self.with_check(|check| {
            Ok(index::index_dir(
                root,
                &cache,
                &encoder,
                check,
                &self.index,
                on_progress,
            )?)
        })
    }

    /// The library of `root` from files already indexed (`files`: paths and content hashes),
    /// for showing what is indexed so far while a run goes on.
    pub fn library(
        &self,
        root: &Path,
        files: &[(PathBuf, ContentHash)],
    ) -> Result<Library, EngineError> {
        let cache = self.cache()?;
        let cover = self.cover()?;
        self.with_check(|check| self.build(root, files, &cache, check, &cover))
    }

    /// The files under `root` the cache knows and that still exist.
    pub fn known_files(&self, root: &Path) -> Result<Vec<(PathBuf, ContentHash)>, EngineError> {
        let abs = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
        let mut files = self.cache()?.files_under(&abs);
        files.retain(|(p, _)| p.is_file());
        Ok(files)
    }

    fn build(
        &self,
        root: &Path,
        files: &[(PathBuf, ContentHash)],
        cache: &Cache,
        check: Option<&Checker>,
        cover: &Cover,
    ) -> Result<Library, EngineError> {
        let abs = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
        let fp = self.image_fingerprint()?;
        let scorer = self.scorer()?;
        let legal = Legal { check, cover };
        Ok(Library::build_for(
            &abs, files, cache, &fp, &scorer, &legal,
        )?)
    }

    /// Every image under `dir` with its legal verdict (indexing what is not cached yet), in
    /// scan order: what the legal figures count.
    pub fn verdicts(
        &self,
        dir: &Path,
        on_progress: &mut dyn FnMut(Progress),
    ) -> Result<(IndexReport, Vec<(PathBuf, ImageVerdict)>), EngineError> {
        let cache = self.cache()?;
        let encoder = self.image_encoder()?;
        let fp = view_fingerprint(&encoder, false);
        self.with_check(|check| {
            let report = index::index_dir(dir, &cache, &encoder, check, &self.index, on_progress)?;
            let mut out = Vec::new();
            if let Some(check) = check {
                let mut resizer = fast_image_resize::Resizer::new();
                for (path, hash) in &report.indexed {
                    if let Some(v) = check.verdict_for(&cache, &fp, path, hash, &mut resizer)? {
                        out.push((path.clone(), v));
                    }
                }
            }
            Ok((report, out))
        })
    }

    /// A cached image's features (EfficientNet's pooled vector) by its content hash.
    pub fn features(&self, hash: &ContentHash) -> Option<Vec<f32>> {
        let fp = self.image_fingerprint().ok()?;
        let cache = self.cache().ok()?;
        cache.embedding(&fp, hash).map(|r| r.embedding.features)
    }

    /// Reads (or encodes) the example image at `path` and checks it as a library image would be.
    pub fn example(&self, path: &Path) -> Result<Example, EngineError> {
        let cache = self.cache()?;
        let encoder = self.image_encoder()?;
        let cover = self.cover()?;
        self.with_check(|check| {
            Ok(example::prepare(
                path,
                &cache,
                &encoder,
                check,
                &self.index,
                &|h| cover.no_child(h),
            )?)
        })
    }
}
