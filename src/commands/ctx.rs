//! What every command shares, resolved once from the global options: the models folder (with
//! ONNX Runtime started on first use), the cache folder, how index runs go, and the models,
//! each loaded the first time a command asks for it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result};
use picseek::cache::Cache;
use picseek::dataset::{self, Dataset};
use picseek::engine::{Models, Session};
use picseek::index::{IndexOptions, Progress};
use picseek::model::{self, ImageEncoder, Scorer, TextEncoder};
use picseek::train::{corpus, Corpus};

use crate::cli::Common;

pub struct Ctx {
    /// The options as given (a benchmark passes them on to a fresh process).
    pub common: Common,
    models_dir: PathBuf,
    cache_dir: PathBuf,
    /// `--batch` and `--rehash`.
    pub index: IndexOptions,
    /// The owner's declarations file (`--declarations`, else the user's config folder).
    declarations: Option<PathBuf>,
    models: OnceLock<Arc<Models>>,
    session: OnceLock<Arc<Session>>,
}

impl Ctx {
    /// Resolves the folders; reads nothing and starts nothing.
    pub fn new(common: &Common) -> Ctx {
        let models_dir = model::locate_models_dir(common.models.as_deref());
        // The cache folder: `--cache`, else `cache/` beside the models folder (the project's
        // top level).
        let cache_dir = common.cache.clone().unwrap_or_else(|| {
            let models = std::path::absolute(&models_dir).unwrap_or_else(|_| models_dir.clone());
            models
                .parent()
                .map_or_else(|| PathBuf::from("cache"), |p| p.join("cache"))
        });
        Ctx {
            common: common.clone(),
            models_dir,
            cache_dir,
            index: IndexOptions {
                batch_size: common.batch,
                rehash: common.rehash,
                ..Default::default()
            },
            declarations: common
                .declarations
                .clone()
                .or_else(picseek::declarations::default_path),
            models: OnceLock::new(),
            session: OnceLock::new(),
        }
    }

    /// The same options over another cache folder, with models of its own, loaded afresh
    /// (benchmarks use temporary caches, and time the loading as a new process would).
    pub fn with_cache(&self, dir: &Path) -> Ctx {
        let mut common = self.common.clone();
        common.cache = Some(dir.to_path_buf());
        Ctx::new(&common)
    }

    pub fn models_dir(&self) -> &Path {
        &self.models_dir
    }

    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    /// The owner's declarations file, if there is a place for one.
    pub fn declarations(&self) -> Option<PathBuf> {
        self.declarations.clone()
    }

    /// The owner's declarations file.
    pub fn declarations_path(&self) -> Result<&Path> {
        self.declarations.as_deref().context(
            "no folder for the declarations (no config folder: set HOME or XDG_CONFIG_HOME, or pass --declarations FILE)",
        )
    }

    /// The engine's session: the cache folder taken now (another picseek using it is a plain
    /// error), the database and the models opened on first use.
    pub fn session(&self) -> Result<&Arc<Session>> {
        if let Some(s) = self.session.get() {
            return Ok(s);
        }
        let models = Arc::clone(self.models()?);
        let session = Session::open(
            models,
            &self.cache_dir,
            self.index.clone(),
            self.declarations.clone(),
        )?;
        Ok(self.session.get_or_init(|| Arc::new(session)))
    }

    /// Opens the cache database.
    pub fn open_cache(&self) -> Result<Arc<Cache>> {
        Ok(self.session()?.cache()?)
    }

    /// The models, with ONNX Runtime started first (once per process).
    pub fn models(&self) -> Result<&Arc<Models>> {
        if let Some(models) = self.models.get() {
            return Ok(models);
        }
        model::runtime::init(self.common.ort_lib.as_deref(), &self.models_dir)?;
        Ok(self.models.get_or_init(|| {
            Arc::new(Models::new(&self.models_dir).with_derived_dir(&self.cache_dir))
        }))
    }

    pub fn text(&self) -> Result<Arc<TextEncoder>> {
        Ok(self.models()?.text()?)
    }

    pub fn scorer(&self) -> Result<Arc<Scorer>> {
        Ok(self.models()?.scorer()?)
    }

    pub fn image_encoder(&self) -> Result<Arc<ImageEncoder>> {
        Ok(self.models()?.image()?)
    }

    /// Loads the annotated dataset in `data` and embeds it (encoding only what the cache
    /// lacks): what training, evaluation and the legal figures start from.
    pub fn corpus(&self, data: &Path) -> Result<(Dataset, Corpus)> {
        let ds = dataset::load(data)?;
        let image_encoder = self.image_encoder()?;
        let text_encoder = self.text()?;
        let cache = self.open_cache()?;
        let mut on_progress = |what: &str, p: Progress| {
            if let Progress::Scanned { to_process, .. } = p {
                if to_process > 0 {
                    eprintln!("picseek: encoding {to_process} {what}");
                }
            }
        };
        let corpus = corpus::build(
            &ds,
            &cache,
            &image_encoder,
            &text_encoder,
            &self.models_dir,
            &mut on_progress,
        )?;
        Ok((ds, corpus))
    }
}
