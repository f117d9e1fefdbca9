//! The image encoder: EfficientNet-Lite2 (static int8) through ONNX Runtime.
//! Input `pixel_values` [B,3,260,260]; outputs `features` [B,1280] and ImageNet `logits` [B,1000].

use std::path::Path;

use ort::value::TensorRef;
use serde::{Deserialize, Serialize};

use super::preprocess::{INPUT_SIZE, PREPROCESS_ID, TENSOR_LEN};
use super::ModelError;

/// Width of an image feature vector.
pub const IMAGE_DIM: usize = 1280;
/// Number of ImageNet classes the encoder scores.
pub const NUM_CLASSES: usize = 1000;
/// How many of the most likely ImageNet classes are kept per image.
pub const TOP_CLASSES: usize = 20;

/// What the encoder says about one image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageEmbedding {
    /// Global-average-pooled features before the classifier.
    pub features: Vec<f32>,
    /// The most likely ImageNet classes, (class index, softmax probability), most likely first.
    pub top_classes: Vec<(u16, f32)>,
}

pub struct ImageEncoder {
    model: super::OnnxModel,
}

impl ImageEncoder {
    /// Loads `image_encoder.onnx` from the models folder.
    pub fn load(models_dir: &Path) -> Result<Self, ModelError> {
        let path = models_dir.join("image_encoder.onnx");
        let model = super::OnnxModel::load(path, PREPROCESS_ID, true)?;
        Ok(Self { model })
    }

    /// Identifies the model file and the preprocessing: cached vectors are keyed by it, so a new
    /// model or new preprocessing never reads stale vectors.
    pub fn fingerprint(&self) -> [u8; 16] {
        self.model.fingerprint
    }

    /// Encodes a batch of preprocessed images (each [`TENSOR_LEN`] values).
    pub fn encode(&self, tensors: &[&[f32]]) -> Result<Vec<ImageEmbedding>, ModelError> {
        if tensors.is_empty() {
            return Ok(Vec::new());
        }
        let batch = tensors.len();
        let mut input = Vec::with_capacity(batch * TENSOR_LEN);
        for t in tensors {
            if t.len() != TENSOR_LEN {
                return Err(self.inference(format!(
                    "input has {} values, expected {TENSOR_LEN}",
                    t.len()
                )));
            }
            input.extend_from_slice(t);
        }
        let side = INPUT_SIZE as usize;
        let input = ndarray::Array4::from_shape_vec((batch, 3, side, side), input)
            .map_err(|e| self.inference(e.to_string()))?;
        let mut session = self.model.session();
        let err = |e: ort::Error| self.inference(e.to_string());
        let outputs = session
            .run(ort::inputs!["pixel_values" => TensorRef::from_array_view(&input).map_err(err)?])
            .map_err(err)?;
        let (fshape, features) = outputs["features"]
            .try_extract_tensor::<f32>()
            .map_err(err)?;
        let (lshape, logits) = outputs["logits"].try_extract_tensor::<f32>().map_err(err)?;
        if fshape.len() != 2 || fshape[0] as usize != batch || fshape[1] as usize != IMAGE_DIM {
            return Err(self.inference(format!("unexpected features shape {fshape:?}")));
        }
        if lshape.len() != 2 || lshape[0] as usize != batch || lshape[1] as usize != NUM_CLASSES {
            return Err(self.inference(format!("unexpected logits shape {lshape:?}")));
        }
        Ok(features
            .chunks(IMAGE_DIM)
            .zip(logits.chunks(NUM_CLASSES))
            .map(|(f, l)| ImageEmbedding {
                features: f.to_vec(),
                top_classes: top_softmax(l, TOP_CLASSES),
            })
            .collect())
    }

    fn inference(&self, reason: String) -> ModelError {
        self.model.inference(reason)
    }
}

/// The fingerprint [`ImageEncoder::load`] would give, without starting an inference session
/// (cheap: for opening a stored search library at start-up).
pub fn fingerprint_of(models_dir: &Path) -> Result<[u8; 16], ModelError> {
    super::fingerprint_of_file(&models_dir.join("image_encoder.onnx"), PREPROCESS_ID)
}

/// Softmax over `logits`, keeping the `k` most likely classes, most likely first.
pub fn top_softmax(logits: &[f32], k: usize) -> Vec<(u16, f32)> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|&v| (v - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    let mut idx: Vec<usize> = (0..logits.len()).collect();
    idx.sort_by(|&a, &b| exps[b].total_cmp(&exps[a]));
    idx.into_iter()
        .take(k)
        .map(|i| (i as u16, exps[i] / sum))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_softmax_orders_and_normalises() {
        let top = top_softmax(&[0.0, 2.0, 1.0], 2);
        assert_eq!(top.iter().map(|t| t.0).collect::<Vec<_>>(), vec![1, 2]);
        let total: f32 = [1.0f32, 2.0f32.exp(), 1.0f32.exp()].iter().sum();
        assert!((top[0].1 - 2.0f32.exp() / total).abs() < 1e-6);
    }
}
