//! The annotation review: every annotated pair of the dataset that may be shown, scored by the
//! model and sorted by how far the model is from the annotators. Its images are shown or
//! withheld exactly as a search over the same folder would (the legal check, then the owner's
//! declarations); pairs whose caption is about a child are never offered.

use std::collections::HashMap;

use crate::annotations::{self, Knowledge, ReviewItem};
use crate::index;

use super::{EngineError, Session};

/// Why the review could not be prepared.
pub type ReviewError = EngineError;

impl Session {
    /// Scores every reviewable annotated pair and sorts them worst first, indexing the
    /// dataset's train images first where they are not cached yet. `status` hears how far it is.
    pub fn review(
        &self,
        knowledge: &Knowledge,
        status: &mut dyn FnMut(String),
    ) -> Result<Vec<ReviewItem>, EngineError> {
        let dir = std::path::absolute(&knowledge.train_images)
            .unwrap_or_else(|_| knowledge.train_images.clone());
        status("indexing the dataset's train images…".into());
        // Shown exactly as a search of the folder shows them: the same library.
        let indexed = self.index(&dir, &mut |_: index::Progress| {})?;
        let library = &indexed.library;
        let scorer = self.scorer()?;
        let text = self.text()?;
        let cache = self.cache()?;
        let fp = self.image_fingerprint()?;
        // Every row of the library is an image a search may show.
        let shown: std::collections::HashSet<&[u8; 32]> = library
            .store()
            .map(|s| s.hashes().iter().collect())
            .unwrap_or_default();
        let mut vectors = HashMap::new();
        for (path, hash) in &indexed.report.indexed {
            if !shown.contains(hash) {
                continue;
            }
            let Some(record) = cache.embedding(&fp, hash) else {
                continue;
            };
            if let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) {
                vectors.insert(name, (path.clone(), scorer.image_vector(&record.embedding)));
            }
        }
        let pairs = knowledge.reviewable();
        let mut captions: Vec<&str> = pairs.iter().map(|t| t.query_id.as_str()).collect();
        captions.sort_unstable();
        captions.dedup();
        let mut queries = HashMap::new();
        for (i, id) in captions.iter().enumerate() {
            if i % 50 == 0 {
                status(format!("embedding captions {i}/{}…", captions.len()));
            }
            let caption = &knowledge.caption_text[*id];
            queries.insert(*id, scorer.query_vector(&text.encode_one(caption)?));
        }
        let mut items: Vec<ReviewItem> = pairs
            .iter()
            .filter_map(|t| {
                let (path, z) = vectors.get(&t.image)?;
                let q = queries.get(t.query_id.as_str())?;
                let (expert, crowd) = knowledge.judgements(&t.image, &t.query_id);
                Some(ReviewItem {
                    image: t.image.clone(),
                    path: path.clone(),
                    query_id: t.query_id.clone(),
                    caption: knowledge.caption_text[&t.query_id].clone(),
                    target: t.value,
                    model: scorer.score(z, q),
                    expert,
                    crowd,
                    judged: None,
                })
            })
            .collect();
        annotations::sort_for_review(&mut items);
        Ok(items)
    }
}
