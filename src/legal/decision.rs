//! The decision where people are in view: does an image the whole-image check flags, with
//! somebody in it, show a child? A small logistic model over the evidence (fitted by
//! `picseek train`, see [`crate::train::people`]): the whole-image probe, the faces' ages and
//! sizes, the number of faces against the number of people, and the people's sizes. Its
//! parameters live in the scorer's metadata ([`PeopleDecisionParams`]).
//!
//! The face ages cost most (one run of the age model per face), so they are asked for only
//! where they can change the verdict: [`PeopleDecision::bounds`] gives the least and the most
//! the model could say whatever the ages turn out to be.

use crate::model::scorer::{sigmoid, PeopleDecisionParams};
use crate::people::Evidence;

/// Changes whenever the features or how they are computed change (a decision fitted on other
/// features is then not used).
pub const FEATURES_VERSION: &str = "people-decision-features-v1";

/// People MoveNet scores above this count as people in view.
pub const PERSON_CUTOFF: f32 = 0.2;
/// A face scoring at least this counts as somebody in view (where MoveNet finds nobody: a stage
/// full of schoolchildren that MoveNet scores 0.19 shows faces plainly).
pub const FACE_CUTOFF: f32 = 0.8;
/// Faces at least this many pixels high are "clear" faces (smaller ones say little of age).
pub const CLEAR_FACE_PX: f32 = 24.0;

/// The features, by name, in order.
pub const FEATURES: [&str; 12] = [
    "probe_logit",
    "people",
    "faces",
    "max_face_p_child",
    "max_clear_face_p_child",
    "mean_face_p_child",
    "youngest_face_age",
    "largest_face_height",
    "largest_person_height",
    "people_without_a_face",
    "best_person_score",
    "any_face",
];

/// Which features depend on the faces' ages, and the range each can take.
const AGE_FEATURES: [(usize, f32, f32); 4] =
    [(3, 0.0, 1.0), (4, 0.0, 1.0), (5, 0.0, 1.0), (6, 0.0, 2.0)];

/// Whether somebody is in view: MoveNet scores a person above [`PERSON_CUTOFF`], or YuNet a
/// face at [`FACE_CUTOFF`] or more.
pub fn anybody(e: &Evidence) -> bool {
    e.best_person > PERSON_CUTOFF || e.best_face >= FACE_CUTOFF
}

fn logit(p: f32) -> f32 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

/// The feature vector of an image: its whole-image probability and what the people models
/// saw. Age features of faces not aged yet take 0 (see [`PeopleDecision::bounds`]).
pub fn features(probe: f32, e: &Evidence) -> [f32; 12] {
    let people: Vec<_> = e
        .people
        .iter()
        .filter(|p| p.score > PERSON_CUTOFF)
        .collect();
    let aged: Vec<(f32, f32, f32)> = e
        .faces
        .iter()
        .filter_map(|f| Some((f.p_child?, f.age?, f.side_px)))
        .collect();
    let max = |v: &mut dyn Iterator<Item = f32>| {
        v.fold(None, |m: Option<f32>, x| Some(m.map_or(x, |m| m.max(x))))
    };
    let max_pc = max(&mut aged.iter().map(|a| a.0)).unwrap_or(0.0);
    let max_clear =
        max(&mut aged.iter().filter(|a| a.2 >= CLEAR_FACE_PX).map(|a| a.0)).unwrap_or(0.0);
    let mean_pc = if aged.is_empty() {
        0.0
    } else {
        aged.iter().map(|a| a.0).sum::<f32>() / aged.len() as f32
    };
    let youngest = aged
        .iter()
        .map(|a| a.1)
        .fold(None, |m: Option<f32>, x| Some(m.map_or(x, |m| m.min(x))))
        .map_or(1.0, |a| (a / 50.0).min(2.0));
    let largest_face = max(&mut e.faces.iter().map(|f| f.bbox[3] - f.bbox[1])).unwrap_or(0.0);
    let largest_person = max(&mut people.iter().map(|p| p.bbox[3] - p.bbox[1])).unwrap_or(0.0);
    [
        logit(probe),
        people.len().min(6) as f32,
        e.faces.len().min(10) as f32,
        max_pc,
        max_clear,
        mean_pc,
        youngest,
        largest_face,
        largest_person,
        people.len().saturating_sub(e.faces.len()) as f32,
        e.best_person,
        if e.faces.is_empty() { 0.0 } else { 1.0 },
    ]
}

/// A fitted decision.
#[derive(Debug, Clone, Copy)]
pub struct PeopleDecision<'a> {
    params: &'a PeopleDecisionParams,
}

impl<'a> PeopleDecision<'a> {
    /// The decision in `params`, when it was fitted on these features.
    pub fn new(params: &'a PeopleDecisionParams) -> Option<Self> {
        let n = FEATURES.len();
        let fits = params.features_version == FEATURES_VERSION
            && [&params.mean, &params.std, &params.weights]
                .iter()
                .all(|v| v.len() == n);
        fits.then_some(Self { params })
    }

    /// The probability that the image shows a child.
    pub fn probability(&self, x: &[f32; 12]) -> f32 {
        sigmoid(self.logit(x))
    }

    fn logit(&self, x: &[f32; 12]) -> f32 {
        let p = self.params;
        x.iter()
            .zip(&p.mean)
            .zip(&p.std)
            .zip(&p.weights)
            .map(|(((x, m), s), w)| w * (x - m) / s.max(1e-6))
            .sum::<f32>()
            + p.bias
    }

    /// The least and the most probability the decision could give `x` whatever the faces'
    /// ages (when the faces are not aged yet).
    pub fn bounds(&self, x: &[f32; 12]) -> (f32, f32) {
        let p = self.params;
        let mut base = *x;
        for (k, ..) in AGE_FEATURES {
            base[k] = p.mean[k];
        }
        let z = self.logit(&base);
        let (mut lo, mut hi) = (z, z);
        for (k, a, b) in AGE_FEATURES {
            let scale = p.weights[k] / p.std[k].max(1e-6);
            let (u, v) = (scale * (a - p.mean[k]), scale * (b - p.mean[k]));
            lo += u.min(v);
            hi += u.max(v);
        }
        (sigmoid(lo), sigmoid(hi))
    }

    /// At and above this probability an image is withheld.
    pub fn threshold(&self) -> f32 {
        self.params.threshold
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::people::{FaceSeen, PersonSeen};

    fn evidence(ages: &[Option<f32>]) -> Evidence {
        Evidence {
            people: vec![PersonSeen {
                score: 0.7,
                bbox: [0.1, 0.1, 0.5, 0.9],
                keypoints: Vec::new(),
            }],
            best_person: 0.7,
            faces: ages
                .iter()
                .map(|a| FaceSeen {
                    score: 0.9,
                    bbox: [0.2, 0.1, 0.3, 0.2],
                    side_px: 40.0,
                    p_child: a.map(|a| if a < 16.0 { 0.9 } else { 0.05 }),
                    age: *a,
                })
                .collect(),
            best_face: 0.9,
            width: 500,
            height: 375,
            aged: ages.iter().all(Option::is_some),
        }
    }

    fn params(weights: [f32; 12], threshold: f32) -> PeopleDecisionParams {
        PeopleDecisionParams {
            features_version: FEATURES_VERSION.into(),
            features: FEATURES.iter().map(|s| s.to_string()).collect(),
            mean: vec![0.0; 12],
            std: vec![1.0; 12],
            weights: weights.to_vec(),
            bias: 0.0,
            threshold,
            figures: serde_json::Value::Null,
        }
    }

    #[test]
    fn features_read_the_evidence() {
        let x = features(0.5, &evidence(&[Some(8.0), Some(40.0)]));
        assert_eq!(x[0], 0.0);
        assert_eq!((x[1], x[2]), (1.0, 2.0));
        assert!((x[3] - 0.9).abs() < 1e-6 && (x[5] - 0.475).abs() < 1e-6);
        assert!((x[6] - 8.0 / 50.0).abs() < 1e-6);
        assert_eq!((x[9], x[11]), (0.0, 1.0));
        assert!(anybody(&evidence(&[])));
    }

    /// The bounds hold every value the ages could give, and settle a decision the ages cannot
    /// move.
    #[test]
    fn bounds_cover_every_age() {
        let mut w = [0.0; 12];
        w[0] = 1.0;
        w[3] = 2.0;
        w[6] = -1.0;
        let p = params(w, 0.5);
        let d = PeopleDecision::new(&p).unwrap();
        let unaged = evidence(&[None]);
        let (lo, hi) = d.bounds(&features(0.5, &unaged));
        for a in [1.0, 10.0, 30.0, 90.0] {
            let v = d.probability(&features(0.5, &evidence(&[Some(a)])));
            assert!(lo <= v + 1e-6 && v <= hi + 1e-6, "{lo} {v} {hi}");
        }
        assert!(lo < 0.5 && hi > 0.5, "undecided without ages");
        // A very high probe: withheld whatever the ages say.
        let (lo, _) = d.bounds(&features(0.9999, &unaged));
        assert!(lo > 0.5);
        let mut stale = p.clone();
        stale.features_version = "old".into();
        assert!(PeopleDecision::new(&stale).is_none());
    }
}
