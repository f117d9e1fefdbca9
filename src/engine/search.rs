//! Searching: a checked query's terms become vectors (texts encoded, example images read and
//! checked), the library ranks its images against them, and declared images get their marks.

use crate::cache::ContentHash;
use crate::legal::CheckedQuery;
use crate::library::{Hit, LegalSummary, Library, Options};
use crate::query::Term;
use crate::search::{Plan, TermVector};

use super::example::Example;
use super::{EngineError, Session};

/// The reason given when an example image is refused.
pub const IMAGE_REASON: &str = "The example image appears to show a child under 16; images of \
children may not be searched for without the consent of a parent or guardian.";

/// What a search came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// An example image was judged to show a child; nothing was searched.
    Refused { term: String, reason: &'static str },
    Results {
        hits: Vec<Hit>,
        /// What the legal check and the declarations made of the library.
        legal: LegalSummary,
        /// Images scored.
        searched: usize,
    },
}

impl Session {
    /// Runs a checked query over a library: texts added and taken away, and example images
    /// (each checked as a library image is: one judged to show a child refuses the query).
    pub fn search(
        &self,
        query: &CheckedQuery,
        library: &Library,
        options: Options,
    ) -> Result<Outcome, EngineError> {
        let text = self.text()?;
        let scorer = self.scorer()?;
        let hits = if let Some(t) = query.plain_text() {
            let q = scorer.query_vector(&text.encode_one(t.trim())?);
            library.rank(&scorer, &q, options)
        } else {
            let mut plan = Plan::default();
            for (terms, added) in [(query.plus(), true), (query.minus(), false)] {
                for term in terms {
                    let v = match term {
                        Term::Text(t) if added => {
                            TermVector::Text(scorer.query_vector(&text.encode_one(t)?))
                        }
                        Term::Text(t) => {
                            let mut v = scorer.query_vector(&text.encode_one(t)?);
                            let reference = scorer.everyday_query(&text)?;
                            v.iter_mut().zip(reference).for_each(|(a, r)| *a -= r);
                            TermVector::Excluded(v)
                        }
                        Term::Image(p) => match self.example(p)? {
                            Example::Allowed(e) => TermVector::image(&scorer, &e),
                            Example::Refused => {
                                return Ok(Outcome::Refused {
                                    term: p.display().to_string(),
                                    reason: IMAGE_REASON,
                                })
                            }
                        },
                    };
                    if added {
                        plan.plus.push(v);
                    } else {
                        plan.minus.push(v);
                    }
                }
            }
            // The cache is read only to compare example images (the example has opened it).
            let fp = self.image_fingerprint()?;
            let features = |h: &ContentHash| {
                let cache = self.cache_if_open()?;
                cache.embedding(&fp, h).map(|r| r.embedding.features)
            };
            library.rank_plan(&scorer, &plan, &features, options)
        };
        Ok(Outcome::Results {
            hits: self.with_marks(hits)?,
            legal: library.legal(),
            searched: library.len(),
        })
    }

    /// Gives each hit shown by a declaration the declaration's mark (who, when). A hit whose
    /// declaration is no longer in force (revoked or expired since the library was built) is
    /// left out.
    pub fn with_marks(&self, mut hits: Vec<Hit>) -> Result<Vec<Hit>, EngineError> {
        if hits.iter().all(|h| h.shown_by == crate::store::Mark::Check) {
            return Ok(hits);
        }
        let cover = self.cover()?;
        for h in hits.iter_mut() {
            if h.shown_by != crate::store::Mark::Check {
                h.declared = cover.mark(&h.hash).cloned();
            }
        }
        hits.retain(|h| h.shown_by == crate::store::Mark::Check || h.declared.is_some());
        for (i, h) in hits.iter_mut().enumerate() {
            h.rank = i + 1;
        }
        Ok(hits)
    }
}
