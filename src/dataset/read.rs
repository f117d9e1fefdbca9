//! Reading the tables: each file through the CSV reader, every field checked, one reader per table.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};

use super::{CrowdRow, DatasetError, ExpertRow, Problem, TestQuery, TrainPair};

/// Largest accepted difference between a crowd `share` and `yes / (yes + no)`.
const SHARE_TOLERANCE: f32 = 1e-3;

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

pub(super) fn read_train(path: &Path) -> Result<Vec<TrainPair>, DatasetError> {
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

pub(super) fn read_crowd(path: &Path) -> Result<Vec<CrowdRow>, DatasetError> {
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

pub(super) fn read_expert(path: &Path) -> Result<Vec<ExpertRow>, DatasetError> {
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

pub(super) fn read_test_queries(path: &Path) -> Result<Vec<TestQuery>, DatasetError> {
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

pub(super) fn read_test_images(path: &Path) -> Result<Vec<String>, DatasetError> {
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
