//! `models/manifest.json`: where each model came from and how it expects its input.
//!
//! Written by `scripts/export_models.py` (and the scripts beside it). Only what picseek reads is
//! typed here: each model's file and sha256, its licence and its source package; the rest of an
//! entry (inputs, preprocessing, parity checks) stays in [`Entry::details`] for people to read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::ModelError;

/// The file's name inside the models folder.
pub const FILE: &str = "manifest.json";

/// One model (or the tokenizer) as the manifest records it.
#[derive(Debug, Clone, Deserialize)]
pub struct Entry {
    /// Its path as written by the export script (`models/NAME`).
    pub file: PathBuf,
    /// sha256 of that file, hex.
    pub sha256: String,
    /// Its licence (the project takes no AGPL model).
    pub licence: String,
    /// Where it came from: the package, its version and the file inside it.
    pub source: serde_json::Value,
    /// Everything else the export wrote.
    #[serde(flatten)]
    pub details: BTreeMap<String, serde_json::Value>,
}

impl Entry {
    /// The file inside `models_dir` (the manifest records it from the project's top level).
    pub fn path_in(&self, models_dir: &Path) -> PathBuf {
        models_dir.join(self.file.file_name().unwrap_or(self.file.as_os_str()))
    }

    /// Checks the file in `models_dir` against the recorded sha256.
    pub fn verify(&self, models_dir: &Path) -> Result<(), ModelError> {
        let path = self.path_in(models_dir);
        let bytes = read(&path)?;
        let actual = hex(&Sha256::digest(&bytes));
        if actual == self.sha256 {
            Ok(())
        } else {
            Err(ModelError::Invalid {
                path,
                reason: format!(
                    "sha256 {actual} differs from the manifest's {}",
                    self.sha256
                ),
            })
        }
    }
}

/// The models the manifest records.
#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    pub image_encoder: Entry,
    pub text_encoder: Entry,
    pub tokenizer: Entry,
    pub person_detector: Entry,
    pub face_detector: Entry,
}

impl Manifest {
    /// Reads `models_dir/manifest.json`; an error names the file and the cause.
    pub fn load(models_dir: &Path) -> Result<Manifest, ModelError> {
        let path = models_dir.join(FILE);
        let text = read(&path)?;
        serde_json::from_slice(&text).map_err(|e| ModelError::Invalid {
            path,
            reason: e.to_string(),
        })
    }

    /// Every entry with its key, in the manifest's terms.
    pub fn entries(&self) -> [(&'static str, &Entry); 5] {
        [
            ("image_encoder", &self.image_encoder),
            ("text_encoder", &self.text_encoder),
            ("tokenizer", &self.tokenizer),
            ("person_detector", &self.person_detector),
            ("face_detector", &self.face_detector),
        ]
    }
}

/// A file of the models folder: a missing one is [`ModelError::Missing`].
fn read(path: &Path) -> Result<Vec<u8>, ModelError> {
    std::fs::read(path).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => ModelError::Missing {
            path: path.to_path_buf(),
        },
        _ => ModelError::Read {
            path: path.to_path_buf(),
            error,
        },
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn models_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models")
    }

    #[test]
    fn the_shipped_manifest_matches_the_model_files() {
        let dir = models_dir();
        let m = Manifest::load(&dir).unwrap();
        for (key, entry) in m.entries() {
            assert_eq!(entry.sha256.len(), 64, "{key}: {}", entry.sha256);
            assert!(!entry.licence.trim().is_empty(), "{key}: no licence");
            assert!(!entry.licence.contains("AGPL"), "{key}: {}", entry.licence);
            assert!(
                entry.source.is_object() || entry.source.is_string(),
                "{key}: no source"
            );
            entry.verify(&dir).unwrap_or_else(|e| panic!("{key}: {e}"));
        }
    }

    #[test]
    fn a_changed_file_or_a_broken_manifest_is_named() {
        let dir = models_dir();
        let m = Manifest::load(&dir).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("face_detector.onnx"), b"not the model").unwrap();
        let err = m.face_detector.verify(tmp.path()).unwrap_err().to_string();
        assert!(
            err.contains("face_detector.onnx") && err.contains("differs"),
            "{err}"
        );
        let err = m.tokenizer.verify(tmp.path()).unwrap_err().to_string();
        assert!(
            err.contains("tokenizer.json") && err.contains("missing"),
            "{err}"
        );
        std::fs::write(tmp.path().join(FILE), b"{\"image_encoder\": 1}").unwrap();
        let err = Manifest::load(tmp.path()).unwrap_err().to_string();
        assert!(
            err.contains("manifest.json") && err.contains("not a usable model"),
            "{err}"
        );
    }
}
