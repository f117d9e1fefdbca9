//! The legal filter's child detector: logistic regression on the training images' features,
//! its L2 strength and threshold chosen out of fold for the required recall.

use std::collections::BTreeSet;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::dataset::Dataset;
use crate::legal;
use crate::model::image::IMAGE_DIM;
use crate::model::scorer::{self, Scorer};

use super::{scalar, Corpus, TrainError};

/// Fits the legal filter's child detector: logistic regression over the standardised features
/// of the training images, labelled by hand where checked (`src/legal/child_labels.tsv`), else
/// as children's when their caption mentions a child or annotators matched them with such a
/// caption (mirror images added as extra examples). The threshold is set on
/// out-of-fold probabilities (5 folds) to keep `min_recall` of the children (the L2 strength
/// too, by the precision it then reaches), then the detector
/// is refitted on all of them. Used for withholding only; the relevance scorer is trained
/// without these images.
pub fn fit_child_detector(
    ds: &Dataset,
    corpus: &Corpus,
    scorer: &Scorer,
    seed: u64,
    min_recall: f64,
) -> Result<ChildDetectorFit, TrainError> {
    use crate::legal::images::{recall_precision, threshold_for_recall};
    let exclusion = legal::exclude_child_pairs(
        ds.train
            .iter()
            .map(|p| (p.image.as_str(), p.query_id.as_str(), p.query_text.as_str())),
    );
    // Labels: an image is a child's when its own caption mentions one, or when annotators judged
    // a caption about a child a match for it (experts' mean ≥ 3, or at least 2/3 of the crowd).
    let captions = ds.train_captions();
    let about_child = |qid: &str| captions.get(qid).is_some_and(|t| legal::mentions_child(t));
    let mut children: BTreeSet<&str> = exclusion
        .blocked_images
        .iter()
        .map(String::as_str)
        .collect();
    for r in &ds.expert {
        let mean = r.scores.iter().map(|&s| f32::from(s)).sum::<f32>() / 3.0;
        if mean >= 3.0 && about_child(&r.query_id) {
            children.insert(r.image.as_str());
        }
    }
    for r in &ds.crowd {
        if r.yes >= 2 && r.share >= 0.66 && about_child(&r.query_id) {
            children.insert(r.image.as_str());
        }
    }
    let mut names: Vec<&str> = corpus
        .train
        .keys()
        .map(String::as_str)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut rng = StdRng::seed_from_u64(seed);
    names.shuffle(&mut rng);
    // Hand-checked labels override the captions where they exist (captions say "girl" for young
    // women): see `src/legal/child_labels.tsv`.
    let hand = legal::labels::hand_labels();
    let truth: Vec<bool> = names
        .iter()
        .map(|n| hand.get(n).map_or(children.contains(n), |l| l.child))
        .collect();
    // The L2 strength is chosen by out-of-fold precision at the required recall.
    let folds = 5;
    // (L2 strength, out-of-fold probabilities, threshold, (recall, precision)).
    type Fit = (f64, Vec<f32>, f32, (f64, f64));
    let mut best: Option<Fit> = None;
    for lambda in CHILD_L2 {
        let mut oof = vec![0f32; names.len()];
        for fold in 0..folds {
            let train_idx: Vec<usize> = (0..names.len()).filter(|i| i % folds != fold).collect();
            let (w, b) = logistic(corpus, scorer, &names, &truth, &train_idx, lambda)?;
            for i in (0..names.len()).filter(|i| i % folds == fold) {
                let x = scorer.child_features(&corpus.train[names[i]].features);
                oof[i] = scorer::sigmoid(scorer::dot(&w, &x) + b);
            }
        }
        let threshold = threshold_for_recall(&oof, &truth, min_recall);
        let predicted: Vec<bool> = oof.iter().map(|p| *p >= threshold).collect();
        let figures = recall_precision(&predicted, &truth);
        tracing::info!(
            lambda,
            threshold,
            recall = figures.0,
            precision = figures.1,
            "child detector, out of fold"
        );
        if best.as_ref().is_none_or(|b| figures.1 > b.3 .1) {
            best = Some((lambda, oof, threshold, figures));
        }
    }
    let (lambda, oof, threshold, figures) = best.expect("at least one L2 strength");
    let all: Vec<usize> = (0..names.len()).collect();
    let (w, bias) = logistic(corpus, scorer, &names, &truth, &all, lambda)?;
    Ok(ChildDetectorFit {
        weights: w,
        rule: scorer::ChildThreshold { bias, threshold },
        recall: figures.0,
        precision: figures.1,
        l2: lambda,
        out_of_fold: names
            .iter()
            .zip(oof)
            .zip(truth)
            .map(|((n, p), t)| (n.to_string(), p, t))
            .collect(),
    })
}

/// A fitted child detector and its out-of-fold figures on the training images.
pub struct ChildDetectorFit {
    pub weights: Vec<f32>,
    pub rule: scorer::ChildThreshold,
    pub recall: f64,
    pub precision: f64,
    pub l2: f64,
    /// Each training image's out-of-fold probability and its label.
    pub out_of_fold: Vec<(String, f32, bool)>,
}

/// Share of the training images of children the whole-image check must flag (out of fold)
/// where no decision where people are in view is fitted; with one, the first stage is set for
/// [`super::people::FIRST_STAGE_RECALL`] instead.
pub const CHILD_RECALL: f64 = 0.95;

/// L2 strengths tried for the child detector.
const CHILD_L2: [f64; 4] = [0.1, 0.3, 1.0, 3.0];

/// L2-regularised logistic regression on standardised features (and their mirror images).
fn logistic(
    corpus: &Corpus,
    scorer: &Scorer,
    names: &[&str],
    truth: &[bool],
    rows: &[usize],
    lambda: f64,
) -> candle_core::Result<(Vec<f32>, f32)> {
    let mut x = Vec::with_capacity(rows.len() * 2 * IMAGE_DIM);
    let mut y = Vec::with_capacity(rows.len() * 2);
    for &i in rows {
        x.extend(scorer.child_features(&corpus.train[names[i]].features));
        x.extend(scorer.child_features(&corpus.train_flipped[names[i]]));
        let label = if truth[i] { 1.0f32 } else { 0.0 };
        y.extend([label, label]);
    }
    fit_logistic(x, y, lambda, 300, 1e-2)
}

/// L2-regularised logistic regression by AdamW (full batch, from zero: deterministic): `x` holds
/// `y.len()` rows, `y` the labels 0 or 1. Returns the weights and the bias.
pub(super) fn fit_logistic(
    x: Vec<f32>,
    y: Vec<f32>,
    lambda: f64,
    steps: usize,
    lr: f64,
) -> candle_core::Result<(Vec<f32>, f32)> {
    let dev = Device::Cpu;
    let n = y.len();
    let dim = x.len() / n.max(1);
    let x = Tensor::from_vec(x, (n, dim), &dev)?;
    let y = Tensor::from_vec(y, n, &dev)?;
    let w = Var::zeros((dim, 1), DType::F32, &dev)?;
    let b = Var::zeros(1, DType::F32, &dev)?;
    let mut opt = AdamW::new(
        vec![w.clone(), b.clone()],
        ParamsAdamW {
            lr,
            weight_decay: 0.0,
            ..ParamsAdamW::default()
        },
    )?;
    for _ in 0..steps {
        let logits = x
            .matmul(w.as_tensor())?
            .squeeze(1)?
            .broadcast_add(b.as_tensor())?;
        // Stable form of binary cross-entropy: softplus(z) − y·z.
        let softplus = (logits.relu()? + ((logits.abs()?.neg()?.exp()? + 1.0)?.log()?))?;
        let bce = (softplus - (&logits * &y)?)?.mean_all()?;
        let l2 = (w.as_tensor().sqr()?.sum_all()? * lambda)?;
        opt.backward_step(&(bce + l2)?)?;
    }
    Ok((w.as_tensor().flatten_all()?.to_vec1()?, scalar(&b)?))
}
