//! Search: legal check → (index) → score → withhold → rank.
//!
//! A query costs one text encoding and one pass of dot products over the folder's compact image
//! vectors. A query the legal filter blocks is never encoded, run, stored or logged.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::path::PathBuf;

use crate::index::{Cache, ContentHash};
use crate::legal::{self, images::ChildDetector, Verdict};
use crate::model::{ModelError, Scorer, TextEncoder};

/// Longest query accepted, in characters (the text encoder reads at most 256 tokens anyway).
pub const MAX_QUERY_CHARS: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("empty query: type what the images should show")]
    EmptyQuery,
    #[error("query too long ({0} characters; the limit is {MAX_QUERY_CHARS})")]
    QueryTooLong(usize),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Cache(#[from] crate::index::CacheError),
}

/// One ranked image.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Hit {
    pub rank: usize,
    pub score: f32,
    pub path: PathBuf,
}

/// What a search came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The legal filter refused the query; nothing was searched.
    Blocked { term: String, reason: &'static str },
    Results {
        hits: Vec<Hit>,
        /// Images left out because they likely depict a child.
        withheld: usize,
        /// Images scored.
        searched: usize,
    },
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub top: usize,
    pub min_score: f32,
}

/// Checks a query: the legal filter first, then emptiness and length.
pub fn check(query: &str) -> Result<Option<Outcome>, SearchError> {
    if let Verdict::Blocked { term, .. } = legal::check_query(query) {
        return Ok(Some(Outcome::Blocked {
            term,
            reason: legal::REASON,
        }));
    }
    let trimmed = query.trim();
    if trimmed.is_empty() {
        return Err(SearchError::EmptyQuery);
    }
    let n = trimmed.chars().count();
    if n > MAX_QUERY_CHARS {
        return Err(SearchError::QueryTooLong(n));
    }
    Ok(None)
}

/// The folder's images as the scorer sees them: compact vectors, children's images withheld.
pub struct Library {
    pub paths: Vec<PathBuf>,
    pub vectors: Vec<Vec<f32>>,
    pub withheld: usize,
}

impl Library {
    /// Builds the library from indexed files, using (and filling) the stored legal verdicts.
    pub fn build(
        indexed: &[(PathBuf, ContentHash)],
        cache: &Cache,
        fingerprint: &[u8; 16],
        scorer: &Scorer,
    ) -> Result<Self, SearchError> {
        let detector = ChildDetector::new(scorer);
        let mut lib = Library {
            paths: Vec::new(),
            vectors: Vec::new(),
            withheld: 0,
        };
        for (path, hash) in indexed {
            let Some(record) = cache.embedding(fingerprint, hash) else {
                continue;
            };
            // Without a fitted detector nothing can be cleared, so everything is withheld.
            let child = match &detector {
                Some(d) => match cache.verdict(&d.fingerprint(), hash) {
                    Some((child, _)) => child,
                    None => {
                        let p = d.probability(&record.embedding);
                        let child = d.is_child(&record.embedding);
                        cache.put_verdict(&d.fingerprint(), hash, (child, p))?;
                        child
                    }
                },
                None => true,
            };
            if child {
                lib.withheld += 1;
                continue;
            }
            lib.paths.push(path.clone());
            lib.vectors.push(scorer.image_vector(&record.embedding));
        }
        Ok(lib)
    }

    /// Scores every image against the query and keeps the best `top` at or above `min_score`.
    pub fn rank(&self, scorer: &Scorer, query_vector: &[f32], options: Options) -> Vec<Hit> {
        #[derive(PartialEq)]
        struct Entry(f32, usize);
        impl Eq for Entry {}
        impl PartialOrd for Entry {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }
        impl Ord for Entry {
            // Reversed, so the heap's top is the worst kept entry; ties go to the earlier path.
            fn cmp(&self, other: &Self) -> Ordering {
                other.0.total_cmp(&self.0).then(self.1.cmp(&other.1))
            }
        }
        let mut heap = BinaryHeap::with_capacity(options.top + 1);
        for (i, z) in self.vectors.iter().enumerate() {
            let s = scorer.score(z, query_vector);
            if s < options.min_score {
                continue;
            }
            heap.push(Entry(s, i));
            if heap.len() > options.top {
                heap.pop();
            }
        }
        let mut kept = heap.into_vec();
        kept.sort();
        kept.into_iter()
            .enumerate()
            .map(|(rank, Entry(score, i))| Hit {
                rank: rank + 1,
                score,
                path: self.paths[i].clone(),
            })
            .collect()
    }
}

/// Runs a query over a library.
pub fn search(
    query: &str,
    library: &Library,
    text: &TextEncoder,
    scorer: &Scorer,
    options: Options,
) -> Result<Outcome, SearchError> {
    if let Some(blocked) = check(query)? {
        return Ok(blocked);
    }
    let y = text.encode_one(query.trim())?;
    let q = scorer.query_vector(&y);
    Ok(Outcome::Results {
        hits: library.rank(scorer, &q, options),
        withheld: library.withheld,
        searched: library.vectors.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_blocks_before_anything_else() {
        assert!(matches!(
            check("two kids playing"),
            Ok(Some(Outcome::Blocked { .. }))
        ));
        assert!(matches!(check("   "), Err(SearchError::EmptyQuery)));
        assert!(matches!(
            check(&"a".repeat(2000)),
            Err(SearchError::QueryTooLong(2000))
        ));
        assert!(matches!(check("dog on grass"), Ok(None)));
    }
}
