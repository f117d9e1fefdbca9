#!/usr/bin/env bash
# Set up (idempotent) and run the whole test suite. CI runs exactly this.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
cargo test --release --all-targets
