//! Annotations checked by hand: what the dataset knows about an (image, query) pair, the review
//! list (annotated pairs sorted by disagreement between the model and the annotators), and the
//! log of judgements a person records (`data/annotations.tsv`).
//!
//! The log has the columns of `ExpertAnnotations.tsv` that apply to one judge: image, query id
//! (or the query text when it is not a dataset caption), score on the experts' 1–4 scale. Lines
//! are appended with a single `write` on a file opened for appending and then fsynced, so a crash
//! can at worst leave the last line unfinished; such a torn line is set apart by a newline before
//! the next one is written, and earlier lines are never touched.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::dataset::{self, Dataset};
use crate::legal;

/// A judgement on the experts' scale.
pub const MIN_SCORE: u8 = 1;
pub const MAX_SCORE: u8 = 4;

#[derive(Debug, thiserror::Error)]
pub enum AnnotationError {
    #[error(
        "{}: cannot record the judgement: {error}",
        crate::display::escape_path(path)
    )]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("judgement {0} is outside the experts' scale 1–4")]
    Score(u8),
}

/// One judgement recorded by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    /// The image's file name when it is a dataset image, else its path.
    pub image: String,
    /// The dataset's query id when the query is a known caption, else the query text.
    pub query: String,
    pub score: u8,
}

/// Tabs and line breaks would break the TSV; they become spaces.
fn field(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

impl Judgement {
    /// The TSV line, newline included.
    pub fn line(&self) -> String {
        format!(
            "{}\t{}\t{}\n",
            field(&self.image),
            field(&self.query),
            self.score
        )
    }
}

/// Appends a judgement to the log at `path` (created if missing) and syncs it to disk.
pub fn append(path: &Path, judgement: &Judgement) -> Result<(), AnnotationError> {
    if !(MIN_SCORE..=MAX_SCORE).contains(&judgement.score) {
        return Err(AnnotationError::Score(judgement.score));
    }
    let err = |error| AnnotationError::Write {
        path: path.to_path_buf(),
        error,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(err)?;
    let len = file.metadata().map_err(err)?.len();
    let mut line = judgement.line();
    if len > 0 {
        // A line torn by a crash keeps its own line; the new one starts afresh.
        let mut last = [0u8];
        file.seek(SeekFrom::Start(len - 1)).map_err(err)?;
        file.read_exact(&mut last).map_err(err)?;
        if last[0] != b'\n' {
            line.insert(0, '\n');
        }
    }
    file.write_all(line.as_bytes()).map_err(err)?;
    file.sync_data().map_err(err)?;
    Ok(())
}

/// Reads the judgements recorded so far (unfinished or malformed lines are skipped).
pub fn read(path: &Path) -> Vec<Judgement> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| {
            let mut cols = l.split('\t');
            let (image, query, score) = (cols.next()?, cols.next()?, cols.next()?);
            let score: u8 = score.trim().parse().ok()?;
            (MIN_SCORE..=MAX_SCORE).contains(&score).then(|| Judgement {
                image: image.to_string(),
                query: query.to_string(),
                score,
            })
        })
        .collect()
}

/// Caption text as people type it: lower case, single spaces, no final full stop.
pub fn normalise_caption(s: &str) -> String {
    let words: Vec<String> = s.split_whitespace().map(str::to_lowercase).collect();
    words
        .join(" ")
        .trim_end_matches(['.', ' '])
        .trim_start()
        .to_string()
}

/// What the dataset says about one (image, query) pair.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PairDetails {
    /// The query's id when it is one of the dataset's captions.
    pub query_id: Option<String>,
    /// The three experts' scores (1–4).
    pub expert: Option<[u8; 3]>,
    /// Crowd votes: (matches, does not match).
    pub crowd: Option<(u32, u32)>,
    /// The combined 0–1 target, when either judgement exists.
    pub target: Option<f32>,
    /// The image's own captions (none that mention children).
    pub captions: Vec<String>,
}

/// The annotated dataset, indexed for lookups by image and query.
#[derive(Debug, Clone, Default)]
pub struct Knowledge {
    /// The dataset's image folders (absolute), to tell whether a file is a dataset image.
    pub folders: Vec<PathBuf>,
    /// The folder of the train images, whose pairs are annotated (as the dataset names it).
    pub train_images: PathBuf,
    /// Normalised caption → query id.
    query_ids: HashMap<String, String>,
    /// Query id → caption.
    pub caption_text: HashMap<String, String>,
    /// Image → its own captions.
    own_captions: HashMap<String, Vec<String>>,
    expert: HashMap<(String, String), [u8; 3]>,
    crowd: HashMap<(String, String), (u32, u32)>,
    targets: Vec<dataset::Target>,
}

impl Knowledge {
    pub fn new(ds: &Dataset) -> Self {
        let mut k = Knowledge {
            train_images: ds.train_images_dir(),
            folders: [ds.train_images_dir(), ds.test_images_dir()]
                .into_iter()
                .map(|d| std::fs::canonicalize(&d).unwrap_or(d))
                .collect(),
            ..Default::default()
        };
        let captions = ds
            .train
            .iter()
            .map(|p| (&p.query_id, &p.query_text))
            .chain(ds.test_queries.iter().map(|q| (&q.query_id, &q.query_text)));
        for (id, text) in captions {
            if k.caption_text.contains_key(id) {
                continue;
            }
            k.caption_text.insert(id.clone(), text.clone());
            k.query_ids.insert(normalise_caption(text), id.clone());
            if !legal::mentions_child(text) {
                k.own_captions
                    .entry(dataset::source_image(id).to_string())
                    .or_default()
                    .push(text.clone());
            }
        }
        for e in &ds.expert {
            k.expert
                .insert((e.image.clone(), e.query_id.clone()), e.scores);
        }
        for c in &ds.crowd {
            k.crowd
                .insert((c.image.clone(), c.query_id.clone()), (c.yes, c.no));
        }
        k.targets = ds.targets();
        k
    }

    /// The dataset's name for a file: its file name, when it lies in a dataset image folder.
    pub fn image_name(&self, path: &Path) -> Option<String> {
        let parent = path.parent()?;
        let parent = std::fs::canonicalize(parent).unwrap_or_else(|_| parent.to_path_buf());
        if !self.folders.contains(&parent) {
            return None;
        }
        Some(path.file_name()?.to_string_lossy().into_owned())
    }

    /// The query id of a caption, matched as people type it.
    pub fn query_id(&self, query: &str) -> Option<&str> {
        self.query_ids
            .get(&normalise_caption(query))
            .map(String::as_str)
    }

    /// The experts' scores and the crowd's votes (matches, does not match) for a pair.
    pub fn judgements(&self, image: &str, query_id: &str) -> (Option<[u8; 3]>, Option<(u32, u32)>) {
        let key = (image.to_string(), query_id.to_string());
        (
            self.expert.get(&key).copied(),
            self.crowd.get(&key).copied(),
        )
    }

    /// What is known about `query` and the dataset image `image`.
    pub fn details(&self, image: &str, query: &str) -> PairDetails {
        let query_id = self.query_id(query).map(str::to_string);
        let (expert, crowd) = query_id
            .as_deref()
            .map_or((None, None), |q| self.judgements(image, q));
        let share = crowd.and_then(|(y, n)| (y + n > 0).then(|| y as f32 / (y + n) as f32));
        PairDetails {
            target: dataset::target(expert, share),
            query_id,
            expert,
            crowd,
            captions: self.own_captions.get(image).cloned().unwrap_or_default(),
        }
    }

    /// The judgement record for a file and a query: dataset names where they exist.
    pub fn judgement(&self, path: &Path, query: &str, score: u8) -> Judgement {
        Judgement {
            image: self
                .image_name(path)
                .unwrap_or_else(|| path.to_string_lossy().into_owned()),
            query: self
                .query_id(query)
                .map_or_else(|| query.trim().to_string(), str::to_string),
            score,
        }
    }

    /// The annotated pairs the review may show: none whose caption mentions a child or whose
    /// image is the source of such a caption (the legal filter's training exclusion).
    pub fn reviewable(&self) -> Vec<&dataset::Target> {
        let excluded: std::collections::HashSet<&str> = self
            .caption_text
            .iter()
            .filter(|(_, text)| legal::mentions_child(text))
            .map(|(id, _)| dataset::source_image(id))
            .collect();
        self.targets
            .iter()
            .filter(|t| {
                !excluded.contains(t.image.as_str())
                    && self
                        .caption_text
                        .get(&t.query_id)
                        .is_some_and(|text| !legal::mentions_child(text))
            })
            .collect()
    }
}

/// One annotated pair in the review list.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewItem {
    pub image: String,
    pub path: PathBuf,
    pub query_id: String,
    pub caption: String,
    /// The annotators' combined 0–1 target.
    pub target: f32,
    /// The model's 0–1 score.
    pub model: f32,
    pub expert: Option<[u8; 3]>,
    pub crowd: Option<(u32, u32)>,
    /// The judgement recorded for it in this session (1–4), shown as a mark.
    pub judged: Option<u8>,
}

impl ReviewItem {
    pub fn disagreement(&self) -> f32 {
        (self.model - self.target).abs()
    }
}

/// Sorts review items worst first (largest disagreement), ties by image and query.
pub fn sort_for_review(items: &mut [ReviewItem]) {
    items.sort_by(|a, b| {
        b.disagreement()
            .total_cmp(&a.disagreement())
            .then_with(|| a.image.cmp(&b.image))
            .then_with(|| a.query_id.cmp(&b.query_id))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_keeps_earlier_lines_and_separates_a_torn_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/annotations.tsv");
        let j = |image: &str, score| Judgement {
            image: image.into(),
            query: "a dog\truns\n".into(),
            score,
        };
        append(&path, &j("a.jpg", 3)).unwrap();
        // A crash in the middle of a write leaves an unfinished line.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"b.jpg\tq").unwrap();
        drop(f);
        append(&path, &j("c.jpg", 1)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "a.jpg\ta dog runs \t3\nb.jpg\tq\nc.jpg\ta dog runs \t1\n"
        );
        let read = read(&path);
        assert_eq!(read.len(), 2);
        assert_eq!(read[1].image, "c.jpg");
        assert!(matches!(
            append(&path, &j("d.jpg", 5)),
            Err(AnnotationError::Score(5))
        ));
    }

    #[test]
    fn captions_match_as_typed() {
        assert_eq!(
            normalise_caption("  A dog  runs on the grass . "),
            "a dog runs on the grass"
        );
    }

    #[test]
    fn review_sorts_worst_first() {
        let item = |image: &str, model, target| ReviewItem {
            image: image.into(),
            path: PathBuf::from(image),
            query_id: "q".into(),
            caption: String::new(),
            target,
            model,
            expert: None,
            crowd: None,
            judged: None,
        };
        let mut items = vec![
            item("a", 0.5, 0.4),
            item("b", 0.9, 0.0),
            item("c", 0.1, 0.6),
        ];
        sort_for_review(&mut items);
        let order: Vec<_> = items.iter().map(|i| i.image.as_str()).collect();
        assert_eq!(order, ["b", "c", "a"]);
    }
}
