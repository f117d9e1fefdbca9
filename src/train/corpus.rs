//! Everything training and evaluation need, embedded once: image features (and their mirror
//! images) from the cache, caption and query embeddings, and the ImageNet class-name embeddings
//! for the ConSE term.

use std::collections::HashMap;
use std::path::Path;

use crate::cache::Cache;
use crate::dataset::Dataset;
use crate::index::{self, view_fingerprint, IndexError, IndexOptions, Progress};
use crate::model::{ImageEmbedding, ImageEncoder, ModelError, TextEncoder};

#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("{}: {reason}", crate::display::escape_path(path))]
    Data {
        path: std::path::PathBuf,
        reason: String,
    },
}

/// Embedded dataset.
pub struct Corpus {
    /// Train image name → encoder output.
    pub train: HashMap<String, ImageEmbedding>,
    /// Train image name → features of its mirror image (augmentation).
    pub train_flipped: HashMap<String, Vec<f32>>,
    /// Test image name → encoder output.
    pub test: HashMap<String, ImageEmbedding>,
    /// Query id → embedding, for every known caption and test query.
    pub text: HashMap<String, Vec<f32>>,
    /// Query id → embedding of its hand translation into Russian, for the test queries
    /// ([`crate::eval::translated::russian`], evaluation only) and the training captions
    /// ([`crate::eval::translated::russian_captions`], shown to the towers in training).
    pub translated: HashMap<String, Vec<f32>>,
    /// [1000 × 384] unit embeddings of "a photo of a <class>".
    pub class_text: Vec<f32>,
}

/// Text embedded for each ImageNet class.
pub fn class_prompt(name: &str) -> String {
    format!("a photo of a {name}")
}

/// Reads `imagenet_classes.txt` (one name per line, in index order).
pub fn class_names(models_dir: &Path) -> Result<Vec<String>, CorpusError> {
    let path = models_dir.join("imagenet_classes.txt");
    let text = std::fs::read_to_string(&path).map_err(|e| CorpusError::Data {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let names: Vec<String> = text.lines().map(|l| l.trim().to_string()).collect();
    if names.len() != crate::model::image::NUM_CLASSES {
        return Err(CorpusError::Data {
            path,
            reason: format!(
                "{} class names, expected {}",
                names.len(),
                crate::model::image::NUM_CLASSES
            ),
        });
    }
    Ok(names)
}

/// Embeds texts one at a time, as queries are embedded at search time (a text embedded in a
/// batch differs from it alone by float rounding, about 3·10⁻⁸; one at a time keeps training
/// exactly reproducible against the committed figures).
pub fn embed_texts(encoder: &TextEncoder, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
    texts.iter().map(|t| encoder.encode_one(t)).collect()
}

/// Indexes `dir` (one view, without the legal check) and returns name → record for `names`.
pub fn embed_folder(
    dir: &Path,
    names: &[&str],
    flip: bool,
    cache: &Cache,
    encoder: &ImageEncoder,
    on_progress: &mut dyn FnMut(Progress),
) -> Result<HashMap<String, ImageEmbedding>, CorpusError> {
    let options = IndexOptions {
        flip,
        ..IndexOptions::default()
    };
    let report = index::index_dir(dir, cache, encoder, None, &options, on_progress)?;
    if let Some(f) = report.failures.first() {
        return Err(CorpusError::Data {
            path: f.path.clone(),
            reason: f.reason.clone(),
        });
    }
    let fp = view_fingerprint(encoder, flip);
    let root = std::path::absolute(dir).map_err(|e| CorpusError::Data {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    })?;
    names
        .iter()
        .map(|name| {
            let path = root.join(name);
            let record = cache
                .file(&path)
                .and_then(|entry| cache.embedding(&fp, &entry.hash))
                .ok_or_else(|| CorpusError::Data {
                    path: path.clone(),
                    reason: "not in the cache after indexing".into(),
                })?;
            Ok((name.to_string(), record.embedding))
        })
        .collect()
}

/// Embeds the whole dataset (cached images are not encoded again).
pub fn build(
    ds: &Dataset,
    cache: &Cache,
    image_encoder: &ImageEncoder,
    text_encoder: &TextEncoder,
    models_dir: &Path,
    on_progress: &mut dyn FnMut(&str, Progress),
) -> Result<Corpus, CorpusError> {
    let mut train_names: Vec<&str> = ds.train.iter().map(|p| p.image.as_str()).collect();
    train_names.extend(
        ds.train
            .iter()
            .map(|p| crate::dataset::source_image(&p.query_id)),
    );
    train_names.extend(ds.crowd.iter().map(|p| p.image.as_str()));
    train_names.sort_unstable();
    train_names.dedup();
    let test_names: Vec<&str> = ds.test_images.iter().map(String::as_str).collect();

    let train = embed_folder(
        &ds.train_images_dir(),
        &train_names,
        false,
        cache,
        image_encoder,
        &mut |p| on_progress("train images", p),
    )?;
    let train_flipped = embed_folder(
        &ds.train_images_dir(),
        &train_names,
        true,
        cache,
        image_encoder,
        &mut |p| on_progress("train images (mirrored)", p),
    )?
    .into_iter()
    .map(|(k, v)| (k, v.features))
    .collect();
    let test = embed_folder(
        &ds.test_images_dir(),
        &test_names,
        false,
        cache,
        image_encoder,
        &mut |p| on_progress("test images", p),
    )?;

    let mut texts: Vec<(&str, &str)> = ds
        .train
        .iter()
        .map(|p| (p.query_id.as_str(), p.query_text.as_str()))
        .chain(
            ds.test_queries
                .iter()
                .map(|q| (q.query_id.as_str(), q.query_text.as_str())),
        )
        .collect();
    texts.sort_unstable();
    texts.dedup();
    let embedded = embed_texts(text_encoder, &texts.iter().map(|t| t.1).collect::<Vec<_>>())?;
    let text = texts
        .iter()
        .map(|t| t.0.to_string())
        .zip(embedded)
        .collect();

    let mut russian = crate::eval::translated::russian();
    russian.extend(crate::eval::translated::russian_captions());
    let embedded = embed_texts(
        text_encoder,
        &russian.iter().map(|t| t.text.as_str()).collect::<Vec<_>>(),
    )?;
    let translated = russian
        .into_iter()
        .map(|t| t.query_id)
        .zip(embedded)
        .collect();

    let prompts: Vec<String> = class_names(models_dir)?
        .iter()
        .map(|n| class_prompt(n))
        .collect();
    let class_text = embed_texts(
        text_encoder,
        &prompts.iter().map(String::as_str).collect::<Vec<_>>(),
    )?
    .concat();
    Ok(Corpus {
        train,
        train_flipped,
        test,
        text,
        translated,
        class_text,
    })
}
