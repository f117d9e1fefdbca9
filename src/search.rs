//! The query algebra: what the terms of a query become for ranking. Each term scores an image
//! on the logit scale, the terms added are averaged and each term taken away multiplies the
//! score by the chance that the image does not show it ([`Plan`]). The ranking itself, over a
//! folder's memory-mapped store, is [`crate::library::Library::rank_plan`].

use half::f16;

use crate::model::scorer::sigmoid;
use crate::model::{ImageEmbedding, Scorer};
use crate::store;

/// Candidates compared by their image features when a query has an example image (at least;
/// 4 × the results asked for when that is more). Each costs one cache read.
pub const EXAMPLE_RESCORED: usize = 200;

/// How an example image's similarity becomes a logit: `IMAGE_SLOPE · (cos − IMAGE_MIDPOINT)`,
/// the cosine taken between image features (EfficientNet's pooled features). Measured on the
/// demo test images and copies of them (half size, JPEG quality 60, mirrored, and all three):
/// a copy's cosine to its original is ≥ 0.62 for 95% of the hardest copies (all three), ≥ 0.76
/// for one of the milder ones; the most similar *other* image is below 0.57 for 95% of images.
/// So a score of 0.5 is the line between a copy or close variant and a different picture.
pub const IMAGE_MIDPOINT: f32 = 0.6;
pub const IMAGE_SLOPE: f32 = 15.0;

/// A text taken away ([`TermVector::Excluded`]) is judged against the library rather than on
/// the scorer's absolute scale: the scorer is calibrated on captions, and a bare word that names
/// a background ("grass", "snow", "water") scores low as a caption on every photo, so
/// `1 − σ(logit)` hardly moves (measured: −1.8 to −3.4 on dogs on lawns and dogs indoors
/// alike). Instead its contrast with the everyday reference is taken over the best
/// [`EXCLUDED_POOL`] candidates for the terms added (or 4 × the results asked for when that
/// is more: the pool should be the kind of image asked for, so that "a dog - elephant" compares
/// dogs with dogs, not dogs with landscapes), and an image's logit for showing the text
/// is `EXCLUDED_SLOPE · ((contrast − median) / spread − EXCLUDED_MARGIN)`, spread being the
/// robust standard deviation (1.4826 × median absolute deviation, at least
/// [`EXCLUDED_MIN_SPREAD`]). So an image one spread above the typical candidate has even odds
/// of showing it. Chosen on the demo training images (dogs with "grass", "snow", "water",
/// in English and Russian; words absent from them, "elephant", "a boat", "a car", should
/// leave the results much as they were), then checked on the demo test images with 120
/// outside photos (`tests/minus_query.rs`; figures in `reports/experiments.md`).
pub const EXCLUDED_POOL: usize = 40;
pub const EXCLUDED_SLOPE: f32 = 3.0;
pub const EXCLUDED_MARGIN: f32 = 1.0;
pub const EXCLUDED_MIN_SPREAD: f32 = 0.1;

pub(crate) fn image_logit(cos: f32) -> f32 {
    IMAGE_SLOPE * (cos - IMAGE_MIDPOINT)
}

/// A query turned into vectors: each term scores an image on the logit scale, the terms
/// added are averaged, and each term taken away multiplies the score by the chance that the
/// image does not show it: `score = σ(mean of added logits) · Π (1 − σ(logit taken away))`.
/// A query of one text is `σ(z·q + b)`, the scorer's relevance.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub plus: Vec<TermVector>,
    pub minus: Vec<TermVector>,
}

/// One term of a [`Plan`].
#[derive(Debug, Clone)]
pub enum TermVector {
    /// A text's compact query vector `q`: logit `z·q + b`.
    Text(Vec<f32>),
    /// A text taken away: its compact query vector less the everyday reference
    /// ([`Scorer::everyday_query`]). `z·v` is a contrast, made a logit relative to the candidates
    /// (see [`EXCLUDED_POOL`]).
    Excluded(Vec<f32>),
    /// An example image: its image features (logit [`IMAGE_SLOPE`]·(cos − [`IMAGE_MIDPOINT`]))
    /// and its compact vector scaled to unit weighted cosine, for the shortlist (and for images
    /// whose features cannot be read).
    Image { features: Vec<f32>, z: Vec<f32> },
}

impl TermVector {
    /// An example image's term from its embedding.
    pub fn image(scorer: &Scorer, embedding: &ImageEmbedding) -> TermVector {
        Self::image_from(
            scorer,
            scorer.image_vector(embedding),
            embedding.features.clone(),
        )
    }

    /// An example image's term from its compact vector and its features.
    pub fn image_from(scorer: &Scorer, mut z: Vec<f32>, features: Vec<f32>) -> TermVector {
        // Only the image part: the last component carries the query offset when there is one.
        z.truncate(scorer.tower_dim() + crate::model::text::TEXT_DIM);
        let n2 = z.iter().map(|v| v * v).sum::<f32>();
        if n2 > 0.0 {
            z.iter_mut().for_each(|v| *v /= n2);
        }
        z.resize(scorer.compact_dim(), 0.0);
        TermVector::Image { features, z }
    }

    /// The term's logit from an image's compact vector (stored as f16).
    pub(crate) fn logit_z(&self, row: &[f16], b: f32) -> f32 {
        match self {
            TermVector::Text(q) => store::dot_f16(row, q) + b,
            TermVector::Excluded(v) => store::dot_f16(row, v),
            TermVector::Image { z, .. } => image_logit(store::dot_f16(row, z)),
        }
    }

    /// The term as a linear function of `z` (for the int8 shortlist).
    fn linear(&self) -> &[f32] {
        match self {
            TermVector::Text(q) | TermVector::Excluded(q) => q,
            TermVector::Image { z, .. } => z,
        }
    }

    /// How much a unit of [`Self::linear`] moves the logit, for the shortlist's proxy. An
    /// excluded text only counts once it is compared with the other candidates: none.
    fn slope(&self) -> f32 {
        match self {
            TermVector::Text(_) => 1.0,
            TermVector::Excluded(_) => 0.0,
            TermVector::Image { .. } => IMAGE_SLOPE,
        }
    }
}

impl Plan {
    /// Added terms first, then the terms taken away.
    pub(crate) fn terms(&self) -> impl Iterator<Item = &TermVector> + '_ {
        self.plus.iter().chain(&self.minus)
    }

    /// The score from every term's logit (in [`Plan::terms`] order).
    pub(crate) fn combine(&self, logits: &[f32]) -> f32 {
        self.combine_by(|k, _| logits[k])
    }

    /// The score, each term's logit given by `logit(position in [`Plan::terms`], term)`.
    pub(crate) fn combine_by(&self, logit: impl Fn(usize, &TermVector) -> f32) -> f32 {
        let n = self.plus.len();
        let mean = self
            .plus
            .iter()
            .enumerate()
            .map(|(k, t)| logit(k, t))
            .sum::<f32>()
            / n.max(1) as f32;
        self.minus
            .iter()
            .enumerate()
            .fold(sigmoid(mean), |s, (k, t)| {
                s * (1.0 - sigmoid(logit(n + k, t)))
            })
    }

    pub(crate) fn has_image(&self) -> bool {
        self.terms().any(|t| matches!(t, TermVector::Image { .. }))
    }

    pub(crate) fn has_excluded(&self) -> bool {
        self.terms().any(|t| matches!(t, TermVector::Excluded(_)))
    }

    /// Turns each excluded text's contrast into a logit relative to the candidates (see
    /// [`EXCLUDED_POOL`]): the pool is the best candidates by the terms added alone. A row
    /// whose contrast is unknown (NaN: its vector failed its check) is taken as typical.
    pub(crate) fn judge_excluded(&self, rows: &mut [(f32, usize, Vec<f32>)], top: usize) {
        let n = self.plus.len();
        let size = EXCLUDED_POOL.max(top.saturating_mul(4));
        let mut pool: Vec<usize> = (0..rows.len()).collect();
        let added = |r: &(f32, usize, Vec<f32>)| r.2[..n].iter().sum::<f32>();
        if pool.len() > size {
            pool.select_nth_unstable_by(size - 1, |&a, &b| {
                added(&rows[b]).total_cmp(&added(&rows[a]))
            });
            pool.truncate(size);
        }
        for (k, term) in self.terms().enumerate() {
            if !matches!(term, TermVector::Excluded(_)) {
                continue;
            }
            let values: Vec<f32> = pool.iter().map(|&r| rows[r].2[k]).collect();
            let (median, spread) = robust_spread(values);
            for row in rows.iter_mut() {
                let c = row.2[k];
                let z = if c.is_nan() {
                    0.0
                } else {
                    (c - median) / spread
                };
                row.2[k] = EXCLUDED_SLOPE * (z - EXCLUDED_MARGIN);
            }
        }
    }

    /// A linear stand-in for the score, for picking candidates with the int8 pass: the mean of
    /// the added terms' logits less half of each taken away.
    pub fn proxy(&self, scorer: &Scorer) -> Vec<f32> {
        let mut v = vec![0.0f32; scorer.compact_dim()];
        let n = self.plus.len().max(1) as f32;
        for (terms, w) in [(&self.plus, 1.0 / n), (&self.minus, -0.5)] {
            for t in terms.iter() {
                let k = w * t.slope();
                v.iter_mut().zip(t.linear()).for_each(|(a, x)| *a += k * x);
            }
        }
        v
    }
}

/// The median and the robust standard deviation (1.4826 × the median absolute deviation, at
/// least [`EXCLUDED_MIN_SPREAD`]) of the values that are not NaN; (0, the minimum) for none.
fn robust_spread(mut values: Vec<f32>) -> (f32, f32) {
    values.retain(|v| !v.is_nan());
    if values.is_empty() {
        return (0.0, EXCLUDED_MIN_SPREAD);
    }
    let median = median_of(&mut values);
    let mut deviations: Vec<f32> = values.iter().map(|v| (v - median).abs()).collect();
    let spread = 1.4826 * median_of(&mut deviations);
    (median, spread.max(EXCLUDED_MIN_SPREAD))
}

/// The median of a non-empty slice (reorders it).
fn median_of(values: &mut [f32]) -> f32 {
    let mid = values.len() / 2;
    let (_, m, _) = values.select_nth_unstable_by(mid, f32::total_cmp);
    let upper = *m;
    if values.len() % 2 == 1 {
        return upper;
    }
    let lower = values[..mid]
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    (lower + upper) / 2.0
}

/// Most candidates rescored exactly, reached at a million images.
pub const MAX_SHORTLIST: usize = 10_000;

/// Candidates rescored exactly for a query asking for `top` results among `n` images: at least
/// 4 × top and 200, and 1% of the images up to [`MAX_SHORTLIST`], since the number of images
/// whose approximate score can pass the true 10th grows with the library (`picseek bench
/// agreement`: 1% restores a top-10 overlap ≥ 0.98 at 100,000 images and at 1,000,000). Each
/// candidate costs a 3.3 KB read (about 3 µs of kernel time on the 2-core test machine, most of
/// the rescoring) and a CRC check.
pub fn shortlist_len(top: usize, n: usize) -> usize {
    top.saturating_mul(4)
        .max(200)
        .max((n / 100).min(MAX_SHORTLIST))
        .min(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The score from kept logits and from logits given one by one agree, and follow the
    /// documented formula: σ(mean of added) · Π (1 − σ(taken away)).
    #[test]
    fn plan_scores_agree_with_the_formula() {
        let plan = Plan {
            plus: vec![TermVector::Text(vec![]), TermVector::Text(vec![])],
            minus: vec![TermVector::Text(vec![])],
        };
        let logits = [1.0f32, -3.0, 0.5];
        let want = sigmoid(-1.0) * (1.0 - sigmoid(0.5));
        assert!((plan.combine(&logits) - want).abs() < 1e-6);
        assert_eq!(plan.combine_by(|k, _| logits[k]), plan.combine(&logits));
        assert!(!plan.has_image());
    }

    #[test]
    fn median_and_spread_are_robust() {
        assert_eq!(median_of(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median_of(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        // One wild value moves neither; NaN is left out; a flat set gets the least spread.
        let (m, s) = robust_spread(vec![1.0, 2.0, 3.0, 100.0, f32::NAN]);
        assert_eq!(m, 2.5);
        assert!((s - 1.4826).abs() < 1e-5, "{s}");
        assert_eq!(robust_spread(vec![5.0; 9]), (5.0, EXCLUDED_MIN_SPREAD));
        assert_eq!(robust_spread(vec![]), (0.0, EXCLUDED_MIN_SPREAD));
    }

    /// An excluded text is judged against the pool of the best candidates: the one that shows
    /// it far more than the others is pushed down, the typical ones keep most of their score, and
    /// one whose contrast is unknown counts as typical.
    #[test]
    fn an_excluded_text_is_judged_against_the_candidates() {
        let plan = Plan {
            plus: vec![TermVector::Text(vec![])],
            minus: vec![TermVector::Excluded(vec![])],
        };
        // (score, row, [added logit, contrast]): the contrasts spread by 0.1 around 0.2 and one
        // stands out at 2.0.
        let mut rows: Vec<(f32, usize, Vec<f32>)> = (0..9)
            .map(|i| (0.0, i, vec![1.0, 0.1 + 0.025 * i as f32]))
            .collect();
        rows.push((0.0, 9, vec![1.0, 2.0]));
        rows.push((0.0, 10, vec![1.0, f32::NAN]));
        plan.judge_excluded(&mut rows, 10);
        let score = |r: &(f32, usize, Vec<f32>)| plan.combine(&r.2);
        let typical = score(&rows[4]);
        assert!(typical > 0.6 * sigmoid(1.0), "{typical}");
        assert!(score(&rows[9]) < 0.01, "{}", score(&rows[9]));
        assert_eq!(rows[10].2[1], -EXCLUDED_SLOPE * EXCLUDED_MARGIN);
        // The added term is left as it was.
        assert!(rows.iter().all(|r| r.2[0] == 1.0));
    }
}
