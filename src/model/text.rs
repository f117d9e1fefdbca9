//! The text encoder: all-MiniLM-L6-v2 (int8) through ONNX Runtime, tokenised with `tokenizers`.
//! Mean pooling and L2 normalisation are inside the graph, so outputs are unit vectors.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ndarray::Array2;
use ort::session::Session;
use ort::value::TensorRef;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::ModelError;

/// Tokens kept per text; longer texts are truncated.
pub const MAX_TOKENS: usize = 256;
/// Width of a text embedding.
pub const TEXT_DIM: usize = 384;

pub struct TextEncoder {
    session: Mutex<Session>,
    tokenizer: Tokenizer,
    model_path: PathBuf,
}

impl TextEncoder {
    /// Loads `text_encoder.onnx` and `tokenizer.json` from the models folder.
    pub fn load(models_dir: &Path) -> Result<Self, ModelError> {
        let model_path = models_dir.join("text_encoder.onnx");
        let tok_path = models_dir.join("tokenizer.json");
        let bytes = super::read_model(&model_path)?;
        let session = super::session_from_bytes(&model_path, &bytes, false)?;
        if !tok_path.is_file() {
            return Err(ModelError::Missing { path: tok_path });
        }
        let invalid = |reason: String| ModelError::Invalid {
            path: tok_path.clone(),
            reason,
        };
        let mut tokenizer = Tokenizer::from_file(&tok_path).map_err(|e| invalid(e.to_string()))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
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
        })
    }

    /// Token ids as the model sees them (with special tokens, truncated), for tests and debugging.
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>, ModelError> {
        let enc = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| self.inference(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Embeds a batch of texts; returns one unit vector of [`TEXT_DIM`] values per text.
    pub fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| self.inference(e.to_string()))?;
        let batch = encodings.len();
        let len = encodings.iter().map(|e| e.len()).max().unwrap_or(0);
        let mut ids = Array2::<i64>::zeros((batch, len));
        let mut mask = Array2::<i64>::zeros((batch, len));
        let mut types = Array2::<i64>::zeros((batch, len));
        for (row, enc) in encodings.iter().enumerate() {
            for (col, ((&i, &m), &t)) in enc
                .get_ids()
                .iter()
                .zip(enc.get_attention_mask())
                .zip(enc.get_type_ids())
                .enumerate()
            {
                ids[[row, col]] = i64::from(i);
                mask[[row, col]] = i64::from(m);
                types[[row, col]] = i64::from(t);
            }
        }
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let err = |e: ort::Error| self.inference(e.to_string());
        let outputs = session
            .run(ort::inputs![
                "input_ids" => TensorRef::from_array_view(&ids).map_err(err)?,
                "attention_mask" => TensorRef::from_array_view(&mask).map_err(err)?,
                "token_type_ids" => TensorRef::from_array_view(&types).map_err(err)?,
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

    /// Embeds one text.
    pub fn encode_one(&self, text: &str) -> Result<Vec<f32>, ModelError> {
        Ok(self.encode(&[text])?.remove(0))
    }

    fn inference(&self, reason: String) -> ModelError {
        ModelError::inference(&self.model_path, &reason)
    }
}
