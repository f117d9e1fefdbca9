//! The legal check's decision where people are in view ([`crate::legal::decision`]): a logistic
//! model over what the people models see in a flagged image, fitted on the training images with
//! people in view, the whole-image probe taken out of fold. Its L2 strength and threshold are
//! chosen out of fold (5 folds) for the precision they reach at the required recall over all
//! the training images of children (those the first stage or the person gate let through count
//! as missed), then it is refitted on all of them.

use std::collections::HashMap;

use crate::legal::decision::{self, FEATURES, FEATURES_VERSION};
use crate::legal::images::recall_precision;
use crate::model::scorer::{sigmoid, PeopleDecisionParams};
use crate::people::Evidence;

use super::child::fit_logistic;
use super::{ChildDetectorFit, TrainError};

/// Share of the training images of children the whole check must withhold, out of fold.
pub const PEOPLE_RECALL: f64 = 0.95;
/// The first stage's share: its threshold is set for this recall, so that the decision after it
/// has room to clear adults.
pub const FIRST_STAGE_RECALL: f64 = 0.99;
/// L2 strengths tried.
const L2: [f64; 4] = [0.001, 0.003, 0.01, 0.03];
const FOLDS: usize = 5;

/// One training image as the decision sees it.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    /// The whole-image probe, out of fold.
    pub probe: f32,
    /// Whether a child is shown (hand-checked where listed).
    pub child: bool,
    /// What the people models saw (`None`: not looked at, or they could not look).
    pub evidence: Option<Evidence>,
}

/// A fitted decision and its out-of-fold figures.
#[derive(Debug, Clone)]
pub struct PeopleDecisionFit {
    pub params: PeopleDecisionParams,
    /// The first stage's threshold (for [`FIRST_STAGE_RECALL`]).
    pub first_threshold: f32,
    /// Each training image: flagged by the first stage, somebody in view, the decision's
    /// out-of-fold probability (where it ran), whether withheld, the label.
    pub out_of_fold: Vec<OutOfFold>,
    pub recall: f64,
    pub precision: f64,
    pub l2: f64,
}

/// One training image's out-of-fold verdict.
#[derive(Debug, Clone)]
pub struct OutOfFold {
    pub name: String,
    pub flagged: bool,
    pub anybody: bool,
    pub probability: Option<f32>,
    pub withheld: bool,
    pub child: bool,
}

/// The highest probe threshold that flags `recall` of the children.
pub fn first_stage_threshold(fit: &ChildDetectorFit, recall: f64) -> f32 {
    let (p, t): (Vec<f32>, Vec<bool>) = fit.out_of_fold.iter().map(|(_, p, t)| (*p, *t)).unzip();
    crate::legal::images::threshold_for_recall(&p, &t, recall)
}

/// Fits the decision on `rows` (every training image; those the first stage, with the
/// threshold for [`FIRST_STAGE_RECALL`], does not flag, or with nobody in view, are not
/// candidates but count for the recall).
pub fn fit_people_decision(
    rows: &[Row],
    first_threshold: f32,
    min_recall: f64,
) -> Result<PeopleDecisionFit, TrainError> {
    let candidate =
        |r: &Row| r.probe >= first_threshold && r.evidence.as_ref().is_some_and(decision::anybody);
    let idx: Vec<usize> = (0..rows.len()).filter(|&i| candidate(&rows[i])).collect();
    if idx.is_empty() {
        return Err(TrainError::NoData(
            "no training image with people in view".into(),
        ));
    }
    let x: Vec<[f32; 12]> = idx
        .iter()
        .map(|&i| decision::features(rows[i].probe, rows[i].evidence.as_ref().expect("candidate")))
        .collect();
    let y: Vec<bool> = idx.iter().map(|&i| rows[i].child).collect();
    let (mean, std) = standardisation(&x);
    let z: Vec<[f32; 12]> = x.iter().map(|v| standardise(v, &mean, &std)).collect();
    let all_children = rows.iter().filter(|r| r.child).count();
    // Folds by position in name order (rows come sorted by name): fixed, stratified enough.
    let fold_of = |k: usize| k % FOLDS;

    // (L2, out-of-fold probabilities, threshold, (recall, precision)) of the best so far.
    type Tried = (f64, Vec<f32>, f32, (f64, f64));
    let mut best: Option<Tried> = None;
    for lambda in L2 {
        let mut oof = vec![0f32; idx.len()];
        for f in 0..FOLDS {
            let train: Vec<usize> = (0..idx.len()).filter(|&k| fold_of(k) != f).collect();
            let (w, b) = fit(&z, &y, &train, lambda)?;
            for k in (0..idx.len()).filter(|&k| fold_of(k) == f) {
                oof[k] = predict(&w, b, &z[k]);
            }
        }
        let threshold = threshold_for_total_recall(&oof, &y, all_children, min_recall);
        let figures = total_figures(&oof, &y, threshold, all_children);
        tracing::info!(
            lambda,
            threshold,
            recall = figures.0,
            precision = figures.1,
            "people decision, out of fold"
        );
        if best.as_ref().is_none_or(|b| figures.1 > b.3 .1) {
            best = Some((lambda, oof, threshold, figures));
        }
    }
    let (l2, oof, threshold, (recall, precision)) = best.expect("at least one L2 strength");
    let all: Vec<usize> = (0..idx.len()).collect();
    let (w, bias) = fit(&z, &y, &all, l2)?;
    let mut by_row: HashMap<usize, f32> = HashMap::new();
    for (k, &i) in idx.iter().enumerate() {
        by_row.insert(i, oof[k]);
    }
    let out_of_fold = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let probability = by_row.get(&i).copied();
            OutOfFold {
                name: r.name.clone(),
                flagged: r.probe >= first_threshold,
                anybody: r.evidence.as_ref().is_some_and(decision::anybody),
                probability,
                withheld: probability.is_some_and(|p| p >= threshold),
                child: r.child,
            }
        })
        .collect();
    let params = PeopleDecisionParams {
        features_version: FEATURES_VERSION.into(),
        features: FEATURES.iter().map(|s| s.to_string()).collect(),
        mean: mean.to_vec(),
        std: std.to_vec(),
        weights: w,
        bias,
        threshold,
        figures: serde_json::json!({
            "l2": l2, "first_stage_threshold": first_threshold,
            "first_stage_recall": FIRST_STAGE_RECALL, "min_recall": min_recall,
            "candidates": idx.len(), "children_among_candidates": y.iter().filter(|c| **c).count(),
            "out_of_fold": {"recall": recall, "precision": precision},
        }),
    };
    Ok(PeopleDecisionFit {
        params,
        first_threshold,
        out_of_fold,
        recall,
        precision,
        l2,
    })
}

fn standardisation(x: &[[f32; 12]]) -> ([f32; 12], [f32; 12]) {
    let n = x.len().max(1) as f32;
    let mut mean = [0f32; 12];
    let mut std = [0f32; 12];
    for v in x {
        for k in 0..12 {
            mean[k] += v[k] / n;
        }
    }
    for v in x {
        for k in 0..12 {
            std[k] += (v[k] - mean[k]).powi(2) / n;
        }
    }
    for s in &mut std {
        *s = s.sqrt().max(1e-3);
    }
    (mean, std)
}

fn standardise(v: &[f32; 12], mean: &[f32; 12], std: &[f32; 12]) -> [f32; 12] {
    std::array::from_fn(|k| (v[k] - mean[k]) / std[k])
}

fn fit(
    z: &[[f32; 12]],
    y: &[bool],
    rows: &[usize],
    lambda: f64,
) -> Result<(Vec<f32>, f32), TrainError> {
    let x: Vec<f32> = rows.iter().flat_map(|&k| z[k]).collect();
    let t: Vec<f32> = rows.iter().map(|&k| if y[k] { 1.0 } else { 0.0 }).collect();
    Ok(fit_logistic(x, t, lambda, 2000, 0.05)?)
}

fn predict(w: &[f32], b: f32, z: &[f32; 12]) -> f32 {
    sigmoid(w.iter().zip(z).map(|(w, z)| w * z).sum::<f32>() + b)
}

/// The highest threshold on the candidates' probabilities at which the children withheld are at
/// least `min_recall` of `all_children` (children not among the candidates are missed anyway).
fn threshold_for_total_recall(p: &[f32], y: &[bool], all_children: usize, min_recall: f64) -> f32 {
    let mut pos: Vec<f32> = p
        .iter()
        .zip(y)
        .filter(|(_, c)| **c)
        .map(|(p, _)| *p)
        .collect();
    pos.sort_by(|a, b| b.total_cmp(a));
    let need = ((min_recall * all_children as f64).ceil() as usize).max(1);
    match pos.get(need - 1) {
        Some(t) => *t,
        // Not reachable among the candidates: withhold every one of them.
        None => 0.0,
    }
}

/// Recall over all children and precision over all withheld, for a threshold.
fn total_figures(p: &[f32], y: &[bool], threshold: f32, all_children: usize) -> (f64, f64) {
    let predicted: Vec<bool> = p.iter().map(|v| *v >= threshold).collect();
    let (_, precision) = recall_precision(&predicted, y);
    let tp = predicted.iter().zip(y).filter(|(p, c)| **p && **c).count();
    (tp as f64 / all_children.max(1) as f64, precision)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_counts_children_the_candidates_miss() {
        let p = [0.9, 0.8, 0.7, 0.2];
        let y = [true, false, true, true];
        // 4 children in all, one not a candidate: 3 of 4 need every candidate child (0.2).
        assert_eq!(threshold_for_total_recall(&p, &y, 4, 0.75), 0.2);
        assert_eq!(threshold_for_total_recall(&p, &y, 4, 0.5), 0.7);
        // Out of reach: everything withheld.
        assert_eq!(threshold_for_total_recall(&p, &y, 4, 1.0), 0.0);
        let (r, pr) = total_figures(&p, &y, 0.7, 4);
        assert_eq!((r, pr), (0.5, 2.0 / 3.0));
    }
}
