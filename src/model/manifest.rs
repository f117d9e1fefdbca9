//! `models/manifest.json`: where each model came from and how it expects its input.
