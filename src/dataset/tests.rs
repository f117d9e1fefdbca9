//! Tests of the dataset: the target formula, the readers on malformed input (through [`load`]),
//! and the real dataset.

use super::*;
use std::collections::BTreeSet;
use std::fs;

const EPS: f32 = 1e-6;

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() < EPS
}

// ---- target formula ------------------------------------------------

#[test]
fn target_both_signals() {
    // expert part of [4,4,4] = 1; 0.6·1 + 0.4·0.5 = 0.8
    assert!(close(target(Some([4, 4, 4]), Some(0.5)).unwrap(), 0.8));
    // expert part of [1,2,3] = (0 + 1/3 + 2/3)/3 = 1/3; 0.6/3 + 0.4/3 = 1/3
    assert!(close(
        target(Some([1, 2, 3]), Some(1.0 / 3.0)).unwrap(),
        1.0 / 3.0
    ));
    // [1,1,1] = 0; 0.4·1 = 0.4
    assert!(close(target(Some([1, 1, 1]), Some(1.0)).unwrap(), 0.4));
}

#[test]
fn target_expert_only() {
    // [2,2,3]: (1/3 + 1/3 + 2/3)/3 = 4/9
    assert!(close(target(Some([2, 2, 3]), None).unwrap(), 4.0 / 9.0));
    assert!(close(target(Some([1, 1, 1]), None).unwrap(), 0.0));
    assert!(close(target(Some([4, 4, 4]), None).unwrap(), 1.0));
}

#[test]
fn target_crowd_only() {
    assert!(close(target(None, Some(0.25)).unwrap(), 0.25));
    assert!(close(target(None, Some(0.0)).unwrap(), 0.0));
}

#[test]
fn target_neither() {
    assert_eq!(target(None, None), None);
}

#[test]
fn source_image_is_the_part_before_hash() {
    assert_eq!(source_image("123_abc.jpg#2"), "123_abc.jpg");
    assert_eq!(source_image("no-hash.jpg"), "no-hash.jpg");
}

#[test]
fn targets_union_sorted_and_combined() {
    let ds = Dataset {
        expert: vec![
            ExpertRow {
                image: "b.jpg".into(),
                query_id: "x.jpg#0".into(),
                scores: [4, 4, 4],
            },
            ExpertRow {
                image: "a.jpg".into(),
                query_id: "y.jpg#1".into(),
                scores: [1, 2, 3],
            },
        ],
        crowd: vec![
            CrowdRow {
                image: "b.jpg".into(),
                query_id: "x.jpg#0".into(),
                share: 0.5,
                yes: 1,
                no: 1,
            },
            CrowdRow {
                image: "a.jpg".into(),
                query_id: "x.jpg#0".into(),
                share: 0.0,
                yes: 0,
                no: 3,
            },
        ],
        ..Dataset::default()
    };
    let t = ds.targets();
    let keys: Vec<_> = t
        .iter()
        .map(|t| (t.image.as_str(), t.query_id.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            ("a.jpg", "x.jpg#0"),
            ("a.jpg", "y.jpg#1"),
            ("b.jpg", "x.jpg#0")
        ]
    );
    // crowd only
    assert_eq!(t[0].expert, None);
    assert_eq!(t[0].crowd, Some(0.0));
    assert_eq!(t[0].expert_mean_raw, None);
    assert!(close(t[0].value, 0.0));
    // expert only
    assert!(close(t[1].expert.unwrap(), 1.0 / 3.0));
    assert_eq!(t[1].crowd, None);
    assert!(close(t[1].expert_mean_raw.unwrap(), 2.0));
    assert!(close(t[1].value, 1.0 / 3.0));
    // both
    assert!(close(t[2].value, 0.8));
    assert!(close(t[2].expert_mean_raw.unwrap(), 4.0));
}

// ---- parsers on malformed input ----------------------------------

const GOOD_TRAIN: &str = "image,query_id,query_text\n\
    a.jpg,s.jpg#0,A dog runs .\n\
    b.jpg,s.jpg#0,A dog runs .\n\
    a.jpg,t.jpg#1,\"A man , in a hat , says \"\"hi\"\" .\"\n";
const GOOD_CROWD: &str = "a.jpg\ts.jpg#0\t1\t3\t0\n\
    b.jpg\ts.jpg#0\t0.333333333333333\t1\t2\n\
    c.jpg\tt.jpg#1\t0\t0\t3\n";
const GOOD_EXPERT: &str = "a.jpg\ts.jpg#0\t4\t4\t3\n\
    b.jpg\ts.jpg#0\t1\t2\t1\n\
    a.jpg\tt.jpg#1\t1\t1\t1\n";
const GOOD_TEST_QUERIES: &str = "|query_id|query_text|image\n\
    0|u.jpg#0|Two boys play .|u.jpg\n\
    1|u.jpg#1|\"A sign says \"\"Stop\"\" .\"|u.jpg\n";
const GOOD_TEST_IMAGES: &str = "image\nu.jpg\n";

fn write_good(dir: &Path) {
    fs::write(dir.join(TRAIN_CSV), GOOD_TRAIN).unwrap();
    fs::write(dir.join(CROWD_TSV), GOOD_CROWD).unwrap();
    fs::write(dir.join(EXPERT_TSV), GOOD_EXPERT).unwrap();
    fs::write(dir.join(TEST_QUERIES_CSV), GOOD_TEST_QUERIES).unwrap();
    fs::write(dir.join(TEST_IMAGES_CSV), GOOD_TEST_IMAGES).unwrap();
    fs::create_dir_all(dir.join(TRAIN_IMAGES_DIR)).unwrap();
    fs::create_dir_all(dir.join(TEST_IMAGES_DIR)).unwrap();
}

#[test]
fn good_tiny_dataset_loads() {
    let dir = tempfile::tempdir().unwrap();
    write_good(dir.path());
    let ds = load(dir.path()).unwrap();
    assert_eq!(ds.train.len(), 3);
    assert_eq!(ds.train[2].query_text, "A man , in a hat , says \"hi\" .");
    assert_eq!(ds.crowd.len(), 3);
    assert!(close(ds.crowd[1].share, 1.0 / 3.0));
    assert_eq!(ds.expert[0].scores, [4, 4, 3]);
    assert_eq!(ds.test_queries.len(), 2);
    assert_eq!(ds.test_queries[1].query_text, "A sign says \"Stop\" .");
    assert_eq!(ds.test_queries[1].image, "u.jpg");
    assert_eq!(ds.test_images, ["u.jpg"]);
    let captions = ds.captions();
    assert_eq!(captions.len(), 4);
    assert_eq!(captions["s.jpg#0"], "A dog runs .");
    assert_eq!(captions["u.jpg#0"], "Two boys play .");
    assert_eq!(ds.train_images_dir(), dir.path().join("train_images"));
    assert_eq!(ds.test_images_dir(), dir.path().join("test_images"));
    // union of (a,s#0) (b,s#0) (c,t#1) (a,t#1)
    assert_eq!(ds.targets().len(), 4);
    // no image files were written
    assert!(ds
        .missing_images()
        .contains(&ds.test_images_dir().join("u.jpg")));
}

/// Writes the good dataset with `file` replaced by `content`, loads it and
/// checks the error names the file and the line and contains `what`.
fn assert_bad(file: &str, content: &str, line: u64, what: &str) {
    let dir = tempfile::tempdir().unwrap();
    write_good(dir.path());
    fs::write(dir.path().join(file), content).unwrap();
    let err = load(dir.path()).expect_err(&format!("{file}: expected an error for {what}"));
    let msg = err.to_string();
    let prefix = format!("{}:{line}: ", dir.path().join(file).display());
    assert!(
        msg.starts_with(&prefix),
        "{msg:?} should start with {prefix:?}"
    );
    assert!(msg.contains(what), "{msg:?} should mention {what:?}");
    assert!(!msg.contains('\n'), "{msg:?} should be one line");
    match err {
        DatasetError::Malformed { line: l, .. } => assert_eq!(l, line),
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn train_malformed() {
    let h = "image,query_id,query_text\n";
    assert_bad(TRAIN_CSV, "", 1, "empty file");
    assert_bad(TRAIN_CSV, h, 2, "no data rows");
    assert_bad(
        TRAIN_CSV,
        "image,query,query_text\na.jpg,s.jpg#0,x\n",
        1,
        "missing column `query_id`",
    );
    assert_bad(
        TRAIN_CSV,
        "image,query_id\na.jpg,s.jpg#0\n",
        1,
        "expected 3 fields, found 2",
    );
    assert_bad(
        TRAIN_CSV,
        "image,image,query_text\na.jpg,s.jpg#0,x\n",
        1,
        "`image` appears more than once",
    );
    assert_bad(
        TRAIN_CSV,
        &format!("{h}a.jpg,s.jpg#0,x\nb.jpg,s.jpg#0,x,extra\n"),
        3,
        "expected 3 fields, found 4",
    );
    // An unquoted comma inside a caption adds a field.
    assert_bad(
        TRAIN_CSV,
        &format!("{h}a.jpg,s.jpg#0,A man , in a hat\n"),
        2,
        "expected 3 fields, found 4",
    );
    assert_bad(
        TRAIN_CSV,
        &format!("{h}a.jpg,s.jpg#0,x\na.jpg,s.jpg,y\n"),
        3,
        "is not `<image>#<n>`",
    );
    assert_bad(
        TRAIN_CSV,
        &format!("{h}a.jpg,s.jpg#x,y\n"),
        2,
        "is not `<image>#<n>`",
    );
    assert_bad(
        TRAIN_CSV,
        &format!("{h}a.jpg,#1,y\n"),
        2,
        "is not `<image>#<n>`",
    );
    assert_bad(
        TRAIN_CSV,
        &format!("{h},s.jpg#0,y\n"),
        2,
        "`image` is empty",
    );
    assert_bad(
        TRAIN_CSV,
        &format!("{h}a.jpg,s.jpg#0,  \n"),
        2,
        "`query_text` is empty",
    );
    assert_bad(
        TRAIN_CSV,
        &format!("{h}../a.jpg,s.jpg#0,y\n"),
        2,
        "not a plain file name",
    );
    assert_bad(
        TRAIN_CSV,
        &format!("{h}a.jpg,s.jpg#0,x\nb.jpg,s.jpg#0,other\n"),
        3,
        "different caption than on line 2",
    );
    assert_bad(
        TRAIN_CSV,
        &format!("{h}a.jpg,s.jpg#0,x\na.jpg,s.jpg#0,x\n"),
        3,
        "first on line 2",
    );
    // A quoted caption spanning two lines: the next record starts on line 4.
    assert_bad(
        TRAIN_CSV,
        &format!("{h}a.jpg,s.jpg#0,\"two\nlines\"\nb.jpg,bad,x\n"),
        4,
        "is not `<image>#<n>`",
    );
    let mut bytes = format!("{h}a.jpg,s.jpg#0,").into_bytes();
    bytes.extend_from_slice(&[0xff, 0xfe, b'\n']);
    let dir = tempfile::tempdir().unwrap();
    write_good(dir.path());
    fs::write(dir.path().join(TRAIN_CSV), bytes).unwrap();
    let msg = load(dir.path()).unwrap_err().to_string();
    assert!(msg.contains("train_dataset.csv:2: "), "{msg}");
    assert!(msg.contains("not valid UTF-8"), "{msg}");
}

#[test]
fn crowd_malformed() {
    assert_bad(CROWD_TSV, "", 1, "no data rows");
    assert_bad(
        CROWD_TSV,
        "a.jpg\ts.jpg#0\t1\t3\n",
        1,
        "expected 5 fields, found 4",
    );
    assert_bad(
        CROWD_TSV,
        "a.jpg\ts.jpg#0\t1\t3\t0\nb.jpg\ts.jpg#0\t1\t3\n",
        2,
        "expected 5 fields, found 4",
    );
    assert_bad(
        CROWD_TSV,
        "a.jpg\ts.jpg#0\t1\t3\t0\nb.jpg\ts.jpg#0\tyes\t3\t0\n",
        2,
        "column `share`: \"yes\" is not a number",
    );
    assert_bad(
        CROWD_TSV,
        "a.jpg\ts.jpg#0\t1.5\t3\t0\n",
        1,
        "1.5 is outside 0..1",
    );
    assert_bad(
        CROWD_TSV,
        "a.jpg\ts.jpg#0\t-0.1\t3\t0\n",
        1,
        "is outside 0..1",
    );
    assert_bad(
        CROWD_TSV,
        "a.jpg\ts.jpg#0\tNaN\t3\t0\n",
        1,
        "is outside 0..1",
    );
    assert_bad(
        CROWD_TSV,
        "a.jpg\ts.jpg#0\t1\t-3\t0\n",
        1,
        "column `yes`: \"-3\" is not a whole number",
    );
    assert_bad(
        CROWD_TSV,
        "a.jpg\ts.jpg#0\t1\t3\t0.5\n",
        1,
        "column `no`: \"0.5\" is not a whole number",
    );
    assert_bad(CROWD_TSV, "a.jpg\ts.jpg#0\t0\t0\t0\n", 1, "no votes");
    assert_bad(
        CROWD_TSV,
        "a.jpg\ts.jpg#0\t0.5\t3\t0\n",
        1,
        "disagrees with yes/(yes+no) = 3/3",
    );
    assert_bad(
        CROWD_TSV,
        "a.jpg\ts.jpg0\t1\t3\t0\n",
        1,
        "is not `<image>#<n>`",
    );
    assert_bad(
        CROWD_TSV,
        "a.jpg\ts.jpg#0\t1\t3\t0\na.jpg\ts.jpg#0\t1\t3\t0\n",
        2,
        "duplicate pair (\"a.jpg\", \"s.jpg#0\"), first on line 1",
    );
}

#[test]
fn expert_malformed() {
    assert_bad(EXPERT_TSV, "", 1, "no data rows");
    assert_bad(
        EXPERT_TSV,
        "a.jpg\ts.jpg#0\t4\t4\t3\t1\n",
        1,
        "expected 5 fields, found 6",
    );
    assert_bad(
        EXPERT_TSV,
        "a.jpg\ts.jpg#0\t4\t4\t3\nb.jpg\ts.jpg#0\t4\tfour\t3\n",
        2,
        "column `expert2`: \"four\" is not a number",
    );
    assert_bad(
        EXPERT_TSV,
        "a.jpg\ts.jpg#0\t4\t4\t5\n",
        1,
        "column `expert3`: expert score \"5\" is outside 1..4",
    );
    assert_bad(
        EXPERT_TSV,
        "a.jpg\ts.jpg#0\t0\t4\t4\n",
        1,
        "column `expert1`: expert score \"0\" is outside 1..4",
    );
    assert_bad(
        EXPERT_TSV,
        "a.jpg\ts.jpg#0\t2.5\t4\t4\n",
        1,
        "expert score \"2.5\" is outside 1..4",
    );
    assert_bad(
        EXPERT_TSV,
        "a.jpg\ts.jpg#0\t\t4\t4\n",
        1,
        "column `expert1` is empty",
    );
    assert_bad(
        EXPERT_TSV,
        "a.jpg\tno-hash\t1\t4\t4\n",
        1,
        "\"no-hash\" is not `<image>#<n>`",
    );
    assert_bad(
        EXPERT_TSV,
        "a.jpg\ts.jpg#0\t1\t1\t1\nb.jpg\ts.jpg#0\t1\t1\t1\na.jpg\ts.jpg#0\t2\t2\t2\n",
        3,
        "first on line 1",
    );
}

#[test]
fn test_queries_malformed() {
    let h = "|query_id|query_text|image\n";
    assert_bad(TEST_QUERIES_CSV, "", 1, "empty file");
    assert_bad(
        TEST_QUERIES_CSV,
        "|query_id|text|image\n0|u.jpg#0|x|u.jpg\n",
        1,
        "missing column `query_text`",
    );
    assert_bad(
        TEST_QUERIES_CSV,
        &format!("{h}0|u.jpg#0|x\n"),
        2,
        "expected 4 fields, found 3",
    );
    assert_bad(
        TEST_QUERIES_CSV,
        &format!("{h}0|u.jpg#0|x|u.jpg\n1|u.jpg|y|u.jpg\n"),
        3,
        "is not `<image>#<n>`",
    );
    assert_bad(
        TEST_QUERIES_CSV,
        &format!("{h}0|u.jpg#0|x|u.jpg\n1|u.jpg#0|y|u.jpg\n"),
        3,
        "duplicate query_id \"u.jpg#0\", first on line 2",
    );
    assert_bad(
        TEST_QUERIES_CSV,
        &format!("{h}0|u.jpg#0|x|\n"),
        2,
        "`image` is empty",
    );
}

#[test]
fn test_images_malformed() {
    assert_bad(TEST_IMAGES_CSV, "", 1, "empty file");
    assert_bad(
        TEST_IMAGES_CSV,
        "name\nu.jpg\n",
        1,
        "missing column `image`",
    );
    assert_bad(TEST_IMAGES_CSV, "image\n", 2, "no data rows");
    assert_bad(
        TEST_IMAGES_CSV,
        "image\nu.jpg\nv.jpg\nu.jpg\n",
        4,
        "duplicate image \"u.jpg\", first on line 2",
    );
    assert_bad(
        TEST_IMAGES_CSV,
        "image\nu.jpg,v.jpg\n",
        2,
        "expected 1 fields, found 2",
    );
    assert_bad(
        TEST_IMAGES_CSV,
        "image\nsub/u.jpg\n",
        2,
        "not a plain file name",
    );
}

#[test]
fn missing_files_and_dirs() {
    for file in [
        TRAIN_CSV,
        CROWD_TSV,
        EXPERT_TSV,
        TEST_QUERIES_CSV,
        TEST_IMAGES_CSV,
    ] {
        let dir = tempfile::tempdir().unwrap();
        write_good(dir.path());
        fs::remove_file(dir.path().join(file)).unwrap();
        let err = load(dir.path()).unwrap_err();
        assert!(
            matches!(&err, DatasetError::MissingFile { path } if path.ends_with(file)),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains(file) && msg.ends_with(": missing file"),
            "{msg}"
        );
    }
    for sub in [TRAIN_IMAGES_DIR, TEST_IMAGES_DIR] {
        let dir = tempfile::tempdir().unwrap();
        write_good(dir.path());
        fs::remove_dir(dir.path().join(sub)).unwrap();
        let msg = load(dir.path()).unwrap_err().to_string();
        assert!(
            msg.contains(sub) && msg.ends_with(": missing directory"),
            "{msg}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let msg = load(&dir.path().join("nope")).unwrap_err().to_string();
    assert!(msg.ends_with("nope: missing directory"), "{msg}");
}

// ---- the real dataset --------------------------------------------

fn real_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

#[test]
fn real_dataset_counts() {
    let dir = real_dir();
    assert!(
        dir.is_dir(),
        "the dataset folder {} is missing: it should be a symlink to \
         ../shared/data/flickr-demo (relative to the crate root)",
        dir.display()
    );
    let ds = load(&dir).unwrap_or_else(|e| panic!("loading the real dataset: {e}"));

    assert_eq!(ds.train.len(), 5_822, "training pairs");
    let train_captions = ds.train_captions();
    assert_eq!(train_captions.len(), 977, "distinct training captions");
    assert_eq!(ds.crowd.len(), 47_830, "crowd rows");
    assert_eq!(ds.expert.len(), 5_822, "expert rows");
    assert_eq!(ds.test_queries.len(), 500, "test queries");
    assert_eq!(ds.test_images.len(), 100, "test images");
    assert_eq!(ds.captions().len(), 977 + 500, "all captions");

    let train_dir = ds.train_images_dir();
    for query_id in train_captions.keys() {
        let source = train_dir.join(source_image(query_id));
        assert!(
            source.is_file(),
            "caption {query_id}: source image {} is missing",
            source.display()
        );
    }
    let missing = ds.missing_images();
    assert!(
        missing.is_empty(),
        "{} images named in the tables are missing, e.g. {}",
        missing.len(),
        missing[0].display()
    );
    let test_set: BTreeSet<&str> = ds.test_images.iter().map(String::as_str).collect();
    assert!(ds
        .test_queries
        .iter()
        .all(|q| test_set.contains(q.image.as_str())));

    // Facts for training (printed with --nocapture, pinned here).
    let crowd_known = ds
        .crowd
        .iter()
        .filter(|r| train_captions.contains_key(&r.query_id))
        .count();
    let expert_known = ds
        .expert
        .iter()
        .filter(|r| train_captions.contains_key(&r.query_id))
        .count();
    let targets = ds.targets();
    let both = targets
        .iter()
        .filter(|t| t.expert.is_some() && t.crowd.is_some())
        .count();
    let n = targets.len() as f64;
    let mean = targets.iter().map(|t| f64::from(t.value)).sum::<f64>() / n;
    let var = targets
        .iter()
        .map(|t| (f64::from(t.value) - mean).powi(2))
        .sum::<f64>()
        / n;
    let high_yes = ds.crowd.iter().filter(|r| r.no == 0 && r.yes >= 3).count();
    let high_no = ds.crowd.iter().filter(|r| r.yes == 0 && r.no >= 3).count();
    println!(
        "crowd rows with known caption: {crowd_known}/{}; expert: {expert_known}/{}; \
         targets: {}; both signals: {both}; target mean {mean:.4} std {:.4}; \
         crowd unanimous yes (>=3 votes): {high_yes}; unanimous no: {high_no}",
        ds.crowd.len(),
        ds.expert.len(),
        targets.len(),
        var.sqrt()
    );
    assert_eq!(crowd_known, 46_721);
    assert_eq!(expert_known, 5_822);
    assert_eq!(targets.len(), 51_323);
    assert_eq!(both, 2_329);
    assert!((mean - 0.0759).abs() < 1e-3, "target mean {mean}");
    assert!(
        (var.sqrt() - 0.2059).abs() < 1e-3,
        "target std {}",
        var.sqrt()
    );
    assert_eq!(high_yes, 1_323);
    assert!(targets.iter().all(|t| (0.0..=1.0).contains(&t.value)));
}
