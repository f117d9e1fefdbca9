//! Evaluation: metrics over model scores and the plots that show them.
//!
//! - [`metrics`]: RMSE, Pearson/Spearman correlation, retrieval recall@k and
//!   MRR, calibration bins and ECE (pure functions)
//! - [`plots`]: PNG reliability diagram and score histogram
//! - [`report`]: the whole `picseek eval` report on the dataset (test images ranked by `ranker`)
//! - [`table`]: the committed tab-separated tables they read
//! - [`translated`]: test retrieval with the hand-translated (Russian) queries
//! - [`outside`]: retrieval on photos from outside the dataset, queries written for them
//! - [`legal_images`]: the legal image check's figures

pub mod legal_images;
pub mod metrics;
pub mod outside;
pub mod plots;
mod ranker;
pub mod report;
pub mod table;
pub mod translated;

pub use metrics::{
    calibration_bins, expected_calibration_error, pearson, rank_of, retrieval, rmse, spearman, Bin,
    Retrieval,
};
pub use plots::{calibration_plot, score_histogram, PlotError};
