//! Combined queries over the demo test images with the committed models: a test query's first
//! half with its second half added as a `+` term must not rank the query's image lower on
//! average (MRR) than the first half alone.

mod common;

use std::path::{Path, PathBuf};

use picseek::example::Example;
use picseek::index::view_fingerprint;
use picseek::cache::Cache;
use picseek::legal::check::ImageCheck;
use picseek::legal::gate::PersonGate;
use picseek::library::Library;
use picseek::model::{ImageEncoder, Scorer, TextEncoder};
use picseek::query::{Query, Term};
use picseek::search::{self, Options, Outcome, SearchError};

use common::{index_all, models, root, test_images};

struct World {
    library: Library,
    text: TextEncoder,
    scorer: Scorer,
    cache: Cache,
    fp: [u8; 16],
}

fn world() -> (tempfile::TempDir, World) {
    let models = models();
    let encoder = ImageEncoder::load(&models).unwrap();
    let scorer = Scorer::load(&models).unwrap();
    let people = PersonGate::load(&models).unwrap();
    let check = ImageCheck::new(&scorer, &people);
    let tmp = tempfile::tempdir().unwrap();
    let cache = Cache::open(&tmp.path().join("cache")).unwrap();
    let folder = test_images();
    let report = index_all(&folder, &cache, &encoder, check.as_ref());
    let fp = view_fingerprint(&encoder, false);
    let library = Library::build_for(
        &folder,
        &report.indexed,
        &cache,
        &fp,
        &scorer,
        check.as_ref(),
    )
    .unwrap();
    let text = TextEncoder::load(&models).unwrap();
    (
        tmp,
        World {
            library,
            text,
            scorer,
            cache,
            fp,
        },
    )
}

impl World {
    /// The ranked paths for a query (text terms only), all of the library.
    fn ranked(&self, q: &Query) -> Vec<PathBuf> {
        let no_examples = |_: &Path| -> Result<Example, SearchError> { unreachable!("text only") };
        let features = search::cached_features(&self.cache, &self.fp);
        let options = Options {
            top: self.library.len(),
            min_score: 0.0,
        };
        match search::search_query(
            q,
            &self.library,
            &self.text,
            &self.scorer,
            &no_examples,
            &features,
            options,
        )
        .unwrap()
        {
            Outcome::Results { hits, .. } => hits.into_iter().map(|h| h.path).collect(),
            Outcome::Blocked { .. } => Vec::new(),
        }
    }
}

fn rr(ranked: &[PathBuf], image: &str) -> f64 {
    ranked
        .iter()
        .position(|p| p.file_name().is_some_and(|n| n == image))
        .map_or(0.0, |r| 1.0 / (r + 1) as f64)
}

#[test]
fn adding_the_second_half_does_not_lower_mrr() {
    let (_tmp, w) = world();
    let ds = picseek::dataset::load(&root().join("data")).unwrap();
    let shown: Vec<String> = w
        .library
        .paths()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let (mut first, mut combined, mut whole, mut n) = (0.0, 0.0, 0.0, 0);
    for q in &ds.test_queries {
        let words: Vec<&str> = q.query_text.split_whitespace().collect();
        if words.len() < 4 || !shown.contains(&q.image) {
            continue;
        }
        if !matches!(search::check(&q.query_text), Ok(None)) {
            continue;
        }
        let (a, b) = words.split_at(words.len() / 2);
        let (a, b) = (a.join(" "), b.join(" "));
        let plus = Query {
            plus: vec![Term::Text(a.clone()), Term::Text(b)],
            minus: Vec::new(),
        };
        first += rr(&w.ranked(&Query::text(&a)), &q.image);
        combined += rr(&w.ranked(&plus), &q.image);
        whole += rr(&w.ranked(&Query::text(&q.query_text)), &q.image);
        n += 1;
    }
    let n_f = n as f64;
    eprintln!(
        "{n} test queries (image shown, 4+ words): MRR first half {:.3}, first + second {:.3}, whole query {:.3}",
        first / n_f,
        combined / n_f,
        whole / n_f
    );
    assert!(n >= 100, "only {n} queries");
    assert!(
        combined >= first,
        "adding the second half lowered MRR: {:.3} → {:.3}",
        first / n_f,
        combined / n_f
    );
}
