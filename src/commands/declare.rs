//! `picseek declare consent|no-child|list|revoke`: the owner's declarations about their own
//! images, recorded in the declarations file (see [`picseek::declarations`]).
//!
//! Declaring reads and hashes the images named; it does not need the cache, so it works while
//! the terminal UI runs over the same folder.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use picseek::declarations::{
    self, hash_hex, Declaration, Declarations, Kind, Record, Revocation, Status,
};
use picseek::display::{escape_control, escape_path};
use picseek::formats::has_image_extension;
use rayon::prelude::*;
use serde_json::json;

use super::Ctx;
use crate::cli::{DeclareArgs, DeclareCommand};

pub fn run(a: &DeclareArgs, ctx: &Ctx) -> Result<()> {
    let file = ctx.declarations_path()?;
    match &a.what {
        DeclareCommand::Consent(c) => {
            let until = c
                .until
                .as_deref()
                .map(declarations::parse_day)
                .transpose()?;
            if let Some(u) = &until {
                if u.as_str() < declarations::today().as_str() {
                    bail!("--until {u} is in the past: the consent would never count");
                }
            }
            declare(file, Kind::Consent, &c.paths, &c.by, until, c.note.clone())
        }
        DeclareCommand::NoChild(c) => {
            declare(file, Kind::NoChild, &c.paths, &c.by, None, c.note.clone())
        }
        DeclareCommand::List(l) => list(file, l.json),
        DeclareCommand::Revoke(r) => revoke(file, &r.id, &r.by, r.note.clone()),
    }
}

fn who(by: &str) -> Result<String> {
    let by = by.trim();
    if by.is_empty() {
        bail!("--by is empty: say who gives the declaration");
    }
    Ok(by.to_string())
}

/// The images under `paths` (files must be images; folders are read recursively, hidden
/// entries skipped), with their content hashes, in path order.
fn images_under(paths: &[PathBuf]) -> Result<(Vec<String>, Vec<String>)> {
    let mut files = Vec::new();
    let mut named = Vec::new();
    for p in paths {
        let abs = std::path::absolute(p).unwrap_or_else(|_| p.clone());
        let meta = std::fs::metadata(&abs)
            .with_context(|| format!("{}: cannot declare", escape_path(p)))?;
        if meta.is_file() && !has_image_extension(&abs) {
            bail!("{}: not an image file (by its name)", escape_path(p));
        }
        let scan = picseek::index::scan(&abs)
            .with_context(|| format!("{}: cannot read the folder", escape_path(p)))?;
        for f in &scan.failures {
            eprintln!("picseek: skipped: {f}");
        }
        files.extend(scan.files.into_iter().map(|f| f.path));
        named.push(abs.to_string_lossy().into_owned());
    }
    files.sort();
    files.dedup();
    if files.is_empty() {
        bail!("no images under the paths given: nothing to declare");
    }
    let hashes: Vec<Result<String>> = files
        .par_iter()
        .map(|f| {
            let bytes =
                std::fs::read(f).with_context(|| format!("{}: cannot read", escape_path(f)))?;
            Ok(hash_hex(blake3::hash(&bytes).as_bytes()))
        })
        .collect();
    let mut out: Vec<String> = hashes.into_iter().collect::<Result<_>>()?;
    out.sort();
    out.dedup();
    Ok((named, out))
}

fn declare(
    file: &Path,
    kind: Kind,
    paths: &[PathBuf],
    by: &str,
    until: Option<String>,
    note: Option<String>,
) -> Result<()> {
    let by = who(by)?;
    let (named, hashes) = images_under(paths)?;
    let at = declarations::now();
    let d = Declaration {
        format: 1,
        id: declarations::new_id(kind, &by, &at, &hashes),
        kind,
        by: by.clone(),
        at,
        until: until.clone(),
        note,
        paths: named,
        hashes,
    };
    declarations::append(file, &Record::Declare(d.clone()))?;
    let what = match kind {
        Kind::Consent => format!(
            "consent of {} to showing you {} image(s){}",
            escape_control(&by),
            d.hashes.len(),
            until.map(|u| format!(", until {u}")).unwrap_or_default()
        ),
        Kind::NoChild => format!(
            "{} declares that no child is shown in {} image(s)",
            escape_control(&by),
            d.hashes.len()
        ),
    };
    println!("recorded {}: {what}", d.id);
    println!(
        "picseek: it covers these images as they are now (a copy of one is covered, a photo added later is not); \
         revoke it with: picseek declare revoke {}",
        d.id
    );
    eprintln!("picseek: recorded in {}", escape_path(file));
    Ok(())
}

fn status_text(s: &Status) -> String {
    match s {
        Status::Active => "in force".into(),
        Status::Revoked { by, at } => format!("revoked by {} on {}", escape_control(by), day(at)),
        Status::Expired => "expired".into(),
    }
}

fn day(at: &str) -> &str {
    at.get(..10).unwrap_or(at)
}

fn list(file: &Path, as_json: bool) -> Result<()> {
    let d = Declarations::load(file)?;
    if let Some(w) = d.warning() {
        eprintln!("picseek: {}", escape_control(&w));
    }
    let today = declarations::today();
    if as_json {
        let items: Vec<_> = d
            .declarations()
            .map(|x| {
                let status = d.status(x, &today);
                // Paths only of declarations in force: a revoked one's files may be withheld.
                let paths = if status == Status::Active {
                    json!(x.paths)
                } else {
                    json!(null)
                };
                json!({"id": x.id, "kind": x.kind, "by": x.by, "at": x.at, "until": x.until,
                "note": x.note, "images": x.hashes.len(), "paths": paths,
                "status": match &status {
                    Status::Active => "in_force",
                    Status::Revoked { .. } => "revoked",
                    Status::Expired => "expired",
                }})
            })
            .collect();
        let damaged: Vec<_> = d
            .damaged
            .iter()
            .map(|x| json!({"line": x.line, "cause": x.cause}))
            .collect();
        println!(
            "{}",
            json!({"file": file.to_string_lossy(), "declarations": items, "damaged_lines": damaged})
        );
        return Ok(());
    }
    let mut n = 0;
    for x in d.declarations() {
        n += 1;
        let status = d.status(x, &today);
        println!(
            "{}  {}  by {} on {}{}  {} image(s)  {}",
            x.id,
            x.kind.describe(),
            escape_control(&x.by),
            day(&x.at),
            x.until
                .as_ref()
                .map(|u| format!(", until {u}"))
                .unwrap_or_default(),
            x.hashes.len(),
            status_text(&status)
        );
        if status == Status::Active {
            for p in &x.paths {
                println!("    {}", escape_control(p));
            }
        }
        if let Some(note) = &x.note {
            println!("    note: {}", escape_control(note));
        }
    }
    if n == 0 {
        println!("no declarations in {}", escape_path(file));
    }
    Ok(())
}

fn revoke(file: &Path, id: &str, by: &str, note: Option<String>) -> Result<()> {
    let by = who(by)?;
    let d = Declarations::load(file)?;
    if let Some(w) = d.warning() {
        eprintln!("picseek: {}", escape_control(&w));
    }
    let target = d.find(id)?;
    if let Status::Revoked { .. } = d.status(target, &declarations::today()) {
        return Err(declarations::DeclarationError::AlreadyRevoked {
            id: target.id.clone(),
        }
        .into());
    }
    let r = Revocation {
        format: 1,
        revokes: target.id.clone(),
        by,
        at: declarations::now(),
        note,
    };
    declarations::append(file, &Record::Revoke(r))?;
    println!(
        "revoked {}: its {} image(s) are withheld again where the legal check withholds them",
        target.id,
        target.hashes.len()
    );
    Ok(())
}
