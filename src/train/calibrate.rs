//! What is fitted on the validation images once the towers are trained: the weight of the ConSE
//! term, then the calibration (the score's slope and bias, and the query offset with its ridge
//! penalty chosen by cross-validation over whole queries).

use std::collections::HashMap;

#[cfg(doc)]
use crate::model::scorer::ScorerWeights; // for the doc links
use crate::model::scorer::{self, Scorer};
use crate::model::text::TEXT_DIM;

use super::{caption_mrr, Corpus, Graded};

/// Picks the weight λ of the ConSE term in the ranking `cos + λ·conse` by validation MRR.
pub(super) fn choose_conse_weight(
    scorer: &Scorer,
    corpus: &Corpus,
    val_pairs: &[(String, String)],
) -> (f32, f64) {
    let mut best = (0.0f32, f64::MIN);
    for step in 0..=30 {
        let lambda = step as f32 * 0.1;
        let mut s = Scorer::new(scorer.meta.clone(), scorer.weights.clone());
        s.meta.a = 1.0;
        s.meta.c = lambda;
        let mrr = caption_mrr(&s, corpus, val_pairs);
        if mrr > best.1 + 1e-9 {
            best = (lambda, mrr);
        }
    }
    best
}

/// The calibration fitted on the validation pairs.
pub(super) struct Calibration {
    pub(super) a: f32,
    pub(super) b: f32,
    /// The query offset's weights ([`ScorerWeights::query_bias`]), `None` when cross-validation
    /// found that an offset does not help.
    pub(super) query_bias: Option<Vec<f32>>,
    /// The ridge penalty cross-validation chose for the offset, and each candidate's RMSE.
    pub(super) ridge: Option<f64>,
    pub(super) cv_rmse: Vec<(Option<f64>, f64)>,
}

/// Ridge penalties tried for the query offset (`None`: no offset).
const OFFSET_RIDGE: [Option<f64>; 7] = [
    None,
    Some(1e-2),
    Some(1e-3),
    Some(3e-4),
    Some(1e-4),
    Some(3e-5),
    Some(1e-5),
];
/// Folds of the offset's cross-validation, grouped by query.
const OFFSET_FOLDS: usize = 5;

/// Fits `score = sigmoid(α·(cos + λ·conse) + r·y' + b)` to the graded targets by least squares,
/// with the towers and λ fixed: the ranking stays as chosen, the numbers become calibrated. The
/// query offset `r·y'` (see [`ScorerWeights::query_bias`]) is fitted with a ridge penalty chosen
/// by cross-validation over folds of whole queries, so it is judged on queries it has not seen.
/// Each pair counts in English and, when the caption has a hand translation, in Russian too.
pub(super) fn calibrate(
    scorer: &Scorer,
    corpus: &Corpus,
    graded: &[Graded],
    lambda: f32,
    conse: &HashMap<&str, Vec<f32>>,
) -> Calibration {
    let mut towers: HashMap<&str, Vec<f32>> = HashMap::new();
    // Per caption and language: the text tower's part of `q`, and `y'`.
    let mut queries = HashMap::new();
    let mut x = Vec::with_capacity(graded.len() * 2);
    let mut ys: Vec<f32> = Vec::with_capacity(graded.len() * 2 * TEXT_DIM);
    let mut t = Vec::with_capacity(graded.len() * 2);
    let mut fold = Vec::with_capacity(graded.len() * 2);
    for g in graded {
        let u = towers
            .entry(g.image.as_str())
            .or_insert_with(|| scorer.image_tower(&corpus.train[&g.image].features));
        let q_fold = (blake3::hash(g.query_id.as_bytes()).as_bytes()[0] as usize) % OFFSET_FOLDS;
        for (russian, y) in [
            (false, corpus.text.get(&g.query_id)),
            (true, corpus.translated.get(&g.query_id)),
        ] {
            let Some(y) = y else { continue };
            let (v, y_c) = queries
                .entry((g.query_id.as_str(), russian))
                .or_insert_with(|| {
                    let v = scorer.query_vector(y)[..scorer.tower_dim()].to_vec();
                    (v, scorer.conse_text(y))
                });
            x.push(scorer::dot(u, v) + lambda * scorer::dot(&conse[g.image.as_str()], y_c));
            ys.extend_from_slice(y_c);
            t.push(g.target);
            fold.push(q_fold);
        }
    }
    let rows = |keep: &dyn Fn(usize) -> bool| -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let mut out = (Vec::new(), Vec::new(), Vec::new());
        for i in (0..x.len()).filter(|&i| keep(fold[i])) {
            out.0.push(x[i]);
            out.1
                .extend_from_slice(&ys[i * TEXT_DIM..(i + 1) * TEXT_DIM]);
            out.2.push(t[i]);
        }
        out
    };
    // The folds' (fitting, held-out) rows, split once for every ridge.
    let folds: Vec<_> = (0..OFFSET_FOLDS)
        .map(|k| (rows(&|f| f != k), rows(&|f| f == k)))
        .collect();
    let mut cv_rmse = Vec::new();
    for ridge in OFFSET_RIDGE {
        let mut se = 0.0f64;
        for (train, test) in &folds {
            let fit = fit_calibration(&train.0, &train.1, &train.2, ridge);
            for (i, (&xi, &ti)) in test.0.iter().zip(&test.2).enumerate() {
                let offset = fit.2.as_ref().map_or(0.0, |r| {
                    scorer::dot(r, &test.1[i * TEXT_DIM..(i + 1) * TEXT_DIM])
                });
                let p = scorer::sigmoid(fit.0 * xi + offset + fit.1);
                se += f64::from(p - ti).powi(2);
            }
        }
        cv_rmse.push((ridge, (se / x.len().max(1) as f64).sqrt()));
    }
    let ridge = cv_rmse
        .iter()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|c| c.0)
        .unwrap_or(None);
    let (a, b, query_bias) = fit_calibration(&x, &ys, &t, ridge);
    Calibration {
        a,
        b,
        query_bias,
        ridge,
        cv_rmse,
    }
}

/// Least-squares fit of `sigmoid(α·x + r·y + b)` to `t` (`y`: rows of TEXT_DIM), with
/// `ridge·|r|²` added to the mean squared error; without a ridge, `r` is left out. Solved by
/// Levenberg–Marquardt steps on the normal equations (a few hundred unknowns at most).
fn fit_calibration(
    x: &[f32],
    y: &[f32],
    t: &[f32],
    ridge: Option<f64>,
) -> (f32, f32, Option<Vec<f32>>) {
    use ndarray::{Array1, Array2, Axis};
    let n = x.len();
    let p = 2 + if ridge.is_some() { TEXT_DIM } else { 0 };
    let phi = Array2::from_shape_fn((n, p), |(i, j)| match j {
        0 => f64::from(x[i]),
        1 => 1.0,
        _ => f64::from(y[i * TEXT_DIM + j - 2]),
    });
    let t = Array1::from_iter(t.iter().map(|&v| f64::from(v)));
    let penalty = Array1::from_shape_fn(p, |j| if j >= 2 { ridge.unwrap_or(0.0) } else { 0.0 });
    let objective = |theta: &Array1<f64>| -> f64 {
        let pred = phi.dot(theta).mapv(|e| 1.0 / (1.0 + (-e).exp()));
        (&pred - &t).mapv(|r| r * r).sum() / n.max(1) as f64 + (&penalty * theta * theta).sum()
    };
    let mut theta = Array1::zeros(p);
    theta[0] = 5.0;
    theta[1] = -3.0;
    let mut loss = objective(&theta);
    let mut damping = 1e-3;
    for _ in 0..200 {
        let pred = phi.dot(&theta).mapv(|e| 1.0 / (1.0 + (-e).exp()));
        let slope = pred.mapv(|s| s * (1.0 - s));
        let jac = &phi * &slope.view().insert_axis(Axis(1));
        let grad = jac.t().dot(&(&pred - &t)) / n as f64 + &penalty * &theta;
        let mut hess = jac.t().dot(&jac) / n as f64;
        hess.diag_mut().zip_mut_with(&penalty, |h, r| *h += r);
        let mut improved = false;
        while damping < 1e8 {
            let mut a = hess.clone();
            a.diag_mut().mapv_inplace(|h| h * (1.0 + damping) + 1e-12);
            let a = nalgebra::DMatrix::from_fn(p, p, |i, j| a[[i, j]]);
            let b = nalgebra::DVector::from_iterator(p, grad.iter().copied());
            let Some(step) = a.cholesky().map(|c| c.solve(&b)) else {
                damping *= 10.0;
                continue;
            };
            let candidate = &theta - &Array1::from_iter(step.iter().copied());
            let candidate_loss = objective(&candidate);
            if candidate_loss < loss {
                let gain = loss - candidate_loss;
                theta = candidate;
                loss = candidate_loss;
                damping = (damping / 3.0).max(1e-9);
                improved = gain > 1e-12 * loss.max(1e-12);
                break;
            }
            damping *= 4.0;
        }
        if !improved {
            break;
        }
    }
    let offset = ridge.map(|_| theta.iter().skip(2).map(|&v| v as f32).collect());
    (theta[0] as f32, theta[1] as f32, offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Pairs drawn from a known calibration with a query offset along the first axis.
    fn synthetic(n: usize, offset: f32) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let mut rng = StdRng::seed_from_u64(7);
        let (mut x, mut y, mut t) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..n {
            let xi: f32 = rng.random_range(-0.5..1.0);
            let mut yi = vec![0.0f32; TEXT_DIM];
            yi[0] = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
            yi[1 + rng.random_range(0..TEXT_DIM - 1)] = 0.5;
            let logit = 4.0 * xi - 2.0 + offset * yi[0];
            x.push(xi);
            t.push(scorer::sigmoid(logit) + rng.random_range(-0.05..0.05));
            y.extend(yi);
        }
        (x, y, t)
    }

    #[test]
    fn the_calibration_fit_recovers_slope_bias_and_query_offset() {
        let (x, y, t) = synthetic(3000, 0.8);
        let (a, b, r) = fit_calibration(&x, &y, &t, Some(1e-6));
        let r = r.expect("an offset with a ridge");
        assert!(
            (a - 4.0).abs() < 0.2 && (b + 2.0).abs() < 0.1,
            "a {a} b {b}"
        );
        assert!((r[0] - 0.8).abs() < 0.1, "offset weight {}", r[0]);
        // Without an offset the fit cannot follow the two groups of queries: it is worse.
        let (a0, b0, none) = fit_calibration(&x, &y, &t, None);
        assert!(none.is_none());
        let sse = |a: f32, b: f32, r: Option<&[f32]>| -> f32 {
            x.iter()
                .zip(y.chunks(TEXT_DIM))
                .zip(&t)
                .map(|((&xi, yi), &ti)| {
                    let o = r.map_or(0.0, |r| scorer::dot(r, yi));
                    (scorer::sigmoid(a * xi + o + b) - ti).powi(2)
                })
                .sum()
        };
        assert!(sse(a, b, Some(&r)) < 0.5 * sse(a0, b0, None));
        // A heavy ridge keeps the offset near zero.
        let (_, _, small) = fit_calibration(&x, &y, &t, Some(10.0));
        assert!(small.unwrap()[0].abs() < 0.05);
    }
}
