//! Test retrieval with queries in another language: the hand translations in
//! `tests/fixtures/queries_ru.tsv` (250 of the 500 test queries, written in Russian as a person
//! would type them) ranked over the 100 test images, beside the same queries in English.
//!
//! Reported over all the translated queries (filter off, to measure the model) and over the
//! queries the legal filter allows in each language (what a user gets).

use std::collections::HashMap;

use serde::Serialize;

use super::metrics::{self, Retrieval};
use super::ranker::TestRanker;
use super::table::{self, TableError};
use crate::dataset::Dataset;
use crate::legal;
use crate::train::Corpus;

/// The committed Russian translations of test queries (query_id, English, Russian).
pub const RUSSIAN: &str = include_str!("../../tests/fixtures/queries_ru.tsv");
/// The committed Russian translations of the training captions, for training only.
pub const RUSSIAN_CAPTIONS: &str = include_str!("../train/captions_ru.tsv");

/// One test query and its hand translation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translation {
    pub query_id: String,
    pub english: String,
    pub text: String,
}

/// Parses a translation table: `#` comments, a header `query_id\ten\t<lang>`, then one
/// translation a line.
pub fn parse(text: &str) -> Result<Vec<Translation>, TableError> {
    table::rows("translations", text, 3, "query_id, en, <language>", |h| {
        h[..2] == ["query_id", "en"]
    })?
    .into_iter()
    .map(|(line, f)| {
        if f.iter().any(|f| f.trim().is_empty()) {
            return Err(TableError {
                table: "translations",
                line,
                reason: "empty field".into(),
            });
        }
        Ok(Translation {
            query_id: f[0].to_string(),
            english: f[1].to_string(),
            text: f[2].trim().to_string(),
        })
    })
    .collect()
}

/// The committed Russian translations of test queries.
pub fn russian() -> Vec<Translation> {
    parse(RUSSIAN).expect("tests/fixtures/queries_ru.tsv is well formed")
}

/// The committed Russian translations of training captions.
pub fn russian_captions() -> Vec<Translation> {
    parse(RUSSIAN_CAPTIONS).expect("src/train/captions_ru.tsv is well formed")
}

/// Retrieval of translated queries beside the same queries in English.
#[derive(Debug, Clone, Serialize)]
pub struct LanguageReport {
    /// Translated queries ranked, filter off.
    pub all: Retrieval,
    /// The translated queries the legal filter allows (read in that language).
    pub allowed: Retrieval,
    /// The same queries in English, filter off.
    pub english_all: Retrieval,
    /// The same queries in English that the filter allows.
    pub english_allowed: Retrieval,
    /// `all.mrr / english_all.mrr`.
    pub mrr_ratio: f64,
    /// Queries the filter blocks in the translation but not in English, and the reverse.
    pub blocked_only_translated: usize,
    pub blocked_only_english: usize,
    /// Translations left out: their query is not among the dataset's test queries.
    pub queries_missing: usize,
}

/// Ranks the test images with `ranker` for each translation (its text embedding in
/// `corpus.translated[query_id]`) and for its English original. Translations of queries that are
/// not in the dataset, or were not embedded, are left out and counted in `queries_missing`.
pub(crate) fn evaluate(
    ds: &Dataset,
    corpus: &Corpus,
    ranker: &TestRanker,
    translations: &[Translation],
) -> LanguageReport {
    let image_of: HashMap<&str, &str> = ds
        .test_queries
        .iter()
        .map(|q| (q.query_id.as_str(), q.image.as_str()))
        .collect();
    let mut runs: [(Vec<Vec<f32>>, Vec<usize>); 4] = Default::default();
    let (mut only_t, mut only_e, mut missing) = (0, 0, 0);
    for t in translations {
        let found = image_of.get(t.query_id.as_str()).and_then(|image| {
            Some((
                corpus.translated.get(&t.query_id)?,
                corpus.text.get(&t.query_id)?,
                ranker.position(image)?,
            ))
        });
        let Some((y, english, rel)) = found else {
            missing += 1;
            continue;
        };
        let blocked_t = legal::check_query(&t.text).is_blocked();
        let blocked_e = legal::check_query(&t.english).is_blocked();
        only_t += usize::from(blocked_t && !blocked_e);
        only_e += usize::from(blocked_e && !blocked_t);
        for (run, y, blocked) in [
            (0, y, false),
            (1, y, blocked_t),
            (2, english, false),
            (3, english, blocked_e),
        ] {
            if !blocked {
                runs[run].0.push(ranker.scores(y));
                runs[run].1.push(rel);
            }
        }
    }
    let [all, allowed, english_all, english_allowed] =
        runs.map(|(scores, rel)| metrics::retrieval(&scores, &rel));
    LanguageReport {
        mrr_ratio: if english_all.mrr > 0.0 {
            all.mrr / english_all.mrr
        } else {
            f64::NAN
        },
        all,
        allowed,
        english_all,
        english_allowed,
        blocked_only_translated: only_t,
        blocked_only_english: only_e,
        queries_missing: missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_russian_queries_parse() {
        let t = russian();
        assert!(t.len() >= 200, "{}", t.len());
        assert!(t.iter().all(|t| t
            .text
            .chars()
            .any(|c| ('а'..='я').contains(&c.to_lowercase().next().unwrap()))));
        let mut ids: Vec<&str> = t.iter().map(|t| t.query_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), t.len(), "duplicate query ids");
    }

    #[test]
    fn the_training_translations_cover_other_captions_than_the_test_ones() {
        let train = russian_captions();
        assert!(train.len() >= 900, "{}", train.len());
        let test: std::collections::HashSet<String> =
            russian().into_iter().map(|t| t.query_id).collect();
        assert!(train.iter().all(|t| !test.contains(&t.query_id)));
        assert!(train.iter().all(|t| t
            .text
            .chars()
            .any(|c| matches!(c, 'а'..='я' | 'А'..='Я' | 'ё'))));
    }

    #[test]
    fn bad_tables_name_the_line() {
        let e = parse("# c\nquery_id\ten\tru\na\tb\n").unwrap_err();
        assert_eq!(e.line, 3);
        let e = parse("id\ttext\tru\n").unwrap_err();
        assert_eq!(e.line, 1);
        let e = parse("query_id\ten\tru\na\tb\t \n").unwrap_err();
        assert!(e.reason.contains("empty"), "{e}");
        assert_eq!(
            parse("query_id\ten\tru\nq#1\tA dog\tСобака\n").unwrap(),
            vec![Translation {
                query_id: "q#1".into(),
                english: "A dog".into(),
                text: "Собака".into()
            }]
        );
    }
}
