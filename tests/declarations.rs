//! The owner's declarations end to end, through the command line as a user gives them: a folder
//! of the demo test images is indexed; a guardian's consent for one subfolder and "no child" for
//! one file bring back exactly those withheld images (marked, counted); a copy of a covered
//! picture is covered, a new photo in the declared folder is not; a revoked declaration hides
//! them again, an expired one does not count; a damaged or truncated declarations file gives one
//! clear line and loses no earlier record; and no output ever names a withheld image.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use picseek::declarations::{self, Declaration, Kind, Record};
use serde_json::Value;

use common::{file_name, files_in, picseek, test_images};

struct World {
    _tmp: tempfile::TempDir,
    cache: PathBuf,
    declarations: PathBuf,
    photos: PathBuf,
}

impl World {
    fn new() -> World {
        let tmp = tempfile::tempdir().unwrap();
        let photos = tmp.path().join("photos");
        let (kids, rest) = (photos.join("kids"), photos.join("rest"));
        std::fs::create_dir_all(&kids).unwrap();
        std::fs::create_dir_all(&rest).unwrap();
        for (i, f) in files_in(&test_images()).iter().enumerate() {
            let to = if i % 2 == 0 { &kids } else { &rest };
            std::fs::copy(f, to.join(f.file_name().unwrap())).unwrap();
        }
        World {
            cache: tmp.path().join("cache"),
            declarations: tmp.path().join("config/declarations.jsonl"),
            photos,
            _tmp: tmp,
        }
    }

    fn cmd(&self) -> Command {
        let mut c = picseek(&self.cache);
        c.arg("--declarations").arg(&self.declarations);
        c
    }

    /// Runs picseek with `args`; must succeed. Returns stdout and stderr together.
    fn run(&self, args: &[&str]) -> String {
        let out: Output = self.cmd().args(args).output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "picseek {args:?}:\n{text}");
        text
    }

    /// Every image a search shows (file name → its declaration's kind, if one shows it), the
    /// search's `legal_check`, and what it printed in JSON and as plain lines.
    fn search(&self) -> (BTreeMap<String, Option<String>>, Value, String) {
        let photos = self.photos.to_str().unwrap();
        let json = self.run(&["search", "people", "--json", "--top", "200", photos]);
        let line = json
            .lines()
            .find(|l| l.starts_with('{'))
            .expect("a JSON line");
        let v: Value = serde_json::from_str(line).unwrap();
        let shown = v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    file_name(r["path"].as_str().unwrap()),
                    r["shown_by"]["kind"].as_str().map(String::from),
                )
            })
            .collect();
        let plain = self.run(&["search", "people", "--top", "200", photos]);
        (shown, v["legal_check"].clone(), format!("{json}\n{plain}"))
    }

    fn declare(&self, args: &[&str]) -> String {
        let out = self.run(&[&["declare"], args].concat());
        out.split_whitespace()
            .skip_while(|w| *w != "recorded")
            .nth(1)
            .expect("recorded ID")
            .trim_end_matches(':')
            .to_string()
    }

    fn names_in(&self, folder: &str) -> BTreeSet<String> {
        files_in(&self.photos.join(folder))
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    fn all_names(&self) -> BTreeSet<String> {
        let mut all = self.names_in("kids");
        all.extend(self.names_in("rest"));
        all
    }
}

/// Not one withheld image's file name appears in `text`.
fn assert_names_none(text: &str, withheld: &BTreeSet<String>, what: &str) {
    for name in withheld {
        let stem = Path::new(name).file_stem().unwrap().to_string_lossy();
        assert!(
            !text.contains(stem.as_ref()),
            "{what} names the withheld image {name}:\n{text}"
        );
    }
}

fn count(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("no {key} in {v}"))
}

#[test]
fn declarations_show_exactly_what_they_cover_until_revoked() {
    let w = World::new();
    let photos = w.photos.to_str().unwrap().to_string();
    let index = w.run(&["--index", &photos]);

    // Before any declaration: some of each folder are withheld, and no output names them.
    let (shown, legal, printed) = w.search();
    let withheld: BTreeSet<String> = w
        .all_names()
        .into_iter()
        .filter(|n| !shown.contains_key(n))
        .collect();
    let withheld_kids: BTreeSet<String> = w
        .names_in("kids")
        .intersection(&withheld)
        .cloned()
        .collect();
    let withheld_rest: Vec<String> = w
        .names_in("rest")
        .intersection(&withheld)
        .cloned()
        .collect();
    assert!(
        withheld_kids.len() >= 5 && withheld_rest.len() >= 5,
        "{legal}"
    );
    assert_eq!(
        count(&legal, "withheld_child_among_people"),
        withheld.len() as u64
    );
    assert!(shown.values().all(Option::is_none));
    let by_folder = w.run(&["legal", "--withheld-by-folder", &photos]);
    for (folder, n) in [("kids", withheld_kids.len()), ("rest", withheld_rest.len())] {
        let line = by_folder
            .lines()
            .find(|l| l.ends_with(&format!("  {folder}")))
            .unwrap_or_else(|| panic!("no line for {folder}:\n{by_folder}"));
        let first: usize = line.split_whitespace().next().unwrap().parse().unwrap();
        assert_eq!(first, n, "{by_folder}");
    }
    for (what, text) in [
        ("--index", &index),
        ("search", &printed),
        ("legal --withheld-by-folder", &by_folder),
    ] {
        assert_names_none(text, &withheld, what);
    }

    // A guardian's consent for kids/, "no child" for one file of rest/.
    let kids = w.photos.join("kids");
    let consent = w.declare(&[
        "consent",
        kids.to_str().unwrap(),
        "--by",
        "Anna K.",
        "--note",
        "our children",
    ]);
    let x = withheld_rest[0].clone();
    let x_path = w.photos.join("rest").join(&x);
    let no_child = w.declare(&["no-child", x_path.to_str().unwrap(), "--by", "Owner"]);
    let (shown2, legal2, printed2) = w.search();
    for name in w.all_names() {
        let want = if withheld_kids.contains(&name) {
            Some(Some("consent".to_string()))
        } else if name == x {
            Some(Some("no_child".to_string()))
        } else if withheld.contains(&name) {
            None
        } else {
            Some(None)
        };
        assert_eq!(shown2.get(&name).cloned(), want, "{name}");
    }
    assert_eq!(
        count(&legal2, "shown_with_consent"),
        withheld_kids.len() as u64
    );
    assert_eq!(count(&legal2, "shown_declared_no_child"), 1);
    assert_eq!(
        count(&legal2, "withheld_child_among_people"),
        (withheld_rest.len() - 1) as u64
    );
    assert!(
        printed2.contains("shown with consent of Anna K., "),
        "{printed2}"
    );
    assert!(
        printed2.contains("declared without children by Owner, "),
        "{printed2}"
    );
    let still_withheld: BTreeSet<String> = withheld_rest[1..].iter().cloned().collect();
    assert_names_none(&printed2, &still_withheld, "search after declaring");

    // A photo added to kids/ later is not covered (a withheld picture of rest/, renamed); a copy
    // of a consented picture elsewhere is.
    let y = &withheld_rest[1];
    std::fs::copy(w.photos.join("rest").join(y), kids.join("added-later.jpg")).unwrap();
    let k = withheld_kids.iter().next().unwrap();
    std::fs::copy(
        kids.join(k),
        w.photos.join("rest").join("copy-of-covered.jpg"),
    )
    .unwrap();
    let (shown3, ..) = w.search();
    assert_eq!(shown3.get("added-later.jpg"), None);
    assert_eq!(shown3.get(y.as_str()), None);
    assert_eq!(
        shown3.get("copy-of-covered.jpg"),
        Some(&Some("consent".to_string()))
    );
    std::fs::remove_file(kids.join("added-later.jpg")).unwrap();
    std::fs::remove_file(w.photos.join("rest").join("copy-of-covered.jpg")).unwrap();

    // Revoked: kids/ is withheld again; the file declared without children stays shown.
    w.run(&["declare", "revoke", &consent, "--by", "Anna K."]);
    let (shown4, legal4, _) = w.search();
    assert!(withheld_kids.iter().all(|n| !shown4.contains_key(n)));
    assert_eq!(shown4.get(&x), Some(&Some("no_child".to_string())));
    assert_eq!(count(&legal4, "shown_with_consent"), 0);

    // Expired: a consent whose last day has passed does not count.
    let hashes: Vec<String> = withheld_kids
        .iter()
        .map(|n| {
            declarations::hash_hex(blake3::hash(&std::fs::read(kids.join(n)).unwrap()).as_bytes())
        })
        .collect();
    let at = "2026-01-05T09:00:00Z";
    declarations::append(
        &w.declarations,
        &Record::Declare(Declaration {
            format: 1,
            id: declarations::new_id(Kind::Consent, "Anna K.", at, &hashes),
            kind: Kind::Consent,
            by: "Anna K.".into(),
            at: at.into(),
            until: Some("2026-02-01".into()),
            note: None,
            paths: vec![kids.to_string_lossy().into_owned()],
            hashes,
        }),
    )
    .unwrap();
    let (shown5, legal5, _) = w.search();
    assert!(withheld_kids.iter().all(|n| !shown5.contains_key(n)));
    assert_eq!(count(&legal5, "shown_with_consent"), 0);
    let list = w.run(&["declare", "list"]);
    assert!(
        list.contains("expired") && list.contains("revoked by Anna K."),
        "{list}"
    );

    // Damage: a line with a flipped byte, then a record cut short. One line says so, naming the
    // file; every earlier record still counts, and the next record is written whole.
    let good = std::fs::read(&w.declarations).unwrap();
    let mut bytes = good.clone();
    let mut damaged_line = good
        .split(|b| *b == b'\n')
        .find(|l| !l.is_empty())
        .unwrap()
        .to_vec();
    let at_by = damaged_line
        .windows(5)
        .position(|s| s == b"Owner")
        .unwrap_or(40);
    damaged_line[at_by] ^= 0x01;
    bytes.extend_from_slice(&damaged_line);
    bytes.push(b'\n');
    bytes.extend_from_slice(&good[..good.len() / 3]);
    std::fs::write(&w.declarations, &bytes).unwrap();
    let out = w
        .cmd()
        .args(["search", "people", "--json", "--top", "200", &photos])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("damaged")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains("declarations.jsonl") && warnings[0].contains("line 5"),
        "{}",
        warnings[0]
    );
    let (shown6, ..) = w.search();
    assert_eq!(shown6.get(&x), Some(&Some("no_child".to_string())));
    let z = &withheld_rest[2];
    w.declare(&[
        "no-child",
        w.photos.join("rest").join(z).to_str().unwrap(),
        "--by",
        "Owner",
    ]);
    let after = std::fs::read(&w.declarations).unwrap();
    assert!(after.starts_with(&good), "an earlier record was changed");
    let (shown7, ..) = w.search();
    assert_eq!(shown7.get(&x), Some(&Some("no_child".to_string())));
    assert_eq!(shown7.get(z.as_str()), Some(&Some("no_child".to_string())));
    let listed = w.run(&["declare", "list", "--json"]);
    let v: Value = serde_json::from_str(listed.lines().next().unwrap()).unwrap();
    let ids: Vec<&str> = v["declarations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 4, "{listed}");
    assert!(ids.contains(&consent.as_str()) && ids.contains(&no_child.as_str()));
    assert_eq!(v["damaged_lines"].as_array().unwrap().len(), 2, "{listed}");
}
