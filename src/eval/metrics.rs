//! Evaluation metrics: regression error, rank correlation, retrieval recall
//! and calibration.
//!
//! Everything here is a pure function over slices. Arithmetic is done in
//! `f64` even though scores come in as `f32`. No function panics on empty or
//! mismatched input: the ones that cannot give a meaningful number return
//! `None` (or an empty / zero result, as documented on each).

use serde::Serialize;

/// Root mean squared error between predictions and targets.
///
/// `None` when the slices are empty or their lengths differ. Non-finite
/// values propagate into the result (NaN in, NaN out).
pub fn rmse(pred: &[f32], target: &[f32]) -> Option<f64> {
    if pred.is_empty() || pred.len() != target.len() {
        return None;
    }
    let sum: f64 = pred
        .iter()
        .zip(target)
        .map(|(&p, &t)| {
            let d = f64::from(p) - f64::from(t);
            d * d
        })
        .sum();
    Some((sum / pred.len() as f64).sqrt())
}

/// Pearson correlation coefficient.
///
/// `None` when there are fewer than 2 items, the lengths differ, either
/// side has zero variance, or the result is not finite (e.g. a NaN input).
pub fn pearson(a: &[f32], b: &[f32]) -> Option<f64> {
    if a.len() != b.len() {
        return None;
    }
    let a: Vec<f64> = a.iter().map(|&x| f64::from(x)).collect();
    let b: Vec<f64> = b.iter().map(|&x| f64::from(x)).collect();
    pearson_f64(&a, &b)
}

fn pearson_f64(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len();
    if n < 2 || n != b.len() {
        return None;
    }
    let mean_a = a.iter().sum::<f64>() / n as f64;
    let mean_b = b.iter().sum::<f64>() / n as f64;
    let (mut cov, mut var_a, mut var_b) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (dx, dy) = (x - mean_a, y - mean_b);
        cov += dx * dy;
        var_a += dx * dx;
        var_b += dy * dy;
    }
    if !(var_a > 0.0 && var_b > 0.0) {
        return None;
    }
    let r = cov / (var_a * var_b).sqrt();
    // Rounding can push |r| a hair past 1.
    r.is_finite().then(|| r.clamp(-1.0, 1.0))
}

/// Ranks starting at 1, ties get the average of the ranks they span.
/// `None` if any value is NaN (it has no place in the order).
fn average_ranks(xs: &[f32]) -> Option<Vec<f64>> {
    if xs.iter().any(|x| x.is_nan()) {
        return None;
    }
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|&i, &j| xs[i].total_cmp(&xs[j]));
    let mut ranks = vec![0.0; xs.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        // `==` rather than total_cmp so that -0.0 and 0.0 tie.
        while end < order.len() && xs[order[end]] == xs[order[start]] {
            end += 1;
        }
        // Positions start..end hold ranks start+1 ..= end; their mean:
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    Some(ranks)
}

/// Spearman rank correlation: Pearson correlation of the ranks, tied values
/// getting the average of their ranks.
///
/// `None` when there are fewer than 2 items, the lengths differ, any value is
/// NaN, or either side has zero variance (all values equal).
pub fn spearman(a: &[f32], b: &[f32]) -> Option<f64> {
    if a.len() != b.len() || a.len() < 2 {
        return None;
    }
    pearson_f64(&average_ranks(a)?, &average_ranks(b)?)
}

/// Text-to-image retrieval quality over a set of queries, each with exactly
/// one correct image.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Retrieval {
    /// Share of queries whose correct image is ranked first.
    pub r1: f64,
    /// Share of queries whose correct image is in the top 5.
    pub r5: f64,
    /// Share of queries whose correct image is in the top 10.
    pub r10: f64,
    /// Mean reciprocal rank of the correct image.
    pub mrr: f64,
    /// Number of queries evaluated.
    pub queries: usize,
}

/// The 1-based rank of image `relevant` among `scores` (higher is better),
/// counting ties pessimistically: `1 + #(score > s) + #(other images with
/// score == s)`.
///
/// `None` when `relevant` is out of range. A NaN score for the correct image
/// ranks it last (`scores.len()`); NaN scores of other images never outrank
/// it.
pub fn rank_of(scores: &[f32], relevant: usize) -> Option<usize> {
    let s = *scores.get(relevant)?;
    if s.is_nan() {
        return Some(scores.len());
    }
    let ahead = scores
        .iter()
        .enumerate()
        .filter(|&(i, &x)| x > s || (x == s && i != relevant))
        .count();
    Some(1 + ahead)
}

/// Recall@1/5/10 and MRR.
///
/// `scores[q][i]` is the score of image `i` for query `q`; `relevant[q]` is
/// the index of the one correct image for query `q`. Ranks follow
/// [`rank_of`] (pessimistic on ties). Queries are paired up to the shorter of
/// the two slices; a query whose `relevant` index is out of range counts as a
/// miss (not in any top-k, reciprocal rank 0). Empty input gives all zeros
/// with `queries == 0`.
pub fn retrieval(scores: &[Vec<f32>], relevant: &[usize]) -> Retrieval {
    from_ranks(
        scores
            .iter()
            .zip(relevant)
            .map(|(row, &rel)| rank_of(row, rel)),
    )
}

/// Recall@1/5/10 and MRR from each query's 1-based rank (`None`: a miss).
fn from_ranks(ranks: impl Iterator<Item = Option<usize>>) -> Retrieval {
    let mut out = Retrieval {
        r1: 0.0,
        r5: 0.0,
        r10: 0.0,
        mrr: 0.0,
        queries: 0,
    };
    let (mut hit1, mut hit5, mut hit10, mut rr) = (0usize, 0usize, 0usize, 0.0f64);
    for rank in ranks {
        out.queries += 1;
        let Some(rank) = rank else {
            continue;
        };
        hit1 += usize::from(rank <= 1);
        hit5 += usize::from(rank <= 5);
        hit10 += usize::from(rank <= 10);
        rr += 1.0 / rank as f64;
    }
    if out.queries > 0 {
        let n = out.queries as f64;
        out.r1 = hit1 as f64 / n;
        out.r5 = hit5 as f64 / n;
        out.r10 = hit10 as f64 / n;
        out.mrr = rr / n;
    }
    out
}

/// Recall@1/5/10 and MRR when a query may have several correct images: a query's rank is that
/// of its best-ranked correct image ([`rank_of`], pessimistic on ties); R@k is the share of
/// queries with a correct image in the top k. A query without a correct image in range counts
/// as a miss.
pub fn retrieval_any(scores: &[Vec<f32>], relevant: &[Vec<usize>]) -> Retrieval {
    from_ranks(
        scores
            .iter()
            .zip(relevant)
            .map(|(row, rel)| rel.iter().filter_map(|&r| rank_of(row, r)).min()),
    )
}

/// One bin of a reliability (calibration) diagram.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Bin {
    /// Lower edge of the bin on the prediction axis (inclusive).
    pub lo: f64,
    /// Upper edge (exclusive, except for the last bin which includes 1.0).
    pub hi: f64,
    /// Mean prediction of the items in the bin.
    pub mean_pred: f64,
    /// Mean target of the items in the bin.
    pub mean_target: f64,
    /// Number of items in the bin (never 0: empty bins are left out).
    pub count: usize,
}

/// Groups `(pred, target)` pairs into `bins` equal-width bins of the
/// prediction over [0, 1] and averages each bin.
///
/// Predictions outside [0, 1] are clamped into the first / last bin; pairs
/// with a non-finite prediction or target are skipped. Empty bins are left
/// out. Returns an empty `Vec` when `bins == 0` or the lengths differ.
pub fn calibration_bins(pred: &[f32], target: &[f32], bins: usize) -> Vec<Bin> {
    if bins == 0 || pred.len() != target.len() {
        return Vec::new();
    }
    // (sum_pred, sum_target, count) per bin.
    let mut acc = vec![(0.0f64, 0.0f64, 0usize); bins];
    for (&p, &t) in pred.iter().zip(target) {
        if !p.is_finite() || !t.is_finite() {
            continue;
        }
        let (p, t) = (f64::from(p), f64::from(t));
        let idx = ((p.clamp(0.0, 1.0) * bins as f64).floor() as usize).min(bins - 1);
        let a = &mut acc[idx];
        a.0 += p;
        a.1 += t;
        a.2 += 1;
    }
    acc.iter()
        .enumerate()
        .filter(|(_, a)| a.2 > 0)
        .map(|(i, &(sp, st, c))| Bin {
            lo: i as f64 / bins as f64,
            hi: (i + 1) as f64 / bins as f64,
            mean_pred: sp / c as f64,
            mean_target: st / c as f64,
            count: c,
        })
        .collect()
}

/// Expected calibration error: the count-weighted mean of
/// `|mean_pred - mean_target|` over the bins.
///
/// NaN when the bins hold no items at all (there is nothing to measure; a
/// 0 would falsely read as "perfectly calibrated").
pub fn expected_calibration_error(bins: &[Bin]) -> f64 {
    let total: usize = bins.iter().map(|b| b.count).sum();
    if total == 0 {
        return f64::NAN;
    }
    bins.iter()
        .map(|b| b.count as f64 * (b.mean_pred - b.mean_target).abs())
        .sum::<f64>()
        / total as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn rmse_hand_computed() {
        // Errors 0, 1, -2 → squares 0, 1, 4 → mean 5/3.
        let r = rmse(&[1.0, 2.0, 3.0], &[1.0, 1.0, 5.0]).unwrap();
        assert!(close(r, (5.0f64 / 3.0).sqrt()), "{r}");
        assert_eq!(rmse(&[0.5], &[0.5]), Some(0.0));
    }

    #[test]
    fn rmse_rejects_empty_and_mismatched() {
        assert_eq!(rmse(&[], &[]), None);
        assert_eq!(rmse(&[1.0], &[1.0, 2.0]), None);
    }

    #[test]
    fn pearson_hand_computed() {
        // Deviations a: -1.5 -0.5 0.5 1.5; b: -3 -1 0 4.
        // cov = 4.5 + 0.5 + 0 + 6 = 11, var_a = 5, var_b = 26.
        let r = pearson(&[1.0, 2.0, 3.0, 4.0], &[2.0, 4.0, 5.0, 9.0]).unwrap();
        assert!(close(r, 11.0 / 130.0f64.sqrt()), "{r}");
        let r = pearson(&[1.0, 2.0, 3.0], &[-2.0, -4.0, -6.0]).unwrap();
        assert!(close(r, -1.0), "{r}");
    }

    #[test]
    fn pearson_degenerate_is_none() {
        assert_eq!(pearson(&[1.0], &[2.0]), None);
        assert_eq!(pearson(&[], &[]), None);
        assert_eq!(pearson(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(pearson(&[1.0, 2.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(pearson(&[1.0, f32::NAN, 3.0], &[1.0, 2.0, 3.0]), None);
    }

    #[test]
    fn spearman_monotone() {
        assert!(close(
            spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]).unwrap(),
            -1.0
        ));
        // Any monotone increasing transform gives exactly 1.
        assert!(close(
            spearman(&[0.1, 0.5, 0.2, 0.9], &[1.0, 100.0, 5.0, 1000.0]).unwrap(),
            1.0
        ));
    }

    #[test]
    fn spearman_with_ties_hand_computed() {
        // Ranks a: 1, 2.5, 2.5, 4; ranks b: 1, 3, 2, 4; both means 2.5.
        // Deviations a: -1.5 0 0 1.5; b: -1.5 0.5 -0.5 1.5.
        // cov = 4.5, var_a = 4.5, var_b = 5 → r = 4.5 / sqrt(22.5) = sqrt(0.9).
        let r = spearman(&[1.0, 2.0, 2.0, 3.0], &[1.0, 3.0, 2.0, 4.0]).unwrap();
        assert!(close(r, 0.9f64.sqrt()), "{r}");
    }

    #[test]
    fn average_ranks_ties() {
        assert_eq!(
            average_ranks(&[3.0, 1.0, 3.0, 2.0, 3.0]).unwrap(),
            vec![4.0, 1.0, 4.0, 2.0, 4.0]
        );
        assert_eq!(average_ranks(&[0.0, -0.0]).unwrap(), vec![1.5, 1.5]);
    }

    #[test]
    fn spearman_degenerate_is_none() {
        assert_eq!(spearman(&[1.0], &[1.0]), None);
        assert_eq!(spearman(&[2.0, 2.0, 2.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(spearman(&[1.0, 2.0], &[1.0]), None);
        assert_eq!(spearman(&[1.0, f32::NAN], &[1.0, 2.0]), None);
    }

    /// A row of `n` scores where the correct image (index 0) has rank `rank`
    /// with no ties.
    fn row_with_rank(n: usize, rank: usize) -> Vec<f32> {
        let mut row: Vec<f32> = (0..n).map(|i| -(i as f32)).collect();
        // Images 1..rank score above the correct one.
        row[0] = -(rank as f32) + 0.5;
        row
    }

    #[test]
    fn retrieval_ranks_1_2_11() {
        let scores = vec![
            row_with_rank(12, 1),
            row_with_rank(12, 2),
            row_with_rank(12, 11),
        ];
        for (row, want) in scores.iter().zip([1, 2, 11]) {
            assert_eq!(rank_of(row, 0), Some(want));
        }
        let r = retrieval(&scores, &[0, 0, 0]);
        assert_eq!(r.queries, 3);
        assert!(close(r.r1, 1.0 / 3.0));
        assert!(close(r.r5, 2.0 / 3.0));
        assert!(close(r.r10, 2.0 / 3.0));
        assert!(close(r.mrr, (1.0 + 0.5 + 1.0 / 11.0) / 3.0));
    }

    #[test]
    fn retrieval_ties_are_pessimistic() {
        // Correct image 1 ties with image 2 and is beaten by image 0:
        // rank = 1 + 1 (higher) + 1 (tie) = 3.
        assert_eq!(rank_of(&[0.9, 0.5, 0.5, 0.1], 1), Some(3));
        // All equal: the correct image is last.
        assert_eq!(rank_of(&[0.3; 7], 4), Some(7));
        let r = retrieval(&[vec![0.5, 0.5]], &[0]);
        assert_eq!(
            r,
            Retrieval {
                r1: 0.0,
                r5: 1.0,
                r10: 1.0,
                mrr: 0.5,
                queries: 1
            }
        );
    }

    #[test]
    fn retrieval_edge_cases() {
        let zero = Retrieval {
            r1: 0.0,
            r5: 0.0,
            r10: 0.0,
            mrr: 0.0,
            queries: 0,
        };
        assert_eq!(retrieval(&[], &[]), zero);
        // Out-of-range correct index is a miss.
        let r = retrieval(&[vec![1.0, 0.0], vec![1.0, 0.0]], &[0, 5]);
        assert_eq!(r.queries, 2);
        assert!(close(r.r1, 0.5) && close(r.mrr, 0.5));
        // NaN for the correct image ranks it last; NaN elsewhere never wins.
        assert_eq!(rank_of(&[f32::NAN, 0.2, 0.1], 0), Some(3));
        assert_eq!(rank_of(&[0.1, f32::NAN, 0.0], 0), Some(1));
    }

    #[test]
    fn calibration_bins_and_ece_hand_computed() {
        let pred = [0.05, 0.15, 0.12, 0.95, 1.0];
        let target = [0.0, 1.0, 0.0, 1.0, 1.0];
        let bins = calibration_bins(&pred, &target, 10);
        assert_eq!(bins.len(), 3);
        let b0 = bins[0];
        assert!(close(b0.lo, 0.0) && close(b0.hi, 0.1) && b0.count == 1);
        assert!((b0.mean_pred - 0.05).abs() < 1e-6 && close(b0.mean_target, 0.0));
        let b1 = bins[1];
        assert!(close(b1.lo, 0.1) && close(b1.hi, 0.2) && b1.count == 2);
        assert!((b1.mean_pred - 0.135).abs() < 1e-6 && close(b1.mean_target, 0.5));
        // 1.0 falls into the last bin, not past it.
        let b9 = bins[2];
        assert!(close(b9.lo, 0.9) && close(b9.hi, 1.0) && b9.count == 2);
        assert!((b9.mean_pred - 0.975).abs() < 1e-6 && close(b9.mean_target, 1.0));
        // ECE = (1·0.05 + 2·0.365 + 2·0.025) / 5 = 0.83 / 5.
        let ece = expected_calibration_error(&bins);
        assert!((ece - 0.166).abs() < 1e-6, "{ece}");
    }

    #[test]
    fn calibration_edge_cases() {
        assert!(calibration_bins(&[0.5], &[1.0], 0).is_empty());
        assert!(calibration_bins(&[0.5], &[1.0, 0.0], 4).is_empty());
        assert!(calibration_bins(&[], &[], 4).is_empty());
        // Out-of-range predictions clamp to the end bins; NaN pairs skipped.
        let bins = calibration_bins(&[-0.5, 1.5, f32::NAN], &[0.0, 1.0, 1.0], 2);
        assert_eq!(bins.len(), 2);
        assert_eq!((bins[0].count, bins[1].count), (1, 1));
        assert!(close(bins[0].lo, 0.0) && close(bins[1].hi, 1.0));
        assert!(expected_calibration_error(&[]).is_nan());
        // A perfectly calibrated bin has zero error.
        let b = Bin {
            lo: 0.0,
            hi: 1.0,
            mean_pred: 0.25,
            mean_target: 0.25,
            count: 4,
        };
        assert_eq!(expected_calibration_error(&[b]), 0.0);
    }

    #[test]
    fn retrieval_any_takes_the_best_ranked_correct_image() {
        let scores = vec![vec![0.9, 0.8, 0.7, 0.1], vec![0.1, 0.2, 0.3, 0.4]];
        // query 0: images 2 and 1 correct → rank 2; query 1: image 0 → rank 4.
        let r = retrieval_any(&scores, &[vec![2, 1], vec![0]]);
        assert_eq!(r.queries, 2);
        assert!((r.mrr - (0.5 + 0.25) / 2.0).abs() < 1e-12, "{r:?}");
        assert_eq!((r.r1, r.r5), (0.0, 1.0));
        let r = retrieval_any(&scores, &[vec![], vec![3, 9]]);
        assert_eq!((r.r1, r.mrr), (0.5, 0.5));
    }
}
