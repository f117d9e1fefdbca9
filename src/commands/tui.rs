//! `picseek [DIR]`: load the models and the cache, then hand over to the terminal UI.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use picseek::display::escape_path;
use picseek::tui;

use super::Ctx;
use crate::cli::TuiArgs;

pub fn run(dir: &Path, args: &TuiArgs, ctx: &Ctx) -> Result<()> {
    // Everything that can fail with a plain message fails before the screen changes.
    tui::check_terminal()?;
    std::fs::read_dir(dir).with_context(|| format!("{}: cannot open folder", escape_path(dir)))?;
    let engine = std::sync::Arc::clone(ctx.session()?);
    let options = tui::Options {
        dir: dir.to_path_buf(),
        annotations: args
            .annotations
            .clone()
            .unwrap_or_else(|| args.data.join("annotations.tsv")),
        data: args.data.clone(),
        preview: args.preview.into(),
        debounce: Duration::from_millis(args.debounce_ms),
        query: args.query.clone(),
    };
    tui::run(engine, options)?;
    Ok(())
}
