//! The image side of the legal filter: withhold images that likely depict a child.
//!
//! A logistic detector over the image encoder's standardised features, fitted by
//! `picseek train` on the training images, each labelled by whether its own caption mentions a
//! child (see [`crate::train::fit_child_detector`]). It lives beside the relevance scorer in
//! `models/scorer.safetensors`; the relevance scorer itself never sees children's images.
//! Images whose captions mention children are the ground truth for measuring it, never a
//! shortcut for hiding them at search time.

use crate::model::scorer::Scorer;
use crate::model::ImageEmbedding;

/// Decides per image whether it is withheld.
pub struct ChildDetector<'a> {
    scorer: &'a Scorer,
    threshold: f32,
    fingerprint: [u8; 16],
}

impl<'a> ChildDetector<'a> {
    /// The detector stored with `scorer`; `None` when the scorer has none fitted.
    pub fn new(scorer: &'a Scorer) -> Option<Self> {
        let params = scorer.meta.child_threshold?;
        let w = scorer.weights.child_w.as_ref()?;
        let mut h = blake3::Hasher::new();
        // Everything the detector's input depends on.
        let sw = &scorer.weights;
        for part in [w, &sw.img_mean, &sw.img_std] {
            for v in part {
                h.update(&v.to_le_bytes());
            }
        }
        h.update(&params.bias.to_le_bytes());
        h.update(&params.threshold.to_le_bytes());
        let mut fingerprint = [0u8; 16];
        fingerprint.copy_from_slice(&h.finalize().as_bytes()[..16]);
        Some(Self {
            scorer,
            threshold: params.threshold,
            fingerprint,
        })
    }

    /// Identifies the detector: verdicts stored in the cache are keyed by it.
    pub fn fingerprint(&self) -> [u8; 16] {
        self.fingerprint
    }

    /// Probability that the image depicts a child.
    pub fn probability(&self, embedding: &ImageEmbedding) -> f32 {
        self.scorer.child_probability(embedding).unwrap_or(1.0)
    }

    /// Whether the image is withheld, and the probability that decided it.
    pub fn verdict(&self, embedding: &ImageEmbedding) -> (bool, f32) {
        let p = self.probability(embedding);
        (p >= self.threshold, p)
    }

    /// Whether the image is withheld.
    pub fn is_child(&self, embedding: &ImageEmbedding) -> bool {
        self.verdict(embedding).0
    }
}

/// Recall and precision of `predicted` against `truth` (1.0 where undefined).
pub fn recall_precision(predicted: &[bool], truth: &[bool]) -> (f64, f64) {
    let tp = predicted
        .iter()
        .zip(truth)
        .filter(|(p, t)| **p && **t)
        .count() as f64;
    let pos = truth.iter().filter(|t| **t).count() as f64;
    let flagged = predicted.iter().filter(|p| **p).count() as f64;
    (
        if pos > 0.0 { tp / pos } else { 1.0 },
        if flagged > 0.0 { tp / flagged } else { 1.0 },
    )
}

/// The highest threshold that flags at least `min_recall` of the positives.
pub fn threshold_for_recall(scores: &[f32], truth: &[bool], min_recall: f64) -> f32 {
    let mut pos: Vec<f32> = scores
        .iter()
        .zip(truth)
        .filter(|(_, t)| **t)
        .map(|(s, _)| *s)
        .collect();
    if pos.is_empty() {
        return f32::INFINITY;
    }
    pos.sort_by(|a, b| b.total_cmp(a));
    let k = ((min_recall * pos.len() as f64).ceil() as usize).clamp(1, pos.len());
    pos[k - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recall_precision_by_hand() {
        let (r, p) = recall_precision(&[true, true, false, false], &[true, false, true, false]);
        assert_eq!((r, p), (0.5, 0.5));
        assert_eq!(recall_precision(&[false], &[false]), (1.0, 1.0));
    }

    #[test]
    fn threshold_keeps_the_recall() {
        let scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.1];
        let truth = [true, false, true, true, false, true];
        // 3 of 4 positives need a threshold of 0.6; all 4 need 0.1.
        assert_eq!(threshold_for_recall(&scores, &truth, 0.75), 0.6);
        assert_eq!(threshold_for_recall(&scores, &truth, 1.0), 0.1);
        let flagged: Vec<bool> = scores.iter().map(|s| *s >= 0.6).collect();
        assert_eq!(recall_precision(&flagged, &truth).0, 0.75);
    }
}
