//! The binary's commands: each wires the library together and reports to the terminal.

pub mod bench;
pub mod bench_tui;
pub mod dupes;
pub mod index;
pub mod legal;
pub mod search;
pub mod train;
pub mod tui;

use std::path::PathBuf;

use anyhow::Result;
use picseek::legal::gate::PersonGate;
use picseek::model::{self, ImageEncoder, Scorer};

use crate::cli::Common;

/// Finds the models folder and loads ONNX Runtime.
pub fn models_dir(common: &Common) -> Result<PathBuf> {
    let dir = model::locate_models_dir(common.models.as_deref());
    model::runtime::init(common.ort_lib.as_deref(), &dir)?;
    Ok(dir)
}

/// How index runs go: `--batch` and `--rehash`.
pub fn index_options(common: &Common) -> picseek::index::IndexOptions {
    picseek::index::IndexOptions {
        batch_size: common.batch,
        rehash: common.rehash,
        ..Default::default()
    }
}

/// The cache folder: `--cache`, else `cache/` beside the models folder (the project's top level).
pub fn cache_dir(common: &Common) -> PathBuf {
    common.cache.clone().unwrap_or_else(|| {
        let models = model::locate_models_dir(common.models.as_deref());
        let models = std::path::absolute(&models).unwrap_or(models);
        models
            .parent()
            .map_or_else(|| PathBuf::from("cache"), |p| p.join("cache"))
    })
}

pub fn image_encoder(common: &Common) -> Result<ImageEncoder> {
    Ok(ImageEncoder::load(&models_dir(common)?)?)
}

/// The models of the legal image check: the scorer (whose child detector is the whole-image
/// check) and the person detector. Build the check with [`ImageCheck::new`].
pub fn legal_models(models: &std::path::Path) -> Result<(Scorer, PersonGate)> {
    Ok((Scorer::load(models)?, PersonGate::load(models)?))
}
