//! Handing results to the world outside the UI: the clipboard (OSC 52, through the terminal, so
//! it works over SSH and in tmux with `set-clipboard on`), the desktop's image viewer, and a
//! file listing the results.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::display::escape_path;

/// The OSC 52 sequence that puts `path` (its exact bytes) on the clipboard.
pub fn osc52(path: &Path) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(path.as_os_str().as_bytes());
    format!("\u{1b}]52;c;{b64}\u{7}").into_bytes()
}

/// Whether there is a desktop to open files on (an X or Wayland display).
pub fn display_available(env: impl Fn(&str) -> Option<String>) -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| env(v).is_some_and(|s| !s.is_empty()))
}

/// The notice for a path sent to the clipboard.
pub fn copied(path: &Path) -> String {
    format!("Copied {} to the clipboard (OSC 52)", escape_path(path))
}

/// The notice for a result list written to `file`.
pub fn exported(count: usize, file: &Path) -> String {
    format!("Wrote {count} paths to {}", escape_path(file))
}

/// Opens `path` with the desktop's viewer (`xdg-open`), detached, when `env` names a display;
/// the notice to show.
pub fn open(path: &Path, env: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    if !display_available(env) {
        return Err(
            "Cannot open here: no display (DISPLAY and WAYLAND_DISPLAY are unset, as over \
             SSH); y copies the path instead"
                .into(),
        );
    }
    std::process::Command::new("xdg-open")
        .arg(path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(|mut child| {
            // Reaped when it ends (xdg-open hands the file to the viewer and exits), so each
            // press does not leave a zombie process behind while the UI runs.
            std::thread::spawn(move || child.wait());
            format!("Opened {} with the desktop's viewer", escape_path(path))
        })
        .map_err(|e| format!("Cannot open {}: xdg-open: {e}", escape_path(path)))
}

/// Writes `paths`, one a line (their exact bytes), to a new file `picseek-results-N.txt` in
/// `dir`; returns its path.
pub fn export(paths: &[PathBuf], dir: &Path) -> std::io::Result<PathBuf> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    for n in 0.. {
        let name = match n {
            0 => format!("picseek-results-{stamp}.txt"),
            n => format!("picseek-results-{stamp}-{n}.txt"),
        };
        let file = dir.join(name);
        // A new file only: never over something that is there.
        let mut f = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&file)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for p in paths {
            out.extend_from_slice(p.as_os_str().as_bytes());
            out.push(b'\n');
        }
        f.write_all(&out)?;
        return Ok(file);
    }
    unreachable!("some name is free")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osc52_carries_the_exact_path() {
        let seq = osc52(Path::new("/photos/a b\u{1b}.jpg"));
        let text = String::from_utf8(seq).unwrap();
        let b64 = text
            .strip_prefix("\u{1b}]52;c;")
            .and_then(|t| t.strip_suffix('\u{7}'))
            .unwrap();
        assert!(!b64.contains('\u{1b}'));
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(raw, b"/photos/a b\x1b.jpg");
    }

    #[test]
    fn opening_needs_a_display() {
        let env = |set: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                set.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(!display_available(env(&[])));
        assert!(!display_available(env(&[("DISPLAY", "")])));
        assert!(display_available(env(&[("DISPLAY", ":0")])));
        assert!(display_available(env(&[("WAYLAND_DISPLAY", "wayland-0")])));
    }

    #[test]
    fn export_writes_a_new_file_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let paths = vec![PathBuf::from("/a/1.jpg"), PathBuf::from("/b/2 two.png")];
        let first = export(&paths, dir.path()).unwrap();
        let second = export(&paths[..1], dir.path()).unwrap();
        assert_ne!(first, second);
        assert_eq!(
            std::fs::read_to_string(&first).unwrap(),
            "/a/1.jpg\n/b/2 two.png\n"
        );
        assert_eq!(std::fs::read_to_string(&second).unwrap(), "/a/1.jpg\n");
    }
}
