//! Runs `tests/tui_tmux.sh`: the real TUI in tmux, driven and read like a person would.

#[test]
fn tui_in_tmux() {
    let out = std::process::Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tui_tmux.sh"))
        .env("PICSEEK_BIN", env!("CARGO_BIN_EXE_picseek"))
        .output()
        .expect("running bash");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("tui e2e: ok"), "{text}");
}
