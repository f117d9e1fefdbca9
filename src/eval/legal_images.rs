//! The legal image check measured: recall and precision of each rule (the whole-image check
//! alone; "flagged and somebody in view", the rule before the decision; the check as searches
//! run it, with the decision where people are in view) against hand-checked and caption labels,
//! the full precision–recall curves of the old rule and of the decision, and the share of
//! images without children that are withheld. `picseek legal` prints these and `picseek eval`
//! writes them to `reports/eval.json` (`legal_check`).

use serde::Serialize;

use crate::legal::images::recall_precision;

/// Recall and precision of one rule on one set of labelled images.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Figures {
    pub images: usize,
    /// Images that show a child, by the labels.
    pub children: usize,
    pub withheld: usize,
    pub recall: f64,
    pub precision: f64,
    /// Images without a child that are withheld.
    pub no_child_withheld: usize,
    /// Their share of the images without a child.
    pub no_child_withheld_share: f64,
}

impl Figures {
    pub fn of(predicted: &[bool], truth: &[bool]) -> Self {
        let (recall, precision) = recall_precision(predicted, truth);
        let children = truth.iter().filter(|t| **t).count();
        let wrong = predicted
            .iter()
            .zip(truth)
            .filter(|(p, t)| **p && !**t)
            .count();
        let others = truth.len() - children;
        Figures {
            images: truth.len(),
            children,
            withheld: predicted.iter().filter(|p| **p).count(),
            recall,
            precision,
            no_child_withheld: wrong,
            no_child_withheld_share: if others == 0 {
                0.0
            } else {
                wrong as f64 / others as f64
            },
        }
    }
}

/// Each rule on one labelled set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StageFigures {
    /// The whole-image check alone, at the threshold it had before the decision (recall 0.95).
    pub whole_image: Figures,
    /// Flagged at that threshold and somebody in view: the rule before the decision.
    pub person_gate: Figures,
    /// The check as searches run it: the first stage, nobody in view shown, the decision where
    /// people are in view.
    pub with_decision: Figures,
}

/// One image as the figures see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Judged {
    /// The whole-image probe's probability (out of fold for training images).
    pub probe: f32,
    /// Somebody in view (`None`: not looked for, the probe being below the first stage).
    pub anybody: Option<bool>,
    /// The decision's probability where people are in view (`None`: it did not run).
    pub decision: Option<f32>,
    /// Withheld as searches run it.
    pub withheld: bool,
    pub child: bool,
}

impl StageFigures {
    /// From each image's judgement; `old_threshold` is the probe threshold of the rule before
    /// the decision.
    pub fn of(images: &[Judged], old_threshold: f32) -> Self {
        let truth: Vec<bool> = images.iter().map(|j| j.child).collect();
        let flagged: Vec<bool> = images.iter().map(|j| j.probe >= old_threshold).collect();
        let gate: Vec<bool> = images
            .iter()
            .map(|j| j.probe >= old_threshold && j.anybody.unwrap_or(true))
            .collect();
        let now: Vec<bool> = images.iter().map(|j| j.withheld).collect();
        StageFigures {
            whole_image: Figures::of(&flagged, &truth),
            person_gate: Figures::of(&gate, &truth),
            with_decision: Figures::of(&now, &truth),
        }
    }
}

/// One point of a precision–recall curve: withheld when the score is at least `threshold`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    pub threshold: f32,
    pub recall: f64,
    pub precision: f64,
    pub withheld: usize,
}

/// A rule's precision–recall curve on one set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Curve {
    /// Which rule: "flagged and somebody in view" (the probe's threshold swept) or "decision
    /// where people are in view" (its threshold swept).
    pub rule: String,
    /// Which images.
    pub set: String,
    pub points: Vec<Point>,
}

impl Curve {
    /// The curve of `scores` (`None`: never withheld) against `truth`, one point per distinct
    /// score, highest threshold first.
    pub fn of(rule: &str, set: &str, scores: &[Option<f32>], truth: &[bool]) -> Self {
        let mut order: Vec<(f32, bool)> = scores
            .iter()
            .zip(truth)
            .filter_map(|(s, t)| s.map(|s| (s, *t)))
            .collect();
        order.sort_by(|a, b| b.0.total_cmp(&a.0));
        let children = truth.iter().filter(|t| **t).count().max(1) as f64;
        let mut points = Vec::new();
        let (mut tp, mut n) = (0usize, 0usize);
        for (i, (s, t)) in order.iter().enumerate() {
            n += 1;
            tp += usize::from(*t);
            let last_of_its_value = order.get(i + 1).is_none_or(|next| next.0 < *s);
            if last_of_its_value {
                points.push(Point {
                    threshold: *s,
                    recall: tp as f64 / children,
                    precision: tp as f64 / n as f64,
                    withheld: n,
                });
            }
        }
        Curve {
            rule: rule.into(),
            set: set.into(),
            points,
        }
    }

    /// The best precision at a recall of at least `recall` (and its point), if reached.
    pub fn at_recall(&self, recall: f64) -> Option<Point> {
        self.points
            .iter()
            .filter(|p| p.recall >= recall - 1e-9)
            .max_by(|a, b| a.precision.total_cmp(&b.precision))
            .copied()
    }
}

/// Images known to show no child, and how many the check withholds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoChildFigures {
    /// Where they came from.
    pub source: String,
    pub images: usize,
    /// Flagged by the whole-image check (looked at for people).
    pub flagged_whole_image: usize,
    /// With somebody in view, by the person and face detectors.
    pub anybody: usize,
    pub withheld: usize,
    pub withheld_percent: f64,
    /// Withheld though nobody is in view (must stay 0: the rule "nobody in view is shown").
    pub withheld_without_anybody: usize,
}

impl NoChildFigures {
    pub fn of(source: &str, images: &[Judged]) -> Self {
        let withheld = images.iter().filter(|j| j.withheld).count();
        let n = images.len();
        NoChildFigures {
            source: source.to_string(),
            images: n,
            flagged_whole_image: images.iter().filter(|j| j.anybody.is_some()).count(),
            anybody: images.iter().filter(|j| j.anybody == Some(true)).count(),
            withheld,
            withheld_percent: if n == 0 {
                0.0
            } else {
                100.0 * withheld as f64 / n as f64
            },
            withheld_without_anybody: images
                .iter()
                .filter(|j| j.withheld && j.anybody == Some(false))
                .count(),
        }
    }
}

/// Everything `picseek legal` measures of the image check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LegalImageReport {
    /// The 100 test images against the hand-checked labels.
    pub test_hand_labels: StageFigures,
    /// The 100 test images against "one of its captions mentions a child".
    pub test_caption_labels: StageFigures,
    /// The training images, out of fold (hand-checked labels where listed).
    pub train_out_of_fold: StageFigures,
    /// Sets of images without children.
    pub no_child: Vec<NoChildFigures>,
    /// The precision–recall curves of the rule before the decision and of the decision, on the
    /// test images (hand-checked labels) and the training images out of fold.
    pub curves: Vec<Curve>,
    /// The first stage's threshold now, and the rule's before the decision.
    pub first_stage_threshold: f32,
    pub old_threshold: f32,
    /// Test images whose faces were aged to decide them (the rest were settled without).
    pub test_faces_aged: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(probe: f32, anybody: Option<bool>, withheld: bool, child: bool) -> Judged {
        Judged {
            probe,
            anybody,
            decision: None,
            withheld,
            child,
        }
    }

    #[test]
    fn rules_by_hand() {
        let images = [
            j(0.9, Some(true), true, true),
            j(0.8, Some(false), false, true),
            j(0.1, None, false, false),
            j(0.7, Some(true), false, false),
        ];
        let f = StageFigures::of(&images, 0.5);
        assert_eq!((f.whole_image.recall, f.whole_image.withheld), (1.0, 3));
        assert_eq!(f.person_gate.withheld, 2);
        assert_eq!((f.person_gate.recall, f.person_gate.precision), (0.5, 0.5));
        assert_eq!(f.person_gate.no_child_withheld, 1);
        assert_eq!(f.with_decision.precision, 1.0);
        assert_eq!(f.with_decision.no_child_withheld_share, 0.0);
        let n = NoChildFigures::of("x", &images[2..]);
        assert_eq!((n.withheld, n.flagged_whole_image, n.anybody), (0, 1, 1));
    }

    #[test]
    fn curves_step_through_the_scores() {
        let scores = [Some(0.9), Some(0.8), Some(0.8), None, Some(0.1)];
        let truth = [true, false, true, true, false];
        let c = Curve::of("r", "s", &scores, &truth);
        let p: Vec<(f32, usize)> = c.points.iter().map(|p| (p.threshold, p.withheld)).collect();
        assert_eq!(p, vec![(0.9, 1), (0.8, 3), (0.1, 4)]);
        assert!((c.points[1].recall - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(c.at_recall(0.6).unwrap().threshold, 0.8);
        assert!(c.at_recall(1.0).is_none());
    }
}
