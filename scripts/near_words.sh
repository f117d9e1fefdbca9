#!/usr/bin/env bash
# Regenerate src/legal/near_words.txt: real words in nine languages that the
# legal filter's respelling rules (src/legal/respell.rs) would misread as a
# word for a child. Needs the Debian word lists and hunspell's Russian
# dictionary (installed here if missing).
# Run after changing src/legal/terms.txt, then review the diff: a word for a
# child that shows up belongs in terms.txt's [block] instead.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
packages=(wamerican-large wbritish-large wfrench wngerman witalian wspanish wportuguese wpolish wukrainian)
lists=(american-english-large british-english-large french ngerman italian spanish portuguese polish ukrainian)
missing=()
for i in "${!lists[@]}"; do
  [ -f "/usr/share/dict/${lists[$i]}" ] || missing+=("${packages[$i]}")
done
[ -f /usr/share/hunspell/ru_RU.dic ] || missing+=(hunspell-ru)
command -v unmunch >/dev/null || missing+=(hunspell-tools)
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get install -y "${missing[@]}"
fi
# Russian has no plain word list in Debian: expand hunspell's stems and affixes.
russian="$(mktemp -d)/russian"
trap 'rm -rf "$(dirname "$russian")"' EXIT
unmunch /usr/share/hunspell/ru_RU.dic /usr/share/hunspell/ru_RU.aff 2>/dev/null > "$russian"
cargo run --release --quiet --example near_words -- "${lists[@]/#//usr/share/dict/}" "$russian" > src/legal/near_words.txt.new
mv src/legal/near_words.txt.new src/legal/near_words.txt
echo "src/legal/near_words.txt: $(grep -vc '^#' src/legal/near_words.txt) words"
