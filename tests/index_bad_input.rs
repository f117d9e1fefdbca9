//! `picseek --index` over a folder of bad files next to good ones: every bad file is reported
//! with its reason, every good image is indexed, and the cache still opens afterwards.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::succeed;

fn picseek() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_picseek"));
    c.env_remove("RUST_LOG").env_remove("PICSEEK_CACHE");
    c
}

fn sample_jpegs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/test_images");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/setup.sh)", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v.truncate(4);
    v
}

/// A valid PNG header that claims `w`×`h` pixels, followed by a tiny IDAT.
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32fast::hash(&body).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(b"IEND", &[]);
    out
}

#[test]
fn bad_files_are_reported_and_good_ones_indexed() {
    let tmp = tempfile::tempdir().unwrap();
    let photos = tmp.path().join("photos");
    let cache = tmp.path().join("cache");
    std::fs::create_dir_all(photos.join("nested")).unwrap();
    let jpegs = sample_jpegs();

    // Good images, one with a newline and an escape character in its name.
    std::fs::copy(&jpegs[0], photos.join("good1.jpg")).unwrap();
    std::fs::copy(&jpegs[1], photos.join("nested/good2.JPG")).unwrap();
    let odd = "odd\nname\x1b[31m.jpg";
    std::fs::copy(&jpegs[2], photos.join(odd)).unwrap();
    // A PNG that decodes fine.
    image::RgbImage::from_pixel(40, 30, image::Rgb([10, 200, 30]))
        .save(photos.join("green.png"))
        .unwrap();
    let good = 4;

    // Bad ones.
    let full = std::fs::read(&jpegs[3]).unwrap();
    std::fs::write(photos.join("truncated.jpg"), &full[..full.len() / 2]).unwrap();
    std::fs::write(photos.join("empty.jpg"), b"").unwrap();
    std::fs::write(photos.join("text.png"), b"just some text, not a picture\n").unwrap();
    std::fs::write(photos.join("bomb.png"), png_claiming(50_000, 50_000)).unwrap();
    std::os::unix::fs::symlink(photos.join("gone.jpg"), photos.join("dangling.jpg")).unwrap();
    std::os::unix::fs::symlink(&photos, photos.join("nested/loop")).unwrap();
    let mut expected = vec![
        ("truncated.jpg", "decode"),
        ("empty.jpg", "empty file"),
        ("text.png", "not an image"),
        ("bomb.png", "megapixel limit"),
        ("dangling.jpg", "No such file"),
        ("loop", "symlink loop"),
    ];
    // Unreadable by permissions (root reads everything, so only checked as another user).
    let locked = photos.join("locked.jpg");
    std::fs::copy(&jpegs[3], &locked).unwrap();
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    let root_user = std::fs::read(&locked).is_ok();
    if !root_user {
        expected.push(("locked.jpg", "Permission denied"));
    }
    let good = good + usize::from(root_user);

    let out = picseek()
        .arg("--cache")
        .arg(&cache)
        .arg("--index")
        .arg(&photos)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{stderr}",
        out.status
    );
    let failures: Vec<&str> = stderr.lines().filter(|l| l.contains("failed:")).collect();
    for (name, reason) in &expected {
        assert!(
            failures
                .iter()
                .any(|l| l.contains(name) && l.contains(reason)),
            "no failure line for {name} mentioning {reason:?}:\n{stderr}"
        );
    }
    assert_eq!(failures.len(), expected.len(), "{stderr}");
    assert!(
        stdout.contains(&format!("{good} newly encoded"))
            && stdout.contains(&format!("{} failed", expected.len())),
        "{stdout}"
    );
    assert!(
        !stdout.contains('\x1b') && !stderr.contains('\x1b'),
        "raw escape sent to the terminal"
    );

    // The cache still opens, and the good images are all cached now.
    let again = picseek()
        .arg("--cache")
        .arg(&cache)
        .arg("--index")
        .arg(&photos)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success());
    assert!(
        stdout.contains(&format!("0 newly encoded, {good} cached")),
        "{stdout}"
    );
}

#[test]
fn second_process_on_a_locked_cache_gets_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    let _held = picseek::cache::Cache::open(tmp.path()).unwrap();
    let out = picseek()
        .arg("--cache")
        .arg(tmp.path())
        .arg("--index")
        .arg(tmp.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("in use by another picseek"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
}

#[test]
fn missing_folder_fails_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let out = picseek()
        .arg("--cache")
        .arg(tmp.path().join("c"))
        .arg("--index")
        .arg(tmp.path().join("nope"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("nope") && stderr.contains("cannot scan"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

/// No byte of a path or of the lock file's text reaches the terminal raw.
fn assert_escaped(stderr: &str) {
    assert!(
        !stderr.contains('\u{1b}') && !stderr.contains('\u{7}'),
        "raw control characters: {stderr:?}"
    );
    assert!(stderr.contains("\\x1b"), "escaped form missing: {stderr:?}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr:?}");
}

#[test]
fn lock_holder_text_and_cache_path_are_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache\u{1b}]2;title\u{7}");
    let _held = picseek::cache::Cache::open(&cache).unwrap();
    // Whatever the lock file says is shown escaped (here: a title-setting escape).
    std::fs::write(cache.join("picseek.lock"), "\u{1b}]2;pwned\u{7}\u{1b}[2J").unwrap();
    let out = picseek()
        .arg("--cache")
        .arg(&cache)
        .arg("--index")
        .arg(tmp.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("in use by another picseek"), "{stderr}");
    assert!(stderr.contains("pwned"), "{stderr}");
    assert_escaped(&stderr);

    // A --cache path that cannot be a folder: the error names it, escaped.
    let file = tmp.path().join("file\u{1b}[31m");
    std::fs::write(&file, b"x").unwrap();
    let out = picseek()
        .arg("--cache")
        .arg(file.join("sub"))
        .arg("--index")
        .arg(tmp.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("cannot open cache"), "{stderr}");
    assert_escaped(&stderr);
}

/// The summary line of `picseek --index DIR` (stdout).
fn index_summary(cache: &Path, dir: &Path, extra: &[&str]) -> String {
    let out = succeed(
        picseek()
            .arg("--cache")
            .arg(cache)
            .args(extra)
            .arg("--index")
            .arg(dir),
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn identical_files_are_encoded_once_per_run() {
    let tmp = tempfile::tempdir().unwrap();
    let photos = tmp.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    let jpeg = &sample_jpegs()[0];
    for i in 0..5 {
        std::fs::copy(jpeg, photos.join(format!("copy{i}.jpg"))).unwrap();
    }
    let s = index_summary(&tmp.path().join("cache"), &photos, &[]);
    assert!(
        s.contains("5 found, 1 newly encoded, 4 cached, 0 failed"),
        "{s}"
    );
}

#[test]
fn rehash_sees_a_file_replaced_with_the_same_size_and_mtime() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let photos = tmp.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    let jpegs = sample_jpegs();
    let (a, b) = (
        std::fs::read(&jpegs[0]).unwrap(),
        std::fs::read(&jpegs[1]).unwrap(),
    );
    // Both padded to one size: bytes after a JPEG's end marker are ignored by decoders.
    let size = a.len().max(b.len()) + 16;
    let padded = |mut v: Vec<u8>| {
        v.resize(size, 0);
        v
    };
    let file = photos.join("photo.jpg");
    std::fs::write(&file, padded(a)).unwrap();
    let s = index_summary(&cache, &photos, &[]);
    assert!(s.contains("1 newly encoded"), "{s}");
    let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
    std::fs::write(&file, padded(b)).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    // Same size and mtime: the remembered hash is trusted (documented).
    let s = index_summary(&cache, &photos, &[]);
    assert!(s.contains("0 newly encoded, 1 cached"), "{s}");
    // --rehash reads the file again and encodes the new content.
    let s = index_summary(&cache, &photos, &["--rehash"]);
    assert!(s.contains("1 newly encoded, 0 cached"), "{s}");
    // And a rehash of unchanged files encodes nothing.
    let s = index_summary(&cache, &photos, &["--rehash"]);
    assert!(s.contains("0 newly encoded, 1 cached"), "{s}");
}
