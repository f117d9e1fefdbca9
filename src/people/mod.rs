//! People in an image: who is in view, where their faces are and how old those faces look. The
//! legal image check ([`crate::legal::check`]) decides on what these models see; the models
//! themselves know nothing of the law.
//!
//! - [`person`]: MoveNet-multipose, up to six people with boxes and keypoints;
//! - [`face`]: YuNet, faces with boxes (crowds, which MoveNet scores low);
//! - [`age`]: faceres, each face's probability of being under 16 and its expected age.
//!
//! [`PeopleModels::look`] runs the first two and gives the [`Evidence`];
//! [`PeopleModels::estimate_ages`] adds the ages, which cost more and are asked for only where
//! they can change a verdict.

pub mod age;
pub mod face;
pub mod person;

use std::path::Path;
use std::sync::Mutex;

use fast_image_resize::Resizer;
use serde::{Deserialize, Serialize};

use crate::model::ModelError;
pub use person::GateInput;

/// Changes whenever what [`Evidence`] holds, or how it is computed, changes.
const EVIDENCE_VERSION: &[u8] = b"picseek-people-evidence-v1";
/// People MoveNet scores at or below this are not kept (the legal check's cutoff is higher).
pub const PERSON_FLOOR: f32 = 0.05;
/// Faces whose age is estimated at most, the largest first (small faces say little of age).
pub const MAX_AGED_FACES: usize = 8;

/// A person MoveNet reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonSeen {
    pub score: f32,
    /// (x0, y0, x1, y1) in fractions of the image's width and height.
    pub bbox: [f32; 4],
    /// 17 keypoints as (x, y, score), in fractions of the image.
    pub keypoints: Vec<[f32; 3]>,
}

/// A face YuNet reports, with its age once estimated.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FaceSeen {
    pub score: f32,
    /// (x0, y0, x1, y1) in fractions of the image's width and height.
    pub bbox: [f32; 4],
    /// The box's longer side in pixels of the decoded image.
    pub side_px: f32,
    /// Probability that the face is under 16, when estimated.
    pub p_child: Option<f32>,
    /// Expected age in years, when estimated.
    pub age: Option<f32>,
}

/// What the people models saw in one image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// MoveNet's people scoring above [`PERSON_FLOOR`], most confident first.
    pub people: Vec<PersonSeen>,
    /// MoveNet's best score (0 when it saw nobody at all).
    pub best_person: f32,
    /// YuNet's faces (score ≥ [`face::MIN_SCORE`]), most confident first.
    pub faces: Vec<FaceSeen>,
    /// YuNet's best score of any anchor.
    pub best_face: f32,
    /// The decoded image's size, in pixels.
    pub width: u32,
    pub height: u32,
    /// Whether the ages of the faces were estimated ([`PeopleModels::estimate_ages`]).
    pub aged: bool,
}

impl Evidence {
    /// The faces whose age is estimated: the [`MAX_AGED_FACES`] largest.
    pub fn faces_to_age(&self) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.faces.len()).collect();
        idx.sort_by(|&a, &b| {
            self.faces[b]
                .side_px
                .total_cmp(&self.faces[a].side_px)
                .then(a.cmp(&b))
        });
        idx.truncate(MAX_AGED_FACES);
        idx
    }
}

/// The three models, loaded together.
pub struct PeopleModels {
    people: person::PersonDetector,
    faces: face::FaceDetector,
    ages: age::AgeModel,
    resizer: Mutex<Resizer>,
    fingerprint: [u8; 16],
}

impl PeopleModels {
    pub fn load(models_dir: &Path) -> Result<Self, ModelError> {
        let people = person::PersonDetector::load(models_dir)?;
        let faces = face::FaceDetector::load(models_dir)?;
        let ages = age::AgeModel::load(models_dir)?;
        let fingerprint = combine(
            &people.fingerprint(),
            &faces.fingerprint(),
            &ages.fingerprint(),
        );
        Ok(Self {
            people,
            faces,
            ages,
            resizer: Mutex::new(Resizer::new()),
            fingerprint,
        })
    }

    /// Identifies the three models and their preprocessing: cached evidence is keyed by it.
    pub fn fingerprint(&self) -> [u8; 16] {
        self.fingerprint
    }

    /// People and faces in one image (no ages yet).
    pub fn look(&self, input: &GateInput) -> Result<Evidence, ModelError> {
        let found = self.people.detect(input)?;
        let best_person = found.first().map_or(0.0, |p| p.score);
        let people = found
            .into_iter()
            .filter(|p| p.score > PERSON_FLOOR)
            .map(|p| PersonSeen {
                score: p.score,
                bbox: p.bbox,
                keypoints: p.keypoints.to_vec(),
            })
            .collect();
        let image = input.image();
        let (w, h) = image.dimensions();
        let detected = {
            let mut resizer = self.resizer.lock().unwrap_or_else(|p| p.into_inner());
            self.faces.detect(image, &mut resizer)?
        };
        let (fw, fh) = (w.max(1) as f32, h.max(1) as f32);
        let faces = detected
            .faces
            .iter()
            .map(|f| FaceSeen {
                score: f.score,
                bbox: [
                    f.bbox[0] / fw,
                    f.bbox[1] / fh,
                    f.bbox[2] / fw,
                    f.bbox[3] / fh,
                ],
                side_px: f.side(),
                p_child: None,
                age: None,
            })
            .collect();
        Ok(Evidence {
            people,
            best_person,
            faces,
            best_face: detected.best,
            width: w,
            height: h,
            aged: false,
        })
    }

    /// Estimates the age of the faces of [`Evidence::faces_to_age`] in `input`'s image.
    pub fn estimate_ages(
        &self,
        input: &GateInput,
        evidence: &mut Evidence,
    ) -> Result<(), ModelError> {
        let idx = evidence.faces_to_age();
        let (w, h) = (evidence.width as f32, evidence.height as f32);
        let boxes: Vec<[f32; 4]> = idx
            .iter()
            .map(|&i| {
                let b = evidence.faces[i].bbox;
                [b[0] * w, b[1] * h, b[2] * w, b[3] * h]
            })
            .collect();
        let ages = self.ages.estimate(input.image(), &boxes)?;
        for (&i, a) in idx.iter().zip(ages) {
            evidence.faces[i].p_child = Some(a.p_child);
            evidence.faces[i].age = Some(a.age);
        }
        evidence.aged = true;
        Ok(())
    }
}

/// The fingerprint [`PeopleModels::load`] would give, without starting a session.
pub fn fingerprint_of(models_dir: &Path) -> Result<[u8; 16], ModelError> {
    Ok(combine(
        &person::fingerprint_of(models_dir)?,
        &face::fingerprint_of(models_dir)?,
        &age::fingerprint_of(models_dir)?,
    ))
}

fn combine(people: &[u8; 16], faces: &[u8; 16], ages: &[u8; 16]) -> [u8; 16] {
    crate::model::digest16(&[
        EVIDENCE_VERSION,
        people,
        faces,
        ages,
        &PERSON_FLOOR.to_le_bytes(),
        &face::MIN_SCORE.to_le_bytes(),
        &(MAX_AGED_FACES as u64).to_le_bytes(),
    ])
}
