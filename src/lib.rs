//! picseek: find images by a text query.
//!
//! The flow of data: scan → hash → cache → encode → score → rank → show.
//! - [`index`]: scanning folders and the embedding cache
//! - [`model`]: the ONNX encoders
//! - [`legal`]: the legal filter (queries and images about children)

pub mod dataset;
pub mod display;
pub mod eval;
pub mod index;
pub mod legal;
pub mod model;
pub mod search;
pub mod train;
