//! `picseek [DIR]`: load the models and the cache, then hand over to the terminal UI.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use picseek::display::escape_path;
use picseek::index::CacheLock;
use picseek::model::{Scorer, TextEncoder};
use picseek::tui::{self, worker::Engine};

use crate::cli::{Common, TuiArgs};

pub fn run(dir: &Path, args: &TuiArgs, common: &Common) -> Result<()> {
    // Everything that can fail with a plain message fails before the screen changes.
    tui::check_terminal()?;
    std::fs::read_dir(dir).with_context(|| format!("{}: cannot open folder", escape_path(dir)))?;
    let engine = engine(common)?;
    let options = tui::Options {
        dir: dir.to_path_buf(),
        annotations: args
            .annotations
            .clone()
            .unwrap_or_else(|| args.data.join("annotations.tsv")),
        data: args.data.clone(),
        preview: args.preview,
        debounce: Duration::from_millis(args.debounce_ms),
        query: args.query.clone(),
    };
    tui::run(engine, options)?;
    Ok(())
}

/// Loads what the TUI's workers share: the cache, both encoders and the scorer.
pub fn engine(common: &Common) -> Result<Engine> {
    let models = super::models_dir(common)?;
    // The cache folder is taken now (another picseek using it is a plain error before the
    // screen changes); its database is opened in the background.
    Ok(Engine::new(
        CacheLock::take(&super::cache_dir(common))?,
        Arc::new(TextEncoder::load(&models)?),
        Arc::new(Scorer::load(&models)?),
        models,
        super::index_options(common),
    )?)
}
