//! The person gate: is anybody in the picture? MoveNet-multipose first ([`super::person`]); where
//! it finds nobody, a face detector ([`super::face`]) for crowds, which MoveNet scores low.

use std::path::Path;
use std::sync::Mutex;

use fast_image_resize::Resizer;

use crate::people::face::{self, FaceDetector};
use crate::people::person::{self, GateInput, PersonDetector};
use crate::model::ModelError;

/// MoveNet's best box score above which someone is in view. On the training images
/// (hand-checked labels) MoveNet at 256 px scores above 0.2 in 97.8% of the images with a child
/// (98.5% above 0.15); 0.15 also fired on stacked circles and a water surface, 0.2 on none of
/// 160 rendered and packaged images with nobody in them (see `reports/experiments.md`).
pub const PERSON_CUTOFF: f32 = 0.2;
/// YuNet's best face score at or above which someone is in view. 0.8 fired on none of the
/// rendered and packaged images without people (0.6 fired on a micrograph), and finds a face in
/// 29 of the 34 test images with a child, among them a stage full of schoolchildren that
/// MoveNet scores 0.19.
pub const FACE_CUTOFF: f32 = 0.8;

/// What the gate saw in one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sighting {
    /// MoveNet's best person score.
    pub person: f32,
    /// YuNet's best face score, when it ran (MoveNet found nobody).
    pub face: Option<f32>,
}

impl Sighting {
    /// Whether somebody is in view.
    pub fn anybody(&self) -> bool {
        self.person > PERSON_CUTOFF || self.face.is_some_and(|f| f >= FACE_CUTOFF)
    }
}

/// Both detectors, loaded together.
pub struct PersonGate {
    people: PersonDetector,
    faces: FaceDetector,
    resizer: Mutex<Resizer>,
    fingerprint: [u8; 16],
}

impl PersonGate {
    pub fn load(models_dir: &Path) -> Result<Self, ModelError> {
        let people = PersonDetector::load(models_dir)?;
        let faces = FaceDetector::load(models_dir)?;
        let fingerprint = combine(&people.fingerprint(), &faces.fingerprint());
        Ok(Self {
            people,
            faces,
            resizer: Mutex::new(Resizer::new()),
            fingerprint,
        })
    }

    /// Identifies both models, their preprocessing and the cutoffs.
    pub fn fingerprint(&self) -> [u8; 16] {
        self.fingerprint
    }

    /// Looks for people in one image.
    pub fn look(&self, input: &GateInput) -> Result<Sighting, ModelError> {
        let person = self.people.detect(input)?.first().map_or(0.0, |p| p.score);
        let face = if person > PERSON_CUTOFF {
            None
        } else {
            let mut resizer = self.resizer.lock().unwrap_or_else(|p| p.into_inner());
            Some(self.faces.best_face(input.image(), &mut resizer)?)
        };
        Ok(Sighting { person, face })
    }
}

/// The fingerprint [`PersonGate::load`] would give, without starting either session.
pub fn fingerprint_of(models_dir: &Path) -> Result<[u8; 16], ModelError> {
    Ok(combine(
        &person::fingerprint_of(models_dir)?,
        &face::fingerprint_of(models_dir)?,
    ))
}

fn combine(people: &[u8; 16], faces: &[u8; 16]) -> [u8; 16] {
    crate::model::digest16(&[
        b"picseek-person-gate-v1",
        people,
        faces,
        &PERSON_CUTOFF.to_le_bytes(),
        &FACE_CUTOFF.to_le_bytes(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn either_detector_can_see_somebody() {
        let s = |person, face| Sighting { person, face };
        assert!(s(0.5, None).anybody());
        assert!(!s(0.1, Some(0.3)).anybody());
        assert!(s(0.1, Some(0.9)).anybody());
        assert!(!s(PERSON_CUTOFF, None).anybody());
    }
}
