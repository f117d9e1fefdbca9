#!/usr/bin/env bash
# Set up (idempotent), then run picseek. With no arguments: index the demo test images.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
if [ "$#" -eq 0 ]; then
  set -- --index data/test_images
fi
exec ./target/release/picseek "$@"
