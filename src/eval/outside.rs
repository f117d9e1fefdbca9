//! Retrieval on photos that are not from the dataset: the images of
//! `tests/fixtures/outside_images.tsv` (fetched from public package archives by
//! `scripts/devset.sh` into `cache/devset/outside/`) and the queries written for them by hand in
//! `tests/fixtures/outside_queries.tsv`, in English and in Russian, each with the images judged
//! relevant by looking at them. It shows whether the scorer carries beyond the Flickr photos it
//! was trained on.

use std::collections::HashMap;

use serde::Serialize;

use super::metrics::{self, Retrieval};
use super::table::{self, TableError};
use crate::model::scorer::Scorer;
use crate::model::ImageEmbedding;

/// The committed queries: id, English, Russian, relevant file names (comma-separated).
pub const QUERIES: &str = include_str!("../../tests/fixtures/outside_queries.tsv");

/// One labelled query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutsideQuery {
    pub id: String,
    pub english: String,
    pub russian: String,
    /// File names (in the image folder) that answer the query.
    pub relevant: Vec<String>,
}

/// Parses the query table: `#` comments, the header `id\ten\tru\trelevant`, then a query a line.
pub fn parse(text: &str) -> Result<Vec<OutsideQuery>, TableError> {
    table::rows("outside queries", text, 4, "id, en, ru, relevant", |h| {
        h == ["id", "en", "ru", "relevant"]
    })?
    .into_iter()
    .map(|(line, f)| {
        let relevant: Vec<String> = f[3]
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if f[..3].iter().any(|f| f.trim().is_empty()) || relevant.is_empty() {
            return Err(TableError {
                table: "outside queries",
                line,
                reason: "empty field".into(),
            });
        }
        Ok(OutsideQuery {
            id: f[0].to_string(),
            english: f[1].trim().to_string(),
            russian: f[2].trim().to_string(),
            relevant,
        })
    })
    .collect()
}

/// The committed queries.
pub fn queries() -> Vec<OutsideQuery> {
    parse(QUERIES).expect("tests/fixtures/outside_queries.tsv is well formed")
}

/// One query's outcome, for reading the report by hand.
#[derive(Debug, Clone, Serialize)]
pub struct QueryOutcome {
    pub id: String,
    pub english: String,
    /// Rank of the best-ranked relevant image (1 = first), in English and in Russian.
    pub rank_en: usize,
    pub rank_ru: usize,
    /// The image ranked first for the English query.
    pub top_en: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutsideReport {
    /// Where the images were read from.
    pub source: String,
    pub images: usize,
    pub english: Retrieval,
    pub russian: Retrieval,
    /// The zero-shot ConSE term alone, English queries (a reference point).
    pub conse_only_english: Retrieval,
    pub per_query: Vec<QueryOutcome>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum OutsideError {
    #[error("{query}: relevant image {image} is not among the {images} images of {folder}")]
    MissingImage {
        query: String,
        image: String,
        images: usize,
        folder: String,
    },
    #[error("{0} text embeddings for {1} queries")]
    Embeddings(usize, usize),
}

/// Ranks `images` (file name → encoder output) for every query. `english[i]` and `russian[i]`
/// are the text embeddings of `queries[i]`.
pub fn evaluate(
    source: &str,
    scorer: &Scorer,
    images: &HashMap<String, ImageEmbedding>,
    queries: &[OutsideQuery],
    english: &[Vec<f32>],
    russian: &[Vec<f32>],
) -> Result<OutsideReport, OutsideError> {
    if english.len() != queries.len() || russian.len() != queries.len() {
        return Err(OutsideError::Embeddings(
            english.len().min(russian.len()),
            queries.len(),
        ));
    }
    let mut names: Vec<&str> = images.keys().map(String::as_str).collect();
    names.sort_unstable();
    let position: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let vectors: Vec<Vec<f32>> = names
        .iter()
        .map(|n| scorer.image_vector(&images[*n]))
        .collect();
    let conse: Vec<Vec<f32>> = names
        .iter()
        .map(|n| scorer.conse_vector(&images[*n].top_classes))
        .collect();
    let rank_all = |y: &[f32]| -> Vec<f32> {
        let q = scorer.query_vector(y);
        vectors.iter().map(|z| scorer.score(z, &q)).collect()
    };
    let (mut en, mut ru, mut co, mut rel_all) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut per_query = Vec::new();
    for ((q, y_en), y_ru) in queries.iter().zip(english).zip(russian) {
        let rel: Vec<usize> = q
            .relevant
            .iter()
            .map(|r| {
                position
                    .get(r.as_str())
                    .copied()
                    .ok_or_else(|| OutsideError::MissingImage {
                        query: q.id.clone(),
                        image: r.clone(),
                        images: names.len(),
                        folder: source.to_string(),
                    })
            })
            .collect::<Result<_, _>>()?;
        let s_en = rank_all(y_en);
        let s_ru = rank_all(y_ru);
        let best = |s: &[f32]| {
            rel.iter()
                .filter_map(|&r| metrics::rank_of(s, r))
                .min()
                .unwrap_or(names.len())
        };
        let top = s_en
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(String::new(), |(i, _)| names[i].to_string());
        per_query.push(QueryOutcome {
            id: q.id.clone(),
            english: q.english.clone(),
            rank_en: best(&s_en),
            rank_ru: best(&s_ru),
            top_en: top,
        });
        let y_conse = scorer.conse_text(y_en);
        co.push(
            conse
                .iter()
                .map(|w| crate::model::scorer::dot(w, &y_conse))
                .collect(),
        );
        en.push(s_en);
        ru.push(s_ru);
        rel_all.push(rel);
    }
    Ok(OutsideReport {
        source: source.to_string(),
        images: names.len(),
        english: metrics::retrieval_any(&en, &rel_all),
        russian: metrics::retrieval_any(&ru, &rel_all),
        conse_only_english: metrics::retrieval_any(&co, &rel_all),
        per_query,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_queries_parse() {
        let q = queries();
        assert!(q.len() >= 30, "{}", q.len());
        let mut ids: Vec<&str> = q.iter().map(|q| q.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), q.len(), "duplicate ids");
        assert!(q.iter().all(|q| q
            .russian
            .chars()
            .any(|c| matches!(c, 'а'..='я' | 'А'..='Я' | 'ё'))));
        // No query about children: the legal filter lets every one through in both languages.
        for q in &q {
            assert!(
                !crate::legal::check_query(&q.english).is_blocked(),
                "{}",
                q.id
            );
            assert!(
                !crate::legal::check_query(&q.russian).is_blocked(),
                "{}",
                q.id
            );
        }
    }

    #[test]
    fn bad_tables_name_the_line() {
        let e = parse("id\ten\tru\trelevant\nq1\ta cat\tкот\t\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse("# x\nid\ten\trelevant\n").unwrap_err();
        assert_eq!(e.line, 2);
        let q = parse("id\ten\tru\trelevant\nq1\ta cat\tкот\ta.jpg,b.png\n").unwrap();
        assert_eq!(q[0].relevant, ["a.jpg", "b.png"]);
    }
}
