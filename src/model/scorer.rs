//! The relevance scorer: our own model, trained by `picseek train` on the annotated dataset.
//!
//! A two-tower projection with a calibrated similarity and a zero-shot "ConSE" term:
//!
//! ```text
//! u = norm(P_img · (x − μ) / σ + β_img)        x: 1280-d image features
//! w = norm(Σ_k p_k · t_k)                      top-k ImageNet classes, t_k = embed("a photo of a <class>")
//! v = norm(P_txt · y + β_txt)                  y: 384-d query embedding
//! score = sigmoid(a · u·v + c · w·y' + r·y' + b)  ∈ [0, 1], calibrated to the annotators' target
//! ```
//!
//! (`y'`: the query embedding less the training captions' mean, as a unit vector; `r·y'`: the
//! query's own offset, which moves all of a query's scores alike.) Folding the constants into the
//! image side, each image becomes one compact vector `z = [a·u ; c·w ; 1]` and each query
//! `q = [v ; y' ; r·y']`, so `score = sigmoid(z·q + b)`: a search over N images costs one text
//! encoding and one pass of dot products.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ndarray::{Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use super::image::{ImageEmbedding, IMAGE_DIM};
use super::text::{TextEncoder, TEXT_DIM};
use super::ModelError;

pub const WEIGHTS_FILE: &str = "scorer.safetensors";
pub const META_FILE: &str = "scorer.json";

/// Everything about a trained scorer that is not a weight matrix.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScorerMeta {
    /// Width of each tower's output.
    pub proj_dim: usize,
    /// Ensemble members: each tower is `members` projections of `proj_dim`, each normalised
    /// and scaled by 1/√members, so `u·v` is the members' mean cosine.
    #[serde(default = "one")]
    pub members: usize,
    /// ImageNet classes mixed into the ConSE vector.
    pub conse_top_k: usize,
    /// Calibration: score = sigmoid(a·cos + c·conse + b).
    pub a: f32,
    pub b: f32,
    pub c: f32,
    /// Training run that made it (seed, epochs, data counts, figures), free-form.
    #[serde(default)]
    pub training: serde_json::Value,
    /// The legal filter's image rule fitted with this scorer (see `legal::images`).
    #[serde(default)]
    pub child_threshold: Option<ChildThreshold>,
    /// The legal check's decision where people are in view, fitted with this scorer (see
    /// `legal::decision`); without one, every flagged image with somebody in view is withheld.
    #[serde(default)]
    pub people_decision: Option<PeopleDecisionParams>,
    /// sha256 of the encoders the scorer was trained against.
    #[serde(default)]
    pub image_encoder_sha256: String,
    #[serde(default)]
    pub text_encoder_sha256: String,
}

impl ScorerMeta {
    /// A single member's meta before training: identity calibration (`a = c = 1`, `b = 0`), no
    /// child rule, no training record, no encoder hashes.
    pub fn untrained(proj_dim: usize, conse_top_k: usize) -> Self {
        Self {
            proj_dim,
            members: 1,
            conse_top_k,
            a: 1.0,
            b: 0.0,
            c: 1.0,
            training: serde_json::Value::Null,
            child_threshold: None,
            people_decision: None,
            image_encoder_sha256: String::new(),
            text_encoder_sha256: String::new(),
        }
    }
}

/// The legal filter's image rule: an image is withheld when
/// `sigmoid(child_w · child_features + bias) ≥ threshold` (weights in `child_w`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChildThreshold {
    pub bias: f32,
    pub threshold: f32,
}

/// The legal check's logistic decision where people are in view (`legal::decision`): withheld
/// when `sigmoid(Σ weights · (x − mean) / std + bias) ≥ threshold`, `x` the features named.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeopleDecisionParams {
    /// Which feature set it was fitted on (`legal::decision::FEATURES_VERSION`).
    pub features_version: String,
    pub features: Vec<String>,
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
    pub weights: Vec<f32>,
    pub bias: f32,
    pub threshold: f32,
    /// How it was fitted and what it reached out of fold, free-form.
    #[serde(default)]
    pub figures: serde_json::Value,
}

/// The weights of a scorer, row-major.
#[derive(Debug, Clone)]
pub struct ScorerWeights {
    pub img_mean: Vec<f32>,
    pub img_std: Vec<f32>,
    /// [members · proj_dim, IMAGE_DIM]
    pub img_proj: Vec<f32>,
    pub img_bias: Vec<f32>,
    /// [members · proj_dim, TEXT_DIM]
    pub txt_proj: Vec<f32>,
    pub txt_bias: Vec<f32>,
    /// [NUM_CLASSES, TEXT_DIM], unit rows: embeddings of "a photo of a <class>".
    pub class_text: Vec<f32>,
    /// [IMAGE_DIM]: the legal filter's child detector over [`Scorer::child_features`], if fitted.
    pub child_w: Option<Vec<f32>>,
    /// [TEXT_DIM]: the mean text embedding of the training captions, taken off both sides of
    /// the ConSE term (class names and query) before their cosine. e5's embeddings share a large
    /// common direction (any two texts sit at cosine 0.7–0.9), which otherwise swamps the term.
    /// Absent in scorers trained before; then nothing is taken off.
    pub text_mean: Option<Vec<f32>>,
    /// [TEXT_DIM]: the query's own offset to the logit, `query_bias · y'` (`y'`:
    /// [`Scorer::conse_text`]), fitted with the calibration. Some queries ("a man", "people")
    /// fit a large share of photos and others ("a red kayak on a lake") few; the offset moves
    /// every score of a query alike, so it changes no ranking, only the numbers. Absent in
    /// scorers trained before; then there is no offset.
    pub query_bias: Option<Vec<f32>>,
}

pub struct Scorer {
    pub meta: ScorerMeta,
    pub weights: ScorerWeights,
    path: PathBuf,
    /// [`Scorer::everyday_query`], computed on first use.
    everyday: OnceLock<Vec<f32>>,
}

/// Everyday subjects and scenes whose mean query vector is the reference a text taken away
/// from a query is measured against ([`Scorer::everyday_query`]). Varied on purpose: indoor and
/// outdoor, people, animals, things, places. No words about children.
pub const EVERYDAY_WORDS: [&str; 24] = [
    "a person",
    "a dog",
    "a car",
    "a building",
    "a tree",
    "water",
    "grass",
    "snow",
    "the sky",
    "a street",
    "food",
    "a room",
    "a beach",
    "mountains",
    "a bicycle",
    "a ball",
    "a cat",
    "a bird",
    "a horse",
    "a flower",
    "a boat",
    "a city",
    "a field",
    "a table",
];

const TENSORS: [&str; 7] = [
    "img_mean",
    "img_std",
    "img_proj",
    "img_bias",
    "txt_proj",
    "txt_bias",
    "class_text",
];

impl Scorer {
    /// Gives the scorer its legal check: the whole-image child detector (its rule and weights
    /// over the image features) and the decision where people are in view.
    pub fn set_legal(
        &mut self,
        rule: ChildThreshold,
        child_weights: Vec<f32>,
        people: PeopleDecisionParams,
    ) {
        self.meta.child_threshold = Some(rule);
        self.meta.people_decision = Some(people);
        self.weights.child_w = Some(child_weights);
    }

    /// Records what the scorer was trained against (the encoders' sha256, as the manifest has
    /// them) and how (`training`: figures and settings, kept in `scorer.json`).
    pub fn set_provenance(
        &mut self,
        image_encoder_sha256: String,
        text_encoder_sha256: String,
        training: serde_json::Value,
    ) {
        self.meta.image_encoder_sha256 = image_encoder_sha256;
        self.meta.text_encoder_sha256 = text_encoder_sha256;
        self.meta.training = training;
    }

    pub fn new(meta: ScorerMeta, weights: ScorerWeights) -> Self {
        Self {
            meta,
            weights,
            path: PathBuf::from(WEIGHTS_FILE),
            everyday: OnceLock::new(),
        }
    }

    /// Loads `scorer.safetensors` and `scorer.json` from the models folder.
    pub fn load(models_dir: &Path) -> Result<Self, ModelError> {
        let path = models_dir.join(WEIGHTS_FILE);
        let meta_path = models_dir.join(META_FILE);
        let bytes = super::read_model(&path)?;
        let meta_text = std::fs::read_to_string(&meta_path).map_err(|source| ModelError::Read {
            path: meta_path.clone(),
            error: source,
        })?;
        let meta: ScorerMeta =
            serde_json::from_str(&meta_text).map_err(|e| ModelError::Invalid {
                path: meta_path.clone(),
                reason: e.to_string(),
            })?;
        let invalid = |reason: String| ModelError::Invalid {
            path: path.clone(),
            reason,
        };
        let st =
            safetensors::SafeTensors::deserialize(&bytes).map_err(|e| invalid(e.to_string()))?;
        let get = |name: &str, len: usize| -> Result<Vec<f32>, ModelError> {
            let t = st
                .tensor(name)
                .map_err(|e| invalid(format!("{name}: {e}")))?;
            if t.dtype() != safetensors::Dtype::F32 {
                return Err(invalid(format!(
                    "{name}: expected f32, found {:?}",
                    t.dtype()
                )));
            }
            let data: Vec<f32> = t
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            if data.len() != len {
                return Err(invalid(format!(
                    "{name}: {} values, expected {len}",
                    data.len()
                )));
            }
            Ok(data)
        };
        let d = meta.proj_dim * meta.members;
        let weights = ScorerWeights {
            img_mean: get(TENSORS[0], IMAGE_DIM)?,
            img_std: get(TENSORS[1], IMAGE_DIM)?,
            img_proj: get(TENSORS[2], d * IMAGE_DIM)?,
            img_bias: get(TENSORS[3], d)?,
            txt_proj: get(TENSORS[4], d * TEXT_DIM)?,
            txt_bias: get(TENSORS[5], d)?,
            class_text: get(TENSORS[6], super::image::NUM_CLASSES * TEXT_DIM)?,
            child_w: match meta.child_threshold {
                Some(_) => Some(get("child_w", IMAGE_DIM)?),
                None => None,
            },
            text_mean: if st.names().contains(&"text_mean") {
                Some(get("text_mean", TEXT_DIM)?)
            } else {
                None
            },
            query_bias: if st.names().contains(&"query_bias") {
                Some(get("query_bias", TEXT_DIM)?)
            } else {
                None
            },
        };
        Ok(Self {
            meta,
            weights,
            path,
            everyday: OnceLock::new(),
        })
    }

    /// Writes `scorer.safetensors` and `scorer.json` into `dir`.
    pub fn save(&self, dir: &Path) -> Result<(), ModelError> {
        let w = &self.weights;
        let d = self.tower_dim();
        let mut shapes: Vec<(&str, &Vec<f32>, Vec<usize>)> = vec![
            (TENSORS[0], &w.img_mean, vec![IMAGE_DIM]),
            (TENSORS[1], &w.img_std, vec![IMAGE_DIM]),
            (TENSORS[2], &w.img_proj, vec![d, IMAGE_DIM]),
            (TENSORS[3], &w.img_bias, vec![d]),
            (TENSORS[4], &w.txt_proj, vec![d, TEXT_DIM]),
            (TENSORS[5], &w.txt_bias, vec![d]),
            (
                TENSORS[6],
                &w.class_text,
                vec![super::image::NUM_CLASSES, TEXT_DIM],
            ),
        ];
        if let Some(cw) = &w.child_w {
            shapes.push(("child_w", cw, vec![cw.len()]));
        }
        if let Some(m) = &w.text_mean {
            shapes.push(("text_mean", m, vec![m.len()]));
        }
        if let Some(qb) = &w.query_bias {
            shapes.push(("query_bias", qb, vec![qb.len()]));
        }
        let bytes: Vec<(&str, Vec<u8>, Vec<usize>)> = shapes
            .iter()
            .map(|(n, v, s)| {
                (
                    *n,
                    v.iter().flat_map(|x| x.to_le_bytes()).collect(),
                    s.clone(),
                )
            })
            .collect();
        let views: Vec<(&str, safetensors::tensor::TensorView<'_>)> = bytes
            .iter()
            .map(|(n, b, s)| {
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                    .map(|v| (*n, v))
                    .map_err(|e| ModelError::Invalid {
                        path: dir.join(WEIGHTS_FILE),
                        reason: e.to_string(),
                    })
            })
            .collect::<Result<_, _>>()?;
        let write_err = |path: PathBuf, e: String| ModelError::Invalid { path, reason: e };
        let path = dir.join(WEIGHTS_FILE);
        safetensors::serialize_to_file(views, None, &path)
            .map_err(|e| write_err(path.clone(), e.to_string()))?;
        let meta_path = dir.join(META_FILE);
        let text = serde_json::to_string_pretty(&self.meta)
            .map_err(|e| write_err(meta_path.clone(), e.to_string()))?;
        std::fs::write(&meta_path, text + "\n")
            .map_err(|e| write_err(meta_path.clone(), e.to_string()))?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Length of a tower's output (all members).
    pub fn tower_dim(&self) -> usize {
        self.meta.proj_dim * self.meta.members
    }

    /// Length of the compact vectors ([`Self::image_vector`], [`Self::query_vector`]): the
    /// towers, the ConSE term, and one more for the query offset when the scorer has one.
    pub fn compact_dim(&self) -> usize {
        self.tower_dim() + TEXT_DIM + usize::from(self.weights.query_bias.is_some())
    }

    /// Normalises each member's block and scales it by 1/√members.
    fn blocks(&self, mut v: Vec<f32>) -> Vec<f32> {
        let scale = 1.0 / (self.meta.members as f32).sqrt();
        for block in v.chunks_mut(self.meta.proj_dim) {
            let n = dot(block, block).sqrt();
            if n > 0.0 {
                block.iter_mut().for_each(|x| *x *= scale / n);
            }
        }
        v
    }

    /// Standardised image features, as both the tower and the child detector see them.
    pub fn standardise(&self, features: &[f32]) -> Vec<f32> {
        let w = &self.weights;
        features
            .iter()
            .zip(&w.img_mean)
            .zip(&w.img_std)
            .map(|((f, m), s)| (f - m) / s)
            .collect()
    }

    /// What the child detector sees: the standardised features (the image tower's output is
    /// left out on purpose: it was fitted on the non-child training images only, so on those
    /// images it would tell seen from unseen rather than adult from child).
    pub fn child_features(&self, features: &[f32]) -> Vec<f32> {
        self.standardise(features)
    }

    /// Probability that an image depicts a child, when the detector is fitted.
    pub fn child_probability(&self, emb: &ImageEmbedding) -> Option<f32> {
        let (cw, p) = (self.weights.child_w.as_ref()?, self.meta.child_threshold?);
        Some(sigmoid(
            dot(cw, &self.child_features(&emb.features)) + p.bias,
        ))
    }

    /// The image tower's unit vector `u`.
    pub fn image_tower(&self, features: &[f32]) -> Vec<f32> {
        self.blocks(self.raw_tower(features))
    }

    /// The image tower's raw output `P_img·x + β_img` for standardised features `x`, before its
    /// member blocks are normalised.
    fn raw_tower(&self, features: &[f32]) -> Vec<f32> {
        let x = self.standardise(features);
        affine(&self.weights.img_proj, &self.weights.img_bias, &x)
    }

    /// The ConSE unit vector `w`: the class-name embeddings of the top-k classes (less the
    /// text mean, when the scorer has one), weighted by their renormalised probabilities.
    pub fn conse_vector(&self, top_classes: &[(u16, f32)]) -> Vec<f32> {
        let mut w = vec![0.0f32; TEXT_DIM];
        let top = &top_classes[..top_classes.len().min(self.meta.conse_top_k)];
        for &(class, p) in top {
            let row = &self.weights.class_text[usize::from(class) * TEXT_DIM..][..TEXT_DIM];
            for (acc, t) in w.iter_mut().zip(row) {
                *acc += p * t;
            }
            if let Some(m) = &self.weights.text_mean {
                for (acc, m) in w.iter_mut().zip(m) {
                    *acc -= p * m;
                }
            }
        }
        unit(w)
    }

    /// The query's side of the ConSE term: its text embedding less the text mean, as a unit
    /// vector (the embedding itself when the scorer has no mean).
    pub fn conse_text(&self, text_embedding: &[f32]) -> Vec<f32> {
        match &self.weights.text_mean {
            Some(m) => unit(text_embedding.iter().zip(m).map(|(y, m)| y - m).collect()),
            None => text_embedding.to_vec(),
        }
    }

    /// The compact image vector `z = [a·u ; c·w]`, and a last 1 that carries the query offset
    /// when the scorer has one.
    pub fn image_vector(&self, emb: &ImageEmbedding) -> Vec<f32> {
        self.image_vector_from_tower(self.raw_tower(&emb.features), &emb.top_classes)
    }

    /// The compact image vector from the image tower's raw output `P_img·x + β_img` (before its
    /// member blocks are normalised), for callers that compute that product for many images
    /// at once.
    pub fn image_vector_from_tower(&self, tower: Vec<f32>, top_classes: &[(u16, f32)]) -> Vec<f32> {
        let mut z: Vec<f32> = self.blocks(tower).iter().map(|v| v * self.meta.a).collect();
        z.extend(
            self.conse_vector(top_classes)
                .iter()
                .map(|v| v * self.meta.c),
        );
        if self.weights.query_bias.is_some() {
            z.push(1.0);
        }
        z
    }

    /// The compact query vector `q = [v ; y']` for a query embedding `y` (`y'`:
    /// [`Self::conse_text`]), and the query's offset `query_bias · y'` last when the scorer has
    /// one.
    pub fn query_vector(&self, text_embedding: &[f32]) -> Vec<f32> {
        let w = &self.weights;
        let mut q = self.blocks(affine(&w.txt_proj, &w.txt_bias, text_embedding));
        let y = self.conse_text(text_embedding);
        let offset = w.query_bias.as_ref().map(|qb| dot(qb, &y));
        q.extend(y);
        q.extend(offset);
        q
    }

    /// The scorer's compact image vectors ([`Scorer::image_vector`]) for many images at once, one
    /// matrix product instead of one per image. Row-major, `embeddings.len() × compact_dim`.
    pub fn image_vectors(&self, embeddings: &[&ImageEmbedding]) -> Array2<f32> {
        let n = embeddings.len();
        let w = &self.weights;
        let dt = self.tower_dim();
        let mut x = Array2::<f32>::zeros((n, IMAGE_DIM));
        for (mut row, e) in x.rows_mut().into_iter().zip(embeddings) {
            row.assign(&ArrayView1::from(&self.standardise(&e.features)));
        }
        let proj = ArrayView2::from_shape((dt, IMAGE_DIM), &w.img_proj).expect("img_proj shape");
        let t = x.dot(&proj.t()) + ArrayView1::from(&w.img_bias);
        let mut out = Array2::<f32>::zeros((n, self.compact_dim()));
        for ((mut o, ti), e) in out.rows_mut().into_iter().zip(t.rows()).zip(embeddings) {
            let z = self.image_vector_from_tower(ti.to_vec(), &e.top_classes);
            o.assign(&ArrayView1::from(&z));
        }
        out
    }

    /// The mean compact query vector of [`EVERYDAY_WORDS`], embedded by `text` (once per
    /// scorer; later calls return the first result). An image's logit for a text less its
    /// logit for this reference says how much more the image shows that text than it shows
    /// everyday things in general: the image's own leaning (some photos score higher on every
    /// text) and the text's offset cancel.
    pub fn everyday_query(&self, text: &TextEncoder) -> Result<&[f32], ModelError> {
        if let Some(v) = self.everyday.get() {
            return Ok(v);
        }
        let embeddings = text.encode(&EVERYDAY_WORDS)?;
        let mut mean = vec![0.0f32; self.compact_dim()];
        for y in &embeddings {
            let q = self.query_vector(y);
            mean.iter_mut().zip(&q).for_each(|(m, v)| *m += v);
        }
        let n = embeddings.len().max(1) as f32;
        mean.iter_mut().for_each(|m| *m /= n);
        Ok(self.everyday.get_or_init(|| mean))
    }

    /// Relevance in [0, 1] of a compact image vector to a compact query vector.
    pub fn score(&self, image_vector: &[f32], query_vector: &[f32]) -> f32 {
        sigmoid(dot(image_vector, query_vector) + self.meta.b)
    }
}

fn one() -> usize {
    1
}

pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `m · x + bias` for a row-major matrix `m` of `bias.len()` rows.
fn affine(m: &[f32], bias: &[f32], x: &[f32]) -> Vec<f32> {
    m.chunks_exact(x.len())
        .zip(bias)
        .map(|(row, b)| dot(row, x) + b)
        .collect()
}

/// Cosine similarity, accumulated in f64 (for comparing embeddings in tests and benchmarks).
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

/// Scales to unit length (a zero vector stays zero).
pub fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let n = dot(&v, &v).sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny(text_mean: Option<Vec<f32>>) -> Scorer {
        let d = 2;
        let mut class_text = vec![0.0f32; super::super::image::NUM_CLASSES * TEXT_DIM];
        class_text[0] = 1.0; // class 0 → e0
        class_text[TEXT_DIM + 1] = 1.0; // class 1 → e1
        Scorer::new(
            ScorerMeta::untrained(d, 2),
            ScorerWeights {
                img_mean: vec![0.0; IMAGE_DIM],
                img_std: vec![1.0; IMAGE_DIM],
                img_proj: (0..d * IMAGE_DIM).map(|i| (i % 7) as f32).collect(),
                img_bias: vec![0.0; d],
                txt_proj: (0..d * TEXT_DIM).map(|i| (i % 5) as f32).collect(),
                txt_bias: vec![0.0; d],
                class_text,
                child_w: None,
                text_mean,
                query_bias: None,
            },
        )
    }

    #[test]
    fn the_text_mean_comes_off_both_sides_of_the_conse_term() {
        let mut m = vec![0.0f32; TEXT_DIM];
        m[2] = 0.5;
        let s = tiny(Some(m));
        let mut y = vec![0.0f32; TEXT_DIM];
        y[0] = 0.6;
        y[2] = 0.8;
        let c = s.conse_text(&y);
        // y − m = 0.6·e0 + 0.3·e2, as a unit vector.
        let n = (0.36f32 + 0.09).sqrt();
        assert!((c[0] - 0.6 / n).abs() < 1e-6 && (c[2] - 0.3 / n).abs() < 1e-6);
        // class 0 alone: e0 − m, as a unit vector.
        let w = s.conse_vector(&[(0, 1.0)]);
        let n = (1.0f32 + 0.25).sqrt();
        assert!((w[0] - 1.0 / n).abs() < 1e-6 && (w[2] + 0.5 / n).abs() < 1e-6);
        // The query vector ends with the ConSE side.
        let q = s.query_vector(&y);
        assert_eq!(&q[q.len() - TEXT_DIM..], c.as_slice());
        // Without a mean, nothing is taken off.
        let plain = tiny(None);
        assert_eq!(plain.conse_text(&y), y);
    }

    #[test]
    fn the_query_offset_moves_a_querys_scores_alike_and_keeps_their_order() {
        let mut y = vec![0.0f32; TEXT_DIM];
        y[0] = 0.6;
        y[2] = 0.8;
        let images: Vec<ImageEmbedding> = (0..4)
            .map(|k| ImageEmbedding {
                features: (0..IMAGE_DIM)
                    .map(|i| ((i * (k + 3)) % 11) as f32)
                    .collect(),
                top_classes: vec![(k as u16 % 2, 0.7), (1 - k as u16 % 2, 0.3)],
            })
            .collect();
        let plain = tiny(None);
        let mut offset = tiny(None);
        let mut r = vec![0.0f32; TEXT_DIM];
        r[0] = 2.0;
        r[2] = -0.5;
        offset.weights.query_bias = Some(r.clone());
        assert_eq!(offset.compact_dim(), plain.compact_dim() + 1);
        let expected = dot(&r, &offset.conse_text(&y));
        assert!((expected - (2.0 * 0.6 - 0.5 * 0.8)).abs() < 1e-6);
        let (q0, q1) = (plain.query_vector(&y), offset.query_vector(&y));
        assert_eq!(q1.len(), offset.compact_dim());
        for e in &images {
            let (z0, z1) = (plain.image_vector(e), offset.image_vector(e));
            assert_eq!(z1.len(), offset.compact_dim());
            assert_eq!(*z1.last().unwrap(), 1.0);
            // The logit moves by exactly the query's offset.
            let (l0, l1) = (dot(&z0, &q0), dot(&z1, &q1));
            assert!((l1 - l0 - expected).abs() < 1e-4, "{l0} {l1} {expected}");
        }
        // Saved and loaded with the scorer.
        let dir = tempfile::tempdir().unwrap();
        offset.save(dir.path()).unwrap();
        assert_eq!(
            Scorer::load(dir.path()).unwrap().weights.query_bias,
            Some(r)
        );
    }

    #[test]
    fn the_text_mean_survives_save_and_load() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = vec![0.0f32; TEXT_DIM];
        m[3] = 0.25;
        tiny(Some(m.clone())).save(dir.path()).unwrap();
        assert_eq!(Scorer::load(dir.path()).unwrap().weights.text_mean, Some(m));
        tiny(None).save(dir.path()).unwrap();
        assert_eq!(Scorer::load(dir.path()).unwrap().weights.text_mean, None);
    }
}
