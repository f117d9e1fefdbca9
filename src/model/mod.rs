//! The models: the ONNX encoders (text: multilingual-e5-small; image: EfficientNet-Lite2) and
//! our relevance scorer, with ONNX Runtime's loading and the image preprocessing.
//!
//! Everything here is loaded from the project's `models/` folder, which holds the exported
//! ONNX files, the tokenizer, the scorer and a manifest recording where each came from.

pub mod image;
pub mod manifest;
pub mod preprocess;
pub mod runtime;
pub mod scorer;
pub mod text;
pub mod tokenizer;

use std::path::{Path, PathBuf};

pub use image::{ImageEmbedding, ImageEncoder};
pub use scorer::Scorer;
pub use text::TextEncoder;

/// Errors from finding, loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(
        "ONNX Runtime library not found (looked in: {searched}); run scripts/setup.sh, or pass --ort-lib / set ORT_DYLIB_PATH"
    )]
    RuntimeMissing { searched: String },
    #[error(
        "{}: cannot load ONNX Runtime: {reason}",
        crate::display::escape_path(path)
    )]
    RuntimeLoad { path: PathBuf, reason: String },
    #[error(
        "{}: model file missing; run scripts/setup.sh or pass --models DIR",
        crate::display::escape_path(path)
    )]
    Missing { path: PathBuf },
    #[error("{}: cannot read model: {error}", crate::display::escape_path(path))]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}: not a usable model: {reason}", crate::display::escape_path(path))]
    Invalid { path: PathBuf, reason: String },
    #[error("{}: inference failed: {reason}", crate::display::escape_path(path))]
    Inference { path: PathBuf, reason: String },
}

/// Finds the models folder: an explicit one, else `models/` beside or above the executable
/// (covers `target/release/picseek` inside the repo), else `./models`, else the source tree's.
pub fn locate_models_dir(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    let has_manifest = |d: &Path| d.join("manifest.json").is_file();
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1) {
            let cand = dir.join("models");
            if has_manifest(&cand) {
                return cand;
            }
        }
    }
    let cwd = PathBuf::from("models");
    if has_manifest(&cwd) {
        return cwd;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models")
}

/// Number of threads to give ONNX Runtime for one session: one per core.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The first 16 bytes of the BLAKE3 hash of `parts`, in order: what cached results are keyed by.
pub fn digest16(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(p);
    }
    let mut out = [0u8; 16];
    out.copy_from_slice(&h.finalize().as_bytes()[..16]);
    out
}

/// Identifies the model file at `path` and its preprocessing, without starting a session (cheap:
/// for opening what was cached under it).
pub fn fingerprint_of_file(path: &Path, preprocess_id: &str) -> Result<[u8; 16], ModelError> {
    Ok(digest16(&[&read_model(path)?, preprocess_id.as_bytes()]))
}

impl ModelError {
    /// An inference error of the model at `path`, kept to one line.
    pub fn inference(path: &Path, reason: &str) -> Self {
        ModelError::Inference {
            path: path.to_path_buf(),
            reason: first_line(reason),
        }
    }
}

/// Scales `image` so its longer side is `side` (bilinear, antialiased), for pasting at the top
/// left of a black `side`-square (the same pixels as padding first and then resizing, for a
/// fraction of the work). Returns the RGB bytes and their width and height.
pub fn fit_to_side(
    image: &::image::RgbImage,
    side: u32,
    resizer: &mut fast_image_resize::Resizer,
) -> Result<(Vec<u8>, u32, u32), String> {
    use fast_image_resize::{images::Image, FilterType, PixelType, ResizeAlg, ResizeOptions};
    let (w, h) = image.dimensions();
    if w == 0 || h == 0 {
        return Err(format!("image has no pixels ({w}×{h})"));
    }
    let scale = side as f32 / w.max(h) as f32;
    let tw = ((w as f32 * scale).round() as u32).clamp(1, side);
    let th = ((h as f32 * scale).round() as u32).clamp(1, side);
    let mut dst = Image::new(tw, th, PixelType::U8x3);
    resizer
        .resize(
            image,
            &mut dst,
            &ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear)),
        )
        .map_err(|e| e.to_string())?;
    Ok((dst.into_vec(), tw, th))
}

/// An ONNX model loaded from a file: its session, its path (for errors) and its fingerprint
/// (the file's bytes and the preprocessing it expects).
pub struct OnnxModel {
    session: std::sync::Mutex<ort::session::Session>,
    pub path: PathBuf,
    pub fingerprint: [u8; 16],
}

impl OnnxModel {
    /// Loads `path`; `spin` as for [`session_from_bytes`].
    pub fn load(path: PathBuf, preprocess_id: &str, spin: bool) -> Result<Self, ModelError> {
        let bytes = read_model(&path)?;
        let session = session_from_bytes(&path, &bytes, spin)?;
        Ok(Self {
            session: std::sync::Mutex::new(session),
            fingerprint: digest16(&[&bytes, preprocess_id.as_bytes()]),
            path,
        })
    }

    /// The session, for one run at a time.
    pub fn session(&self) -> std::sync::MutexGuard<'_, ort::session::Session> {
        self.session.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An inference error of this model, kept to one line.
    pub fn inference(&self, reason: String) -> ModelError {
        ModelError::inference(&self.path, &reason)
    }
}

/// Reads a model file, with errors that name it.
pub(crate) fn read_model(path: &Path) -> Result<Vec<u8>, ModelError> {
    std::fs::read(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            ModelError::Missing {
                path: path.to_path_buf(),
            }
        } else {
            ModelError::Read {
                path: path.to_path_buf(),
                error: source,
            }
        }
    })
}

/// Builds an ONNX Runtime session from model bytes, one intra-op thread per core. `spin` lets
/// the threads busy-wait between the operators of a run (much faster for a graph of many small
/// operators, such as a text encoder on one query); they stop spinning when the run ends, so
/// work that follows (a query's scoring pass on all cores) has the cores to itself.
pub(crate) fn session_from_bytes(
    path: &Path,
    bytes: &[u8],
    spin: bool,
) -> Result<ort::session::Session, ModelError> {
    use ort::session::{builder::GraphOptimizationLevel, Session};
    let invalid = |reason: String| ModelError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    let env =
        runtime::environment().ok_or_else(|| invalid("ONNX Runtime is not loaded yet".into()))?;
    Session::builder(env)
        .map_err(|e| invalid(e.to_string()))?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(|e| invalid(e.to_string()))?
        .with_intra_threads(cores())
        .map_err(|e| invalid(e.to_string()))?
        .with_intra_op_spinning(spin)
        .map_err(|e| invalid(e.to_string()))?
        .with_config_entry("session.force_spinning_stop", if spin { "1" } else { "0" })
        .map_err(|e| invalid(e.to_string()))?
        // On x86 without VNNI (AVX2, AVX-512 without VNNI) ONNX Runtime's u8×s8 int8 kernels can
        // overflow their 16-bit sums: the int8 encoders then drift from their reference by up to
        // 0.1 in cosine (measured on an AVX2 EPYC). The exact u8×u8 kernels are about a quarter
        // slower there and change nothing where VNNI is present.
        .with_config_entry("session.x64quantprecision", "1")
        .map_err(|e| invalid(e.to_string()))?
        .commit_from_memory(bytes)
        .map_err(|e| invalid(first_line(&e.to_string())))
}

/// ONNX Runtime errors can span lines; keep messages to one.
pub(crate) fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}
