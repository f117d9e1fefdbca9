//! `picseek [DIR]`: the terminal UI.
//!
//! - [`app`]: the state and how actions change it (no I/O);
//! - [`keys`]: keys become actions;
//! - [`render`]: draws the state;
//! - [`worker`]: loading the models, indexing, searching, previews and the review, off the UI
//!   thread (the first frame is drawn before any model is loaded);
//! - [`outside`]: what leaves the UI: opening a file in the desktop's viewer, exporting the
//!   list, copying a path;
//! - [`job`]: worker handles, each owning its thread, mailbox and join;
//! - [`preview`]: paints previews with viuer;
//! - [`runtime`]: the [`Runtime`] that wires state and workers together;
//! - [`debounce`]: when typing starts a search;
//! - [`terminal`]: the terminal loop, and restoring the terminal however the UI ends.
//!
//! Search as you type: the first keystroke after a pause searches at once, later ones at most
//! once per debounce gap (three times what a search costs, at most 150 ms by default), and the
//! search worker only ever runs the newest query, so typing never waits for the model.

pub mod app;
pub mod debounce;
pub mod job;
pub mod keys;
pub mod outside;
pub mod preview;
pub mod render;
pub mod runtime;
pub mod terminal;
pub mod worker;

use std::path::PathBuf;
use std::time::Duration;

pub use debounce::{DEBOUNCE, MIN_GAP};
use preview::PreviewMode;
pub use runtime::Runtime;
pub use terminal::{check_terminal, run};

#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("the terminal UI needs a terminal; use `picseek search QUERY DIR` in scripts")]
    NotATerminal,
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
}

/// What the TUI is asked to show.
#[derive(Debug, Clone)]
pub struct Options {
    /// The folder to search.
    pub dir: PathBuf,
    /// The annotated dataset (details and review), if present.
    pub data: PathBuf,
    /// Where judgements are appended.
    pub annotations: PathBuf,
    pub preview: PreviewMode,
    pub debounce: Duration,
    /// A query to start with.
    pub query: Option<String>,
}
