//! The legal image check on the indexing side: running the people models where the rules of
//! [`crate::legal::check`] ask for them, reading a flagged file again when its pixels are not at
//! hand, and keeping what was decided. Verdicts are cached per content hash under the check's
//! fingerprint, and what the people models saw ([`Evidence`]) under theirs, so a retrained
//! decision reuses the detections.
//!
//! This is the one place a verdict is decided: index runs, library builds, example images and
//! the review all ask a [`Checker`].

use std::path::Path;
use std::sync::Arc;

use fast_image_resize::Resizer;

use crate::cache::{Cache, CacheError, ContentHash};
use crate::display::escape_path;
use crate::legal::check::{ImageCheck, ImageVerdict, Step};
use crate::model::{ImageEmbedding, ModelError};
use crate::people::{Evidence, GateInput, PeopleModels};

/// Loads the people models when a flagged image first needs them.
pub type PeopleLoader<'a> = dyn Fn() -> Result<Arc<PeopleModels>, ModelError> + Sync + 'a;

/// The legal check with what it needs to decide: the people models (loaded on first use) and
/// their fingerprint.
pub struct Checker<'a> {
    check: ImageCheck<'a>,
    people: &'a PeopleLoader<'a>,
    people_fp: [u8; 16],
}

impl<'a> Checker<'a> {
    pub fn new(check: ImageCheck<'a>, people_fp: [u8; 16], people: &'a PeopleLoader<'a>) -> Self {
        Self {
            check,
            people,
            people_fp,
        }
    }

    /// The check's fingerprint (verdicts are cached under it).
    pub fn fingerprint(&self) -> [u8; 16] {
        self.check.fingerprint()
    }

    /// The rules.
    pub fn check(&self) -> &ImageCheck<'a> {
        &self.check
    }

    /// Decides the verdict of a content from its embedding; `input` gives its pixels as the
    /// people models see them, asked for only where the whole-image check flags it and no
    /// detections are cached. The verdict (and the detections) are cached.
    pub fn decide(
        &self,
        cache: &Cache,
        hash: &ContentHash,
        embedding: &ImageEmbedding,
        input: &mut dyn FnMut() -> Option<GateInput>,
    ) -> Result<ImageVerdict, CacheError> {
        let p = match self.check.first_stage(embedding) {
            Step::Done(v) => return self.keep(cache, hash, v),
            Step::Look(p) => p,
            Step::Ages => unreachable!("the first stage never asks for ages"),
        };
        let mut pixels: Option<GateInput> = None;
        let mut evidence: Option<Evidence> = cache.verdict(&self.people_fp, hash);
        let mut fresh = false;
        loop {
            if evidence.is_none() {
                pixels = pixels.or_else(&mut *input);
                evidence = pixels.as_ref().and_then(|g| self.look(g));
                fresh = evidence.is_some();
            }
            match self.check.with_people(p, evidence.as_ref()) {
                Step::Done(v) => {
                    if fresh {
                        if let Some(e) = &evidence {
                            cache.put_verdict(&self.people_fp, hash, e)?;
                        }
                    }
                    return self.keep(cache, hash, v);
                }
                Step::Ages => {
                    pixels = pixels.or_else(&mut *input);
                    let e = evidence.as_mut().expect("ages are asked for with evidence");
                    let aged = pixels.as_ref().is_some_and(|g| self.ages(g, e));
                    if !aged {
                        // The faces could not be aged: nothing clears the image.
                        return self.keep(cache, hash, self.unverified(p, e));
                    }
                    fresh = true;
                }
                Step::Look(_) => unreachable!("people are looked at once"),
            }
        }
    }

    /// The cached verdict of a content, or one decided now and cached: the whole-image check
    /// from its cached vector (under the encoder's `encoder_fp`), and where that flags it, the
    /// people models on the file at `path`, read again. `None` when the content has no cached
    /// vector.
    pub fn verdict_for(
        &self,
        cache: &Cache,
        encoder_fp: &[u8; 16],
        path: &Path,
        hash: &ContentHash,
        resizer: &mut Resizer,
    ) -> Result<Option<ImageVerdict>, CacheError> {
        if let Some(v) = cache.verdict::<ImageVerdict>(&self.fingerprint(), hash) {
            return Ok(Some(v));
        }
        let Some(record) = cache.embedding(encoder_fp, hash) else {
            return Ok(None);
        };
        self.decide(cache, hash, &record.embedding, &mut || {
            gate_input(path, resizer)
        })
        .map(Some)
    }

    fn keep(
        &self,
        cache: &Cache,
        hash: &ContentHash,
        v: ImageVerdict,
    ) -> Result<ImageVerdict, CacheError> {
        cache.put_verdict(&self.fingerprint(), hash, &v)?;
        Ok(v)
    }

    fn unverified(&self, probability: f32, e: &Evidence) -> ImageVerdict {
        ImageVerdict {
            stage: crate::legal::check::Stage::Unverified,
            probability,
            person: Some(e.best_person),
            face: Some(e.best_face),
            child: None,
            aged: false,
        }
    }

    fn models(&self) -> Option<Arc<PeopleModels>> {
        (self.people)()
            .map_err(|e| tracing::warn!("legal check: {e}"))
            .ok()
    }

    fn look(&self, input: &GateInput) -> Option<Evidence> {
        self.models()?
            .look(input)
            .map_err(|e| tracing::warn!("person check failed: {e}"))
            .ok()
    }

    fn ages(&self, input: &GateInput, e: &mut Evidence) -> bool {
        self.models().is_some_and(|m| {
            m.estimate_ages(input, e)
                .map_err(|err| tracing::warn!("face ages failed: {err}"))
                .is_ok()
        })
    }
}

/// Everything the people models see in the file at `path` with the faces aged, cached under
/// `people`'s fingerprint (what training and the study of the decision need for every image).
/// `None` when the file cannot be read or the models fail (with a warning).
pub fn full_evidence(
    people: &PeopleModels,
    cache: &Cache,
    path: &Path,
    hash: &ContentHash,
    resizer: &mut Resizer,
) -> Result<Option<Evidence>, CacheError> {
    let fp = people.fingerprint();
    if let Some(e) = cache.verdict::<Evidence>(&fp, hash).filter(|e| e.aged) {
        return Ok(Some(e));
    }
    let Some(input) = gate_input(path, resizer) else {
        return Ok(None);
    };
    let evidence = people.look(&input).and_then(|mut e| {
        people.estimate_ages(&input, &mut e)?;
        Ok(e)
    });
    match evidence {
        Ok(e) => {
            cache.put_verdict(&fp, hash, &e)?;
            Ok(Some(e))
        }
        Err(e) => {
            tracing::warn!("{}: people models failed: {e}", escape_path(path));
            Ok(None)
        }
    }
}

/// The people models' view of the file at `path`, read and decoded again (`None` when it
/// cannot be: the verdict is then "unverified", and the image withheld).
pub fn gate_input(path: &Path, resizer: &mut Resizer) -> Option<GateInput> {
    let bytes = std::fs::read(path)
        .map_err(|e| {
            tracing::warn!(
                "{}: cannot read for the legal check: {e}",
                escape_path(path)
            )
        })
        .ok()?;
    let img = crate::model::preprocess::decode_for_encoder(&bytes)
        .map_err(|e| {
            tracing::warn!(
                "{}: cannot decode for the legal check: {e}",
                escape_path(path)
            )
        })
        .ok()?;
    GateInput::from_image(img.image, resizer).ok()
}
