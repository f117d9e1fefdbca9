//! Helpers shared by the integration tests (each test binary uses a part of them).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use std::sync::Arc;

use picseek::engine::{Indexed, Models, Session};
use picseek::index::IndexOptions;
use picseek::legal::CheckedQuery;
use picseek::model::runtime;
use picseek::query::Query;

/// The crate root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The committed models folder, with ONNX Runtime initialised from it.
pub fn models() -> PathBuf {
    let dir = root().join("models");
    runtime::init(None, &dir).expect("ONNX Runtime (run scripts/setup.sh)");
    dir
}

/// The dataset's 100 test images (linked by set-up).
pub fn test_images() -> PathBuf {
    let dir = root().join("data/test_images");
    assert!(
        dir.is_dir(),
        "{} missing: run scripts/setup.sh",
        dir.display()
    );
    dir
}

/// The picseek binary with a cache of its own and no inherited log level.
pub fn picseek(cache: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_picseek"));
    c.env_remove("RUST_LOG").arg("--cache").arg(cache);
    c
}

/// Runs `cmd`, which must succeed (its stderr is shown when it does not); returns its output.
pub fn succeed(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// An engine session with the committed models over the cache folder `cache` and the
/// declarations file `declarations` (`None`: nothing declared).
pub fn session_with(cache: &Path, declarations: Option<PathBuf>) -> Session {
    let models = Arc::new(Models::new(&models()));
    Session::open(models, cache, IndexOptions::default(), declarations).unwrap()
}

/// An engine session with the committed models over the cache folder `cache`, nothing declared.
pub fn session(cache: &Path) -> Session {
    session_with(cache, None)
}

/// Indexes `dir` with `session` (the legal check on) and brings its library up to date; must
/// succeed.
pub fn index_all(session: &Session, dir: &Path) -> Indexed {
    session.index(dir, &mut |_| {}).unwrap()
}

/// A query as typed, checked by the legal query rules (which must let it through).
pub fn checked(query: &str) -> CheckedQuery {
    let q = Query::parse(query, &[]).unwrap();
    picseek::legal::check_terms(q).unwrap_or_else(|r| panic!("{query:?} refused: {r}"))
}

/// Writes `img` as a JPEG of `quality` to `out`.
pub fn save_jpeg(img: &image::RgbImage, quality: u8, out: &Path) {
    use image::ImageEncoder;
    let f = std::fs::File::create(out).unwrap();
    image::codecs::jpeg::JpegEncoder::new_with_quality(f, quality)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
}

/// The file name of a path as printed (a result's `path` in JSON).
pub fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// The paths in `dir`, sorted.
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    paths
}
