//! `picseek search` end to end over the demo test images, with the committed scorer.

mod common;

use std::path::Path;

use common::{picseek, succeed, test_images};

#[test]
fn ranks_images_with_scores_and_withholds_children() {
    let tmp = tempfile::tempdir().unwrap();
    let out = succeed(
        picseek(tmp.path())
            .args([
                "search",
                "a dog running on the grass",
                "--top",
                "10",
                "--json",
            ])
            .arg(test_images()),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["blocked"], false);
    assert_eq!(v["query"], "a dog running on the grass");
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 10);
    let scores: Vec<f64> = results
        .iter()
        .map(|r| r["score"].as_f64().unwrap())
        .collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "not sorted: {scores:?}"
    );
    assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)));
    assert_eq!(results[0]["rank"], 1);
    let withheld = v["withheld"].as_u64().unwrap();
    assert!(withheld > 0 && withheld < 100, "withheld {withheld}");

    // A dog photo comes first: its own captions are about dogs.
    let top = results[0]["path"].as_str().unwrap();
    let name = Path::new(top).file_name().unwrap().to_str().unwrap();
    let queries = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/test_queries.csv"),
    )
    .unwrap();
    assert!(
        queries
            .lines()
            .any(|l| l.contains(name) && l.to_lowercase().contains("dog")),
        "top result {name} has no dog caption"
    );

    // --min-score filters, and the plain output lists rank, score, path.
    let out = picseek(tmp.path())
        .args(["search", "a dog running on the grass", "--min-score", "0.2"])
        .arg(test_images())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.is_empty());
    for line in stdout.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let score: f64 = cols[1].parse().unwrap();
        assert!(score >= 0.2, "{line}");
    }
}

#[test]
fn blocked_query_exits_3_and_searches_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = picseek(tmp.path())
        .args(["search", "two l1ttle g i r l s on a swing", "--json"])
        .arg(test_images())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["blocked"], true);
    assert_eq!(v["term"], "girls");
    assert!(v["reason"].as_str().unwrap().contains("under 16"));
    assert!(v.get("results").is_none());
    // Nothing was indexed or stored: the cache was never opened.
    assert!(!tmp.path().join("db").exists());

    let out = picseek(tmp.path())
        .args(["search", "a boy's bike"])
        .arg(test_images())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("blocked by the legal filter") && stderr.contains("boy"),
        "{stderr}"
    );
}

#[test]
fn empty_and_huge_queries_are_refused_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    for (query, expect) in [
        ("   ", "empty query"),
        (&*"word ".repeat(400), "query too long"),
    ] {
        let out = picseek(tmp.path())
            .args(["search", query])
            .arg(test_images())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr.contains(expect), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
}

#[test]
fn subcommands_win_over_the_ui_folder_and_do_not_mix_with_it() {
    let tmp = tempfile::tempdir().unwrap();
    // A global flag before the subcommand still leaves `search` a subcommand.
    let out = picseek(tmp.path())
        .args(["search", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: picseek search"));
    // A folder for the UI and a subcommand together are refused with one line naming what.
    let refused = |args: &[&std::ffi::OsStr], what: &str| {
        let out = picseek(tmp.path()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains(&format!("{what} cannot be combined with a subcommand")),
            "{err}"
        );
    };
    let os = |s: &'static str| std::ffi::OsStr::new(s);
    refused(
        &[test_images().as_os_str(), os("search"), os("dog")],
        "a folder for the terminal UI",
    );
    // So are the UI's own options: `bench tui` takes them after its name, where they are used.
    for before in ["--data", "--debounce-ms"] {
        refused(&[os(before), os("200"), os("bench"), os("tui")], before);
    }
    let out = picseek(tmp.path())
        .args(["bench", "tui", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--debounce-ms") && help.contains("--data"),
        "{help}"
    );
    // The UI needs a terminal; without one it says so instead of drawing.
    let out = picseek(tmp.path()).arg(test_images()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a terminal"));
}

#[test]
fn bad_arguments_and_folders_are_refused_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = picseek(tmp.path()).args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let dir = test_images();
    let dir = dir.to_str().unwrap();
    for (bad, says) in [
        (vec!["--min-score", "2"], "scores run from 0 to 1"),
        (vec!["--min-score=-0.5"], "scores run from 0 to 1"),
        (vec!["--min-score", "NaN"], "scores run from 0 to 1"),
        (vec!["--min-score", "inf"], "scores run from 0 to 1"),
        (vec!["--min-score", "lots"], "is not a number"),
        (vec!["--top", "0"], "--top"),
    ] {
        let mut args = vec!["search", "a dog", dir];
        args.extend(&bad);
        let (code, err) = run(&args);
        assert_eq!(code, Some(2), "{bad:?}: {err}");
        assert!(err.contains(says), "{bad:?}: {err}");
    }
    // A root that is not a folder: exit 1, naming it and the cause.
    let (code, err) = run(&["search", "a dog", "/dev/null"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("/dev/null") && err.contains("not a folder or an image file"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn log_lines_carry_no_colour_codes_off_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let out = picseek(tmp.path())
        .env("RUST_LOG", "debug")
        .args(["search", "a dog", "--top", "1"])
        .arg(test_images())
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("DEBUG"), "no log lines to check: {err}");
    assert!(!err.contains('\u{1b}'), "colour codes in piped logs: {err}");
}

#[test]
fn json_errors_are_json_on_stdout_with_the_same_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    for (args, says) in [
        (vec!["search", "   ", "--json"], "empty query"),
        (vec!["search", "a dog", "/dev/null", "--json"], "/dev/null"),
    ] {
        let out = picseek(tmp.path()).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e})"));
        let err = v["error"].as_str().unwrap();
        assert!(err.contains(says), "{args:?}: {err}");
        // The same message, once, on stderr.
        assert!(String::from_utf8_lossy(&out.stderr).contains(err));
    }
}

#[test]
fn json_gives_the_raw_bytes_of_a_name_that_is_not_utf8() {
    use base64::Engine;
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let tmp = tempfile::tempdir().unwrap();
    let photos = tmp.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    // A dog (src/legal/child_labels.tsv): no person, so the image check shows it.
    let first = test_images().join("1319634306_816f21677f.jpg");
    let odd = photos.join(std::ffi::OsString::from_vec(b"caf\xe9 dog.jpg".to_vec()));
    let plain = photos.join("plain.jpg");
    std::fs::copy(&first, &odd).unwrap();
    std::fs::copy(&first, &plain).unwrap();
    let out = succeed(
        picseek(tmp.path())
            .args(["search", "a photo", "--json"])
            .arg(&photos),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{v}");
    for r in results {
        let path = r["path"].as_str().unwrap();
        match r.get("path_bytes") {
            Some(b64) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64.as_str().unwrap())
                    .unwrap();
                assert_eq!(bytes, odd.as_os_str().as_bytes());
                let named = std::path::PathBuf::from(std::ffi::OsString::from_vec(bytes));
                assert!(named.is_file(), "{} does not open", named.display());
                assert!(path.contains('\u{fffd}'), "{path}");
            }
            None => assert_eq!(Path::new(path), plain),
        }
    }
    assert!(results.iter().any(|r| r.get("path_bytes").is_some()), "{v}");
}

#[test]
fn preview_into_a_pipe_writes_no_escape_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = picseek(tmp.path())
        .args(["search", "a dog on the grass", "--top", "3", "--preview"])
        .arg(test_images())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stdout.contains('\u{1b}'),
        "escape codes in a pipe: {stdout:?}"
    );
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert!(stderr.contains("--preview needs a terminal"), "{stderr}");
}

/// `--files` prints the paths alone, exactly; `-0` ends each with NUL; a reader that closes the
/// pipe at once ends the search quietly with exit 0.
#[test]
fn files_only_nul_separated_and_a_closed_pipe() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let out = succeed(
            picseek(tmp.path())
                .args(["search", "a dog on the grass", "--top", "5"])
                .args(extra)
                .arg(test_images()),
        );
        out.stdout
    };
    let lines = String::from_utf8(run(&["-f"])).unwrap();
    let paths: Vec<&str> = lines.lines().collect();
    assert_eq!(paths.len(), 5, "{lines}");
    for p in &paths {
        assert!(Path::new(p).is_file(), "not a path alone: {p:?}");
    }
    let nul = run(&["--files", "-0"]);
    let split: Vec<&[u8]> = nul.split(|b| *b == 0).collect();
    assert_eq!(split.len(), 6, "five NUL-terminated paths");
    assert!(split[5].is_empty() && !nul.contains(&b'\n'));
    for (a, b) in split.iter().zip(&paths) {
        assert_eq!(*a, b.as_bytes());
    }
    // The reader is gone before the first line is written.
    let out = std::process::Command::new("bash")
        .args(["-c", r#"set -o pipefail; "$@" | true"#, "bash"])
        .arg(env!("CARGO_BIN_EXE_picseek"))
        .arg("--cache")
        .arg(tmp.path())
        .args(["search", "a dog on the grass", "-f"])
        .arg(test_images())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{stderr}"
    );
}

/// `--image FILE DIR`: a mirrored copy of a shown image (kept outside DIR) finds it first; an
/// example showing children is refused like a blocked query (exit 3, JSON blocked).
#[test]
fn search_by_example_finds_the_original_and_refuses_children() {
    let tmp = tempfile::tempdir().unwrap();
    let search = |args: &[&std::ffi::OsStr]| {
        picseek(tmp.path())
            .arg("search")
            .args(args)
            .arg("--json")
            .output()
            .unwrap()
    };
    let out = search(&["a dog on the grass".as_ref(), test_images().as_os_str()]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let shown = Path::new(v["results"][0]["path"].as_str().unwrap()).to_path_buf();
    let copy = tmp.path().join("copy.png");
    image::imageops::flip_horizontal(&image::open(&shown).unwrap().to_rgb8())
        .save(&copy)
        .unwrap();
    let out = search(&[
        "--image".as_ref(),
        copy.as_os_str(),
        test_images().as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["blocked"], false);
    assert_eq!(v["image"], copy.to_str().unwrap());
    assert_eq!(Path::new(v["results"][0]["path"].as_str().unwrap()), shown);
    assert!(v["results"][0]["score"].as_f64().unwrap() >= 0.5, "{v}");
    // Two boys with a water pistol: withheld from the library, refused as an example.
    let boys = test_images().join("1177994172_10d143cb8d.jpg");
    let out = search(&[
        "--image".as_ref(),
        boys.as_os_str(),
        test_images().as_os_str(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["blocked"], true, "{v}");
    // A text term joined to an example is checked as well, before anything is read.
    let out = search(&[
        "beach + kids".as_ref(),
        "--image".as_ref(),
        copy.as_os_str(),
        test_images().as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(3));
    // An example that is not an image: one line naming it.
    let notes = tmp.path().join("notes.jpg");
    std::fs::write(&notes, b"plain text").unwrap();
    let out = picseek(tmp.path())
        .args(["search", "--image"])
        .arg(&notes)
        .arg(test_images())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap_or("");
    assert!(last.contains("notes.jpg"), "{stderr}");
}
