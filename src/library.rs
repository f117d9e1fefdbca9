//! The library: a folder's images as the scorer sees them, kept up to date in a memory-mapped
//! search store under the cache folder, and ranked against a query's [`Plan`].
//!
//! [`Library::build_for`] decides, after an index run, which rows of the previous store can be
//! reused and which must be computed from the cache (and whether the basis is fitted anew), and
//! writes the legal image check's verdicts into the cache; [`Library::open_stored`] opens the
//! store of a folder searched before without scanning it.

use std::collections::{HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};

use half::f16;
use half::slice::HalfFloatSliceExt;
use ndarray::Array2;
use rayon::prelude::*;

use crate::cache::{Cache, CacheError, ContentHash};
use crate::declarations::{Cover, Kind};
use crate::display::escape_path;
use crate::index::Checker;
use crate::legal::check::Stage;
use crate::model::scorer::cosine;
use crate::model::{ImageEmbedding, Scorer};
use crate::search::{image_logit, shortlist_len, Plan, TermVector, EXAMPLE_RESCORED};
use crate::store::{self, Basis, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "{}: an indexed image's vector is missing from the cache; index the folder again",
        escape_path(dir)
    )]
    Missing { dir: PathBuf },
}

/// One ranked image.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub rank: usize,
    pub score: f32,
    pub path: PathBuf,
    pub hash: ContentHash,
    /// Why it may be shown: the legal check, or a declaration of the owner's.
    pub shown_by: store::Mark,
    /// The declaration that shows it, when one does (filled in by the engine).
    pub declared: Option<crate::declarations::Mark>,
}

impl Hit {
    /// A hit the legal check shows, of unknown content (for front ends' tests and examples).
    pub fn plain(rank: usize, score: f32, path: PathBuf) -> Hit {
        Hit {
            rank,
            score,
            path,
            hash: [0; 32],
            shown_by: store::Mark::Check,
            declared: None,
        }
    }
}

/// How many of a folder's images the legal check withheld, and how many it flagged but showed
/// (nobody in view; adults only) or the owner's declarations show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LegalSummary {
    /// Withheld as likely showing a child.
    pub withheld: usize,
    /// Flagged by the whole-image check, shown because nobody is in view.
    pub no_person: usize,
    /// Flagged, shown because the people in view are taken for adults.
    pub adults: usize,
    /// Withheld by the check, shown by a guardian's consent.
    pub consented: usize,
    /// Withheld by the check, shown because the owner declared no child there.
    pub declared_no_child: usize,
}

/// How many results, and the least score shown.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub top: usize,
    pub min_score: f32,
}

/// The folder's images as the scorer sees them, children's images withheld: a memory-mapped
/// [`Store`] of compact vectors under the cache folder (see [`crate::store`]).
///
/// [`Library::open_stored`] loads the store of a folder searched before without scanning it (for
/// results at once); [`Library::build_for`] brings it up to date after an index run, reusing the
/// rows of unchanged content and computing only the new ones.
pub struct Library {
    pub(crate) store: Option<Store>,
    /// How this library came about.
    pub origin: Origin,
    /// Whether a damaged row was reported yet (once per library).
    pub(crate) warned: AtomicBool,
}

/// How a [`Library`] came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Nothing to search.
    Empty,
    /// An existing store, unchanged.
    Loaded,
    /// A store (re)built: rows copied from the previous store, rows computed from the cache,
    /// and whether the basis was fitted anew.
    Built {
        reused: usize,
        computed: usize,
        refit: bool,
    },
}

/// The mark left beside a store whose full vectors a search found damaged.
pub(crate) fn damage_marker(store: &Path) -> PathBuf {
    store.with_extension("damaged")
}

/// Where the store of the folder `root` lives in the cache folder `cache_dir`.
pub fn store_path(cache_dir: &Path, root: &Path) -> PathBuf {
    let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    let h = blake3::hash(root.as_os_str().as_bytes());
    let hex: String = h.as_bytes()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    cache_dir.join("stores").join(format!("{hex}.pstore"))
}

/// Identifies everything a store's vectors depend on: the scorer's weights and constants, the
/// image encoder (and its preprocessing), the legal image check (`None`: no check, everything
/// withheld), the store format and rank.
pub(crate) fn store_key(
    scorer: &Scorer,
    fingerprint: &[u8; 16],
    check: Option<&[u8; 16]>,
) -> [u8; 16] {
    let mut h = blake3::Hasher::new();
    h.update(b"picseek-store");
    h.update(&store::FORMAT_VERSION.to_le_bytes());
    h.update(&(store::DEFAULT_RANK as u64).to_le_bytes());
    h.update(fingerprint);
    let w = &scorer.weights;
    for part in [
        &w.img_mean,
        &w.img_std,
        &w.img_proj,
        &w.img_bias,
        &w.txt_proj,
        &w.txt_bias,
        &w.class_text,
    ] {
        h.update(bytemuck::cast_slice(part));
    }
    let m = &scorer.meta;
    for v in [m.a, m.b, m.c] {
        h.update(&v.to_le_bytes());
    }
    for v in [m.proj_dim, m.members, m.conse_top_k] {
        h.update(&(v as u64).to_le_bytes());
    }
    match check {
        Some(c) => h.update(c),
        None => h.update(b"no-detector"),
    };
    let mut out = [0u8; 16];
    out.copy_from_slice(&h.finalize().as_bytes()[..16]);
    out
}

/// Digest of a folder's (path, content hash) list, in order.
pub(crate) fn folder_digest(indexed: &[(PathBuf, ContentHash)]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(&(indexed.len() as u64).to_le_bytes());
    for (p, hash) in indexed {
        let b = p.as_os_str().as_bytes();
        h.update(&(b.len() as u64).to_le_bytes());
        h.update(b);
        h.update(hash);
    }
    *h.finalize().as_bytes()
}

/// What a store is made for: [`Library::open_stored`] opens it only for this scorer, encoder
/// (`fingerprint`), legal check (`check`: its fingerprint) and declarations (`declared`: the
/// digest of those in force).
#[derive(Clone, Copy)]
pub struct MadeFor<'a> {
    pub scorer: &'a Scorer,
    pub fingerprint: &'a [u8; 16],
    pub check: Option<&'a [u8; 16]>,
    pub declared: [u8; 16],
}

/// Writes the store at `path` (see [`store_path`]) of a folder holding `indexed`, keyed as
/// [`Library::open_stored`] expects for `made_for`, with the full vectors from `fill` and the
/// reduced ones through `basis`: a store made without an index run (the benchmarks' synthetic
/// libraries at scale).
pub fn write_store<E: std::fmt::Display>(
    path: &Path,
    indexed: &[(PathBuf, ContentHash)],
    made_for: MadeFor<'_>,
    basis: &store::Basis,
    fill: impl FnMut(store::ChunkOut<'_>) -> Result<(), E>,
) -> Result<(), store::StoreError> {
    let rows: Vec<(&Path, ContentHash)> = indexed.iter().map(|(p, h)| (p.as_path(), *h)).collect();
    store::write(
        path,
        store_key(made_for.scorer, made_for.fingerprint, made_for.check),
        folder_digest(indexed),
        basis,
        &rows,
        store::LegalCounts {
            declared: made_for.declared,
            ..Default::default()
        },
        fill,
    )
}

/// What decides which images a library shows: the legal check (`None`: none fitted, every
/// image withheld) and the owner's declarations in force.
pub struct Legal<'a> {
    pub check: Option<&'a Checker<'a>>,
    pub cover: &'a Cover,
}

/// Where a row of the new store comes from.
#[derive(Clone, Copy)]
enum Source {
    /// Row of the previous store.
    Old(usize),
    /// Computed from the cache.
    New,
}

impl Library {
    fn from_store(store: Store, origin: Origin) -> Self {
        Library {
            store: Some(store),
            origin,
            warned: AtomicBool::new(false),
        }
    }

    /// A library with nothing to search.
    pub fn empty() -> Self {
        Library {
            store: None,
            origin: Origin::Empty,
            warned: AtomicBool::new(false),
        }
    }

    /// The library last stored for the folder `root`, without scanning it: what the folder held
    /// at its last index. `None` when there is none, or it was made with another scorer, encoder
    /// or legal check (`check`: its fingerprint), or under other declarations (`declared`: the
    /// digest of those in force), or it is damaged (with a warning; the next build replaces it).
    pub fn open_stored(
        cache_dir: &Path,
        root: &Path,
        fingerprint: &[u8; 16],
        scorer: &Scorer,
        check: Option<&[u8; 16]>,
        declared: &[u8; 16],
    ) -> Option<Self> {
        let path = store_path(cache_dir, root);
        if damage_marker(&path).exists() {
            return None;
        }
        match Store::open(&path) {
            Ok(s)
                if s.header().key == store_key(scorer, fingerprint, check)
                    && s.header().declared == *declared =>
            {
                Some(Self::from_store(s, Origin::Loaded))
            }
            Ok(_) => None,
            Err(e) if e.is_not_found() => None,
            Err(e) => {
                tracing::warn!("{e}; it will be rebuilt from the cache");
                None
            }
        }
    }

    /// Builds the library of the folder `root` from its indexed files (as returned by an index
    /// run), and stores it for [`Library::open_stored`]. Unchanged folder and declarations: the
    /// stored library is opened as it is. Otherwise rows of known content are copied from the
    /// previous store and only new content is read from the cache. A damaged store is rebuilt
    /// (with a one-line warning); the cache itself is only read, except for new legal verdicts.
    ///
    /// Each image is shown or withheld as the legal check decides ([`Checker::verdict_for`]:
    /// cached, or decided now), unless the owner's declarations in force (`legal.cover`) cover
    /// a withheld one: it is then shown, marked.
    pub fn build_for(
        root: &Path,
        indexed: &[(PathBuf, ContentHash)],
        cache: &Cache,
        fingerprint: &[u8; 16],
        scorer: &Scorer,
        legal: &Legal,
    ) -> Result<Self, LibraryError> {
        let check = legal.check;
        let check_fp = check.map(Checker::fingerprint);
        let key = store_key(scorer, fingerprint, check_fp.as_ref());
        let digest = folder_digest(indexed);
        let declared = legal.cover.digest();
        let path = store_path(cache.dir(), root);
        let old = match Store::open(&path) {
            Ok(s) if s.header().key == key => Some(s),
            Ok(_) => None,
            Err(e) if e.is_not_found() => None,
            Err(e) => {
                tracing::warn!("{e}; rebuilding it from the cache");
                None
            }
        };
        // A store a search found damaged (see `rank`) is rebuilt even when the folder is
        // unchanged: its good rows are copied, the damaged ones recomputed from the cache.
        let marked = damage_marker(&path).exists();
        let same_cover = old
            .as_ref()
            .is_some_and(|s| s.header().declared == declared);
        if !marked && same_cover && old.as_ref().is_some_and(|s| s.header().digest == digest) {
            return Ok(Self::from_store(
                old.expect("checked above"),
                Origin::Loaded,
            ));
        }

        // Which rows, from where.
        let mut old_rows: HashMap<&ContentHash, usize> = HashMap::new();
        let mut old_withheld: HashSet<&ContentHash> = HashSet::new();
        if let Some(s) = &old {
            for (i, h) in s.hashes().iter().enumerate() {
                old_rows.entry(h).or_insert(i);
            }
            if same_cover {
                old_withheld.extend(s.withheld_hashes());
            }
        }
        let mut rows: Vec<(&Path, ContentHash, Source)> = Vec::new();
        let mut marks: Vec<store::Mark> = Vec::new();
        let mut withheld: Vec<ContentHash> = Vec::new();
        let (mut cleared, mut adults) = (0usize, 0usize);
        let mut resizer = fast_image_resize::Resizer::new();
        for (p, hash) in indexed {
            if old_withheld.contains(hash) {
                withheld.push(*hash);
                continue;
            }
            let old_row = old_rows.get(hash).copied();
            if old_row.is_none() && !cache.has_embedding(fingerprint, hash) {
                continue;
            }
            // Without a fitted detector nothing can be cleared, so everything is withheld.
            let stage = match check {
                None => Stage::Unverified,
                Some(c) => match c.verdict_for(cache, fingerprint, p, hash, &mut resizer)? {
                    Some(v) => v.stage,
                    None => continue,
                },
            };
            let mark = match (stage.withholds(), legal.cover.mark(hash)) {
                (false, _) => store::Mark::Check,
                (true, Some(m)) if m.kind == Kind::Consent => store::Mark::Consent,
                (true, Some(_)) => store::Mark::NoChild,
                (true, None) => {
                    withheld.push(*hash);
                    continue;
                }
            };
            cleared += usize::from(stage == Stage::NoPerson);
            adults += usize::from(stage == Stage::Adults);
            let source = old_row.map_or(Source::New, Source::Old);
            rows.push((p, *hash, source));
            marks.push(mark);
        }
        if rows.is_empty() && withheld.is_empty() {
            return Ok(Self::empty());
        }

        let dim = scorer.compact_dim();
        // Full vectors of some rows, from the previous store or the cache.
        let vectors_of = |idx: &[usize]| -> Result<Array2<f32>, LibraryError> {
            let mut out = Array2::<f32>::zeros((idx.len(), dim));
            let mut new: Vec<(usize, ImageEmbedding)> = Vec::new();
            for (k, &i) in idx.iter().enumerate() {
                match rows[i].2 {
                    Source::Old(j) => {
                        let s = old.as_ref().expect("old rows come from a store");
                        let row = out.row_mut(k).into_slice().expect("contiguous");
                        match s.full_row(j) {
                            Some(v) => v.convert_to_f32_slice(row),
                            None => new.push((k, Self::embedding(cache, fingerprint, &rows[i].1)?)),
                        }
                    }
                    Source::New => new.push((k, Self::embedding(cache, fingerprint, &rows[i].1)?)),
                }
            }
            let refs: Vec<&ImageEmbedding> = new.iter().map(|(_, e)| e).collect();
            let z = scorer.image_vectors(&refs);
            for ((k, _), zrow) in new.iter().zip(z.rows()) {
                out.row_mut(*k).assign(&zrow);
            }
            Ok(out)
        };

        // The basis: kept while it was fitted on at least half of what a fit would use now.
        let want = rows.len().min(store::FIT_SAMPLE);
        let keep = old.as_ref().filter(|s| {
            let h = s.header();
            h.rank as usize == store::DEFAULT_RANK.min(dim) && h.fitted_on as usize * 2 >= want
        });
        let (basis, refit) = match keep {
            Some(s) => (s.basis().clone(), false),
            None => {
                // A stable pseudo-random sample: the rows with the smallest content hashes.
                let mut idx: Vec<usize> = (0..rows.len()).collect();
                idx.sort_by(|&a, &b| rows[a].1.cmp(&rows[b].1));
                idx.truncate(want);
                let sample = vectors_of(&idx)?;
                let sample = sample.as_slice().expect("contiguous");
                (Basis::fit(sample, dim, store::DEFAULT_RANK, 0), true)
            }
        };

        let mut reused = 0;
        let mut computed = 0;
        let row_list: Vec<(&Path, ContentHash)> = rows.iter().map(|(p, h, _)| (*p, *h)).collect();
        let counts = store::LegalCounts {
            withheld: &withheld,
            cleared,
            adults,
            marks: &marks,
            declared,
        };
        store::write(&path, key, digest, &basis, &row_list, counts, |c| {
            let d = dim;
            let mut fetch = Vec::new();
            for (k, i) in c.rows.clone().enumerate() {
                let full = &mut c.full[k * d..(k + 1) * d];
                let old_row = match rows[i].2 {
                    Source::Old(j) => old
                        .as_ref()
                        .filter(|s| s.read_full(j, full))
                        .map(|s| (s, j)),
                    Source::New => None,
                };
                match old_row {
                    Some((s, j)) => {
                        if !refit {
                            let r = basis.rank;
                            c.codes[k * r..(k + 1) * r]
                                .copy_from_slice(&s.codes()[j * r..(j + 1) * r]);
                            c.scales[k] = s.scales()[j];
                            c.have_codes[k] = true;
                        }
                        reused += 1;
                    }
                    None => fetch.push((k, i)),
                }
            }
            let records: Vec<ImageEmbedding> = fetch
                .par_iter()
                .map(|(_, i)| Self::embedding(cache, fingerprint, &rows[*i].1))
                .collect::<Result<_, _>>()?;
            let refs: Vec<&ImageEmbedding> = records.iter().collect();
            let z: Vec<Array2<f32>> = refs
                .par_chunks(256)
                .map(|r| scorer.image_vectors(r))
                .collect();
            for ((k, _), zrow) in fetch.iter().zip(z.iter().flat_map(|a| a.rows())) {
                c.full[k * d..(k + 1) * d]
                    .convert_from_f32_slice(zrow.as_slice().expect("contiguous"));
            }
            computed += fetch.len();
            Ok::<(), LibraryError>(())
        })?;
        drop(old);
        if marked {
            let _ = std::fs::remove_file(damage_marker(&path));
        }
        let store = Store::open(&path)?;
        Ok(Self::from_store(
            store,
            Origin::Built {
                reused,
                computed,
                refit,
            },
        ))
    }

    fn embedding(
        cache: &Cache,
        fingerprint: &[u8; 16],
        hash: &ContentHash,
    ) -> Result<ImageEmbedding, LibraryError> {
        cache
            .embedding(fingerprint, hash)
            .map(|r| r.embedding)
            .ok_or_else(|| LibraryError::Missing {
                dir: cache.dir().to_path_buf(),
            })
    }

    /// Number of searchable images.
    pub fn len(&self) -> usize {
        self.store.as_ref().map_or(0, Store::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Images left out because they likely depict a child.
    pub fn withheld(&self) -> usize {
        self.store
            .as_ref()
            .map_or(0, |s| s.header().withheld as usize)
    }

    /// What the legal check and the owner's declarations made of the folder.
    pub fn legal(&self) -> LegalSummary {
        self.store.as_ref().map_or_else(LegalSummary::default, |s| {
            let h = s.header();
            LegalSummary {
                withheld: h.withheld as usize,
                no_person: h.cleared as usize,
                adults: h.adults as usize,
                consented: h.consented as usize,
                declared_no_child: h.declared_no_child as usize,
            }
        })
    }

    /// The path of searchable image `i` (`i < len()`).
    pub fn path(&self, i: usize) -> &Path {
        self.store
            .as_ref()
            .map(|s| s.row_path(i))
            .expect("index within len()")
    }

    /// The paths of all searchable images, in scan order.
    pub fn paths(&self) -> impl Iterator<Item = &Path> + '_ {
        (0..self.len()).map(|i| self.path(i))
    }

    /// The store behind this library, if any.
    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }
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
                        let _ = std::fs::write(damage_marker(store.path()), b"");
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
                hash: store.hashes()[i],
                shown_by: store.mark(i),
                declared: None,
            })
            .collect()
    }
}
