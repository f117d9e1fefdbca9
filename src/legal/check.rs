//! The legal image check: which images are withheld as showing a child, and at which stage. Pure
//! rules: the models that look at the pixels ([`crate::people`]) are run by the indexing side
//! ([`crate::index::verdicts`]), which asks [`ImageCheck`] what it needs next.
//!
//! 1. **Whole-image check**: the child detector over the image encoder's features (see
//!    [`super::images`]). Most images end here: below its threshold an image is shown. It is
//!    cheap (one dot product) but it has learned "looks like the Flickr photos that had
//!    children", so on its own it flags fruit, paintings and adults too.
//! 2. **Anybody in view?** An image it flags is shown to the person and face detectors. With
//!    nobody in it, it is shown: an image without a person never shows a child.
//! 3. **Child or adults?** Where people are in view, the learned decision
//!    ([`super::decision`]) weighs the whole-image probe with the faces' ages and sizes and the
//!    people's sizes. The faces' ages are estimated only where they can change the verdict.
//!    Without a fitted decision, everyone in view counts as a possible child: withheld.
//!
//! Verdicts are cached per content hash, keyed by [`ImageCheck::fingerprint`] (detector
//! weights, threshold, the people models, the decision), so a new model or cutoff never reads
//! stale verdicts.

use serde::{Deserialize, Serialize};

use super::decision::{self, PeopleDecision};
use super::images::ChildDetector;
use crate::model::scorer::Scorer;
use crate::model::ImageEmbedding;
use crate::people::Evidence;

/// Changes whenever the way stages combine changes.
const CHECK_VERSION: &[u8] = b"picseek-image-check-v2";

/// The stage that decided an image's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Stage {
    /// The whole-image check found no sign of a child: shown.
    Clear,
    /// Flagged by the whole-image check, but nobody is in view: shown.
    NoPerson,
    /// Flagged, people in view, and the decision where people are in view finds adults only:
    /// shown.
    Adults,
    /// Flagged, a person is in view and may be a child: withheld.
    ChildAmongPeople,
    /// Flagged, and the people could not be looked at (the file could not be read again, or a
    /// detector failed): withheld, since nothing cleared it.
    Unverified,
}

impl Stage {
    /// Whether images decided at this stage are withheld.
    pub fn withholds(self) -> bool {
        matches!(self, Stage::ChildAmongPeople | Stage::Unverified)
    }
}

/// What the check decided for one image.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ImageVerdict {
    pub stage: Stage,
    /// The whole-image check's probability that the image shows a child.
    pub probability: f32,
    /// The best person score, when the people were looked at.
    pub person: Option<f32>,
    /// The best face score, when the people were looked at.
    pub face: Option<f32>,
    /// The decision's probability that a person in view is a child, where it ran.
    pub child: Option<f32>,
    /// Whether the faces' ages were estimated for this verdict.
    pub aged: bool,
}

impl ImageVerdict {
    pub fn withheld(&self) -> bool {
        self.stage.withholds()
    }
}

/// How many images were decided at each stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageCounts {
    pub clear: usize,
    pub no_person: usize,
    pub adults: usize,
    pub child_among_people: usize,
    pub unverified: usize,
    /// Verdicts for which the faces' ages were estimated.
    pub aged: usize,
}

impl StageCounts {
    pub fn add(&mut self, v: &ImageVerdict) {
        match v.stage {
            Stage::Clear => self.clear += 1,
            Stage::NoPerson => self.no_person += 1,
            Stage::Adults => self.adults += 1,
            Stage::ChildAmongPeople => self.child_among_people += 1,
            Stage::Unverified => self.unverified += 1,
        }
        self.aged += usize::from(v.aged);
    }

    /// Images withheld.
    pub fn withheld(&self) -> usize {
        self.child_among_people + self.unverified
    }
}

/// What the check needs next for one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// Decided.
    Done(ImageVerdict),
    /// Flagged by the whole-image check with this probability: look for people
    /// ([`ImageCheck::with_people`]).
    Look(f32),
    /// The faces' ages can change the verdict: estimate them and ask again.
    Ages,
}

/// The whole check: the whole-image detector, the rule "nobody in view is shown", and the
/// decision where people are in view.
pub struct ImageCheck<'a> {
    detector: ChildDetector<'a>,
    decision: Option<PeopleDecision<'a>>,
    fingerprint: [u8; 16],
}

impl<'a> ImageCheck<'a> {
    /// The check with `scorer`'s child detector and people decision, over the people models
    /// whose fingerprint is `people` (see [`crate::people::fingerprint_of`]); `None` when the
    /// scorer has no child detector fitted.
    pub fn new(scorer: &'a Scorer, people: &[u8; 16]) -> Option<Self> {
        let detector = ChildDetector::new(scorer)?;
        let decision = scorer
            .meta
            .people_decision
            .as_ref()
            .and_then(PeopleDecision::new);
        let fingerprint = fingerprint(&detector, decision.as_ref(), scorer, people);
        Some(Self {
            detector,
            decision,
            fingerprint,
        })
    }

    /// Identifies the check: cached verdicts are keyed by it.
    pub fn fingerprint(&self) -> [u8; 16] {
        self.fingerprint
    }

    /// Whether a fitted decision weighs the people in view (else all of them are withheld).
    pub fn has_decision(&self) -> bool {
        self.decision.is_some()
    }

    /// The first stage: shown when the whole-image check does not flag the image.
    pub fn first_stage(&self, embedding: &ImageEmbedding) -> Step {
        let (flagged, probability) = self.detector.verdict(embedding);
        if flagged {
            Step::Look(probability)
        } else {
            Step::Done(ImageVerdict {
                stage: Stage::Clear,
                probability,
                person: None,
                face: None,
                child: None,
                aged: false,
            })
        }
    }

    /// The verdict for a flagged image from what the people models saw (`None`: they could not
    /// look; withheld as unverified), or [`Step::Ages`] when the faces' ages, not estimated yet,
    /// can change it.
    pub fn with_people(&self, probability: f32, evidence: Option<&Evidence>) -> Step {
        let verdict = |stage, e: Option<&Evidence>, child| {
            Step::Done(ImageVerdict {
                stage,
                probability,
                person: e.map(|e| e.best_person),
                face: e.map(|e| e.best_face),
                child,
                aged: e.is_some_and(|e| e.aged),
            })
        };
        let Some(e) = evidence else {
            return verdict(Stage::Unverified, None, None);
        };
        if !decision::anybody(e) {
            return verdict(Stage::NoPerson, Some(e), None);
        }
        let Some(d) = &self.decision else {
            return verdict(Stage::ChildAmongPeople, Some(e), None);
        };
        let x = decision::features(probability, e);
        let t = d.threshold();
        let needs_ages = !e.aged && !e.faces.is_empty();
        if needs_ages {
            let (lo, hi) = d.bounds(&x);
            if lo >= t {
                return verdict(Stage::ChildAmongPeople, Some(e), Some(lo));
            }
            if hi < t {
                return verdict(Stage::Adults, Some(e), Some(hi));
            }
            return Step::Ages;
        }
        let p = d.probability(&x);
        let stage = if p >= t {
            Stage::ChildAmongPeople
        } else {
            Stage::Adults
        };
        verdict(stage, Some(e), Some(p))
    }
}

/// The fingerprint [`ImageCheck::new`] would give (`None` when the scorer has no child
/// detector), from the people models' fingerprint alone: for opening a stored library without
/// starting any detector.
pub fn fingerprint_of(scorer: &Scorer, people: &[u8; 16]) -> Option<[u8; 16]> {
    ImageCheck::new(scorer, people).map(|c| c.fingerprint)
}

fn fingerprint(
    detector: &ChildDetector,
    decision: Option<&PeopleDecision>,
    scorer: &Scorer,
    people: &[u8; 16],
) -> [u8; 16] {
    let params = match (decision, &scorer.meta.people_decision) {
        (Some(_), Some(p)) => serde_json::to_vec(&(
            &p.features_version,
            &p.mean,
            &p.std,
            &p.weights,
            p.bias,
            p.threshold,
        ))
        .unwrap_or_default(),
        _ => b"no-people-decision".to_vec(),
    };
    crate::model::digest16(&[
        CHECK_VERSION,
        &detector.fingerprint(),
        people,
        &decision::PERSON_CUTOFF.to_le_bytes(),
        &decision::FACE_CUTOFF.to_le_bytes(),
        &params,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_people_stages_withhold() {
        assert!(!Stage::Clear.withholds());
        assert!(!Stage::NoPerson.withholds());
        assert!(!Stage::Adults.withholds());
        assert!(Stage::ChildAmongPeople.withholds());
        assert!(Stage::Unverified.withholds());
        let mut c = StageCounts::default();
        for stage in [
            Stage::Clear,
            Stage::NoPerson,
            Stage::Adults,
            Stage::ChildAmongPeople,
            Stage::Unverified,
        ] {
            c.add(&ImageVerdict {
                stage,
                probability: 0.5,
                person: None,
                face: None,
                child: None,
                aged: stage == Stage::Adults,
            });
        }
        assert_eq!((c.withheld(), c.adults, c.aged), (2, 1, 1));
    }
}
