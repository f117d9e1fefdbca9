//! picseek: find images by a text query.
//!
//! The flow of data: scan → hash → cache → encode → check → score → rank → show.
//! - [`index`]: scanning folders, hashing, the embedding cache, encoding
//! - [`model`]: the ONNX encoders (text, image) and the relevance scorer
//! - [`legal`]: the legal filter (queries about children refused, images of children withheld;
//!   its person and face detectors)
//! - [`library`]: a folder's images kept up to date in the memory-mapped [`store`]
//! - [`query`], [`search`]: the query syntax and what its terms become for ranking
//! - [`dupes`]: groups of near-duplicate images
//! - [`tui`]: the terminal UI; [`annotations`]: judgements recorded by hand and the review

pub mod annotations;
pub mod cache;
pub mod dataset;
pub mod declarations;
pub mod display;
pub mod dupes;
pub mod engine;
pub mod eval;
pub mod formats;
pub mod index;
pub mod legal;
pub mod library;
pub mod model;
pub mod people;
pub mod query;
pub mod search;
pub mod store;
pub mod train;
pub mod tui;
