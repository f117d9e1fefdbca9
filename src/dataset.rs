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

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};

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

/// Largest accepted difference between a crowd `share` and `yes / (yes + no)`.
const SHARE_TOLERANCE: f32 = 1e-3;

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

// ---------------------------------------------------------------------------
// Reading tables

/// The records of one table, each with the line it starts on.
struct Table {
    path: PathBuf,
    header: Option<csv::StringRecord>,
    rows: Vec<(u64, csv::StringRecord)>,
}

impl Table {
    fn err(&self, line: u64, problem: Problem) -> DatasetError {
        malformed(&self.path, line, problem)
    }

    /// Indices of the named columns in the header (line 1).
    fn columns<const N: usize>(
        &self,
        names: [&'static str; N],
    ) -> Result<[usize; N], DatasetError> {
        let header = self
            .header
            .as_ref()
            .ok_or_else(|| self.err(1, Problem::NoHeader))?;
        let mut indices = [0; N];
        for (slot, name) in indices.iter_mut().zip(names) {
            let mut found = header.iter().enumerate().filter(|(_, h)| *h == name);
            *slot = match (found.next(), found.next()) {
                (Some((i, _)), None) => i,
                (None, _) => return Err(self.err(1, Problem::MissingColumn(name))),
                (Some(_), Some(_)) => return Err(self.err(1, Problem::DuplicateColumn(name))),
            };
        }
        Ok(indices)
    }

    /// Fails on a table without data rows.
    fn non_empty(self) -> Result<Self, DatasetError> {
        if self.rows.is_empty() {
            let line = if self.header.is_some() { 2 } else { 1 };
            return Err(self.err(line, Problem::NoRows));
        }
        Ok(self)
    }
}

fn malformed(path: &Path, line: u64, problem: Problem) -> DatasetError {
    DatasetError::Malformed {
        path: path.to_path_buf(),
        line,
        problem,
    }
}

fn io_error(path: &Path, error: &io::Error) -> DatasetError {
    if error.kind() == io::ErrorKind::NotFound {
        DatasetError::MissingFile {
            path: path.to_path_buf(),
        }
    } else {
        DatasetError::Io {
            path: path.to_path_buf(),
            message: one_line(&error.to_string()),
        }
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn csv_error(path: &Path, error: csv::Error) -> DatasetError {
    let line = error.position().map_or(0, csv::Position::line);
    match error.into_kind() {
        csv::ErrorKind::Io(e) => io_error(path, &e),
        csv::ErrorKind::Utf8 { pos, err } => malformed(
            path,
            pos.map_or(line, |p| p.line()),
            Problem::InvalidUtf8 {
                field: err.field() + 1,
            },
        ),
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => malformed(
            path,
            pos.map_or(line, |p| p.line()),
            Problem::FieldCount {
                expected: expected_len as usize,
                found: len as usize,
            },
        ),
        other => malformed(path, line, Problem::Csv(one_line(&format!("{other:?}")))),
    }
}

/// Reads a whole table. With `has_header`, line 1 is the header and every
/// row must have as many fields; otherwise every row must have
/// `fields` fields.
fn read_table(
    path: &Path,
    delimiter: u8,
    has_header: bool,
    fields: usize,
) -> Result<Table, DatasetError> {
    if !path.exists() {
        return Err(DatasetError::MissingFile {
            path: path.to_path_buf(),
        });
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(has_header)
        .flexible(false)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| csv_error(path, e))?;
    let header = if has_header {
        let header = reader.headers().map_err(|e| csv_error(path, e))?.clone();
        // An empty file gives an empty header.
        if header.is_empty() || (header.len() == 1 && header[0].is_empty() && fields > 1) {
            return Err(malformed(path, 1, Problem::NoHeader));
        }
        if header.len() != fields {
            return Err(malformed(
                path,
                1,
                Problem::FieldCount {
                    expected: fields,
                    found: header.len(),
                },
            ));
        }
        Some(header)
    } else {
        None
    };
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(path, e))?;
        let line = record.position().map_or(0, csv::Position::line);
        if record.len() != fields {
            return Err(malformed(
                path,
                line,
                Problem::FieldCount {
                    expected: fields,
                    found: record.len(),
                },
            ));
        }
        rows.push((line, record));
    }
    Ok(Table {
        path: path.to_path_buf(),
        header,
        rows,
    })
}

/// A non-empty field.
fn text<'r>(
    table: &Table,
    line: u64,
    record: &'r csv::StringRecord,
    index: usize,
    column: &'static str,
) -> Result<&'r str, DatasetError> {
    match record.get(index) {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(table.err(line, Problem::Empty { column })),
    }
}

/// A non-empty file name without path separators.
fn image_name(
    table: &Table,
    line: u64,
    record: &csv::StringRecord,
    index: usize,
    column: &'static str,
) -> Result<String, DatasetError> {
    let value = text(table, line, record, index, column)?;
    if !is_plain_file_name(value) {
        return Err(table.err(
            line,
            Problem::BadImageName {
                column,
                value: value.to_owned(),
            },
        ));
    }
    Ok(value.to_owned())
}

fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
        && !name.chars().any(char::is_control)
}

/// A `<image>#<n>` query id.
fn query_id(
    table: &Table,
    line: u64,
    record: &csv::StringRecord,
    index: usize,
) -> Result<String, DatasetError> {
    let value = text(table, line, record, index, "query_id")?;
    let valid = value.rsplit_once('#').is_some_and(|(image, n)| {
        is_plain_file_name(image) && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
    });
    if !valid {
        return Err(table.err(line, Problem::BadQueryId(value.to_owned())));
    }
    Ok(value.to_owned())
}

fn count(
    table: &Table,
    line: u64,
    record: &csv::StringRecord,
    index: usize,
    column: &'static str,
) -> Result<u32, DatasetError> {
    let value = text(table, line, record, index, column)?;
    value.parse::<u32>().map_err(|_| {
        table.err(
            line,
            Problem::NotACount {
                column,
                value: value.to_owned(),
            },
        )
    })
}

fn score(
    table: &Table,
    line: u64,
    record: &csv::StringRecord,
    index: usize,
    column: &'static str,
) -> Result<u8, DatasetError> {
    let value = text(table, line, record, index, column)?;
    let out_of_range = || {
        table.err(
            line,
            Problem::ScoreOutOfRange {
                column,
                value: value.to_owned(),
            },
        )
    };
    match value.parse::<i64>() {
        Ok(s @ 1..=4) => u8::try_from(s).map_err(|_| out_of_range()),
        Ok(_) => Err(out_of_range()),
        // A number, but not a whole one (e.g. "2.5") or a huge one.
        Err(_) if value.parse::<f64>().is_ok() => Err(out_of_range()),
        Err(_) => Err(table.err(
            line,
            Problem::NotANumber {
                column,
                value: value.to_owned(),
            },
        )),
    }
}

/// Remembers the first line of each key; fails on a repeated key.
struct Seen<K> {
    first: HashMap<K, u64>,
}

impl<K: std::hash::Hash + Eq> Seen<K> {
    fn new() -> Self {
        Self {
            first: HashMap::new(),
        }
    }

    /// `Err(first_line)` when `key` was seen before.
    fn insert(&mut self, key: K, line: u64) -> Result<(), u64> {
        match self.first.insert(key, line) {
            None => Ok(()),
            Some(first) => Err(first),
        }
    }
}

impl Seen<(String, String)> {
    /// Records an (image, query id) pair; a repeat is an error naming both lines.
    fn pair(
        &mut self,
        table: &Table,
        line: u64,
        image: &str,
        query_id: &str,
    ) -> Result<(), DatasetError> {
        self.insert((image.to_owned(), query_id.to_owned()), line)
            .map_err(|first_line| {
                table.err(
                    line,
                    Problem::DuplicatePair {
                        image: image.to_owned(),
                        query_id: query_id.to_owned(),
                        first_line,
                    },
                )
            })
    }
}

fn read_train(path: &Path) -> Result<Vec<TrainPair>, DatasetError> {
    let table = read_table(path, b',', true, 3)?.non_empty()?;
    let [c_image, c_query, c_text] = table.columns(["image", "query_id", "query_text"])?;
    let mut pairs_seen = Seen::new();
    let mut captions: BTreeMap<String, (String, u64)> = BTreeMap::new();
    let mut out = Vec::with_capacity(table.rows.len());
    for (line, record) in &table.rows {
        let line = *line;
        let image = image_name(&table, line, record, c_image, "image")?;
        let query_id = query_id(&table, line, record, c_query)?;
        let query_text = text(&table, line, record, c_text, "query_text")?.to_owned();
        match captions.entry(query_id.clone()) {
            Entry::Vacant(slot) => {
                slot.insert((query_text.clone(), line));
            }
            Entry::Occupied(slot) if slot.get().0 != query_text => {
                return Err(table.err(
                    line,
                    Problem::ConflictingCaption {
                        query_id,
                        first_line: slot.get().1,
                    },
                ));
            }
            Entry::Occupied(_) => {}
        }
        pairs_seen.pair(&table, line, &image, &query_id)?;
        out.push(TrainPair {
            image,
            query_id,
            query_text,
        });
    }
    Ok(out)
}

fn read_crowd(path: &Path) -> Result<Vec<CrowdRow>, DatasetError> {
    let table = read_table(path, b'\t', false, 5)?.non_empty()?;
    let mut seen = Seen::new();
    let mut out = Vec::with_capacity(table.rows.len());
    for (line, record) in &table.rows {
        let line = *line;
        let image = image_name(&table, line, record, 0, "image")?;
        let query_id = query_id(&table, line, record, 1)?;
        let share_text = text(&table, line, record, 2, "share")?;
        let share: f32 = share_text.parse().map_err(|_| {
            table.err(
                line,
                Problem::NotANumber {
                    column: "share",
                    value: share_text.to_owned(),
                },
            )
        })?;
        if !(0.0..=1.0).contains(&share) {
            return Err(table.err(line, Problem::ShareOutOfRange(share)));
        }
        let yes = count(&table, line, record, 3, "yes")?;
        let no = count(&table, line, record, 4, "no")?;
        let total = u64::from(yes) + u64::from(no);
        if total == 0 {
            return Err(table.err(line, Problem::NoVotes));
        }
        if (share - (f64::from(yes) / total as f64) as f32).abs() > SHARE_TOLERANCE {
            return Err(table.err(line, Problem::ShareMismatch { share, yes, total }));
        }
        seen.pair(&table, line, &image, &query_id)?;
        out.push(CrowdRow {
            image,
            query_id,
            share,
            yes,
            no,
        });
    }
    Ok(out)
}

fn read_expert(path: &Path) -> Result<Vec<ExpertRow>, DatasetError> {
    let table = read_table(path, b'\t', false, 5)?.non_empty()?;
    let mut seen = Seen::new();
    let mut out = Vec::with_capacity(table.rows.len());
    for (line, record) in &table.rows {
        let line = *line;
        let image = image_name(&table, line, record, 0, "image")?;
        let query_id = query_id(&table, line, record, 1)?;
        let scores = [
            score(&table, line, record, 2, "expert1")?,
            score(&table, line, record, 3, "expert2")?,
            score(&table, line, record, 4, "expert3")?,
        ];
        seen.pair(&table, line, &image, &query_id)?;
        out.push(ExpertRow {
            image,
            query_id,
            scores,
        });
    }
    Ok(out)
}

fn read_test_queries(path: &Path) -> Result<Vec<TestQuery>, DatasetError> {
    let table = read_table(path, b'|', true, 4)?.non_empty()?;
    let [c_query, c_text, c_image] = table.columns(["query_id", "query_text", "image"])?;
    let mut seen = Seen::new();
    let mut out = Vec::with_capacity(table.rows.len());
    for (line, record) in &table.rows {
        let line = *line;
        let query_id = query_id(&table, line, record, c_query)?;
        let query_text = text(&table, line, record, c_text, "query_text")?.to_owned();
        let image = image_name(&table, line, record, c_image, "image")?;
        if let Err(first_line) = seen.insert(query_id.clone(), line) {
            return Err(table.err(
                line,
                Problem::DuplicateQuery {
                    query_id,
                    first_line,
                },
            ));
        }
        out.push(TestQuery {
            query_id,
            query_text,
            image,
        });
    }
    Ok(out)
}

fn read_test_images(path: &Path) -> Result<Vec<String>, DatasetError> {
    let table = read_table(path, b',', true, 1)?;
    let [c_image] = table.columns(["image"])?;
    let table = table.non_empty()?;
    let mut seen = Seen::new();
    let mut out = Vec::with_capacity(table.rows.len());
    for (line, record) in &table.rows {
        let line = *line;
        let image = image_name(&table, line, record, c_image, "image")?;
        if let Err(first_line) = seen.insert(image.clone(), line) {
            return Err(table.err(line, Problem::DuplicateImage { image, first_line }));
        }
        out.push(image);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::fs;

    const EPS: f32 = 1e-6;

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < EPS
    }

    // ---- target formula ------------------------------------------------

    #[test]
    fn target_both_signals() {
        // expert part of [4,4,4] = 1; 0.6·1 + 0.4·0.5 = 0.8
        assert!(close(target(Some([4, 4, 4]), Some(0.5)).unwrap(), 0.8));
        // expert part of [1,2,3] = (0 + 1/3 + 2/3)/3 = 1/3; 0.6/3 + 0.4/3 = 1/3
        assert!(close(
            target(Some([1, 2, 3]), Some(1.0 / 3.0)).unwrap(),
            1.0 / 3.0
        ));
        // [1,1,1] = 0; 0.4·1 = 0.4
        assert!(close(target(Some([1, 1, 1]), Some(1.0)).unwrap(), 0.4));
    }

    #[test]
    fn target_expert_only() {
        // [2,2,3]: (1/3 + 1/3 + 2/3)/3 = 4/9
        assert!(close(target(Some([2, 2, 3]), None).unwrap(), 4.0 / 9.0));
        assert!(close(target(Some([1, 1, 1]), None).unwrap(), 0.0));
        assert!(close(target(Some([4, 4, 4]), None).unwrap(), 1.0));
    }

    #[test]
    fn target_crowd_only() {
        assert!(close(target(None, Some(0.25)).unwrap(), 0.25));
        assert!(close(target(None, Some(0.0)).unwrap(), 0.0));
    }

    #[test]
    fn target_neither() {
        assert_eq!(target(None, None), None);
    }

    #[test]
    fn source_image_is_the_part_before_hash() {
        assert_eq!(source_image("123_abc.jpg#2"), "123_abc.jpg");
        assert_eq!(source_image("no-hash.jpg"), "no-hash.jpg");
    }

    #[test]
    fn targets_union_sorted_and_combined() {
        let ds = Dataset {
            expert: vec![
                ExpertRow {
                    image: "b.jpg".into(),
                    query_id: "x.jpg#0".into(),
                    scores: [4, 4, 4],
                },
                ExpertRow {
                    image: "a.jpg".into(),
                    query_id: "y.jpg#1".into(),
                    scores: [1, 2, 3],
                },
            ],
            crowd: vec![
                CrowdRow {
                    image: "b.jpg".into(),
                    query_id: "x.jpg#0".into(),
                    share: 0.5,
                    yes: 1,
                    no: 1,
                },
                CrowdRow {
                    image: "a.jpg".into(),
                    query_id: "x.jpg#0".into(),
                    share: 0.0,
                    yes: 0,
                    no: 3,
                },
            ],
            ..Dataset::default()
        };
        let t = ds.targets();
        let keys: Vec<_> = t
            .iter()
            .map(|t| (t.image.as_str(), t.query_id.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                ("a.jpg", "x.jpg#0"),
                ("a.jpg", "y.jpg#1"),
                ("b.jpg", "x.jpg#0")
            ]
        );
        // crowd only
        assert_eq!(t[0].expert, None);
        assert_eq!(t[0].crowd, Some(0.0));
        assert_eq!(t[0].expert_mean_raw, None);
        assert!(close(t[0].value, 0.0));
        // expert only
        assert!(close(t[1].expert.unwrap(), 1.0 / 3.0));
        assert_eq!(t[1].crowd, None);
        assert!(close(t[1].expert_mean_raw.unwrap(), 2.0));
        assert!(close(t[1].value, 1.0 / 3.0));
        // both
        assert!(close(t[2].value, 0.8));
        assert!(close(t[2].expert_mean_raw.unwrap(), 4.0));
    }

    // ---- parsers on malformed input ----------------------------------

    const GOOD_TRAIN: &str = "image,query_id,query_text\n\
        a.jpg,s.jpg#0,A dog runs .\n\
        b.jpg,s.jpg#0,A dog runs .\n\
        a.jpg,t.jpg#1,\"A man , in a hat , says \"\"hi\"\" .\"\n";
    const GOOD_CROWD: &str = "a.jpg\ts.jpg#0\t1\t3\t0\n\
        b.jpg\ts.jpg#0\t0.333333333333333\t1\t2\n\
        c.jpg\tt.jpg#1\t0\t0\t3\n";
    const GOOD_EXPERT: &str = "a.jpg\ts.jpg#0\t4\t4\t3\n\
        b.jpg\ts.jpg#0\t1\t2\t1\n\
        a.jpg\tt.jpg#1\t1\t1\t1\n";
    const GOOD_TEST_QUERIES: &str = "|query_id|query_text|image\n\
        0|u.jpg#0|Two boys play .|u.jpg\n\
        1|u.jpg#1|\"A sign says \"\"Stop\"\" .\"|u.jpg\n";
    const GOOD_TEST_IMAGES: &str = "image\nu.jpg\n";

    fn write_good(dir: &Path) {
        fs::write(dir.join(TRAIN_CSV), GOOD_TRAIN).unwrap();
        fs::write(dir.join(CROWD_TSV), GOOD_CROWD).unwrap();
        fs::write(dir.join(EXPERT_TSV), GOOD_EXPERT).unwrap();
        fs::write(dir.join(TEST_QUERIES_CSV), GOOD_TEST_QUERIES).unwrap();
        fs::write(dir.join(TEST_IMAGES_CSV), GOOD_TEST_IMAGES).unwrap();
        fs::create_dir_all(dir.join(TRAIN_IMAGES_DIR)).unwrap();
        fs::create_dir_all(dir.join(TEST_IMAGES_DIR)).unwrap();
    }

    #[test]
    fn good_tiny_dataset_loads() {
        let dir = tempfile::tempdir().unwrap();
        write_good(dir.path());
        let ds = load(dir.path()).unwrap();
        assert_eq!(ds.train.len(), 3);
        assert_eq!(ds.train[2].query_text, "A man , in a hat , says \"hi\" .");
        assert_eq!(ds.crowd.len(), 3);
        assert!(close(ds.crowd[1].share, 1.0 / 3.0));
        assert_eq!(ds.expert[0].scores, [4, 4, 3]);
        assert_eq!(ds.test_queries.len(), 2);
        assert_eq!(ds.test_queries[1].query_text, "A sign says \"Stop\" .");
        assert_eq!(ds.test_queries[1].image, "u.jpg");
        assert_eq!(ds.test_images, ["u.jpg"]);
        let captions = ds.captions();
        assert_eq!(captions.len(), 4);
        assert_eq!(captions["s.jpg#0"], "A dog runs .");
        assert_eq!(captions["u.jpg#0"], "Two boys play .");
        assert_eq!(ds.train_images_dir(), dir.path().join("train_images"));
        assert_eq!(ds.test_images_dir(), dir.path().join("test_images"));
        // union of (a,s#0) (b,s#0) (c,t#1) (a,t#1)
        assert_eq!(ds.targets().len(), 4);
        // no image files were written
        assert!(ds
            .missing_images()
            .contains(&ds.test_images_dir().join("u.jpg")));
    }

    /// Writes the good dataset with `file` replaced by `content`, loads it and
    /// checks the error names the file and the line and contains `what`.
    fn assert_bad(file: &str, content: &str, line: u64, what: &str) {
        let dir = tempfile::tempdir().unwrap();
        write_good(dir.path());
        fs::write(dir.path().join(file), content).unwrap();
        let err = load(dir.path()).expect_err(&format!("{file}: expected an error for {what}"));
        let msg = err.to_string();
        let prefix = format!("{}:{line}: ", dir.path().join(file).display());
        assert!(
            msg.starts_with(&prefix),
            "{msg:?} should start with {prefix:?}"
        );
        assert!(msg.contains(what), "{msg:?} should mention {what:?}");
        assert!(!msg.contains('\n'), "{msg:?} should be one line");
        match err {
            DatasetError::Malformed { line: l, .. } => assert_eq!(l, line),
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn train_malformed() {
        let h = "image,query_id,query_text\n";
        assert_bad(TRAIN_CSV, "", 1, "empty file");
        assert_bad(TRAIN_CSV, h, 2, "no data rows");
        assert_bad(
            TRAIN_CSV,
            "image,query,query_text\na.jpg,s.jpg#0,x\n",
            1,
            "missing column `query_id`",
        );
        assert_bad(
            TRAIN_CSV,
            "image,query_id\na.jpg,s.jpg#0\n",
            1,
            "expected 3 fields, found 2",
        );
        assert_bad(
            TRAIN_CSV,
            "image,image,query_text\na.jpg,s.jpg#0,x\n",
            1,
            "`image` appears more than once",
        );
        assert_bad(
            TRAIN_CSV,
            &format!("{h}a.jpg,s.jpg#0,x\nb.jpg,s.jpg#0,x,extra\n"),
            3,
            "expected 3 fields, found 4",
        );
        // An unquoted comma inside a caption adds a field.
        assert_bad(
            TRAIN_CSV,
            &format!("{h}a.jpg,s.jpg#0,A man , in a hat\n"),
            2,
            "expected 3 fields, found 4",
        );
        assert_bad(
            TRAIN_CSV,
            &format!("{h}a.jpg,s.jpg#0,x\na.jpg,s.jpg,y\n"),
            3,
            "is not `<image>#<n>`",
        );
        assert_bad(
            TRAIN_CSV,
            &format!("{h}a.jpg,s.jpg#x,y\n"),
            2,
            "is not `<image>#<n>`",
        );
        assert_bad(
            TRAIN_CSV,
            &format!("{h}a.jpg,#1,y\n"),
            2,
            "is not `<image>#<n>`",
        );
        assert_bad(
            TRAIN_CSV,
            &format!("{h},s.jpg#0,y\n"),
            2,
            "`image` is empty",
        );
        assert_bad(
            TRAIN_CSV,
            &format!("{h}a.jpg,s.jpg#0,  \n"),
            2,
            "`query_text` is empty",
        );
        assert_bad(
            TRAIN_CSV,
            &format!("{h}../a.jpg,s.jpg#0,y\n"),
            2,
            "not a plain file name",
        );
        assert_bad(
            TRAIN_CSV,
            &format!("{h}a.jpg,s.jpg#0,x\nb.jpg,s.jpg#0,other\n"),
            3,
            "different caption than on line 2",
        );
        assert_bad(
            TRAIN_CSV,
            &format!("{h}a.jpg,s.jpg#0,x\na.jpg,s.jpg#0,x\n"),
            3,
            "first on line 2",
        );
        // A quoted caption spanning two lines: the next record starts on line 4.
        assert_bad(
            TRAIN_CSV,
            &format!("{h}a.jpg,s.jpg#0,\"two\nlines\"\nb.jpg,bad,x\n"),
            4,
            "is not `<image>#<n>`",
        );
        let mut bytes = format!("{h}a.jpg,s.jpg#0,").into_bytes();
        bytes.extend_from_slice(&[0xff, 0xfe, b'\n']);
        let dir = tempfile::tempdir().unwrap();
        write_good(dir.path());
        fs::write(dir.path().join(TRAIN_CSV), bytes).unwrap();
        let msg = load(dir.path()).unwrap_err().to_string();
        assert!(msg.contains("train_dataset.csv:2: "), "{msg}");
        assert!(msg.contains("not valid UTF-8"), "{msg}");
    }

    #[test]
    fn crowd_malformed() {
        assert_bad(CROWD_TSV, "", 1, "no data rows");
        assert_bad(
            CROWD_TSV,
            "a.jpg\ts.jpg#0\t1\t3\n",
            1,
            "expected 5 fields, found 4",
        );
        assert_bad(
            CROWD_TSV,
            "a.jpg\ts.jpg#0\t1\t3\t0\nb.jpg\ts.jpg#0\t1\t3\n",
            2,
            "expected 5 fields, found 4",
        );
        assert_bad(
            CROWD_TSV,
            "a.jpg\ts.jpg#0\t1\t3\t0\nb.jpg\ts.jpg#0\tyes\t3\t0\n",
            2,
            "column `share`: \"yes\" is not a number",
        );
        assert_bad(
            CROWD_TSV,
            "a.jpg\ts.jpg#0\t1.5\t3\t0\n",
            1,
            "1.5 is outside 0..1",
        );
        assert_bad(
            CROWD_TSV,
            "a.jpg\ts.jpg#0\t-0.1\t3\t0\n",
            1,
            "is outside 0..1",
        );
        assert_bad(
            CROWD_TSV,
            "a.jpg\ts.jpg#0\tNaN\t3\t0\n",
            1,
            "is outside 0..1",
        );
        assert_bad(
            CROWD_TSV,
            "a.jpg\ts.jpg#0\t1\t-3\t0\n",
            1,
            "column `yes`: \"-3\" is not a whole number",
        );
        assert_bad(
            CROWD_TSV,
            "a.jpg\ts.jpg#0\t1\t3\t0.5\n",
            1,
            "column `no`: \"0.5\" is not a whole number",
        );
        assert_bad(CROWD_TSV, "a.jpg\ts.jpg#0\t0\t0\t0\n", 1, "no votes");
        assert_bad(
            CROWD_TSV,
            "a.jpg\ts.jpg#0\t0.5\t3\t0\n",
            1,
            "disagrees with yes/(yes+no) = 3/3",
        );
        assert_bad(
            CROWD_TSV,
            "a.jpg\ts.jpg0\t1\t3\t0\n",
            1,
            "is not `<image>#<n>`",
        );
        assert_bad(
            CROWD_TSV,
            "a.jpg\ts.jpg#0\t1\t3\t0\na.jpg\ts.jpg#0\t1\t3\t0\n",
            2,
            "duplicate pair (\"a.jpg\", \"s.jpg#0\"), first on line 1",
        );
    }

    #[test]
    fn expert_malformed() {
        assert_bad(EXPERT_TSV, "", 1, "no data rows");
        assert_bad(
            EXPERT_TSV,
            "a.jpg\ts.jpg#0\t4\t4\t3\t1\n",
            1,
            "expected 5 fields, found 6",
        );
        assert_bad(
            EXPERT_TSV,
            "a.jpg\ts.jpg#0\t4\t4\t3\nb.jpg\ts.jpg#0\t4\tfour\t3\n",
            2,
            "column `expert2`: \"four\" is not a number",
        );
        assert_bad(
            EXPERT_TSV,
            "a.jpg\ts.jpg#0\t4\t4\t5\n",
            1,
            "column `expert3`: expert score \"5\" is outside 1..4",
        );
        assert_bad(
            EXPERT_TSV,
            "a.jpg\ts.jpg#0\t0\t4\t4\n",
            1,
            "column `expert1`: expert score \"0\" is outside 1..4",
        );
        assert_bad(
            EXPERT_TSV,
            "a.jpg\ts.jpg#0\t2.5\t4\t4\n",
            1,
            "expert score \"2.5\" is outside 1..4",
        );
        assert_bad(
            EXPERT_TSV,
            "a.jpg\ts.jpg#0\t\t4\t4\n",
            1,
            "column `expert1` is empty",
        );
        assert_bad(
            EXPERT_TSV,
            "a.jpg\tno-hash\t1\t4\t4\n",
            1,
            "\"no-hash\" is not `<image>#<n>`",
        );
        assert_bad(
            EXPERT_TSV,
            "a.jpg\ts.jpg#0\t1\t1\t1\nb.jpg\ts.jpg#0\t1\t1\t1\na.jpg\ts.jpg#0\t2\t2\t2\n",
            3,
            "first on line 1",
        );
    }

    #[test]
    fn test_queries_malformed() {
        let h = "|query_id|query_text|image\n";
        assert_bad(TEST_QUERIES_CSV, "", 1, "empty file");
        assert_bad(
            TEST_QUERIES_CSV,
            "|query_id|text|image\n0|u.jpg#0|x|u.jpg\n",
            1,
            "missing column `query_text`",
        );
        assert_bad(
            TEST_QUERIES_CSV,
            &format!("{h}0|u.jpg#0|x\n"),
            2,
            "expected 4 fields, found 3",
        );
        assert_bad(
            TEST_QUERIES_CSV,
            &format!("{h}0|u.jpg#0|x|u.jpg\n1|u.jpg|y|u.jpg\n"),
            3,
            "is not `<image>#<n>`",
        );
        assert_bad(
            TEST_QUERIES_CSV,
            &format!("{h}0|u.jpg#0|x|u.jpg\n1|u.jpg#0|y|u.jpg\n"),
            3,
            "duplicate query_id \"u.jpg#0\", first on line 2",
        );
        assert_bad(
            TEST_QUERIES_CSV,
            &format!("{h}0|u.jpg#0|x|\n"),
            2,
            "`image` is empty",
        );
    }

    #[test]
    fn test_images_malformed() {
        assert_bad(TEST_IMAGES_CSV, "", 1, "empty file");
        assert_bad(
            TEST_IMAGES_CSV,
            "name\nu.jpg\n",
            1,
            "missing column `image`",
        );
        assert_bad(TEST_IMAGES_CSV, "image\n", 2, "no data rows");
        assert_bad(
            TEST_IMAGES_CSV,
            "image\nu.jpg\nv.jpg\nu.jpg\n",
            4,
            "duplicate image \"u.jpg\", first on line 2",
        );
        assert_bad(
            TEST_IMAGES_CSV,
            "image\nu.jpg,v.jpg\n",
            2,
            "expected 1 fields, found 2",
        );
        assert_bad(
            TEST_IMAGES_CSV,
            "image\nsub/u.jpg\n",
            2,
            "not a plain file name",
        );
    }

    #[test]
    fn missing_files_and_dirs() {
        for file in [
            TRAIN_CSV,
            CROWD_TSV,
            EXPERT_TSV,
            TEST_QUERIES_CSV,
            TEST_IMAGES_CSV,
        ] {
            let dir = tempfile::tempdir().unwrap();
            write_good(dir.path());
            fs::remove_file(dir.path().join(file)).unwrap();
            let err = load(dir.path()).unwrap_err();
            assert!(
                matches!(&err, DatasetError::MissingFile { path } if path.ends_with(file)),
                "{err:?}"
            );
            let msg = err.to_string();
            assert!(
                msg.contains(file) && msg.ends_with(": missing file"),
                "{msg}"
            );
        }
        for sub in [TRAIN_IMAGES_DIR, TEST_IMAGES_DIR] {
            let dir = tempfile::tempdir().unwrap();
            write_good(dir.path());
            fs::remove_dir(dir.path().join(sub)).unwrap();
            let msg = load(dir.path()).unwrap_err().to_string();
            assert!(
                msg.contains(sub) && msg.ends_with(": missing directory"),
                "{msg}"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let msg = load(&dir.path().join("nope")).unwrap_err().to_string();
        assert!(msg.ends_with("nope: missing directory"), "{msg}");
    }

    // ---- the real dataset --------------------------------------------

    fn real_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
    }

    #[test]
    fn real_dataset_counts() {
        let dir = real_dir();
        assert!(
            dir.is_dir(),
            "the dataset folder {} is missing: it should be a symlink to \
             ../shared/data/flickr-demo (relative to the crate root)",
            dir.display()
        );
        let ds = load(&dir).unwrap_or_else(|e| panic!("loading the real dataset: {e}"));

        assert_eq!(ds.train.len(), 5_822, "training pairs");
        let train_captions = ds.train_captions();
        assert_eq!(train_captions.len(), 977, "distinct training captions");
        assert_eq!(ds.crowd.len(), 47_830, "crowd rows");
        assert_eq!(ds.expert.len(), 5_822, "expert rows");
        assert_eq!(ds.test_queries.len(), 500, "test queries");
        assert_eq!(ds.test_images.len(), 100, "test images");
        assert_eq!(ds.captions().len(), 977 + 500, "all captions");

        let train_dir = ds.train_images_dir();
        for query_id in train_captions.keys() {
            let source = train_dir.join(source_image(query_id));
            assert!(
                source.is_file(),
                "caption {query_id}: source image {} is missing",
                source.display()
            );
        }
        let missing = ds.missing_images();
        assert!(
            missing.is_empty(),
            "{} images named in the tables are missing, e.g. {}",
            missing.len(),
            missing[0].display()
        );
        let test_set: BTreeSet<&str> = ds.test_images.iter().map(String::as_str).collect();
        assert!(ds
            .test_queries
            .iter()
            .all(|q| test_set.contains(q.image.as_str())));

        // Facts for training (printed with --nocapture, pinned here).
        let crowd_known = ds
            .crowd
            .iter()
            .filter(|r| train_captions.contains_key(&r.query_id))
            .count();
        let expert_known = ds
            .expert
            .iter()
            .filter(|r| train_captions.contains_key(&r.query_id))
            .count();
        let targets = ds.targets();
        let both = targets
            .iter()
            .filter(|t| t.expert.is_some() && t.crowd.is_some())
            .count();
        let n = targets.len() as f64;
        let mean = targets.iter().map(|t| f64::from(t.value)).sum::<f64>() / n;
        let var = targets
            .iter()
            .map(|t| (f64::from(t.value) - mean).powi(2))
            .sum::<f64>()
            / n;
        let high_yes = ds.crowd.iter().filter(|r| r.no == 0 && r.yes >= 3).count();
        let high_no = ds.crowd.iter().filter(|r| r.yes == 0 && r.no >= 3).count();
        println!(
            "crowd rows with known caption: {crowd_known}/{}; expert: {expert_known}/{}; \
             targets: {}; both signals: {both}; target mean {mean:.4} std {:.4}; \
             crowd unanimous yes (>=3 votes): {high_yes}; unanimous no: {high_no}",
            ds.crowd.len(),
            ds.expert.len(),
            targets.len(),
            var.sqrt()
        );
        assert_eq!(crowd_known, 46_721);
        assert_eq!(expert_known, 5_822);
        assert_eq!(targets.len(), 51_323);
        assert_eq!(both, 2_329);
        assert!((mean - 0.0759).abs() < 1e-3, "target mean {mean}");
        assert!(
            (var.sqrt() - 0.2059).abs() < 1e-3,
            "target std {}",
            var.sqrt()
        );
        assert_eq!(high_yes, 1_323);
        assert!(targets.iter().all(|t| (0.0..=1.0).contains(&t.value)));
    }
}
