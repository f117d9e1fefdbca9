//! The legal image check measured: recall and precision at each stage (the whole-image check
//! alone, then with the person gate) against hand-checked and caption labels, and the share of
//! images without children that are withheld. `picseek legal` prints these and `picseek eval`
//! writes them to `reports/eval.json` (`legal_check`).

use serde::Serialize;

use crate::legal::check::{ImageVerdict, Stage};
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
}

impl Figures {
    pub fn of(predicted: &[bool], truth: &[bool]) -> Self {
        let (recall, precision) = recall_precision(predicted, truth);
        Figures {
            images: truth.len(),
            children: truth.iter().filter(|t| **t).count(),
            withheld: predicted.iter().filter(|p| **p).count(),
            recall,
            precision,
        }
    }
}

/// The check stage by stage on one labelled set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StageFigures {
    /// The whole-image check alone (what was withheld before the person gate).
    pub whole_image: Figures,
    /// The whole check: flagged by the whole-image check and a person in view.
    pub with_person_gate: Figures,
}

impl StageFigures {
    /// From each image's verdict and label.
    pub fn of(verdicts: &[ImageVerdict], truth: &[bool]) -> Self {
        let flagged: Vec<bool> = verdicts.iter().map(|v| v.stage != Stage::Clear).collect();
        let withheld: Vec<bool> = verdicts.iter().map(ImageVerdict::withheld).collect();
        StageFigures {
            whole_image: Figures::of(&flagged, truth),
            with_person_gate: Figures::of(&withheld, truth),
        }
    }

    /// From out-of-fold whole-image decisions and whether the person gate saw anybody (`None`
    /// where it did not look, or could not: withheld when flagged, as in search).
    pub fn out_of_fold(flagged: &[bool], anybody: &[Option<bool>], truth: &[bool]) -> Self {
        let withheld: Vec<bool> = flagged
            .iter()
            .zip(anybody)
            .map(|(f, a)| *f && a.unwrap_or(true))
            .collect();
        StageFigures {
            whole_image: Figures::of(flagged, truth),
            with_person_gate: Figures::of(&withheld, truth),
        }
    }
}

/// Images known to show no child, and how many the check withholds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoChildFigures {
    /// Where they came from.
    pub source: String,
    pub images: usize,
    /// Flagged by the whole-image check (withheld before the person gate).
    pub flagged_whole_image: usize,
    pub withheld: usize,
    pub withheld_percent: f64,
    /// The files withheld, for looking at.
    pub withheld_files: Vec<String>,
}

impl NoChildFigures {
    pub fn of(source: &str, verdicts: &[(String, ImageVerdict)]) -> Self {
        let withheld_files: Vec<String> = verdicts
            .iter()
            .filter(|(_, v)| v.withheld())
            .map(|(f, v)| {
                let mut s = format!("{f} (whole-image {:.2}", v.probability);
                if let Some(p) = v.person {
                    s += &format!(", person {p:.2}");
                }
                if let Some(face) = v.face {
                    s += &format!(", face {face:.2}");
                }
                s + ")"
            })
            .collect();
        let images = verdicts.len();
        NoChildFigures {
            source: source.to_string(),
            images,
            flagged_whole_image: verdicts
                .iter()
                .filter(|(_, v)| v.stage != Stage::Clear)
                .count(),
            withheld: withheld_files.len(),
            withheld_percent: if images == 0 {
                0.0
            } else {
                100.0 * withheld_files.len() as f64 / images as f64
            },
            withheld_files,
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
    /// The training images, whole-image check out of fold (hand-checked labels where listed).
    pub train_out_of_fold: StageFigures,
    /// Sets of images without children.
    pub no_child: Vec<NoChildFigures>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(stage: Stage) -> ImageVerdict {
        ImageVerdict {
            stage,
            probability: 0.5,
            person: None,
            face: None,
        }
    }

    #[test]
    fn stages_by_hand() {
        let verdicts = [
            v(Stage::ChildAmongPeople),
            v(Stage::NoPerson),
            v(Stage::Clear),
            v(Stage::ChildAmongPeople),
        ];
        let truth = [true, true, false, false];
        let f = StageFigures::of(&verdicts, &truth);
        assert_eq!((f.whole_image.recall, f.whole_image.withheld), (1.0, 3));
        assert_eq!(f.with_person_gate.recall, 0.5);
        assert_eq!(f.with_person_gate.precision, 0.5);
        let oof = StageFigures::out_of_fold(
            &[true, true, false],
            &[Some(true), Some(false), None],
            &[true, false, false],
        );
        assert_eq!(oof.with_person_gate.withheld, 1);
        assert_eq!(oof.with_person_gate.precision, 1.0);
        let n = NoChildFigures::of(
            "x",
            &[
                ("a".into(), v(Stage::NoPerson)),
                ("b".into(), v(Stage::Clear)),
            ],
        );
        assert_eq!(
            (n.withheld, n.flagged_whole_image, n.withheld_percent),
            (0, 1, 0.0)
        );
    }
}
