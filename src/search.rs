//! Search: legal check → (index) → score → withhold → rank.
//!
//! A query costs one text encoding and one pass of int8 dot products over the folder's
//! memory-mapped search store (see [`crate::store`]), then an exact rescoring of the best few
//! hundred. A query the legal filter blocks is never encoded, run, stored or logged.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering as AtomicOrdering;

use half::f16;
use half::slice::HalfFloatSliceExt;
use rayon::prelude::*;

use crate::display::escape_path;
use crate::example::{Example, ExampleError};
use crate::cache::{Cache, ContentHash};
use crate::legal::{self, Verdict};
use crate::library::Library;
use crate::model::scorer::{cosine, sigmoid};
use crate::model::{ImageEmbedding, ModelError, Scorer, TextEncoder};
use crate::query::{Query, QueryError, Term};
use crate::store::{self, StoreError, TopK};

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
    Cache(#[from] crate::cache::CacheError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error(transparent)]
    Example(#[from] ExampleError),
    /// Something searching needs could not be had (a model, the cache), as its loader said.
    #[error("{0}")]
    Unavailable(String),
    #[error(
        "{}: an indexed image's vector is missing from the cache; index the folder again",
        crate::display::escape_path(dir)
    )]
    Missing { dir: PathBuf },
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
        /// Images the whole-image check flagged that were shown because nobody is in them.
        cleared: usize,
        /// Images scored.
        searched: usize,
    },
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub top: usize,
    pub min_score: f32,
}

/// Candidates compared by their image features when a query has an example image (at least;
/// 4 × the results asked for when that is more). Each costs one cache read.
pub const EXAMPLE_RESCORED: usize = 200;

/// How an example image's similarity becomes a logit: `IMAGE_SLOPE · (cos − IMAGE_MIDPOINT)`,
/// the cosine taken between image features (EfficientNet's pooled features). Measured on the
/// demo test images and copies of them (half size, JPEG quality 60, mirrored, and all three):
/// a copy's cosine to its original is ≥ 0.62 for 95% of the hardest copies (all three), ≥ 0.76
/// for one of the milder ones; the most similar *other* image is below 0.57 for 95% of images.
/// So a score of 0.5 is the line between a copy or close variant and a different picture.
pub const IMAGE_MIDPOINT: f32 = 0.6;
pub const IMAGE_SLOPE: f32 = 15.0;

/// A text taken away ([`TermVector::Excluded`]) is judged against the library rather than on
/// the scorer's absolute scale: the scorer is calibrated on captions, and a bare word that names
/// a background ("grass", "snow", "water") scores low as a caption on every photo, so
/// `1 − σ(logit)` hardly moves (measured: −1.8 to −3.4 on dogs on lawns and dogs indoors
/// alike). Instead its contrast with the everyday reference is taken over the best
/// [`EXCLUDED_POOL`] candidates for the terms added (or 4 × the results asked for when that
/// is more: the pool should be the kind of image asked for, so that "a dog - elephant" compares
/// dogs with dogs, not dogs with landscapes), and an image's logit for showing the text
/// is `EXCLUDED_SLOPE · ((contrast − median) / spread − EXCLUDED_MARGIN)`, spread being the
/// robust standard deviation (1.4826 × median absolute deviation, at least
/// [`EXCLUDED_MIN_SPREAD`]). So an image one spread above the typical candidate has even odds
/// of showing it. Chosen on the demo training images (dogs with "grass", "snow", "water",
/// in English and Russian; words absent from them, "elephant", "a boat", "a car", should
/// leave the results much as they were), then checked on the demo test images with 120
/// outside photos (`tests/minus_query.rs`; figures in `reports/experiments.md`).
pub const EXCLUDED_POOL: usize = 40;
pub const EXCLUDED_SLOPE: f32 = 3.0;
pub const EXCLUDED_MARGIN: f32 = 1.0;
pub const EXCLUDED_MIN_SPREAD: f32 = 0.1;

fn image_logit(cos: f32) -> f32 {
    IMAGE_SLOPE * (cos - IMAGE_MIDPOINT)
}

/// A query turned into vectors: each term scores an image on the logit scale, the terms
/// added are averaged, and each term taken away multiplies the score by the chance that the
/// image does not show it: `score = σ(mean of added logits) · Π (1 − σ(logit taken away))`.
/// A query of one text is `σ(z·q + b)`, the scorer's relevance.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub plus: Vec<TermVector>,
    pub minus: Vec<TermVector>,
}

/// One term of a [`Plan`].
#[derive(Debug, Clone)]
pub enum TermVector {
    /// A text's compact query vector `q`: logit `z·q + b`.
    Text(Vec<f32>),
    /// A text taken away: its compact query vector less the everyday reference
    /// ([`Scorer::everyday_query`]). `z·v` is a contrast, made a logit relative to the candidates
    /// (see [`EXCLUDED_POOL`]).
    Excluded(Vec<f32>),
    /// An example image: its image features (logit [`IMAGE_SLOPE`]·(cos − [`IMAGE_MIDPOINT`]))
    /// and its compact vector scaled to unit weighted cosine, for the shortlist (and for images
    /// whose features cannot be read).
    Image { features: Vec<f32>, z: Vec<f32> },
}

impl TermVector {
    /// An example image's term from its embedding.
    pub fn image(scorer: &Scorer, embedding: &ImageEmbedding) -> TermVector {
        Self::image_from(
            scorer,
            scorer.image_vector(embedding),
            embedding.features.clone(),
        )
    }

    /// An example image's term from its compact vector and its features.
    pub fn image_from(scorer: &Scorer, mut z: Vec<f32>, features: Vec<f32>) -> TermVector {
        // Only the image part: the last component carries the query offset when there is one.
        z.truncate(scorer.tower_dim() + crate::model::text::TEXT_DIM);
        let n2 = z.iter().map(|v| v * v).sum::<f32>();
        if n2 > 0.0 {
            z.iter_mut().for_each(|v| *v /= n2);
        }
        z.resize(scorer.compact_dim(), 0.0);
        TermVector::Image { features, z }
    }

    /// The term's logit from an image's compact vector (stored as f16).
    fn logit_z(&self, row: &[f16], b: f32) -> f32 {
        match self {
            TermVector::Text(q) => store::dot_f16(row, q) + b,
            TermVector::Excluded(v) => store::dot_f16(row, v),
            TermVector::Image { z, .. } => image_logit(store::dot_f16(row, z)),
        }
    }

    /// The term as a linear function of `z` (for the int8 shortlist).
    fn linear(&self) -> &[f32] {
        match self {
            TermVector::Text(q) | TermVector::Excluded(q) => q,
            TermVector::Image { z, .. } => z,
        }
    }

    /// How much a unit of [`Self::linear`] moves the logit, for the shortlist's proxy. An
    /// excluded text only counts once it is compared with the other candidates: none.
    fn slope(&self) -> f32 {
        match self {
            TermVector::Text(_) => 1.0,
            TermVector::Excluded(_) => 0.0,
            TermVector::Image { .. } => IMAGE_SLOPE,
        }
    }
}

impl Plan {
    /// Added terms first, then the terms taken away.
    fn terms(&self) -> impl Iterator<Item = &TermVector> + '_ {
        self.plus.iter().chain(&self.minus)
    }

    /// The score from every term's logit (in [`Plan::terms`] order).
    fn combine(&self, logits: &[f32]) -> f32 {
        self.combine_by(|k, _| logits[k])
    }

    /// The score, each term's logit given by `logit(position in [`Plan::terms`], term)`.
    fn combine_by(&self, logit: impl Fn(usize, &TermVector) -> f32) -> f32 {
        let n = self.plus.len();
        let mean = self
            .plus
            .iter()
            .enumerate()
            .map(|(k, t)| logit(k, t))
            .sum::<f32>()
            / n.max(1) as f32;
        self.minus
            .iter()
            .enumerate()
            .fold(sigmoid(mean), |s, (k, t)| {
                s * (1.0 - sigmoid(logit(n + k, t)))
            })
    }

    fn has_image(&self) -> bool {
        self.terms().any(|t| matches!(t, TermVector::Image { .. }))
    }

    fn has_excluded(&self) -> bool {
        self.terms().any(|t| matches!(t, TermVector::Excluded(_)))
    }

    /// Turns each excluded text's contrast into a logit relative to the candidates (see
    /// [`EXCLUDED_POOL`]): the pool is the best candidates by the terms added alone. A row
    /// whose contrast is unknown (NaN: its vector failed its check) is taken as typical.
    fn judge_excluded(&self, rows: &mut [(f32, usize, Vec<f32>)], top: usize) {
        let n = self.plus.len();
        let size = EXCLUDED_POOL.max(top.saturating_mul(4));
        let mut pool: Vec<usize> = (0..rows.len()).collect();
        let added = |r: &(f32, usize, Vec<f32>)| r.2[..n].iter().sum::<f32>();
        if pool.len() > size {
            pool.select_nth_unstable_by(size - 1, |&a, &b| {
                added(&rows[b]).total_cmp(&added(&rows[a]))
            });
            pool.truncate(size);
        }
        for (k, term) in self.terms().enumerate() {
            if !matches!(term, TermVector::Excluded(_)) {
                continue;
            }
            let values: Vec<f32> = pool.iter().map(|&r| rows[r].2[k]).collect();
            let (median, spread) = robust_spread(values);
            for row in rows.iter_mut() {
                let c = row.2[k];
                let z = if c.is_nan() {
                    0.0
                } else {
                    (c - median) / spread
                };
                row.2[k] = EXCLUDED_SLOPE * (z - EXCLUDED_MARGIN);
            }
        }
    }

    /// A linear stand-in for the score, for picking candidates with the int8 pass: the mean of
    /// the added terms' logits less half of each taken away.
    pub fn proxy(&self, scorer: &Scorer) -> Vec<f32> {
        let mut v = vec![0.0f32; scorer.compact_dim()];
        let n = self.plus.len().max(1) as f32;
        for (terms, w) in [(&self.plus, 1.0 / n), (&self.minus, -0.5)] {
            for t in terms.iter() {
                let k = w * t.slope();
                v.iter_mut().zip(t.linear()).for_each(|(a, x)| *a += k * x);
            }
        }
        v
    }
}

/// The median and the robust standard deviation (1.4826 × the median absolute deviation, at
/// least [`EXCLUDED_MIN_SPREAD`]) of the values that are not NaN; (0, the minimum) for none.
fn robust_spread(mut values: Vec<f32>) -> (f32, f32) {
    values.retain(|v| !v.is_nan());
    if values.is_empty() {
        return (0.0, EXCLUDED_MIN_SPREAD);
    }
    let median = median_of(&mut values);
    let mut deviations: Vec<f32> = values.iter().map(|v| (v - median).abs()).collect();
    let spread = 1.4826 * median_of(&mut deviations);
    (median, spread.max(EXCLUDED_MIN_SPREAD))
}

/// The median of a non-empty slice (reorders it).
fn median_of(values: &mut [f32]) -> f32 {
    let mid = values.len() / 2;
    let (_, m, _) = values.select_nth_unstable_by(mid, f32::total_cmp);
    let upper = *m;
    if values.len() % 2 == 1 {
        return upper;
    }
    let lower = values[..mid]
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    (lower + upper) / 2.0
}

/// The legal filter's verdict on a text, as the outcome of a search it refuses.
fn legal_block(text: &str) -> Option<Outcome> {
    match legal::check_query(text) {
        Verdict::Blocked { term, .. } => Some(Outcome::Blocked {
            term,
            reason: legal::REASON,
        }),
        _ => None,
    }
}

/// Checks a query: the legal filter first, then emptiness and length.
pub fn check(query: &str) -> Result<Option<Outcome>, SearchError> {
    if let Some(blocked) = legal_block(query) {
        return Ok(Some(blocked));
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

/// Checks every text term of a query, and all of them read together (so that a phrase split
/// across terms, `ein + Kind`, is read as the phrase it makes).
pub fn check_terms(query: &Query) -> Result<Option<Outcome>, SearchError> {
    let texts: Vec<&str> = query.texts().collect();
    for t in &texts {
        if let Some(blocked) = check(t)? {
            return Ok(Some(blocked));
        }
    }
    if texts.len() > 1 {
        return Ok(legal_block(&texts.join(" ")));
    }
    Ok(None)
}

/// Most candidates rescored exactly, reached at a million images.
pub const MAX_SHORTLIST: usize = 10_000;

/// Candidates rescored exactly for a query asking for `top` results among `n` images: at least
/// 4 × top and 200, and 1% of the images up to [`MAX_SHORTLIST`], since the number of images
/// whose approximate score can pass the true 10th grows with the library (`picseek bench
/// agreement`: 1% restores a top-10 overlap ≥ 0.98 at 100,000 images and at 1,000,000). Each
/// candidate costs a 3.3 KB read (about 3 µs of kernel time on the 2-core test machine, most of
/// the rescoring) and a CRC check.
pub fn shortlist_len(top: usize, n: usize) -> usize {
    top.saturating_mul(4)
        .max(200)
        .max((n / 100).min(MAX_SHORTLIST))
        .min(n)
}

impl Library {
    /// Scores the images against a text query's compact vector and keeps the best `top` at or
    /// above `min_score` (see [`Library::rank_plan`]).
    pub fn rank(&self, scorer: &Scorer, query_vector: &[f32], options: Options) -> Vec<Hit> {
        let plan = Plan {
            plus: vec![TermVector::Text(query_vector.to_vec())],
            minus: Vec::new(),
        };
        self.rank_plan(scorer, &plan, &|_| None, options)
    }

    /// Scores the images against a query plan and keeps the best `top` at or above
    /// `min_score`: an int8 pass over all images (parallel; a threshold read off a sample, then
    /// a selection) picks [`shortlist_len`] candidates by the plan's linear proxy
    /// ([`Plan::proxy`]), which are rescored exactly from their full vectors. Example images
    /// are then compared by their image features (`features` gives a row's, from the cache)
    /// for the best [`EXAMPLE_RESCORED`] (or 4 × top).
    pub fn rank_plan(
        &self,
        scorer: &Scorer,
        plan: &Plan,
        features: &(dyn Fn(&ContentHash) -> Option<Vec<f32>> + Sync),
        options: Options,
    ) -> Vec<Hit> {
        let Some(store) = &self.store else {
            return Vec::new();
        };
        if options.top == 0 || store.is_empty() || plan.plus.is_empty() {
            return Vec::new();
        }
        let b = scorer.meta.b;
        let proxy = plan.proxy(scorer);
        let (t, mean_term) = store.basis().query(&proxy);
        let mut short = store.shortlist(&t, shortlist_len(options.top, store.len()));
        // In file order: the reads then walk the page cache and the tags forward.
        short.sort_unstable_by_key(|&(_, i)| i);
        let dim = store.basis().dim;
        let with_images = plan.has_image();
        let with_excluded = plan.has_excluded();
        let keep_logits = with_images || with_excluded;
        // Every term's logit from the full vector (example images by their compact vector
        // for now); a damaged row keeps the proxy's approximation for every term.
        let mut scored: Vec<(f32, usize, Vec<f32>)> = short
            .par_iter()
            .map_init(
                || vec![f16::ZERO; dim],
                |half, &(approx, i)| {
                    let read = store.read_full(i, half);
                    if !read && !self.warned.swap(true, AtomicOrdering::Relaxed) {
                        // Marked, so that the next run rebuilds the store (a vector's damage
                        // is only seen when it is read, never at open).
                        let _ = std::fs::write(crate::library::damage_marker(store.path()), b"");
                        tracing::warn!(
                            "{}: search store is damaged (a vector fails its check); scores are approximate until the next run rebuilds it",
                            escape_path(store.path())
                        );
                    }
                    let logit = |_: usize, t: &TermVector| match (read, t) {
                        (true, _) => t.logit_z(half, b),
                        (false, TermVector::Excluded(_)) => f32::NAN,
                        (false, _) => approx + mean_term + b,
                    };
                    // Every term's logit is kept only where terms are judged again below; a
                    // plan of texts added needs the score alone (no allocation per row).
                    if keep_logits {
                        let logits: Vec<f32> =
                            plan.terms().enumerate().map(|(k, t)| logit(k, t)).collect();
                        (plan.combine(&logits), i, logits)
                    } else {
                        (plan.combine_by(logit), i, Vec::new())
                    }
                },
            )
            .collect();
        let by_score = |a: &(f32, usize, Vec<f32>), b: &(f32, usize, Vec<f32>)| {
            b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
        };
        if with_excluded {
            plan.judge_excluded(&mut scored, options.top);
            scored
                .iter_mut()
                .for_each(|(score, _, logits)| *score = plan.combine(logits));
        }
        if with_images {
            // Example images: the best by compact vectors, compared again by their features.
            let keep = EXAMPLE_RESCORED.max(options.top.saturating_mul(4));
            if scored.len() > keep {
                scored.select_nth_unstable_by(keep - 1, by_score);
                scored.truncate(keep);
            }
            let hashes = store.hashes();
            scored.par_iter_mut().for_each(|(score, i, logits)| {
                if let Some(f) = features(&hashes[*i]) {
                    for (logit, term) in logits.iter_mut().zip(plan.terms()) {
                        if let TermVector::Image { features: ex, .. } = term {
                            *logit = image_logit(cosine(&f, ex) as f32);
                        }
                    }
                    *score = plan.combine(logits);
                }
            });
        }
        scored.retain(|(s, _, _)| *s >= options.min_score);
        scored.sort_by(by_score);
        scored.truncate(options.top);
        scored
            .into_iter()
            .enumerate()
            .map(|(rank, (score, i, _))| Hit {
                rank: rank + 1,
                score,
                path: store.row_path(i).to_path_buf(),
            })
            .collect()
    }

    /// Exact ranking over all images (for measuring the store against full precision).
    pub fn rank_exact(&self, scorer: &Scorer, query_vector: &[f32], top: usize) -> Vec<usize> {
        let Some(store) = &self.store else {
            return Vec::new();
        };
        let dim = store.basis().dim;
        let top_k = (0..store.len())
            .into_par_iter()
            .fold(
                || (vec![f16::ZERO; dim], vec![0.0f32; dim], TopK::new(top)),
                |(mut half, mut buf, mut t), i| {
                    if store.read_full(i, &mut half) {
                        half.convert_to_f32_slice(&mut buf);
                        t.push(scorer.score(&buf, query_vector), i);
                    }
                    (half, buf, t)
                },
            )
            .map(|(_, _, t)| t)
            .reduce(|| TopK::new(top), TopK::merge);
        top_k.into_sorted().into_iter().map(|(_, i)| i).collect()
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
    Ok(library_results(library, library.rank(scorer, &q, options)))
}

/// The reason given when an example image is refused.
pub const IMAGE_REASON: &str = "The example image appears to show a child under 16; images of \
children may not be searched for without the consent of a parent or guardian.";

/// Runs a parsed query (terms added and taken away, texts and example images) over a library.
/// Every text term passes the legal filter first: one blocked term blocks the whole query.
/// `example` gives each example image as the legal image check left it ([`crate::example`]):
/// one refused, and the query is refused too. `features` gives a library image's features by
/// its content hash (from the cache), for comparing it with example images.
pub fn search_query(
    query: &Query,
    library: &Library,
    text: &TextEncoder,
    scorer: &Scorer,
    example: &dyn Fn(&Path) -> Result<Example, SearchError>,
    features: &(dyn Fn(&ContentHash) -> Option<Vec<f32>> + Sync),
    options: Options,
) -> Result<Outcome, SearchError> {
    if let Some(t) = query.plain_text() {
        return search(t, library, text, scorer, options);
    }
    if let Some(blocked) = check_terms(query)? {
        return Ok(blocked);
    }
    let mut plan = Plan::default();
    for (terms, out, added) in [
        (&query.plus, &mut plan.plus, true),
        (&query.minus, &mut plan.minus, false),
    ] {
        for term in terms {
            out.push(match term {
                Term::Text(t) if added => {
                    TermVector::Text(scorer.query_vector(&text.encode_one(t)?))
                }
                Term::Text(t) => {
                    let mut v = scorer.query_vector(&text.encode_one(t)?);
                    let reference = scorer.everyday_query(text)?;
                    v.iter_mut().zip(reference).for_each(|(a, r)| *a -= r);
                    TermVector::Excluded(v)
                }
                Term::Image(p) => match example(p)? {
                    Example::Allowed(e) => TermVector::image(scorer, &e),
                    Example::Refused => {
                        return Ok(Outcome::Blocked {
                            term: p.display().to_string(),
                            reason: IMAGE_REASON,
                        })
                    }
                },
            });
        }
    }
    Ok(library_results(
        library,
        library.rank_plan(scorer, &plan, features, options),
    ))
}

/// A library image's features by its content hash, read from the cache (for
/// [`search_query`] and [`Library::rank_plan`]).
pub fn cached_features<'a>(
    cache: &'a Cache,
    fingerprint: &'a [u8; 16],
) -> impl Fn(&ContentHash) -> Option<Vec<f32>> + Sync + 'a {
    move |hash| {
        cache
            .embedding(fingerprint, hash)
            .map(|r| r.embedding.features)
    }
}

fn library_results(library: &Library, hits: Vec<Hit>) -> Outcome {
    Outcome::Results {
        hits,
        withheld: library.withheld(),
        cleared: library.cleared(),
        searched: library.len(),
    }
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

    /// The score from kept logits and from logits given one by one agree, and follow the
    /// documented formula: σ(mean of added) · Π (1 − σ(taken away)).
    #[test]
    fn plan_scores_agree_with_the_formula() {
        let plan = Plan {
            plus: vec![TermVector::Text(vec![]), TermVector::Text(vec![])],
            minus: vec![TermVector::Text(vec![])],
        };
        let logits = [1.0f32, -3.0, 0.5];
        let want = sigmoid(-1.0) * (1.0 - sigmoid(0.5));
        assert!((plan.combine(&logits) - want).abs() < 1e-6);
        assert_eq!(plan.combine_by(|k, _| logits[k]), plan.combine(&logits));
        assert!(!plan.has_image());
    }

    #[test]
    fn median_and_spread_are_robust() {
        assert_eq!(median_of(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median_of(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        // One wild value moves neither; NaN is left out; a flat set gets the least spread.
        let (m, s) = robust_spread(vec![1.0, 2.0, 3.0, 100.0, f32::NAN]);
        assert_eq!(m, 2.5);
        assert!((s - 1.4826).abs() < 1e-5, "{s}");
        assert_eq!(robust_spread(vec![5.0; 9]), (5.0, EXCLUDED_MIN_SPREAD));
        assert_eq!(robust_spread(vec![]), (0.0, EXCLUDED_MIN_SPREAD));
    }

    /// An excluded text is judged against the pool of the best candidates: the one that shows
    /// it far more than the others is pushed down, the typical ones keep most of their score, and
    /// one whose contrast is unknown counts as typical.
    #[test]
    fn an_excluded_text_is_judged_against_the_candidates() {
        let plan = Plan {
            plus: vec![TermVector::Text(vec![])],
            minus: vec![TermVector::Excluded(vec![])],
        };
        // (score, row, [added logit, contrast]): the contrasts spread by 0.1 around 0.2 and one
        // stands out at 2.0.
        let mut rows: Vec<(f32, usize, Vec<f32>)> = (0..9)
            .map(|i| (0.0, i, vec![1.0, 0.1 + 0.025 * i as f32]))
            .collect();
        rows.push((0.0, 9, vec![1.0, 2.0]));
        rows.push((0.0, 10, vec![1.0, f32::NAN]));
        plan.judge_excluded(&mut rows, 10);
        let score = |r: &(f32, usize, Vec<f32>)| plan.combine(&r.2);
        let typical = score(&rows[4]);
        assert!(typical > 0.6 * sigmoid(1.0), "{typical}");
        assert!(score(&rows[9]) < 0.01, "{}", score(&rows[9]));
        assert_eq!(rows[10].2[1], -EXCLUDED_SLOPE * EXCLUDED_MARGIN);
        // The added term is left as it was.
        assert!(rows.iter().all(|r| r.2[0] == 1.0));
    }

    #[test]
    fn every_term_is_checked_and_all_of_them_together() {
        let blocked = |line: &str, not: &[&str]| {
            let not: Vec<String> = not.iter().map(|s| s.to_string()).collect();
            matches!(
                check_terms(&Query::parse(line, &not).unwrap()),
                Ok(Some(Outcome::Blocked { .. }))
            )
        };
        assert!(blocked("beach + kids", &[]));
        assert!(blocked("beach - children", &[]));
        assert!(blocked("beach", &["toddlers"]));
        assert!(blocked("ein + Kind spielt", &[]));
        assert!(!blocked("dog + beach - snow", &["cat"]));
    }
}
