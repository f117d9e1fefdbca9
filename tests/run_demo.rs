//! The main job without a terminal (`bash scripts/run.sh` from a script or CI): it indexes the
//! demo test images and prints a demo search in English and in Russian, with ranked results.

#[test]
fn main_job_without_a_terminal_prints_a_demo_search() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = std::process::Command::new("bash")
        .arg(format!("{root}/scripts/run.sh"))
        .env("PICSEEK_SKIP_SETUP", "1")
        .env("PICSEEK_BIN", env!("CARGO_BIN_EXE_picseek"))
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("running scripts/run.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("indexed data/test_images: 100 found"),
        "{stdout}"
    );
    for query in ["dog catching a frisbee", "собака бежит по траве"] {
        let (_, after) = stdout
            .split_once(&format!("$ picseek search \"{query}\""))
            .unwrap_or_else(|| panic!("no demo search for {query:?}: {stdout}"));
        let ranked = after
            .lines()
            .skip(1)
            .take_while(|l| !l.is_empty())
            .filter(|l| l.trim_start().starts_with(char::is_numeric))
            .count();
        assert_eq!(ranked, 5, "{query:?}: {after}");
    }
}
