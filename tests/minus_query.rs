//! A text taken away (`QUERY - WORD`) over the demo test images together with the 120 outside
//! photos (Debian, PyPI and npm archives, fetched by set-up; provenance in
//! `tests/fixtures/outside_images.tsv`), with the hand-checked cases of
//! `tests/fixtures/minus_cases.tsv`: the images judged to show WORD that the query alone puts in
//! its top 10 must mostly leave it (at least half of them over all cases, and never more of
//! them after than before), and a word that no result shows must leave at least 7 of the 10 in
//! place. Each case's figures are printed (`-- --nocapture`).

mod common;

use std::path::Path;

use common::{file_name, files_in, picseek, root, succeed, test_images};

struct Case {
    query: String,
    shows: Vec<String>,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(root().join("tests/fixtures/minus_cases.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (query, shows) = l.split_once('\t').expect("query<TAB>shows");
            Case {
                query: query.to_string(),
                shows: shows
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
            }
        })
        .collect()
}

/// The file names of the top 10 for `query` over `folder`.
fn top10(cache: &Path, folder: &Path, query: &str) -> Vec<String> {
    let out = succeed(
        picseek(cache)
            .args(["search", query, "--top", "10", "--json"])
            .arg(folder),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["blocked"], false, "{query}");
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| file_name(r["path"].as_str().unwrap()))
        .collect()
}

#[test]
fn taking_a_word_away_removes_the_images_that_show_it() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("photos");
    std::fs::create_dir(&folder).unwrap();
    for dir in [test_images(), root().join("cache/devset/outside")] {
        for path in files_in(&dir) {
            std::os::unix::fs::symlink(&path, folder.join(path.file_name().unwrap())).unwrap();
        }
    }
    let cache = tmp.path().join("cache");
    let cases = cases();
    assert!(cases.len() >= 8, "{} cases", cases.len());
    let (mut before_total, mut after_total) = (0, 0);
    for case in &cases {
        let (base, _) = case.query.split_once(" - ").expect("QUERY - WORD");
        let before = top10(&cache, &folder, base);
        let after = top10(&cache, &folder, &case.query);
        assert_eq!(after.len(), 10, "{}", case.query);
        let judged = |names: &[String]| {
            names
                .iter()
                .filter(|n| case.shows.iter().any(|p| n.starts_with(p.as_str())))
                .count()
        };
        let kept = after.iter().filter(|n| before.contains(n)).count();
        let (b, a) = (judged(&before), judged(&after));
        println!(
            "{:<20} judged to show the word in the top 10: {b} before, {a} after; {kept}/10 kept",
            case.query
        );
        assert!(
            a <= b,
            "{}: {a} judged images after, {b} before",
            case.query
        );
        if case.shows.is_empty() {
            assert!(kept >= 7, "{}: only {kept} of the top 10 kept", case.query);
        }
        before_total += b;
        after_total += a;
    }
    println!("all cases: {before_total} judged images in the top 10 before, {after_total} after");
    assert!(
        before_total >= 10,
        "the cases test too little: {before_total}"
    );
    assert!(
        after_total * 2 <= before_total,
        "{after_total} of {before_total} judged images stay in the top 10"
    );
}
