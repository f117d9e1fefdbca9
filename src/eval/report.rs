//! `picseek eval`: how good the scorer is, measured on data it did not train on.
//!
//! - RMSE against the annotation target on held-out images (the split of [`crate::train::Split`]),
//!   beside a constant predicting the training mean;
//! - Spearman correlation with the experts' mean score on the same pairs;
//! - text → image retrieval of the 500 test queries over the 100 test images, for all queries
//!   (filter off, to measure the model) and for the queries the legal filter allows, and of 250 of
//!   them translated into Russian by hand ([`super::translated`]);
//! - calibration (predicted score vs mean target in bins) and a score histogram.

use serde::Serialize;

use super::metrics::{self, Bin, Retrieval};
use super::ranker::TestRanker;
use super::translated::{self, LanguageReport};
use crate::dataset::Dataset;
use crate::legal;
use crate::legal::images::{recall_precision, ChildDetector};
use crate::model::scorer::{self, Scorer};
use crate::train::{graded_pairs, Corpus, Part, Split, TrainConfig};

#[derive(Debug, Clone, Serialize)]
pub struct Rmse {
    pub model: f64,
    pub constant: f64,
    pub pairs: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct RetrievalReport {
    pub all: Retrieval,
    pub allowed: Retrieval,
    /// The zero-shot ConSE term alone, all queries (a reference point).
    pub conse_only: Retrieval,
    /// The hand-translated Russian queries beside the same queries in English.
    pub ru: LanguageReport,
}

/// The legal filter's image rule on the test images.
#[derive(Debug, Clone, Serialize)]
pub struct ChildImages {
    pub images: usize,
    /// Images with at least one test caption that mentions a child (the ground truth).
    pub children: usize,
    pub withheld: usize,
    pub recall: f64,
    pub precision: f64,
}

/// What a `--min-score` keeps on the hold-out pairs: a pair is relevant when its annotation
/// target is at least 0.5.
#[derive(Debug, Clone, Serialize)]
pub struct MinScoreRow {
    pub min_score: f64,
    /// Share of hold-out pairs scored at least `min_score`.
    pub kept: f64,
    /// Share of the kept pairs that are relevant.
    pub precision: f64,
    /// Share of the relevant pairs that are kept.
    pub recall: f64,
}

/// [`MinScoreRow`]s for `--min-score` 0.1, 0.2, … 0.8.
pub fn min_score_table(scores: &[f32], targets: &[f32]) -> Vec<MinScoreRow> {
    let relevant = targets.iter().filter(|t| **t >= 0.5).count().max(1) as f64;
    (1..=8)
        .map(|i| {
            let m = f64::from(i) / 10.0;
            let kept: Vec<f32> = scores
                .iter()
                .zip(targets)
                .filter(|(s, _)| f64::from(**s) >= m)
                .map(|(_, t)| *t)
                .collect();
            let hits = kept.iter().filter(|t| **t >= 0.5).count() as f64;
            MinScoreRow {
                min_score: m,
                kept: kept.len() as f64 / scores.len().max(1) as f64,
                precision: if kept.is_empty() {
                    f64::NAN
                } else {
                    hits / kept.len() as f64
                },
                recall: hits / relevant,
            }
        })
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub rmse: Rmse,
    pub spearman: f64,
    pub spearman_pairs: usize,
    pub retrieval: RetrievalReport,
    pub ece: f64,
    pub child_images: ChildImages,
    /// What each `--min-score` keeps of the hold-out pairs.
    pub min_score: Vec<MinScoreRow>,
    #[serde(skip)]
    pub calibration: Vec<Bin>,
    #[serde(skip)]
    pub holdout_scores: Vec<f32>,
    #[serde(skip)]
    pub holdout_targets: Vec<f32>,
}

/// Evaluates `scorer`. `cfg` fixes the hold-out split (its seed and shares).
pub fn evaluate(ds: &Dataset, corpus: &Corpus, scorer: &Scorer, cfg: &TrainConfig) -> EvalReport {
    let split = Split::new(ds, corpus.train.keys().cloned(), cfg);
    let train_mean = {
        let g = graded_pairs(ds, &split, Part::Train);
        g.iter().map(|g| f64::from(g.target)).sum::<f64>() / g.len().max(1) as f64
    } as f32;
    let holdout = graded_pairs(ds, &split, Part::Holdout);
    let pred: Vec<f32> = holdout
        .iter()
        .map(|g| {
            let z = scorer.image_vector(&corpus.train[&g.image]);
            scorer.score(&z, &scorer.query_vector(&corpus.text[&g.query_id]))
        })
        .collect();
    let target: Vec<f32> = holdout.iter().map(|g| g.target).collect();
    let constant = vec![train_mean; target.len()];
    let (sp_pred, sp_expert): (Vec<f32>, Vec<f32>) = holdout
        .iter()
        .zip(&pred)
        .filter_map(|(g, p)| g.expert_mean_raw.map(|e| (*p, e)))
        .unzip();
    let calibration = metrics::calibration_bins(&pred, &target, 10);

    // Test retrieval.
    let ranker = TestRanker::new(ds, corpus, scorer);
    let conse: Vec<Vec<f32>> = ds
        .test_images
        .iter()
        .map(|n| scorer.conse_vector(&corpus.test[n].top_classes))
        .collect();
    let mut all = (Vec::new(), Vec::new());
    let mut allowed = (Vec::new(), Vec::new());
    let mut conse_only = (Vec::new(), Vec::new());
    for q in &ds.test_queries {
        let y = &corpus.text[&q.query_id];
        let scores = ranker.scores(y);
        let rel = ranker.position(&q.image).unwrap_or(usize::MAX);
        if !legal::check_query(&q.query_text).is_blocked() {
            allowed.0.push(scores.clone());
            allowed.1.push(rel);
        }
        all.0.push(scores);
        all.1.push(rel);
        conse_only.0.push(
            conse
                .iter()
                .map(|w| scorer::dot(w, &scorer.conse_text(y)))
                .collect(),
        );
        conse_only.1.push(rel);
    }
    let child_images = child_images(ds, corpus, scorer);
    EvalReport {
        child_images,
        rmse: Rmse {
            model: metrics::rmse(&pred, &target).unwrap_or(f64::NAN),
            constant: metrics::rmse(&constant, &target).unwrap_or(f64::NAN),
            pairs: target.len(),
        },
        spearman: metrics::spearman(&sp_pred, &sp_expert).unwrap_or(f64::NAN),
        spearman_pairs: sp_pred.len(),
        retrieval: RetrievalReport {
            all: metrics::retrieval(&all.0, &all.1),
            allowed: metrics::retrieval(&allowed.0, &allowed.1),
            conse_only: metrics::retrieval(&conse_only.0, &conse_only.1),
            ru: translated::evaluate(ds, corpus, &ranker, &translated::russian()),
        },
        ece: metrics::expected_calibration_error(&calibration),
        min_score: min_score_table(&pred, &target),
        calibration,
        holdout_scores: pred,
        holdout_targets: target,
    }
}

/// The legal filter's image rule on the test images, against "one of its test captions mentions
/// a child".
pub fn child_images(ds: &Dataset, corpus: &Corpus, scorer: &Scorer) -> ChildImages {
    let images: Vec<&str> = ds.test_images.iter().map(String::as_str).collect();
    match ChildDetector::new(scorer) {
        Some(detector) => {
            let truth: Vec<bool> = images
                .iter()
                .map(|n| {
                    ds.test_queries
                        .iter()
                        .any(|q| q.image == *n && legal::mentions_child(&q.query_text))
                })
                .collect();
            let predicted: Vec<bool> = images
                .iter()
                .map(|n| detector.is_child(&corpus.test[*n]))
                .collect();
            let (recall, precision) = recall_precision(&predicted, &truth);
            ChildImages {
                images: images.len(),
                children: truth.iter().filter(|t| **t).count(),
                withheld: predicted.iter().filter(|p| **p).count(),
                recall,
                precision,
            }
        }
        None => ChildImages {
            images: images.len(),
            children: 0,
            withheld: 0,
            recall: f64::NAN,
            precision: f64::NAN,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_score_rows_count_what_a_threshold_keeps() {
        let scores = [0.05, 0.15, 0.35, 0.55, 0.95];
        let targets = [0.0, 0.6, 0.0, 1.0, 0.7];
        let rows = min_score_table(&scores, &targets);
        assert_eq!(rows.len(), 8);
        let r = &rows[1]; // 0.2: keeps 0.35, 0.55, 0.95
        assert!((r.min_score - 0.2).abs() < 1e-12);
        assert!((r.kept - 0.6).abs() < 1e-12);
        assert!((r.precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((r.recall - 2.0 / 3.0).abs() < 1e-12);
        assert!(rows[7].precision.is_nan() || rows[7].kept > 0.0);
        assert!((rows[7].recall - 1.0 / 3.0).abs() < 1e-12, "{:?}", rows[7]);
    }
}
