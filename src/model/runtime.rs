//! Finding and loading the ONNX Runtime shared library (`ort`'s `load-dynamic`).
//!
//! Search order: an explicit path (`--ort-lib`), `ORT_DYLIB_PATH`, next to the executable,
//! then the project's models folder (`models/lib/`, where `scripts/setup.sh` puts it).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::ModelError;

/// The ONNX Runtime release the project ships (extracted from the PyPI wheel by `scripts/setup.sh`).
pub const ORT_LIB_NAME: &str = "libonnxruntime.so.1.32.0";

static ENVIRONMENT: OnceLock<ort::environment::Environment> = OnceLock::new();

/// Where to look for the library, best first.
pub fn candidate_paths(explicit: Option<&Path>, models_dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = explicit {
        out.push(p.to_path_buf());
        return out;
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        out.push(PathBuf::from(p));
        return out;
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        out.push(dir.join(ORT_LIB_NAME));
        out.push(dir.join("libonnxruntime.so"));
    }
    out.push(models_dir.join("lib").join(ORT_LIB_NAME));
    out.push(models_dir.join(ORT_LIB_NAME));
    out
}

/// Loads ONNX Runtime once per process. Later calls return at once.
pub fn init(explicit: Option<&Path>, models_dir: &Path) -> Result<(), ModelError> {
    if ENVIRONMENT.get().is_some() {
        return Ok(());
    }
    let candidates = candidate_paths(explicit, models_dir);
    let Some(path) = candidates.iter().find(|p| p.is_file()) else {
        return Err(ModelError::RuntimeMissing {
            searched: candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    let builder = ort::init_from(path).map_err(|e| ModelError::RuntimeLoad {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let env = builder
        .with_name("picseek")
        .build()
        .map_err(|e| ModelError::RuntimeLoad {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    tracing::debug!(path = %path.display(), "loaded ONNX Runtime");
    let _ = ENVIRONMENT.set(env);
    Ok(())
}

/// The process-wide ONNX Runtime environment, once [`init`] has succeeded.
pub fn environment() -> Option<&'static ort::environment::Environment> {
    ENVIRONMENT.get()
}
