//! The legal image check: which images are withheld as showing a child, and at which stage.
//!
//! 1. **Whole-image check**: the child detector over the image encoder's features (see
//!    [`super::images`]). Most images end here: below its threshold an image is shown. It is
//!    cheap (one dot product) but it has learned "looks like the Flickr photos that had
//!    children", so on its own it flags fruit, paintings and documents too.
//! 2. **Person gate**: an image the whole-image check flags is shown to a person detector, and
//!    where it finds nobody, to a face detector ([`super::gate`]). With nobody in it, it is
//!    shown: an image without a person never shows a child.
//! 3. **Child among people**: flagged, and a person is there: withheld.
//!
//! Verdicts are cached per content hash, keyed by [`ImageCheck::fingerprint`] (detector weights,
//! threshold, person model and cutoff), so a new model or cutoff never reads stale verdicts.

use std::path::Path;

use fast_image_resize::Resizer;
use serde::{Deserialize, Serialize};

use super::gate::{PersonGate, Sighting};
use super::images::ChildDetector;
use crate::people::GateInput;
use crate::cache::{Cache, CacheError, ContentHash};
use crate::model::scorer::Scorer;
use crate::model::ImageEmbedding;

/// Changes whenever the way stages combine changes.
const CHECK_VERSION: &[u8] = b"picseek-image-check-v1";

/// The stage that decided an image's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Stage {
    /// The whole-image check found no sign of a child: shown.
    Clear,
    /// Flagged by the whole-image check, but the person detector found nobody: shown.
    NoPerson,
    /// Flagged by the whole-image check, and a person is in view: withheld.
    ChildAmongPeople,
    /// Flagged, and the person check could not run (the file could not be read again, or the
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
    /// The best person score, when the person detector ran.
    pub person: Option<f32>,
    /// The best face score, when the face detector ran (the person detector found nobody).
    pub face: Option<f32>,
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
    pub child_among_people: usize,
    pub unverified: usize,
}

impl StageCounts {
    pub fn add(&mut self, stage: Stage) {
        match stage {
            Stage::Clear => self.clear += 1,
            Stage::NoPerson => self.no_person += 1,
            Stage::ChildAmongPeople => self.child_among_people += 1,
            Stage::Unverified => self.unverified += 1,
        }
    }

    /// Images withheld.
    pub fn withheld(&self) -> usize {
        self.child_among_people + self.unverified
    }
}

/// The whole check: the whole-image detector, then the person gate.
pub struct ImageCheck<'a> {
    detector: ChildDetector<'a>,
    gate: &'a PersonGate,
    fingerprint: [u8; 16],
}

impl<'a> ImageCheck<'a> {
    /// The check with `scorer`'s child detector; `None` when the scorer has none fitted.
    pub fn new(scorer: &'a Scorer, gate: &'a PersonGate) -> Option<Self> {
        let detector = ChildDetector::new(scorer)?;
        let fingerprint = combine(&detector, &gate.fingerprint());
        Some(Self {
            detector,
            gate,
            fingerprint,
        })
    }

    /// Identifies the check: cached verdicts are keyed by it.
    pub fn fingerprint(&self) -> [u8; 16] {
        self.fingerprint
    }

    /// The verdict when the whole-image check alone decides it (not flagged), else the
    /// probability for [`ImageCheck::with_people`].
    pub fn first_stage(&self, embedding: &ImageEmbedding) -> Result<ImageVerdict, f32> {
        let (flagged, probability) = self.detector.verdict(embedding);
        if flagged {
            Err(probability)
        } else {
            Ok(ImageVerdict {
                stage: Stage::Clear,
                probability,
                person: None,
                face: None,
            })
        }
    }

    /// What the person gate sees in an image (`None` when a detector failed).
    pub fn look(&self, input: &GateInput) -> Option<Sighting> {
        self.gate
            .look(input)
            .map_err(|e| tracing::warn!("person check failed: {e}"))
            .ok()
    }

    /// The verdict for a flagged image, from the person gate's view of it (`None` when the
    /// image could not be looked at: withheld as unverified).
    pub fn with_people(&self, probability: f32, input: Option<&GateInput>) -> ImageVerdict {
        let sighting = input.and_then(|g| self.look(g));
        let stage = match sighting {
            None => Stage::Unverified,
            Some(s) if s.anybody() => Stage::ChildAmongPeople,
            Some(_) => Stage::NoPerson,
        };
        ImageVerdict {
            stage,
            probability,
            person: sighting.map(|s| s.person),
            face: sighting.and_then(|s| s.face),
        }
    }

    /// The full verdict; `input` is asked for only when the whole-image check flags the image.
    pub fn check(
        &self,
        embedding: &ImageEmbedding,
        input: impl FnOnce() -> Option<GateInput>,
    ) -> ImageVerdict {
        match self.first_stage(embedding) {
            Ok(v) => v,
            Err(p) => self.with_people(p, input().as_ref()),
        }
    }
}

impl ImageCheck<'_> {
    /// The cached verdict of a content, or one decided now and cached: the whole-image check
    /// from its cached vector (under the encoder's `encoder_fp`), and where that flags it, the
    /// person gate on the file at `path`, read again. `None` when the content has no cached
    /// vector.
    pub fn verdict_for(
        &self,
        cache: &Cache,
        encoder_fp: &[u8; 16],
        path: &Path,
        hash: &ContentHash,
        resizer: &mut Resizer,
    ) -> Result<Option<ImageVerdict>, CacheError> {
        if let Some(v) = cache.verdict::<ImageVerdict>(&self.fingerprint, hash) {
            return Ok(Some(v));
        }
        let Some(record) = cache.embedding(encoder_fp, hash) else {
            return Ok(None);
        };
        let v = self.check(&record.embedding, || gate_input(path, resizer));
        cache.put_verdict(&self.fingerprint, hash, &v)?;
        Ok(Some(v))
    }
}

/// The person gate's view of the file at `path`, read and decoded again (`None` when it cannot
/// be: the verdict is then "unverified", and the image withheld).
pub fn gate_input(path: &Path, resizer: &mut Resizer) -> Option<GateInput> {
    let bytes = std::fs::read(path)
        .map_err(|e| tracing::warn!("{}: cannot read for the legal check: {e}", path.display()))
        .ok()?;
    let img = crate::model::preprocess::decode_for_encoder(&bytes)
        .map_err(|e| tracing::warn!("{}: cannot decode for the legal check: {e}", path.display()))
        .ok()?;
    GateInput::from_image(img.image, resizer).ok()
}

/// The fingerprint [`ImageCheck::new`] would give, from the person gate's fingerprint alone
/// (see [`super::gate::fingerprint_of`]): for opening a stored library without starting
/// the detector.
pub fn fingerprint_of(scorer: &Scorer, person: &[u8; 16]) -> Option<[u8; 16]> {
    ChildDetector::new(scorer).map(|d| combine(&d, person))
}

fn combine(detector: &ChildDetector, person: &[u8; 16]) -> [u8; 16] {
    crate::model::digest16(&[CHECK_VERSION, &detector.fingerprint(), person])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_people_stages_withhold() {
        assert!(!Stage::Clear.withholds());
        assert!(!Stage::NoPerson.withholds());
        assert!(Stage::ChildAmongPeople.withholds());
        assert!(Stage::Unverified.withholds());
        let mut c = StageCounts::default();
        for s in [
            Stage::Clear,
            Stage::NoPerson,
            Stage::ChildAmongPeople,
            Stage::Unverified,
        ] {
            c.add(s);
        }
        assert_eq!(c.withheld(), 2);
    }
}
