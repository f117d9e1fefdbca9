//! The owner's declarations: what the law lets the owner of a photo library say about it.
//!
//! - **Consent**: a parent's or guardian's permission that images of their children may be
//!   shown to them ("these images of my children may be shown to me"), with who gave it, when,
//!   an optional last day and a note.
//! - **No child**: "no child is shown here", with who said so and when.
//!
//! A declaration covers the images present when it was made, by content hash: a copy of the
//! same picture anywhere is covered, a new photo put in a declared folder is not until it is
//! declared again. A declaration is revoked by a later record; a consent past its last day no
//! longer counts. Neither changes what queries may ask for, nor what training learns from:
//! they only let images the image check withholds be shown to the owner, marked.
//!
//! The records live in one file outside the disposable cache (by default
//! `$XDG_CONFIG_HOME/picseek/declarations.jsonl`), appended to and never rewritten: one JSON
//! object a line, each with a BLAKE3 check of its own bytes, each written with one `write` and
//! made durable with an fsync before the command reports it done. A damaged or truncated line
//! (a crash mid-write, a bad disk, a hand edit) is named in one warning and left out; no other
//! record is lost, and the next record starts on a fresh line.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cache::ContentHash;
use crate::display::escape_path;

/// The file's name in the user's config folder.
pub const FILE_NAME: &str = "declarations.jsonl";
/// The version of the record format.
const FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum DeclarationError {
    #[error("{}: cannot read the declarations: {error}", escape_path(path))]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}: cannot record the declaration: {error}", escape_path(path))]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("no declaration {0} (see picseek declare list)")]
    Unknown(String),
    #[error("declaration {id} is already revoked")]
    AlreadyRevoked { id: String },
    #[error("{0}")]
    Invalid(String),
}

/// What a declaration says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A parent's or guardian's consent to showing images of their children to the owner.
    Consent,
    /// No child is shown in these images.
    NoChild,
}

impl Kind {
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Consent => "consent",
            Kind::NoChild => "no child shown",
        }
    }
}

/// One line of the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Record {
    Declare(Declaration),
    Revoke(Revocation),
}

/// A declaration as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Declaration {
    pub format: u32,
    /// `d-` and 12 hex digits, from its contents.
    pub id: String,
    pub kind: Kind,
    /// Who gave it (the parent or guardian, or who says no child is shown).
    pub by: String,
    /// When it was recorded (RFC 3339, UTC).
    pub at: String,
    /// A consent's last day (`YYYY-MM-DD`, UTC), if it has one.
    pub until: Option<String>,
    pub note: Option<String>,
    /// The files and folders named, absolute.
    pub paths: Vec<String>,
    /// The content hashes (BLAKE3, hex) of the images under them when it was made.
    pub hashes: Vec<String>,
}

/// A declaration taken back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revocation {
    pub format: u32,
    /// The declaration revoked.
    pub revokes: String,
    pub by: String,
    pub at: String,
    pub note: Option<String>,
}

/// A line as written: the record and the check of its exact bytes.
#[derive(Serialize)]
struct LineOut<'a> {
    check: String,
    entry: &'a serde_json::value::RawValue,
}

#[derive(Deserialize)]
struct LineIn<'a> {
    check: String,
    #[serde(borrow)]
    entry: &'a serde_json::value::RawValue,
}

fn check_of(bytes: &[u8]) -> String {
    hex(&blake3::hash(bytes).as_bytes()[..8])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A content hash in the file's form.
pub fn hash_hex(h: &ContentHash) -> String {
    hex(h)
}

fn parse_hash(s: &str) -> Option<ContentHash> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// A line that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// 1-based.
    pub line: usize,
    pub cause: String,
}

/// Every record of a declarations file, in order, and the lines that could not be read.
#[derive(Debug, Clone, Default)]
pub struct Declarations {
    pub path: PathBuf,
    pub records: Vec<Record>,
    pub damaged: Vec<Damage>,
}

/// The state of one declaration at some moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Active,
    Revoked { by: String, at: String },
    Expired,
}

/// Why an image withheld by the check is shown: the declaration that covers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mark {
    pub id: String,
    pub kind: Kind,
    pub by: String,
    /// The day it was given (`YYYY-MM-DD`).
    pub date: String,
}

impl Mark {
    /// "shown with consent of NAME, DATE" / "declared without children by NAME, DATE".
    pub fn describe(&self) -> String {
        match self.kind {
            Kind::Consent => format!("shown with consent of {}, {}", self.by, self.date),
            Kind::NoChild => format!("declared without children by {}, {}", self.by, self.date),
        }
    }
}

/// The declarations in force at one moment: which contents they cover, and a digest that
/// changes whenever that does.
#[derive(Debug, Clone, Default)]
pub struct Cover {
    by_hash: HashMap<ContentHash, Mark>,
    digest: [u8; 16],
}

impl Cover {
    /// The declaration covering a content, if any (a "no child" one before a consent).
    pub fn mark(&self, hash: &ContentHash) -> Option<&Mark> {
        self.by_hash.get(hash)
    }

    /// Whether the owner declared this content to show no child.
    pub fn no_child(&self, hash: &ContentHash) -> bool {
        self.mark(hash).is_some_and(|m| m.kind == Kind::NoChild)
    }

    /// Identifies what the cover holds (a stored library is rebuilt when it changes).
    pub fn digest(&self) -> [u8; 16] {
        self.digest
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
}

/// Where the declarations live by default: `picseek/declarations.jsonl` in the user's config
/// folder (`$XDG_CONFIG_HOME`, else `~/.config`).
pub fn default_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("picseek").join(FILE_NAME))
}

/// Today's date (UTC), `YYYY-MM-DD`.
pub fn today() -> String {
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string()
}

/// Now (UTC), RFC 3339 to the second.
pub fn now() -> String {
    let t = jiff::Timestamp::now();
    jiff::Timestamp::from_second(t.as_second())
        .unwrap_or(t)
        .to_string()
}

/// Checks a last day given by the user: `YYYY-MM-DD`.
pub fn parse_day(s: &str) -> Result<String, DeclarationError> {
    s.trim()
        .parse::<jiff::civil::Date>()
        .map(|d| d.to_string())
        .map_err(|e| {
            DeclarationError::Invalid(format!("--until {s:?}: not a date (YYYY-MM-DD): {e}"))
        })
}

impl Declarations {
    /// Reads the file at `path`; a missing file holds no declarations. Damaged lines are left
    /// out and listed in [`Declarations::damaged`] (see [`Declarations::warning`]).
    pub fn load(path: &Path) -> Result<Self, DeclarationError> {
        let mut bytes = Vec::new();
        match File::open(path) {
            Ok(mut f) => f.read_to_end(&mut bytes).map(|_| ()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
        .map_err(|error| DeclarationError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        let mut out = Declarations {
            path: path.to_path_buf(),
            ..Default::default()
        };
        let ends_cleanly = bytes.last().is_none_or(|b| *b == b'\n');
        let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
        let last = lines.len().saturating_sub(1);
        for (i, line) in lines.iter().enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match parse_line(line) {
                Ok(r) => out.records.push(r),
                Err(cause) => {
                    let cause = if i == last && !ends_cleanly {
                        format!("truncated ({cause})")
                    } else {
                        cause
                    };
                    out.damaged.push(Damage { line: i + 1, cause });
                }
            }
        }
        Ok(out)
    }

    /// One line about the damaged lines, if any.
    pub fn warning(&self) -> Option<String> {
        let first = self.damaged.first()?;
        let more = match self.damaged.len() {
            1 => String::new(),
            n => format!(" and {} more line(s)", n - 1),
        };
        Some(format!(
            "{}: line {} is damaged ({}){more}; left out, the other {} record(s) are kept",
            escape_path(&self.path),
            first.line,
            first.cause,
            self.records.len()
        ))
    }

    /// Every declaration, in the order made.
    pub fn declarations(&self) -> impl Iterator<Item = &Declaration> + '_ {
        self.records.iter().filter_map(|r| match r {
            Record::Declare(d) => Some(d),
            Record::Revoke(_) => None,
        })
    }

    /// The declaration with this id (or the only one it begins).
    pub fn find(&self, id: &str) -> Result<&Declaration, DeclarationError> {
        let id = id.trim();
        let matches: Vec<&Declaration> = self
            .declarations()
            .filter(|d| d.id == id || (id.len() >= 4 && d.id.starts_with(id)))
            .collect();
        match matches.as_slice() {
            [d] => Ok(d),
            _ => Err(DeclarationError::Unknown(id.to_string())),
        }
    }

    /// A declaration's state on `today` (`YYYY-MM-DD`).
    pub fn status(&self, d: &Declaration, today: &str) -> Status {
        let revoked = self.records.iter().find_map(|r| match r {
            Record::Revoke(r) if r.revokes == d.id => Some(Status::Revoked {
                by: r.by.clone(),
                at: r.at.clone(),
            }),
            _ => None,
        });
        if let Some(s) = revoked {
            return s;
        }
        match &d.until {
            Some(until) if until.as_str() < today => Status::Expired,
            _ => Status::Active,
        }
    }

    /// What the declarations in force on `today` cover.
    pub fn cover(&self, today: &str) -> Cover {
        let mut by_hash: HashMap<ContentHash, Mark> = HashMap::new();
        let mut h = blake3::Hasher::new();
        h.update(b"picseek-declarations-cover-v1");
        for d in self.declarations() {
            if self.status(d, today) != Status::Active {
                continue;
            }
            h.update(d.id.as_bytes());
            let mark = Mark {
                id: d.id.clone(),
                kind: d.kind,
                by: d.by.clone(),
                date: d.at.get(..10).unwrap_or(&d.at).to_string(),
            };
            for hash in d.hashes.iter().filter_map(|s| parse_hash(s)) {
                let stronger = by_hash
                    .get(&hash)
                    .is_none_or(|m| m.kind == Kind::Consent && d.kind == Kind::NoChild);
                if stronger {
                    by_hash.insert(hash, mark.clone());
                }
            }
        }
        let mut digest = [0u8; 16];
        digest.copy_from_slice(&h.finalize().as_bytes()[..16]);
        Cover { by_hash, digest }
    }
}

fn parse_line(line: &[u8]) -> Result<Record, String> {
    let text = std::str::from_utf8(line).map_err(|_| "not UTF-8".to_string())?;
    let parsed: LineIn = serde_json::from_str(text).map_err(|e| format!("not a record: {e}"))?;
    let entry = parsed.entry.get();
    if check_of(entry.as_bytes()) != parsed.check {
        return Err("its check does not match its contents".into());
    }
    let record: Record = serde_json::from_str(entry).map_err(|e| format!("not a record: {e}"))?;
    let format = match &record {
        Record::Declare(d) => d.format,
        Record::Revoke(r) => r.format,
    };
    if format != FORMAT {
        return Err(format!("record format {format}, expected {FORMAT}"));
    }
    Ok(record)
}

/// The id of a new declaration: from its contents, so it is the same wherever it is computed.
pub fn new_id(kind: Kind, by: &str, at: &str, hashes: &[String]) -> String {
    let mut h = blake3::Hasher::new();
    h.update(format!("{kind:?}\0{by}\0{at}\0").as_bytes());
    for x in hashes {
        h.update(x.as_bytes());
    }
    format!("d-{}", hex(&h.finalize().as_bytes()[..6]))
}

/// Appends `record` to the file at `path` (created with its folder if missing), with one write
/// and an fsync; a file whose last line was cut short gets a line break first, so the new record
/// is whole. The file is locked while it is written.
pub fn append(path: &Path, record: &Record) -> Result<(), DeclarationError> {
    let err = |error| DeclarationError::Write {
        path: path.to_path_buf(),
        error,
    };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let existed = path.exists();
    let mut f = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(err)?;
    f.lock().map_err(err)?;
    let len = f.seek(SeekFrom::End(0)).map_err(err)?;
    let mut line = Vec::new();
    if len > 0 {
        f.seek(SeekFrom::Start(len - 1)).map_err(err)?;
        let mut last = [0u8; 1];
        f.read_exact(&mut last).map_err(err)?;
        if last[0] != b'\n' {
            line.push(b'\n');
        }
    }
    let entry = serde_json::to_string(record).map_err(|e| err(std::io::Error::other(e)))?;
    let raw = serde_json::value::RawValue::from_string(entry)
        .map_err(|e| err(std::io::Error::other(e)))?;
    let out = LineOut {
        check: check_of(raw.get().as_bytes()),
        entry: &raw,
    };
    serde_json::to_writer(&mut line, &out).map_err(|e| err(std::io::Error::other(e)))?;
    line.push(b'\n');
    f.write_all(&line).map_err(err)?;
    f.sync_all().map_err(err)?;
    if !existed {
        // The new file's name must be durable too.
        if let Some(dir) = dir {
            File::open(dir).and_then(|d| d.sync_all()).map_err(err)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declaration(kind: Kind, until: Option<&str>, hashes: &[ContentHash]) -> Declaration {
        let hashes: Vec<String> = hashes.iter().map(hash_hex).collect();
        Declaration {
            format: FORMAT,
            id: new_id(kind, "Anna", "2026-12-07T10:00:00Z", &hashes),
            kind,
            by: "Anna".into(),
            at: "2026-12-07T10:00:00Z".into(),
            until: until.map(String::from),
            note: None,
            paths: vec!["/photos".into()],
            hashes,
        }
    }

    #[test]
    fn records_survive_a_round_trip_and_damage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(FILE_NAME);
        let a = declaration(Kind::Consent, Some("2027-01-31"), &[[1; 32], [2; 32]]);
        let b = declaration(Kind::NoChild, None, &[[2; 32], [3; 32]]);
        append(&path, &Record::Declare(a.clone())).unwrap();
        append(&path, &Record::Declare(b.clone())).unwrap();
        let d = Declarations::load(&path).unwrap();
        assert_eq!(d.records.len(), 2);
        assert!(d.warning().is_none());
        let cover = d.cover("2026-12-08");
        assert_eq!(cover.mark(&[1; 32]).unwrap().kind, Kind::Consent);
        // Covered by both: the "no child" declaration wins.
        assert!(cover.no_child(&[2; 32]));
        assert!(cover.mark(&[9; 32]).is_none());
        // Past its last day, the consent no longer counts.
        let later = d.cover("2027-02-01");
        assert!(later.mark(&[1; 32]).is_none());
        assert_ne!(later.digest(), cover.digest());
        // Revoked: gone.
        append(
            &path,
            &Record::Revoke(Revocation {
                format: FORMAT,
                revokes: b.id.clone(),
                by: "Anna".into(),
                at: "2026-12-09T00:00:00Z".into(),
                note: None,
            }),
        )
        .unwrap();
        let d = Declarations::load(&path).unwrap();
        assert!(matches!(d.status(&b, "2026-12-09"), Status::Revoked { .. }));
        assert!(!d.cover("2026-12-09").no_child(&[3; 32]));

        // A record cut short by a crash: named, left out, the others kept; the next append
        // starts on a fresh line.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"check\":\"00\",\"entry\":{\"record\":\"decl")
            .unwrap();
        drop(f);
        let d = Declarations::load(&path).unwrap();
        assert_eq!(d.records.len(), 3);
        let w = d.warning().unwrap();
        assert!(w.contains("line 4") && w.contains("truncated"), "{w}");
        assert!(!w.contains('\n'));
        append(&path, &Record::Declare(a.clone())).unwrap();
        let d = Declarations::load(&path).unwrap();
        assert_eq!((d.records.len(), d.damaged.len()), (4, 1));
        // A changed byte fails the line's check.
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replacen("Anna", "Anne", 1);
        std::fs::write(&path, text).unwrap();
        let d = Declarations::load(&path).unwrap();
        assert_eq!(d.damaged[0].line, 1);
        assert!(d.damaged[0].cause.contains("check"), "{:?}", d.damaged);
    }

    #[test]
    fn ids_and_days() {
        let d = declaration(Kind::Consent, None, &[[1; 32]]);
        assert!(d.id.starts_with("d-") && d.id.len() == 14);
        assert_eq!(parse_day("2027-03-01").unwrap(), "2027-03-01");
        assert!(parse_day("next week").is_err());
        assert_eq!(today().len(), 10);
        assert!(now().ends_with('Z'));
        assert_eq!(parse_hash(&hash_hex(&[7; 32])), Some([7; 32]));
    }
}
