//! The Flickr demo dataset: training pairs, crowd and expert annotations,
//! test queries and test images, plus the relevance target of the study.
//!
//! Layout of the dataset folder (see [`load`]):
//!
//! | file                    | format                                                        |
//! |-------------------------|---------------------------------------------------------------|
//! | `train_dataset.csv`     | `,` with header `image,query_id,query_text`                   |
//! | `CrowdAnnotations.tsv`  | tab, no header: image, query_id, share, yes, no               |
//! | `ExpertAnnotations.tsv` | tab, no header: image, query_id, expert1, expert2, expert3    |
//! | `test_queries.csv`      | `\|` with header `\|query_id\|query_text\|image` (index first) |
//! | `test_images.csv`       | `,` with header `image`                                       |
//! | `train_images/`         | the training JPEGs                                            |
//! | `test_images/`          | the test JPEGs                                                |
//!
//! A `query_id` is `<source image>#<n>`: caption number `n` of the source image.
//!
//! Every malformed input gives a one-line [`DatasetError`] naming the file,
//! the line and what is wrong; nothing here panics on bad input.
//!
//! The tables are read and checked in `read`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod read;

use read::{read_crowd, read_expert, read_test_images, read_test_queries, read_train};

/// Training (image, caption) pairs.
pub const TRAIN_CSV: &str = "train_dataset.csv";
/// Crowd annotations (no header, tab-separated).
pub const CROWD_TSV: &str = "CrowdAnnotations.tsv";
/// Expert annotations (no header, tab-separated).
pub const EXPERT_TSV: &str = "ExpertAnnotations.tsv";
/// Test queries (`|`-separated, unnamed index column first).
pub const TEST_QUERIES_CSV: &str = "test_queries.csv";
/// Test image names.
pub const TEST_IMAGES_CSV: &str = "test_images.csv";
/// Folder of the training images.
pub const TRAIN_IMAGES_DIR: &str = "train_images";
/// Folder of the test images.
pub const TEST_IMAGES_DIR: &str = "test_images";

/// Weight of the expert part in [`target`] when both signals exist.
pub const EXPERT_WEIGHT: f32 = 0.6;
/// Weight of the crowd share in [`target`] when both signals exist.
pub const CROWD_WEIGHT: f32 = 0.4;

/// One row of `train_dataset.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainPair {
    pub image: String,
    pub query_id: String,
    pub query_text: String,
}

/// One row of `CrowdAnnotations.tsv`.
#[derive(Debug, Clone, PartialEq)]
pub struct CrowdRow {
    pub image: String,
    pub query_id: String,
    /// Share of crowd workers who said the image matches the caption, in 0..=1.
    pub share: f32,
    pub yes: u32,
    pub no: u32,
}

/// One row of `ExpertAnnotations.tsv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpertRow {
    pub image: String,
    pub query_id: String,
    /// The three experts' scores, each in 1..=4.
    pub scores: [u8; 3],
}

/// One row of `test_queries.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestQuery {
    pub query_id: String,
    pub query_text: String,
    pub image: String,
}

/// The relevance target of one (image, query_id) pair; see [`target`].
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub image: String,
    pub query_id: String,
    /// `mean((e − 1) / 3)` over the three expert scores, in 0..=1.
    pub expert: Option<f32>,
    /// The crowd share, in 0..=1.
    pub crowd: Option<f32>,
    /// The combined target, in 0..=1.
    pub value: f32,
    /// Mean of the raw 1..=4 expert scores (for rank correlations).
    pub expert_mean_raw: Option<f32>,
}

/// The whole dataset, as read by [`load`].
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// The dataset folder.
    pub dir: PathBuf,
    pub train: Vec<TrainPair>,
    pub crowd: Vec<CrowdRow>,
    pub expert: Vec<ExpertRow>,
    pub test_queries: Vec<TestQuery>,
    pub test_images: Vec<String>,
}

/// Why the dataset could not be loaded. Every message is one line.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("{}: missing file", crate::display::escape_path(path))]
    MissingFile { path: PathBuf },
    #[error("{}: missing directory", crate::display::escape_path(path))]
    MissingDir { path: PathBuf },
    #[error("{}: cannot read: {message}", crate::display::escape_path(path))]
    Io { path: PathBuf, message: String },
    #[error("{}:{line}: {problem}", crate::display::escape_path(path))]
    Malformed {
        path: PathBuf,
        /// 1-based line number (the header is line 1 where there is one).
        line: u64,
        problem: Problem,
    },
}

/// What is wrong with one line of a table.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    #[error("empty file (expected a header line)")]
    NoHeader,
    #[error("no data rows")]
    NoRows,
    #[error("missing column `{0}` in the header")]
    MissingColumn(&'static str),
    #[error("column `{0}` appears more than once in the header")]
    DuplicateColumn(&'static str),
    #[error("expected {expected} fields, found {found}")]
    FieldCount { expected: usize, found: usize },
    #[error("field {field} is not valid UTF-8")]
    InvalidUtf8 { field: usize },
    #[error("column `{column}` is empty")]
    Empty { column: &'static str },
    #[error("column `{column}`: {value:?} is not a number")]
    NotANumber { column: &'static str, value: String },
    #[error("column `{column}`: {value:?} is not a whole number >= 0")]
    NotACount { column: &'static str, value: String },
    #[error("column `{column}`: expert score {value:?} is outside 1..4")]
    ScoreOutOfRange { column: &'static str, value: String },
    #[error("column `share`: {0} is outside 0..1")]
    ShareOutOfRange(f32),
    #[error("column `share`: {share} disagrees with yes/(yes+no) = {yes}/{total}")]
    ShareMismatch { share: f32, yes: u32, total: u64 },
    #[error("no votes (yes + no = 0)")]
    NoVotes,
    #[error("column `query_id`: {0:?} is not `<image>#<n>`")]
    BadQueryId(String),
    #[error("column `{column}`: {value:?} is not a plain file name")]
    BadImageName { column: &'static str, value: String },
    #[error("duplicate pair ({image:?}, {query_id:?}), first on line {first_line}")]
    DuplicatePair {
        image: String,
        query_id: String,
        first_line: u64,
    },
    #[error("query_id {query_id:?} has a different caption than on line {first_line}")]
    ConflictingCaption { query_id: String, first_line: u64 },
    #[error("duplicate query_id {query_id:?}, first on line {first_line}")]
    DuplicateQuery { query_id: String, first_line: u64 },
    #[error("duplicate image {image:?}, first on line {first_line}")]
    DuplicateImage { image: String, first_line: u64 },
    #[error("{0}")]
    Csv(String),
}

/// The source image of a caption: the part of `query_id` before the last `#`
/// (the whole string if there is none).
pub fn source_image(query_id: &str) -> &str {
    query_id
        .rsplit_once('#')
        .map_or(query_id, |(image, _)| image)
}

/// The expert part of the target: `mean((e − 1) / 3)` over the three scores.
/// Scores are expected in 1..=4 (as [`load`] guarantees), giving 0..=1.
pub fn expert_part(scores: [u8; 3]) -> f32 {
    let sum: f32 = scores.iter().map(|&s| f32::from(s)).sum();
    (sum - 3.0) / 9.0
}

/// The relevance target of the original study:
/// `0.6 · expert_part + 0.4 · crowd_share` when both exist, the one signal
/// alone when only one exists, `None` when neither does.
pub fn target(expert: Option<[u8; 3]>, crowd_share: Option<f32>) -> Option<f32> {
    match (expert.map(expert_part), crowd_share) {
        (Some(e), Some(c)) => Some(EXPERT_WEIGHT * e + CROWD_WEIGHT * c),
        (Some(e), None) => Some(e),
        (None, Some(c)) => Some(c),
        (None, None) => None,
    }
}

/// Reads the five tables of the dataset folder `dir` and checks that the two
/// image folders exist (not that every image in them does; see
/// [`Dataset::missing_images`]).
///
/// # Errors
///
/// A [`DatasetError`] naming the file (and, for malformed content, the line)
/// on the first missing file or folder, unreadable file or malformed row.
pub fn load(dir: &Path) -> Result<Dataset, DatasetError> {
    if !dir.is_dir() {
        return Err(DatasetError::MissingDir {
            path: dir.to_path_buf(),
        });
    }
    let train = read_train(&dir.join(TRAIN_CSV))?;
    let crowd = read_crowd(&dir.join(CROWD_TSV))?;
    let expert = read_expert(&dir.join(EXPERT_TSV))?;
    let test_queries = read_test_queries(&dir.join(TEST_QUERIES_CSV))?;
    let test_images = read_test_images(&dir.join(TEST_IMAGES_CSV))?;
    for sub in [TRAIN_IMAGES_DIR, TEST_IMAGES_DIR] {
        let path = dir.join(sub);
        if !path.is_dir() {
            return Err(DatasetError::MissingDir { path });
        }
    }
    Ok(Dataset {
        dir: dir.to_path_buf(),
        train,
        crowd,
        expert,
        test_queries,
        test_images,
    })
}

impl Dataset {
    /// The folder of the training images.
    pub fn train_images_dir(&self) -> PathBuf {
        self.dir.join(TRAIN_IMAGES_DIR)
    }

    /// The folder of the test images.
    pub fn test_images_dir(&self) -> PathBuf {
        self.dir.join(TEST_IMAGES_DIR)
    }

    /// Caption texts of the training pairs, by query_id.
    pub fn train_captions(&self) -> BTreeMap<String, String> {
        self.train
            .iter()
            .map(|p| (p.query_id.clone(), p.query_text.clone()))
            .collect()
    }

    /// All known caption texts (train and test), by query_id.
    pub fn captions(&self) -> BTreeMap<String, String> {
        let mut captions = self.train_captions();
        for q in &self.test_queries {
            captions
                .entry(q.query_id.clone())
                .or_insert_with(|| q.query_text.clone());
        }
        captions
    }

    /// One [`Target`] per (image, query_id) pair found in the expert or the
    /// crowd annotations, sorted by image then query_id.
    pub fn targets(&self) -> Vec<Target> {
        type Signals = (Option<[u8; 3]>, Option<f32>);
        let mut pairs: BTreeMap<(&str, &str), Signals> = BTreeMap::new();
        for row in &self.expert {
            pairs
                .entry((row.image.as_str(), row.query_id.as_str()))
                .or_default()
                .0 = Some(row.scores);
        }
        for row in &self.crowd {
            pairs
                .entry((row.image.as_str(), row.query_id.as_str()))
                .or_default()
                .1 = Some(row.share);
        }
        pairs
            .into_iter()
            .filter_map(|((image, query_id), (scores, crowd))| {
                Some(Target {
                    image: image.to_owned(),
                    query_id: query_id.to_owned(),
                    expert: scores.map(expert_part),
                    crowd,
                    value: target(scores, crowd)?,
                    expert_mean_raw: scores
                        .map(|s| s.iter().map(|&e| f32::from(e)).sum::<f32>() / 3.0),
                })
            })
            .collect()
    }

    /// Images named anywhere in the tables that are not files on disk:
    /// training, crowd and expert images and caption sources under
    /// `train_images/`, test images and test query images under
    /// `test_images/`. Sorted, without duplicates.
    pub fn missing_images(&self) -> Vec<PathBuf> {
        let train_dir = self.train_images_dir();
        let test_dir = self.test_images_dir();
        let train_names = self
            .train
            .iter()
            .flat_map(|p| [p.image.as_str(), source_image(&p.query_id)])
            .chain(
                self.crowd
                    .iter()
                    .flat_map(|r| [r.image.as_str(), source_image(&r.query_id)]),
            )
            .chain(
                self.expert
                    .iter()
                    .flat_map(|r| [r.image.as_str(), source_image(&r.query_id)]),
            )
            .map(|name| train_dir.join(name));
        let test_names = self
            .test_images
            .iter()
            .map(String::as_str)
            .chain(self.test_queries.iter().map(|q| q.image.as_str()))
            .map(|name| test_dir.join(name));
        let all: std::collections::BTreeSet<PathBuf> = train_names.chain(test_names).collect();
        all.into_iter().filter(|p| !p.is_file()).collect()
    }
}

#[cfg(test)]
mod tests;
