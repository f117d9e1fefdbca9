//! Killing `picseek --index` with SIGKILL half way loses nothing already flushed, and the next
//! run completes the rest.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

fn picseek() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_picseek"));
    c.env_remove("RUST_LOG").env_remove("PICSEEK_CACHE");
    c
}

/// Runs `picseek --index` to the end and returns its stdout.
fn index(cache: &Path, images: &Path) -> String {
    let out = picseek()
        .arg("--cache")
        .arg(cache)
        .arg("--index")
        .arg(images)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Parses "N found, E newly encoded, C cached, F failed" from the summary line.
fn summary(stdout: &str) -> (usize, usize, usize, usize) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("indexed "))
        .expect("summary line");
    let num = |word: &str| -> usize {
        let before = line.split(word).next().unwrap();
        before
            .trim_end()
            .rsplit([' ', ','])
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    (
        num(" found"),
        num(" newly encoded"),
        num(" cached"),
        num(" failed"),
    )
}

#[test]
fn sigkill_half_way_then_resume() {
    let images = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/train_images");
    assert!(
        images.is_dir(),
        "{} missing: run scripts/setup.sh",
        images.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");

    let mut child = picseek()
        .arg("--cache")
        .arg(&cache)
        .arg("--index")
        .arg(&images)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Progress lines come every two seconds when stderr is not a terminal; the cache is flushed
    // at least that often, so by the first one that is not the last some work is on disk.
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut killed_at = None;
    for line in stderr.lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("picseek: processed ") {
            let (done, total) = rest.split_once('/').unwrap();
            let (done, total): (usize, usize) = (done.parse().unwrap(), total.parse().unwrap());
            if done < total {
                child.kill().unwrap();
                killed_at = Some(done);
                break;
            }
        }
    }
    child.wait().unwrap();
    let killed_at = killed_at.expect("the run finished before it could be killed");

    let stdout = index(&cache, &images);
    let (found, encoded, cached, failed) = summary(&stdout);
    assert_eq!(found, 1000);
    assert_eq!(failed, 0, "{stdout}");
    assert_eq!(encoded + cached, 1000, "{stdout}");
    assert!(
        cached > 0,
        "nothing survived the kill (killed after {killed_at}): {stdout}"
    );
    assert!(
        encoded > 0,
        "the kill came too late to test anything: {stdout}"
    );

    let stdout = index(&cache, &images);
    assert_eq!(summary(&stdout), (1000, 0, 1000, 0), "{stdout}");
}
