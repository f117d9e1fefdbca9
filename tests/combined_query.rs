//! Combined queries over the demo test images with the committed models: a test query's first
//! half with its second half added as a `+` term must not rank the query's image lower on
//! average (MRR) than the first half alone.

mod common;

use std::path::PathBuf;

use picseek::engine::{Outcome, Session};
use picseek::library::{Library, Options};
use picseek::query::{Query, Term};

use common::{index_all, root, session, test_images};

struct World {
    library: Library,
    session: Session,
}

fn world() -> (tempfile::TempDir, World) {
    let tmp = tempfile::tempdir().unwrap();
    let session = session(&tmp.path().join("cache"));
    let library = index_all(&session, &test_images()).library;
    (tmp, World { library, session })
}

impl World {
    /// The ranked paths for a query (text terms only), all of the library; none when the
    /// legal query rules refuse it.
    fn ranked(&self, q: &Query) -> Vec<PathBuf> {
        let Ok(q) = picseek::legal::check_terms(q.clone()) else {
            return Vec::new();
        };
        let options = Options {
            top: self.library.len(),
            min_score: 0.0,
        };
        match self.session.search(&q, &self.library, options).unwrap() {
            Outcome::Results { hits, .. } => hits.into_iter().map(|h| h.path).collect(),
            Outcome::Refused { .. } => Vec::new(),
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
        if picseek::legal::check_terms(Query::text(&q.query_text)).is_err() {
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
