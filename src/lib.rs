//! picseek: find images by a text query.
//!
//! The flow of data: scan → hash → cache → encode → score → rank → show.
//! - [`index`]: scanning folders and the embedding cache
//! - [`model`]: the ONNX encoders and the relevance scorer
//! - [`library`]: a folder's images kept up to date in a search store
//! - [`search`]: the legal check, scoring and ranking
//! - [`legal`]: the legal filter (queries and images about children)
//! - [`search`], [`store`]: ranking over the memory-mapped store of compact image vectors
//! - [`dupes`]: groups of near-duplicate images
//! - [`tui`]: the terminal UI; [`annotations`]: judgements recorded by hand and the review

pub mod annotations;
pub mod dataset;
pub mod display;
pub mod dupes;
pub mod eval;
pub mod example;
pub mod index;
pub mod legal;
pub mod library;
pub mod model;
pub mod query;
pub mod search;
pub mod store;
pub mod train;
pub mod tui;
