//! The search store against full precision, its rebuild rules and its damage handling, on the
//! demo test images with the committed scorer; and DCT-scaled decoding against full decoding.

mod common;

use std::path::{Path, PathBuf};

use fast_image_resize::Resizer;
use picseek::cache::{Cache, ContentHash};
use picseek::declarations::Cover;
use picseek::index::{view_fingerprint, Checker, IndexOptions};
use picseek::legal::check::{ImageCheck, ImageVerdict};
use picseek::library::{self, Hit, Legal, Library, Options, Origin};
use picseek::model::scorer::cosine;
use picseek::model::{preprocess, ImageEncoder, Scorer};

use common::{models, picseek, root, session, succeed, test_images};

const QUERIES: [&str; 4] = [
    "a dog running on the grass",
    "a man riding a bike",
    "people on a beach",
    "a black and white dog",
];

/// Exact ranking (full-precision compact vectors from the cache) of the library's images.
fn exact_top(
    lib: &Library,
    cache: &Cache,
    fp: &[u8; 16],
    hashes: &std::collections::HashMap<PathBuf, ContentHash>,
    scorer: &Scorer,
    q: &[f32],
    top: usize,
) -> Vec<(f32, PathBuf)> {
    let mut all: Vec<(f32, PathBuf)> = lib
        .paths()
        .map(|p| {
            let rec = cache.embedding(fp, &hashes[p]).expect("embedding cached");
            (
                scorer.score(&scorer.image_vector(&rec.embedding), q),
                p.to_path_buf(),
            )
        })
        .collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    all.truncate(top);
    all
}

fn assert_same_ranking(got: &[Hit], want: &[(f32, PathBuf)]) {
    assert_eq!(got.len(), want.len());
    for (h, (s, p)) in got.iter().zip(want) {
        // Stored vectors are f16: scores agree to ~1e-3; near-ties may swap.
        assert!((h.score - s).abs() < 2e-3, "{} vs {s}", h.score);
        if h.path != *p {
            let other = want.iter().find(|w| w.1 == h.path).expect("same set");
            assert!(
                (other.0 - s).abs() < 2e-3,
                "{} ranked as {}",
                h.path.display(),
                p.display()
            );
        }
    }
}

#[test]
fn store_ranks_like_full_precision_and_rebuilds_when_it_must() {
    let tmp = tempfile::tempdir().unwrap();
    let session = session(tmp.path());
    let encoder = session.image_encoder().unwrap();
    let text = session.text().unwrap();
    let scorer = session.scorer().unwrap();
    let people_fp = session.models().people_fingerprint().unwrap();
    let loader = || session.models().people();
    let checker = ImageCheck::new(&scorer, &people_fp).map(|c| Checker::new(c, people_fp, &loader));
    let check_fp = checker.as_ref().map(Checker::fingerprint);
    let nothing_declared = Cover::default();
    let legal = Legal {
        check: checker.as_ref(),
        cover: &nothing_declared,
    };
    let declared = nothing_declared.digest();
    let fp = view_fingerprint(&encoder, false);
    let cache = session.cache().unwrap();
    let dir = test_images();
    // Indexed without the check: the library build decides the verdicts, reading the files again.
    let report = picseek::index::index_dir(
        &dir,
        &cache,
        &encoder,
        None,
        &IndexOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    let indexed = report.indexed.clone();
    let hashes: std::collections::HashMap<PathBuf, ContentHash> = indexed.iter().cloned().collect();

    // Batched compact vectors equal the scorer's one-at-a-time ones.
    let recs: Vec<_> = indexed[..5]
        .iter()
        .map(|(_, h)| cache.embedding(&fp, h).unwrap().embedding)
        .collect();
    let refs: Vec<_> = recs.iter().collect();
    let batch = &scorer.image_vectors(&refs);
    for (row, e) in batch.rows().into_iter().zip(&recs) {
        let one = scorer.image_vector(e);
        let err = row
            .iter()
            .zip(&one)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(err < 1e-4, "batched vector differs by {err}");
    }

    let lib = Library::build_for(&dir, &indexed, &cache, &fp, &scorer, &legal).unwrap();
    assert!(
        matches!(lib.origin, Origin::Built { refit: true, .. }),
        "{:?}",
        lib.origin
    );
    assert_eq!(lib.len() + lib.withheld(), indexed.len());
    assert!(lib.withheld() > 0 && !lib.is_empty());
    let opts = Options {
        top: 10,
        min_score: 0.0,
    };
    for q in QUERIES {
        let qv = scorer.query_vector(&text.encode_one(q).unwrap());
        let want = exact_top(&lib, &cache, &fp, &hashes, &scorer, &qv, 10);
        assert_same_ranking(&lib.rank(&scorer, &qv, opts), &want);
    }
    // Withheld images never enter the searchable set.
    let searchable: std::collections::HashSet<&Path> = lib.paths().collect();
    for (p, h) in &indexed {
        let v: ImageVerdict = cache.verdict(&check_fp.unwrap(), h).unwrap();
        assert_eq!(
            searchable.contains(p.as_path()),
            !v.withheld(),
            "{}",
            p.display()
        );
    }

    // Stored: opened again without a scan; not for another folder.
    let stored = Library::open_stored(
        cache.dir(),
        &dir,
        &fp,
        &scorer,
        check_fp.as_ref(),
        &declared,
    )
    .expect("stored library");
    assert_eq!(stored.origin, Origin::Loaded);
    assert_eq!(
        (stored.len(), stored.withheld()),
        (lib.len(), lib.withheld())
    );
    assert!(Library::open_stored(
        cache.dir(),
        &root().join("data"),
        &fp,
        &scorer,
        check_fp.as_ref(),
        &declared
    )
    .is_none());
    let again = Library::build_for(&dir, &indexed, &cache, &fp, &scorer, &legal).unwrap();
    assert_eq!(again.origin, Origin::Loaded);
    drop((lib, stored, again));

    // The folder changes: rows of known content are reused, nothing recomputed.
    let fewer = &indexed[..indexed.len() - 10];
    let lib = Library::build_for(&dir, fewer, &cache, &fp, &scorer, &legal).unwrap();
    let Origin::Built {
        reused, computed, ..
    } = lib.origin
    else {
        panic!("not rebuilt: {:?}", lib.origin);
    };
    assert_eq!((reused, computed), (lib.len(), 0));
    assert_eq!(lib.len() + lib.withheld(), fewer.len());
    assert!(lib.paths().all(|p| fewer.iter().any(|(f, _)| f == p)));
    drop(lib);
    let lib = Library::build_for(&dir, &indexed, &cache, &fp, &scorer, &legal).unwrap();
    assert!(matches!(lib.origin, Origin::Built { .. }));
    assert_eq!(lib.len() + lib.withheld(), indexed.len());
    let qv = scorer.query_vector(&text.encode_one(QUERIES[0]).unwrap());
    let want = exact_top(&lib, &cache, &fp, &hashes, &scorer, &qv, 10);
    assert_same_ranking(&lib.rank(&scorer, &qv, opts), &want);
    drop(lib);

    // Another scorer: the store does not match it and is rebuilt from scratch.
    let mut meta = scorer.meta.clone();
    meta.b += 0.25;
    let other = Scorer::new(meta, scorer.weights.clone());
    let other_checker =
        ImageCheck::new(&other, &people_fp).map(|c| Checker::new(c, people_fp, &loader));
    let other_legal = Legal {
        check: other_checker.as_ref(),
        cover: &nothing_declared,
    };
    assert!(
        Library::open_stored(cache.dir(), &dir, &fp, &other, check_fp.as_ref(), &declared)
            .is_none()
    );
    let lib = Library::build_for(&dir, &indexed, &cache, &fp, &other, &other_legal).unwrap();
    assert!(
        matches!(
            lib.origin,
            Origin::Built {
                reused: 0,
                refit: true,
                ..
            }
        ),
        "{:?}",
        lib.origin
    );
    drop(lib);

    // Damage: a truncated store is detected, never a crash, and rebuilt from the intact cache.
    let file = library::store_path(cache.dir(), &dir);
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    assert!(
        Library::open_stored(cache.dir(), &dir, &fp, &other, check_fp.as_ref(), &declared)
            .is_none()
    );
    let lib = Library::build_for(&dir, &indexed, &cache, &fp, &other, &other_legal).unwrap();
    assert!(matches!(lib.origin, Origin::Built { refit: true, .. }));
    assert_eq!(lib.len() + lib.withheld(), indexed.len());
    for (_, h) in &indexed {
        assert!(cache.embedding(&fp, h).is_some(), "cache lost a vector");
    }
}

/// `picseek search QUERY --json` over the demo test images with the cache `cache`; must
/// succeed. Returns (stdout, stderr).
fn search_json(cache: &Path, query: &str) -> (String, String) {
    let out = succeed(
        picseek(cache)
            .args(["search", query, "--json"])
            .arg(test_images()),
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The one search store in the cache `cache`.
fn only_store(cache: &Path) -> PathBuf {
    let stores: Vec<PathBuf> = std::fs::read_dir(cache.join("stores"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(stores.len(), 1, "{stores:?}");
    stores[0].clone()
}

#[test]
fn damaged_store_gives_one_warning_line_and_same_results() {
    let tmp = tempfile::tempdir().unwrap();
    let run = || search_json(tmp.path(), "a dog running on the grass");
    let (first, _) = run();
    let store = only_store(tmp.path());
    // Flip bytes in the middle of the file.
    let mut bytes = std::fs::read(&store).unwrap();
    let mid = bytes.len() / 3;
    for b in &mut bytes[mid..mid + 64] {
        *b ^= 0x5A;
    }
    std::fs::write(&store, &bytes).unwrap();
    let (second, stderr) = run();
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("search store is damaged"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains(".pstore"),
        "names the file: {}",
        warnings[0]
    );
    assert_eq!(first, second);
    // Rebuilt: no warning the next time.
    let (_, stderr) = run();
    assert!(!stderr.contains("damaged"), "{stderr}");
}

#[test]
fn a_store_with_a_damaged_vector_is_rebuilt_by_the_next_run() {
    let tmp = tempfile::tempdir().unwrap();
    let run = || search_json(tmp.path(), "a man riding a bike");
    let (first, _) = run();
    let store = only_store(tmp.path());
    // The full vectors come last and are checked only when read: flip the last row's bytes.
    let mut bytes = std::fs::read(&store).unwrap();
    let n = bytes.len();
    for b in &mut bytes[n - 64..] {
        *b ^= 0x5A;
    }
    std::fs::write(&store, &bytes).unwrap();
    let (_, stderr) = run();
    assert!(stderr.contains("a vector fails its check"), "{stderr}");
    // The next run rebuilds it: no warning, and the first run's results.
    let (third, stderr) = run();
    assert!(!stderr.contains("damaged"), "{stderr}");
    assert_eq!(first, third);
    let (_, stderr) = run();
    assert!(!stderr.contains("damaged"), "{stderr}");
}

#[test]
fn a_fifo_or_a_file_in_the_stores_place_neither_hangs_nor_breaks_search() {
    let tmp = tempfile::tempdir().unwrap();
    let search = || {
        let mut child = picseek(tmp.path())
            .args(["search", "a dog running on the grass", "--json"])
            .arg(test_images())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > std::time::Duration::from_secs(120) {
                child.kill().unwrap();
                panic!("search hung");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        child.wait_with_output().unwrap()
    };
    let first = search();
    assert!(first.status.success());
    let store = only_store(tmp.path());
    // A FIFO where the store was (and where its temporary file goes): searched as before, with
    // one warning, and the store is a regular file again.
    for fifo in [store.clone(), store.with_extension("tmp")] {
        std::fs::remove_file(&fifo).ok();
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    }
    let second = search();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{stderr}");
    assert_eq!(first.stdout, second.stdout);
    assert!(stderr.contains("not a regular file"), "{stderr}");
    assert!(std::fs::metadata(&store).unwrap().is_file());
    // A file where the stores folder should be: one clear line, exit 1.
    std::fs::remove_dir_all(tmp.path().join("stores")).unwrap();
    std::fs::write(tmp.path().join("stores"), "x").unwrap();
    let third = search();
    let stderr = String::from_utf8_lossy(&third.stderr);
    assert_eq!(third.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is in the way: it should be a folder"),
        "{stderr}"
    );
}

#[test]
fn dct_scaled_decode_embeds_like_full_decode() {
    let models = models();
    let encoder = ImageEncoder::load(&models).unwrap();
    // A 12-megapixel JPEG with real content: a demo image upscaled, with sensor-like noise.
    let src = std::fs::read(test_images().join("3466891862_9afde75568.jpg")).unwrap();
    let img = preprocess::decode(&src).unwrap();
    let mut big =
        image::imageops::resize(&img, 4000, 3000, image::imageops::FilterType::CatmullRom);
    let mut state = 12345u32;
    for v in big.iter_mut() {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let noise = (state >> 24) as i32 % 13 - 6;
        *v = (i32::from(*v) + noise).clamp(0, 255) as u8;
    }
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&big)
        .unwrap();
    assert_eq!(preprocess::dct_denominator(4000, 3000), Some(4));

    let mut resizer = Resizer::new();
    let scaled = preprocess::tensor_from_bytes(&jpeg, &mut resizer).unwrap();
    assert_eq!(
        (scaled.width, scaled.height),
        (4000, 3000),
        "full size reported"
    );
    let full_img = preprocess::decode(&jpeg).unwrap();
    let square = preprocess::to_square(&full_img, &mut resizer).unwrap();
    let mut full = vec![0.0; preprocess::TENSOR_LEN];
    preprocess::write_tensor(&square, false, &mut full);
    let e = encoder.encode(&[&scaled.tensor, &full]).unwrap();
    let cos = cosine(&e[0].features, &e[1].features);
    assert!(cos > 0.97, "feature cosine {cos}");
    assert_eq!(e[0].top_classes[0].0, e[1].top_classes[0].0);
}

/// `search --json` over `dir` with the cache `cache`: stdout and stderr.
fn search_dir_json(cache: &Path, dir: &Path, query: &str) -> (String, String) {
    let out = succeed(picseek(cache).args(["search", query, "--json"]).arg(dir));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The cache's database truncated, zeroed or with its settings file zeroed: the command goes on
/// with the same results, a damaged database is set aside (`db.damaged-…`) with one warning line
/// in words, and no library's log lines or Debug text reach stderr.
#[test]
fn a_damaged_cache_database_is_set_aside_and_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    let photos = tmp.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    for f in common::files_in(&test_images()).iter().take(12) {
        std::fs::copy(f, photos.join(f.file_name().unwrap())).unwrap();
    }
    let query = "a dog running on the grass";
    let clean = tmp.path().join("clean");
    let (want, _) = search_dir_json(&clean, &photos, query);
    let db_file = |cache: &Path| cache.join("db").join("db");
    let conf = |cache: &Path| cache.join("db").join("conf");
    type Damage = fn(&Path, &Path);
    let damages: [(&str, Damage); 3] = [
        ("truncated", |db, _| {
            let f = std::fs::OpenOptions::new().write(true).open(db).unwrap();
            f.set_len(100).unwrap();
        }),
        ("zeroed", |db, _| {
            let len = std::fs::metadata(db).unwrap().len() as usize;
            std::fs::write(db, vec![0u8; len]).unwrap();
        }),
        ("settings zeroed", |_, conf| {
            let len = std::fs::metadata(conf).unwrap().len() as usize;
            std::fs::write(conf, vec![0u8; len]).unwrap();
        }),
    ];
    for (what, damage) in damages {
        let cache = tmp.path().join(what.replace(' ', "-"));
        search_dir_json(&cache, &photos, query);
        damage(&db_file(&cache), &conf(&cache));
        let (got, stderr) = search_dir_json(&cache, &photos, query);
        assert_eq!(got, want, "{what}: {stderr}");
        for bad in ["Os {", "kind:", "backtrace", "Some(", "sled", "ERROR"] {
            assert!(!stderr.contains(bad), "{what}: {bad:?} in {stderr}");
        }
        let aside: Vec<String> = std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("db.damaged-"))
            .collect();
        let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("damaged")).collect();
        // sled reads a truncated or zeroed log as an empty one (what it held is computed
        // again); a settings file it cannot read is damage, set aside with one line
        match aside.len() {
            0 => assert!(warnings.is_empty(), "{what}: {stderr}"),
            1 => {
                assert_eq!(warnings.len(), 1, "{what}: {stderr}");
                assert!(warnings[0].contains(&aside[0]), "{what}: {}", warnings[0]);
            }
            n => panic!("{what}: {n} folders set aside"),
        }
        if what == "settings zeroed" {
            assert_eq!(aside.len(), 1, "{what}: {stderr}");
        }
        // mended: the next run says nothing of damage
        let (again, stderr) = search_dir_json(&cache, &photos, query);
        assert_eq!(again, want);
        assert!(!stderr.contains("damaged"), "{what}: {stderr}");
    }
}
