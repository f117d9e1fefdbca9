//! Evaluation: metrics over model scores and the plots that show them.
//!
//! - [`metrics`]: RMSE, Pearson/Spearman correlation, retrieval recall@k and
//!   MRR, calibration bins and ECE (pure functions)
//! - [`plots`]: PNG reliability diagram and score histogram

pub mod legal_images;
pub mod metrics;
pub mod plots;
pub mod report;

pub use metrics::{
    calibration_bins, expected_calibration_error, pearson, rank_of, retrieval, rmse, spearman, Bin,
    Retrieval,
};
pub use plots::{calibration_plot, score_histogram, PlotError};
