//! `picseek dupes [DIR]`: groups of near-duplicate images, withheld images never listed.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use ndarray::Array2;
use picseek::display::escape_path;
use picseek::dupes::{self, Layout};
use picseek::library::Library;
use picseek::model::image::IMAGE_DIM;
use picseek::model::preprocess::decode_for_encoder;
use serde_json::json;

use super::report::{legal_summary, with_path};
use super::Ctx;
use crate::cli::DupesArgs;

pub fn run(a: &DupesArgs, ctx: &Ctx) -> Result<()> {
    let dir = a.dir.as_deref().unwrap_or(Path::new("."));
    let indexed = super::index::index_library(dir, ctx)?;
    let library = &indexed.library;
    let started = std::time::Instant::now();
    // The shown images only: the library's rows (withheld images have none).
    let hashes = library.store().map_or(&[][..], |s| s.hashes());
    let session = ctx.session()?;
    let features = |h: &[u8; 32]| session.features(h);
    let mut matrix = Array2::<f32>::zeros((hashes.len(), IMAGE_DIM));
    let mut unreadable = 0;
    for (mut row, hash) in matrix.rows_mut().into_iter().zip(hashes) {
        match features(hash) {
            Some(f) if f.len() == IMAGE_DIM => row.assign(&ndarray::ArrayView1::from(&f[..])),
            // A row of zeros matches nothing.
            _ => unreadable += 1,
        }
    }
    if unreadable > 0 {
        eprintln!("picseek: {unreadable} image(s) without cached features were left out");
    }
    let groups = dupes::find(matrix.view(), a.threshold, |i| {
        let path = library.path(i);
        let read = std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| decode_for_encoder(&bytes).map_err(|e| e.to_string()));
        match read {
            Ok(decoded) => Some(Layout::of_image(&decoded.image)),
            Err(e) => {
                eprintln!("picseek: {}: {e}; left out", escape_path(path));
                None
            }
        }
    });
    let mut out = std::io::stdout().lock();
    let written = if a.json {
        write_json(&mut out, library, &groups)
    } else {
        write_lines(&mut out, library, &groups)
    };
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        r => r.context("writing the groups")?,
    }
    if !a.json {
        let files: usize = groups.iter().map(|g| g.members.len()).sum();
        eprintln!(
            "picseek: {} group(s), {files} file(s), among {} image(s) (similarity ≥ {}) in {:.0} ms",
            groups.len(),
            library.len(),
            a.threshold,
            started.elapsed().as_secs_f64() * 1000.0
        );
        eprintln!("picseek: legal filter: {}", legal_summary(&library.legal()));
    }
    Ok(())
}

fn write_json(
    out: &mut impl Write,
    library: &Library,
    groups: &[dupes::Group],
) -> std::io::Result<()> {
    let groups: Vec<_> = groups
        .iter()
        .map(|g| {
            let files: Vec<_> = g
                .members
                .iter()
                .map(|&(i, s)| with_path(json!({"similarity": s}), library.path(i)))
                .collect();
            json!({"similarity": g.similarity, "files": files})
        })
        .collect();
    let v = json!({"groups": groups, "images": library.len(), "withheld": library.withheld()});
    writeln!(out, "{v}")
}

fn write_lines(
    out: &mut impl Write,
    library: &Library,
    groups: &[dupes::Group],
) -> std::io::Result<()> {
    for (k, g) in groups.iter().enumerate() {
        if k > 0 {
            writeln!(out)?;
        }
        writeln!(
            out,
            "group {}: {} files, similarity {:.3}",
            k + 1,
            g.members.len(),
            g.similarity
        )?;
        for &(i, s) in &g.members {
            writeln!(out, "  {s:.3}  {}", escape_path(library.path(i)))?;
        }
    }
    out.flush()
}
