//! Search by example, with the committed models, over the 100 demo test images and over the
//! outside set (120 photos from Debian, PyPI and npm archives, fetched by set-up; provenance in
//! tests/fixtures/devset.tsv): a transformed copy of each image (half size, JPEG quality 60,
//! mirrored; kept outside the folder) must rank its original first.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use picseek::engine::Outcome;
use picseek::library::Options;
use picseek::query::{Query, Term};
use rayon::prelude::*;

use common::{index_all, save_jpeg, session, test_images};

/// The three copies of `original` the issue names, written into `dir`.
fn copies(original: &Path, dir: &Path) -> Vec<(&'static str, PathBuf)> {
    let img = image::open(original).unwrap().to_rgb8();
    let stem = original.file_stem().unwrap().to_string_lossy();
    let half = image::imageops::resize(
        &img,
        img.width() / 2,
        img.height() / 2,
        image::imageops::FilterType::Triangle,
    );
    let out = |kind: &str| dir.join(format!("{stem}_{kind}.jpg"));
    save_jpeg(&half, 95, &out("half"));
    save_jpeg(&img, 60, &out("q60"));
    save_jpeg(&image::imageops::flip_horizontal(&img), 95, &out("mirror"));
    ["half", "q60", "mirror"]
        .into_iter()
        .map(|k| (k, out(k)))
        .collect()
}

#[test]
fn a_transformed_copy_finds_its_original_first() {
    copies_find_originals(&test_images(), 100);
}

#[test]
fn a_transformed_copy_finds_its_original_first_outside_the_dataset() {
    copies_find_originals(&common::root().join("cache/devset/outside"), 120);
}

fn copies_find_originals(folder: &Path, images: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let session = session(&tmp.path().join("cache"));
    let indexed = index_all(&session, folder);
    let (report, library) = (indexed.report, indexed.library);
    let shown: HashSet<PathBuf> = library.paths().map(Path::to_path_buf).collect();
    assert_eq!(report.indexed.len(), images, "{}", folder.display());
    let copies_dir = tmp.path().join("copies");
    std::fs::create_dir(&copies_dir).unwrap();
    let made: Vec<(PathBuf, Vec<(&str, PathBuf)>)> = report
        .indexed
        .par_iter()
        .map(|(original, _)| (original.clone(), copies(original, &copies_dir)))
        .collect();
    // Encoded in one run (as a folder would be); each example then comes from the cache.
    session.index_files(&copies_dir, &mut |_| {}).unwrap();

    // kind → (first, asked, refused while the original is shown, allowed while it is withheld)
    let mut tally: BTreeMap<&str, [usize; 4]> = BTreeMap::new();
    let options = Options {
        top: 5,
        min_score: 0.0,
    };
    for (original, copies) in &made {
        for (kind, copy) in copies {
            let t = tally.entry(kind).or_default();
            let query = Query {
                plus: vec![Term::Image(copy.clone())],
                minus: Vec::new(),
            };
            let query = picseek::legal::check_terms(query).unwrap();
            match (
                session.search(&query, &library, options).unwrap(),
                shown.contains(original),
            ) {
                (Outcome::Refused { .. }, true) => t[2] += 1,
                (Outcome::Refused { .. }, false) => {}
                (Outcome::Results { .. }, false) => t[3] += 1,
                (Outcome::Results { hits, .. }, true) => {
                    t[1] += 1;
                    if hits.first().map(|h| &h.path) == Some(original) {
                        t[0] += 1;
                        assert!(
                            hits[0].score >= 0.5,
                            "{}: {}",
                            copy.display(),
                            hits[0].score
                        );
                    } else {
                        eprintln!(
                            "{kind}: {} ranked {:?}",
                            original.display(),
                            hits.iter().position(|h| &h.path == original)
                        );
                    }
                }
            }
        }
    }
    eprintln!(
        "{}, kind: [first, asked, refused with the original shown, allowed with it withheld]",
        folder.display()
    );
    for (kind, t) in &tally {
        eprintln!(
            "{kind}: {t:?} → {:.1}% first",
            100.0 * t[0] as f64 / t[1] as f64
        );
    }
    for (kind, t) in &tally {
        assert!(t[1] >= 30, "{kind}: only {} copies searched", t[1]);
        // ≥ 98% of the copies searched with rank the original first.
        assert!(
            t[0] as f64 >= 0.98 * t[1] as f64,
            "{kind}: {} of {} ranked the original first",
            t[0],
            t[1]
        );
        // The legal check is a classifier: on a copy it may now and then decide otherwise
        // than on the original (the decision where people are in view sees faces a few pixels
        // smaller on a half-size copy). Reported above; it must stay rare, and rarer still on
        // the unsafe side: a copy allowed while its original is withheld.
        assert!(
            t[3] * 20 <= images,
            "{kind}: {} copies allowed while their originals are withheld",
            t[3]
        );
        assert!(
            (t[2] + t[3]) * 100 <= 15 * images,
            "{kind}: the legal check decided {} copies otherwise than their originals",
            t[2] + t[3]
        );
    }
}
