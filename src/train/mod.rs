//! `picseek train`: fits the relevance scorer ([`crate::model::scorer`]) on the annotated dataset.
//!
//! Two signals, one model:
//! - caption pairs (each caption with its source image, plus crowd pairs with unanimous "yes"
//!   and expert pairs all judged ≥ 3) train the towers contrastively: symmetric InfoNCE with a
//!   learned temperature;
//! - the graded annotation target (0.6 · expert + 0.4 · crowd) trains the calibrated score
//!   `sigmoid(a·cos + c·conse + b)` by least squares.
//!
//! Images are standardised, mirrored at random and dropped out heavily (0.5) at the input; the
//! towers are linear (deeper ones overfit this little data). Training stops early on the
//! validation images' caption-retrieval MRR. Pairs about children and every image that is the
//! source of such a caption are kept out (see [`crate::legal::exclude_child_pairs`]).
//! All randomness comes from one seeded generator, so a run is repeatable.
//!
//! The parts: `corpus` (everything embedded once), `calibrate` (the ConSE weight and the
//! calibration, fitted on the validation images), `child` (the legal filter's child detector),
//! `people` (its decision where people are in view).

mod calibrate;
mod child;
pub mod corpus;
pub mod people;

use std::collections::{BTreeSet, HashMap, HashSet};

use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

pub use child::{fit_child_detector, ChildDetectorFit, CHILD_RECALL};
pub use corpus::Corpus;
pub use people::{fit_people_decision, PeopleDecisionFit};

use crate::dataset::{self, Dataset};
use crate::legal::{self, Exclusion};
use crate::model::image::IMAGE_DIM;
use crate::model::scorer::{self, Scorer, ScorerMeta, ScorerWeights};
use crate::model::text::TEXT_DIM;

use calibrate::{calibrate, choose_conse_weight};

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("training failed: {0}")]
    Candle(#[from] candle_core::Error),
    #[error("no training data left: {0}")]
    NoData(String),
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    pub seed: u64,
    pub proj_dim: usize,
    /// Towers trained with different seeds and averaged (see [`ScorerMeta::members`]).
    pub members: usize,
    pub max_epochs: usize,
    pub patience: usize,
    pub batch: usize,
    pub regression_batch: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub input_dropout: f32,
    /// Weight of the least-squares term against the contrastive one.
    pub regression_weight: f64,
    pub conse_top_k: usize,
    /// Shares of the allowed training images held out for early stopping and for the report.
    pub val_share: f64,
    pub holdout_share: f64,
    /// Chance that a training caption with a hand translation into Russian
    /// (`src/train/captions_ru.tsv`) is shown to the towers in Russian, so that they learn to
    /// read both languages (0 in models trained before there were translations).
    #[serde(default)]
    pub translated_share: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            seed: 20261129,
            proj_dim: 256,
            members: 5,
            max_epochs: 80,
            patience: 10,
            batch: 128,
            regression_batch: 256,
            lr: 1e-3,
            weight_decay: 1e-2,
            input_dropout: 0.5,
            regression_weight: 20.0,
            conse_top_k: 10,
            val_share: 0.15,
            holdout_share: 0.15,
            translated_share: 0.5,
        }
    }
}

/// Which split an allowed training image belongs to (grouped by image, fixed by the seed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Train,
    Val,
    Holdout,
}

/// The legal exclusion and the split of the remaining images.
pub struct Split {
    pub exclusion: Exclusion,
    pub part: HashMap<String, Part>,
}

impl Split {
    pub fn new(ds: &Dataset, images: impl IntoIterator<Item = String>, cfg: &TrainConfig) -> Self {
        let exclusion = legal::exclude_child_pairs(
            ds.train
                .iter()
                .map(|p| (p.image.as_str(), p.query_id.as_str(), p.query_text.as_str())),
        );
        let mut allowed: Vec<String> = images
            .into_iter()
            .filter(|i| !exclusion.blocked_images.contains(i))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        allowed.shuffle(&mut rng);
        let n = allowed.len() as f64;
        let n_val = (n * cfg.val_share).round() as usize;
        let n_hold = (n * cfg.holdout_share).round() as usize;
        let part = allowed
            .into_iter()
            .enumerate()
            .map(|(i, name)| {
                let p = if i < n_hold {
                    Part::Holdout
                } else if i < n_hold + n_val {
                    Part::Val
                } else {
                    Part::Train
                };
                (name, p)
            })
            .collect();
        Self { exclusion, part }
    }

    pub fn of(&self, image: &str) -> Option<Part> {
        self.part.get(image).copied()
    }
}

/// One graded (image, query) pair.
#[derive(Debug, Clone)]
pub struct Graded {
    pub image: String,
    pub query_id: String,
    pub target: f32,
    pub expert_mean_raw: Option<f32>,
}

/// Annotated pairs with a known caption, not excluded, in the given part.
pub fn graded_pairs(ds: &Dataset, split: &Split, part: Part) -> Vec<Graded> {
    let captions = ds.train_captions();
    ds.targets()
        .into_iter()
        .filter(|t| split.of(&t.image) == Some(part))
        .filter_map(|t| {
            let text = captions.get(&t.query_id)?;
            split
                .exclusion
                .keeps(&t.image, &t.query_id, text)
                .then(|| Graded {
                    image: t.image.clone(),
                    query_id: t.query_id.clone(),
                    target: t.value,
                    expert_mean_raw: t.expert_mean_raw,
                })
        })
        .collect()
}

/// Matching (image, query id) pairs for the contrastive loss, in the given part.
pub fn positive_pairs(ds: &Dataset, split: &Split, part: Part) -> Vec<(String, String)> {
    let captions = ds.train_captions();
    let keeps = |image: &str, qid: &str| {
        split.of(image) == Some(part)
            && captions
                .get(qid)
                .is_some_and(|text| split.exclusion.keeps(image, qid, text))
    };
    let mut out: BTreeSet<(String, String)> = BTreeSet::new();
    for qid in captions.keys() {
        let src = dataset::source_image(qid);
        if keeps(src, qid) {
            out.insert((src.to_string(), qid.clone()));
        }
    }
    for r in &ds.crowd {
        if r.share >= 1.0 && r.yes >= 3 && keeps(&r.image, &r.query_id) {
            out.insert((r.image.clone(), r.query_id.clone()));
        }
    }
    for r in &ds.expert {
        if r.scores.iter().all(|&s| s >= 3) && keeps(&r.image, &r.query_id) {
            out.insert((r.image.clone(), r.query_id.clone()));
        }
    }
    out.into_iter().collect()
}

/// What a training run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TrainSummary {
    pub config: TrainConfig,
    pub pairs_kept: usize,
    pub pairs_total: usize,
    pub images_kept: usize,
    pub images_total: usize,
    pub positives: usize,
    pub graded: usize,
    pub epochs_run: usize,
    pub best_epoch: usize,
    pub best_val_mrr: f64,
    /// The query offset's ridge penalty (`None`: no offset), chosen by cross-validation over
    /// folds of whole validation queries, and each candidate's cross-validated RMSE.
    pub query_offset_ridge: Option<f64>,
    pub query_offset_cv: Vec<(Option<f64>, f64)>,
}

struct Params {
    p_img: Var,
    b_img: Var,
    p_txt: Var,
    b_txt: Var,
    log_t: Var,
    a: Var,
    b: Var,
    c: Var,
}

impl Params {
    fn vars(&self) -> Vec<Var> {
        vec![
            self.p_img.clone(),
            self.b_img.clone(),
            self.p_txt.clone(),
            self.b_txt.clone(),
            self.log_t.clone(),
            self.a.clone(),
            self.b.clone(),
            self.c.clone(),
        ]
    }
}

fn l2_rows(t: &Tensor) -> candle_core::Result<Tensor> {
    let n = t
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .affine(1.0, 1e-12)?
        .sqrt()?;
    t.broadcast_div(&n)
}

fn scalar(v: &Var) -> candle_core::Result<f32> {
    v.as_tensor().flatten_all()?.to_vec1::<f32>().map(|v| v[0])
}

/// Trains a scorer. `log` receives one line per epoch.
pub fn train(
    ds: &Dataset,
    corpus: &Corpus,
    cfg: &TrainConfig,
    log: &mut dyn FnMut(&str),
) -> Result<(Scorer, TrainSummary), TrainError> {
    let dev = Device::Cpu;
    let split = Split::new(ds, corpus.train.keys().cloned(), cfg);
    let positives = positive_pairs(ds, &split, Part::Train);
    let graded = graded_pairs(ds, &split, Part::Train);
    let val_pairs = positive_pairs(ds, &split, Part::Val)
        .into_iter()
        .filter(|(img, qid)| dataset::source_image(qid) == img)
        .collect::<Vec<_>>();
    if positives.is_empty() || graded.is_empty() || val_pairs.is_empty() {
        return Err(TrainError::NoData(format!(
            "{} positives, {} graded pairs, {} validation captions",
            positives.len(),
            graded.len(),
            val_pairs.len()
        )));
    }
    log(&format!(
        "legal exclusion: {} of {} pairs and {} of {} images kept; training on {} positive pairs and {} graded pairs",
        split.exclusion.pairs_kept,
        split.exclusion.pairs_total,
        split.exclusion.images_kept,
        split.exclusion.images_total,
        positives.len(),
        graded.len()
    ));

    // Standardisation over the training part's images.
    let train_images: Vec<&String> = {
        let mut v: Vec<&String> = split
            .part
            .iter()
            .filter(|(_, p)| **p == Part::Train)
            .map(|(k, _)| k)
            .collect();
        v.sort();
        v
    };
    let mut mean = vec![0f64; IMAGE_DIM];
    let mut sq = vec![0f64; IMAGE_DIM];
    for name in &train_images {
        for (i, &v) in corpus.train[*name].features.iter().enumerate() {
            mean[i] += f64::from(v);
            sq[i] += f64::from(v) * f64::from(v);
        }
    }
    let n = train_images.len() as f64;
    let img_mean: Vec<f32> = mean.iter().map(|m| (m / n) as f32).collect();
    let img_std: Vec<f32> = mean
        .iter()
        .zip(&sq)
        .map(|(m, s)| ((s / n - (m / n).powi(2)).max(0.0).sqrt() as f32).max(1e-3))
        .collect();

    // The mean text embedding of the training captions (both languages), taken off the ConSE
    // term's two sides.
    let mut text_sum = vec![0f64; TEXT_DIM];
    let mut texts = 0usize;
    let mut caption_ids: Vec<&str> = ds.train.iter().map(|p| p.query_id.as_str()).collect();
    caption_ids.sort_unstable();
    caption_ids.dedup();
    for qid in caption_ids {
        for y in [corpus.text.get(qid), corpus.translated.get(qid)]
            .into_iter()
            .flatten()
        {
            for (acc, v) in text_sum.iter_mut().zip(y) {
                *acc += f64::from(*v);
            }
            texts += 1;
        }
    }
    let text_mean: Vec<f32> = text_sum
        .iter()
        .map(|s| (s / texts.max(1) as f64) as f32)
        .collect();

    // A provisional scorer holds the class-name embeddings for ConSE vectors.
    let d = cfg.proj_dim;
    let mut draft = Scorer::new(
        ScorerMeta::untrained(d, cfg.conse_top_k),
        ScorerWeights {
            img_mean: img_mean.clone(),
            img_std: img_std.clone(),
            img_proj: vec![0.0; d * IMAGE_DIM],
            img_bias: vec![0.0; d],
            txt_proj: vec![0.0; d * TEXT_DIM],
            txt_bias: vec![0.0; d],
            class_text: corpus.class_text.clone(),
            child_w: None,
            text_mean: Some(text_mean.clone()),
            query_bias: None,
        },
    );
    let conse: HashMap<&str, Vec<f32>> = corpus
        .train
        .iter()
        .map(|(k, e)| (k.as_str(), draft.conse_vector(&e.top_classes)))
        .collect();

    let mut members = Vec::new();
    for member in 0..cfg.members.max(1) {
        let mut rng = StdRng::seed_from_u64(cfg.seed.wrapping_add(member as u64 + 1));
        let normal = |fan_in: usize, len: usize, rng: &mut StdRng| -> Vec<f32> {
            let dist = Normal::new(0.0f32, (1.0 / fan_in as f32).sqrt()).expect("valid normal");
            (0..len).map(|_| dist.sample(rng)).collect()
        };
        let params = Params {
            p_img: Var::from_vec(
                normal(IMAGE_DIM, d * IMAGE_DIM, &mut rng),
                (d, IMAGE_DIM),
                &dev,
            )?,
            b_img: Var::zeros(d, DType::F32, &dev)?,
            p_txt: Var::from_vec(
                normal(TEXT_DIM, d * TEXT_DIM, &mut rng),
                (d, TEXT_DIM),
                &dev,
            )?,
            b_txt: Var::zeros(d, DType::F32, &dev)?,
            log_t: Var::from_vec(vec![(1.0f32 / 0.07).ln()], 1, &dev)?,
            a: Var::from_vec(vec![5.0f32], 1, &dev)?,
            b: Var::from_vec(vec![-3.0f32], 1, &dev)?,
            c: Var::from_vec(vec![1.0f32], 1, &dev)?,
        };
        // The towers learn slowly; the few scalars (temperature, calibration) need a faster rate.
        let mut opt_towers = AdamW::new(
            vec![
                params.p_img.clone(),
                params.b_img.clone(),
                params.p_txt.clone(),
                params.b_txt.clone(),
            ],
            ParamsAdamW {
                lr: cfg.lr,
                weight_decay: cfg.weight_decay,
                ..ParamsAdamW::default()
            },
        )?;
        let mut opt_scalars = AdamW::new(
            vec![
                params.log_t.clone(),
                params.a.clone(),
                params.b.clone(),
                params.c.clone(),
            ],
            ParamsAdamW {
                lr: cfg.lr * 10.0,
                weight_decay: 0.0,
                ..ParamsAdamW::default()
            },
        )?;

        // Builds a standardised, augmented image batch.
        let image_batch =
            |names: &[&str], rng: &mut StdRng, train: bool| -> candle_core::Result<Tensor> {
                let mut buf = Vec::with_capacity(names.len() * IMAGE_DIM);
                let keep = 1.0 - cfg.input_dropout;
                for name in names {
                    let feats = if train && rng.random_bool(0.5) {
                        &corpus.train_flipped[*name]
                    } else {
                        &corpus.train[*name].features
                    };
                    for (i, &v) in feats.iter().enumerate() {
                        let x = (v - img_mean[i]) / img_std[i];
                        buf.push(if !train {
                            x
                        } else if rng.random::<f32>() < keep {
                            x / keep
                        } else {
                            0.0
                        });
                    }
                }
                Tensor::from_vec(buf, (names.len(), IMAGE_DIM), &dev)
            };
        // A caption's embedding in English or, with `translated_share`, in Russian.
        let pick = |qid: &str, rng: &mut StdRng| -> &Vec<f32> {
            match corpus.translated.get(qid) {
                Some(t) if cfg.translated_share > 0.0 && rng.random_bool(cfg.translated_share) => t,
                _ => &corpus.text[qid],
            }
        };
        let text_batch = |ys: &[&Vec<f32>]| -> candle_core::Result<Tensor> {
            let buf: Vec<f32> = ys.iter().flat_map(|y| y.iter().copied()).collect();
            Tensor::from_vec(buf, (ys.len(), TEXT_DIM), &dev)
        };
        let towers = |x: &Tensor, y: &Tensor| -> candle_core::Result<(Tensor, Tensor)> {
            let u = l2_rows(
                &x.matmul(&params.p_img.t()?)?
                    .broadcast_add(params.b_img.as_tensor())?,
            )?;
            let v = l2_rows(
                &y.matmul(&params.p_txt.t()?)?
                    .broadcast_add(params.b_txt.as_tensor())?,
            )?;
            Ok((u, v))
        };

        let mut best: Option<(f64, usize, Vec<Tensor>)> = None;
        let mut epochs_run = 0;
        let mut order: Vec<usize> = (0..positives.len()).collect();
        for epoch in 1..=cfg.max_epochs {
            epochs_run = epoch;
            order.shuffle(&mut rng);
            let mut total = 0.0;
            let mut steps = 0;
            for chunk in order.chunks(cfg.batch) {
                if chunk.len() < 2 {
                    continue;
                }
                let imgs: Vec<&str> = chunk.iter().map(|&i| positives[i].0.as_str()).collect();
                let qids: Vec<&str> = chunk.iter().map(|&i| positives[i].1.as_str()).collect();
                let x = image_batch(&imgs, &mut rng, true)?;
                let ys: Vec<&Vec<f32>> = qids.iter().map(|q| pick(q, &mut rng)).collect();
                let (u, v) = towers(&x, &text_batch(&ys)?)?;
                let logits = u.matmul(&v.t()?)?.broadcast_mul(&params.log_t.exp()?)?;
                let labels = Tensor::arange(0u32, chunk.len() as u32, &dev)?;
                let contrastive = ((candle_nn::loss::cross_entropy(&logits, &labels)?
                    + candle_nn::loss::cross_entropy(&logits.t()?, &labels)?)?
                    * 0.5)?;

                let rows: Vec<&Graded> = (0..cfg.regression_batch)
                    .map(|_| &graded[rng.random_range(0..graded.len())])
                    .collect();
                let r_imgs: Vec<&str> = rows.iter().map(|g| g.image.as_str()).collect();
                let r_qids: Vec<&str> = rows.iter().map(|g| g.query_id.as_str()).collect();
                let r_x = image_batch(&r_imgs, &mut rng, true)?;
                let r_ys: Vec<&Vec<f32>> = r_qids.iter().map(|q| pick(q, &mut rng)).collect();
                let (ru, rv) = towers(&r_x, &text_batch(&r_ys)?)?;
                let cos = (ru * rv)?.sum(D::Minus1)?;
                let conse_vals: Vec<f32> = rows
                    .iter()
                    .zip(&r_ys)
                    .map(|(g, y)| scorer::dot(&conse[g.image.as_str()], &draft.conse_text(y)))
                    .collect();
                let conse_t = Tensor::from_vec(conse_vals, rows.len(), &dev)?;
                let targets = Tensor::from_vec(
                    rows.iter().map(|g| g.target).collect::<Vec<_>>(),
                    rows.len(),
                    &dev,
                )?;
                let logit = cos
                    .broadcast_mul(params.a.as_tensor())?
                    .add(&conse_t.broadcast_mul(params.c.as_tensor())?)?
                    .broadcast_add(params.b.as_tensor())?;
                let pred = candle_nn::ops::sigmoid(&logit)?;
                let mse = (pred - targets)?.sqr()?.mean_all()?;
                let loss = (contrastive + (mse * cfg.regression_weight)?)?;
                let grads = loss.backward()?;
                opt_towers.step(&grads)?;
                opt_scalars.step(&grads)?;
                total += f64::from(loss.to_scalar::<f32>()?);
                steps += 1;
            }
            let candidate = export(&params, &img_mean, &img_std, &text_mean, corpus, cfg)?;
            let val_mrr = caption_mrr(&candidate, corpus, &val_pairs);
            log(&format!(
            "member {} epoch {epoch:>3}: loss {:.4}, validation MRR {val_mrr:.4}, a {:.2} c {:.2} b {:.2} temperature {:.3}",
            member + 1,
            total / f64::from(steps.max(1)),
            candidate.meta.a,
            candidate.meta.c,
            candidate.meta.b,
            1.0 / scalar(&params.log_t)?.exp()
        ));
            let improved = best.as_ref().is_none_or(|b| val_mrr > b.0);
            if improved {
                let snapshot = params
                    .vars()
                    .iter()
                    .map(|v| v.as_tensor().copy())
                    .collect::<candle_core::Result<Vec<_>>>()?;
                best = Some((val_mrr, epoch, snapshot));
            } else if best.as_ref().is_some_and(|b| epoch - b.1 >= cfg.patience) {
                break;
            }
        }
        let (best_val_mrr, best_epoch, snapshot) = best.expect("at least one epoch");
        for (var, t) in params.vars().iter().zip(&snapshot) {
            var.set(t)?;
        }
        members.push((
            export(&params, &img_mean, &img_std, &text_mean, corpus, cfg)?,
            best_epoch,
            epochs_run,
            best_val_mrr,
        ));
    }
    let best_epoch = members.iter().map(|m| m.1).max().unwrap_or(0);
    let epochs_run = members.iter().map(|m| m.2).max().unwrap_or(0);
    let best_val_mrr = members.iter().map(|m| m.3).sum::<f64>() / members.len() as f64;
    draft = stack(members.into_iter().map(|m| m.0).collect());
    let ensemble_mrr = caption_mrr(&draft, corpus, &val_pairs);
    log(&format!(
        "{} members: validation MRR {best_val_mrr:.4} each on average, {ensemble_mrr:.4} together",
        draft.meta.members
    ));
    let (conse_weight, val_mrr_mixed) = choose_conse_weight(&draft, corpus, &val_pairs);
    // Calibrate on the validation images: the towers were fitted to the training pairs, so their
    // similarities there are optimistic.
    let val_graded = graded_pairs(ds, &split, Part::Val);
    let cal = calibrate(&draft, corpus, &val_graded, conse_weight, &conse);
    let (a, b) = (cal.a, cal.b);
    draft.meta.a = a;
    draft.meta.b = b;
    draft.meta.c = a * conse_weight;
    draft.weights.query_bias = cal.query_bias;
    log(&format!(
        "best epoch {best_epoch}: validation MRR {best_val_mrr:.4}; ConSE weight {conse_weight:.2} gives {val_mrr_mixed:.4}; calibrated a {a:.3} b {b:.3}; query offset ridge {:?} (cross-validated RMSE by ridge: {})",
        cal.ridge,
        cal.cv_rmse
            .iter()
            .map(|(r, e)| format!("{r:?} {e:.4}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let summary = TrainSummary {
        config: cfg.clone(),
        pairs_kept: split.exclusion.pairs_kept,
        pairs_total: split.exclusion.pairs_total,
        images_kept: split.exclusion.images_kept,
        images_total: split.exclusion.images_total,
        positives: positives.len(),
        graded: graded.len(),
        epochs_run,
        best_epoch,
        best_val_mrr,
        query_offset_ridge: cal.ridge,
        query_offset_cv: cal.cv_rmse.clone(),
    };
    Ok((draft, summary))
}

/// Joins single-member scorers (same standardisation) into one ensemble.
fn stack(members: Vec<Scorer>) -> Scorer {
    let mut it = members.into_iter();
    let mut out = it.next().expect("at least one member");
    for m in it {
        out.weights.img_proj.extend(m.weights.img_proj);
        out.weights.img_bias.extend(m.weights.img_bias);
        out.weights.txt_proj.extend(m.weights.txt_proj);
        out.weights.txt_bias.extend(m.weights.txt_bias);
        out.meta.members += 1;
    }
    out
}

/// The current parameters as a [`Scorer`].
fn export(
    p: &Params,
    img_mean: &[f32],
    img_std: &[f32],
    text_mean: &[f32],
    corpus: &Corpus,
    cfg: &TrainConfig,
) -> candle_core::Result<Scorer> {
    let flat = |v: &Var| v.as_tensor().flatten_all()?.to_vec1::<f32>();
    Ok(Scorer::new(
        ScorerMeta {
            a: scalar(&p.a)?,
            b: scalar(&p.b)?,
            c: scalar(&p.c)?,
            ..ScorerMeta::untrained(cfg.proj_dim, cfg.conse_top_k)
        },
        ScorerWeights {
            img_mean: img_mean.to_vec(),
            img_std: img_std.to_vec(),
            img_proj: flat(&p.p_img)?,
            img_bias: flat(&p.b_img)?,
            txt_proj: flat(&p.p_txt)?,
            txt_bias: flat(&p.b_txt)?,
            class_text: corpus.class_text.clone(),
            child_w: None,
            text_mean: Some(text_mean.to_vec()),
            query_bias: None,
        },
    ))
}

/// Caption → image retrieval MRR among the images of `pairs`, each caption's own image being
/// the relevant one.
pub fn caption_mrr(scorer: &Scorer, corpus: &Corpus, pairs: &[(String, String)]) -> f64 {
    let images: Vec<&str> = pairs
        .iter()
        .map(|p| p.0.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let index: HashMap<&str, usize> = images.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let vectors: Vec<Vec<f32>> = images
        .iter()
        .map(|n| scorer.image_vector(&corpus.train[*n]))
        .collect();
    let mut seen = HashSet::new();
    let mut total = 0.0;
    let mut count = 0;
    for (img, qid) in pairs {
        if !seen.insert(qid) {
            continue;
        }
        let q = scorer.query_vector(&corpus.text[qid]);
        let scores: Vec<f32> = vectors.iter().map(|z| scorer::dot(z, &q)).collect();
        let own = scores[index[img.as_str()]];
        let rank = 1 + scores.iter().filter(|&&s| s > own).count();
        total += 1.0 / rank as f64;
        count += 1;
    }
    if count == 0 {
        0.0
    } else {
        total / f64::from(count)
    }
}
