//! Scores of the dataset's test images for a query, shared by the evaluations that rank them
//! ([`super::report`], [`super::translated`]).

use std::collections::HashMap;

use crate::dataset::Dataset;
use crate::model::scorer::Scorer;
use crate::train::Corpus;

/// Scores the 100 test images for a query embedding, in `ds.test_images` order.
pub(crate) struct TestRanker<'a> {
    scorer: &'a Scorer,
    vectors: Vec<Vec<f32>>,
    position: HashMap<&'a str, usize>,
}

impl<'a> TestRanker<'a> {
    pub(crate) fn new(ds: &'a Dataset, corpus: &Corpus, scorer: &'a Scorer) -> Self {
        Self {
            scorer,
            vectors: ds
                .test_images
                .iter()
                .map(|n| scorer.image_vector(&corpus.test[n]))
                .collect(),
            position: ds
                .test_images
                .iter()
                .enumerate()
                .map(|(i, n)| (n.as_str(), i))
                .collect(),
        }
    }

    /// The test image's index in the score lists.
    pub(crate) fn position(&self, image: &str) -> Option<usize> {
        self.position.get(image).copied()
    }

    /// Every test image's score for the query whose text embedding is `y`.
    pub(crate) fn scores(&self, y: &[f32]) -> Vec<f32> {
        let q = self.scorer.query_vector(y);
        self.vectors
            .iter()
            .map(|z| self.scorer.score(z, &q))
            .collect()
    }
}
