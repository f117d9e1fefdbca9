//! What the legal check's training and figures need from the engine: every training image as
//! the decision where people are in view sees it, and every image of a folder with all the
//! evidence (the faces aged), for the precision–recall curves.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::index::{self, verdicts};
use crate::people::Evidence;
use crate::train::people::Row;
use crate::train::ChildDetectorFit;

use super::{EngineError, Session};

impl Session {
    /// The training images (in `train_dir`) as rows for [`crate::train::fit_people_decision`]:
    /// the probe out of fold and the label from `fit`, and where the probe reaches
    /// `first_threshold`, what the people models see (cached; computed once per image).
    pub fn people_rows(
        &self,
        fit: &ChildDetectorFit,
        train_dir: &Path,
        first_threshold: f32,
        on_progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<Row>, EngineError> {
        let evidence = self.evidence_of(
            train_dir,
            &|name| {
                fit.out_of_fold
                    .iter()
                    .any(|(n, p, _)| n == name && *p >= first_threshold)
            },
            on_progress,
        )?;
        let mut rows: Vec<Row> = fit
            .out_of_fold
            .iter()
            .map(|(name, p, child)| Row {
                name: name.clone(),
                probe: *p,
                child: *child,
                evidence: evidence.get(name).cloned(),
            })
            .collect();
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(rows)
    }

    /// Everything the people models see in the images of `dir` whose file name `want` accepts,
    /// the faces aged, by file name (cached).
    pub fn evidence_of(
        &self,
        dir: &Path,
        want: &dyn Fn(&str) -> bool,
        on_progress: &mut dyn FnMut(usize, usize),
    ) -> Result<HashMap<String, Evidence>, EngineError> {
        let cache = self.cache()?;
        let report = self.index_files(dir, &mut |_: index::Progress| {})?;
        let files: Vec<(PathBuf, String, [u8; 32])> = report
            .indexed
            .iter()
            .filter_map(|(p, h)| {
                let name = p.file_name()?.to_string_lossy().into_owned();
                want(&name).then_some((p.clone(), name, *h))
            })
            .collect();
        let people = self.people()?;
        let mut resizer = fast_image_resize::Resizer::new();
        let mut out = HashMap::new();
        for (k, (path, name, hash)) in files.iter().enumerate() {
            if let Some(e) = verdicts::full_evidence(&people, &cache, path, hash, &mut resizer)? {
                out.insert(name.clone(), e);
            }
            on_progress(k + 1, files.len());
        }
        cache.flush()?;
        Ok(out)
    }
}
