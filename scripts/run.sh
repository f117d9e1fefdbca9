#!/usr/bin/env bash
# Set up (idempotent), then run picseek. With arguments: picseek with those arguments. Without:
# on a terminal, the terminal UI over the demo test images; otherwise index them and print a demo
# search, in English and in Russian.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# PICSEEK_SKIP_SETUP=1: set-up was just done (tests/run_demo.rs runs this script that way).
[ "${PICSEEK_SKIP_SETUP:-}" = 1 ] || bash scripts/setup.sh
bin="${PICSEEK_BIN:-./target/release/picseek}"
if [ "$#" -gt 0 ]; then
  exec "$bin" "$@"
fi
demo=data/test_images
if [ -t 0 ] && [ -t 1 ]; then
  exec "$bin" "$demo"
fi
"$bin" --index "$demo"
for query in "dog catching a frisbee" "собака бежит по траве"; do
  echo
  echo "\$ picseek search \"$query\" $demo --top 5"
  "$bin" search "$query" "$demo" --top 5
done
