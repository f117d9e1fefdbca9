#!/usr/bin/env bash
# End-to-end check of the terminal UI as a person uses it: the real binary in tmux (120×40),
# driven with send-keys and read with capture-pane. Run by tests/tui_tmux.rs (cargo test), or by
# hand: PICSEEK_BIN=target/release/picseek bash tests/tui_tmux.sh
#  1. types "dog running on grass" over data/test_images; ranked results with scores appear
#  2. Tab to the results, presses 3; a judgement line lands in the annotations file
#  3. F1 opens the help while the query line has text, and closes it; y copies the selected path
#     (the OSC 52 bytes reach tmux: its paste buffer holds the path); m searches by that image
#  4. types a blocked query; the status pane says the legal filter blocked it, and why
#  5. SIGHUP (an SSH connection dropping) ends it: the terminal leaves the alternate screen
#  6. run again, Esc quits; run again, SIGTERM ends it; the shell prompt is usable each time
#  7. a folder name with escape codes is shown escaped: the pane's title is not changed
#  8. search --preview draws previews and leaves none of the terminal's answers on screen
#  9. the terminal killed under a running UI (tmux session gone): the process ends, not spins
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bin="${PICSEEK_BIN:-$root/target/release/picseek}"
tmp="$(mktemp -d)"
sock="$tmp/tmux.sock"
t() { tmux -S "$sock" "$@"; }
cleanup() {
  t kill-server 2>/dev/null || true
  rm -rf "$tmp" 2>/dev/null || { sleep 1; rm -rf "$tmp"; }
}
trap cleanup EXIT

screen() { t capture-pane -p -t e2e; }
fail() {
  echo "FAIL: $*" >&2
  echo "--- screen ---" >&2
  screen >&2 || true
  exit 1
}
# wait_for REGEX [SECONDS]: until the screen matches (grep -E).
wait_for() {
  local deadline=$((SECONDS + ${2:-30}))
  until screen | grep -Eq -- "$1"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "timed out waiting for /$1/"
    sleep 0.2
  done
}

t new-session -d -s e2e -x 120 -y 40 "env -i HOME=$tmp TERM=xterm-256color PATH=$PATH bash --norc --noprofile"
# Applications may set tmux's clipboard with OSC 52 (as a user enables for picseek's y).
t set -g set-clipboard on
t send-keys -t e2e "PS1='e2e-prompt\$ '" Enter
wait_for 'e2e-prompt\$'
# Whatever the terminal may have answered to a query before the shell was ready is dropped.
t send-keys -t e2e C-u
t send-keys -t e2e "clear; '$bin' --cache '$tmp/cache' --data data --annotations '$tmp/annotations.tsv' data/test_images" Enter
wait_for 'Indexed 100 images' 120

# 1. search as you type
t send-keys -t e2e -l "dog running on grass"
wait_for 'Results \([0-9]+\) · dog running on grass ' 30
wait_for 'results of [0-9]+ in [0-9]+ ms'
# The query line holds exactly what was typed (no terminal answers mixed in).
screen | grep -Eq '^│› dog running on grass +│$' || fail "query line is not exactly the typed text"
screen | grep -Eq '│▶ +1 [01]\.[0-9]{3} ' || fail "no selected first result with a score"
n=$(screen | grep -Ec '│(▶ )? +[0-9]+ [01]\.[0-9]{3} ')
[ "$n" -ge 10 ] || fail "expected at least 10 ranked rows with scores, saw $n"
screen | grep -Eq 'score +[01]\.[0-9]{3} \(rank 1\)' || fail "details of the selected image missing"
first=$(screen | grep -E '│▶ +1 ' | grep -Eo '[0-9]+_[0-9a-f]+\.jpg' | head -1)
[ -n "$first" ] || fail "cannot read the first result's file name"

# 2. a judgement for the selected image
t send-keys -t e2e Tab
sleep 0.3
t send-keys -t e2e 3
deadline=$((SECONDS + 10))
until [ -s "$tmp/annotations.tsv" ]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "no line in the annotations file"
  sleep 0.2
done
line="$(tail -n 1 "$tmp/annotations.tsv")"
[ "$line" = "$(printf '%s\t%s\t%s' "$first" "dog running on grass" 3)" ] \
  || fail "unexpected annotation line: $line (first result $first)"
wait_for 'Recorded 3 for'

# 3. F1 opens the help whatever the query line holds (here: text), and closes it
screen | grep -Eq 'F1 help' || fail "header does not name F1"
t send-keys -t e2e F1
wait_for 'this help \(F1 anywhere'
t send-keys -t e2e F1
wait_for 'Results \([0-9]+\) · dog running on grass '

# 3b. y: the selected path through OSC 52 into tmux's buffer; m: more like this
t send-keys -t e2e y
wait_for 'Copied .* to the clipboard'
buf="$(t show-buffer 2>/dev/null || true)"
[ "$(basename -- "$buf")" = "$first" ] || fail "clipboard holds '$buf', expected .../$first"
t send-keys -t e2e m
wait_for "│› .*$first"
wait_for "│▶ +1 (0\.99[0-9]|1\.000) .*$first"

# 4. a blocked query
t send-keys -t e2e Tab C-u
t send-keys -t e2e -l "two kids playing"
wait_for 'Blocked by the legal filter \(matched "kids"\)'
wait_for 'children under 16'
screen | grep -Eq '│(▶ )? +[0-9]+ [01]\.[0-9]{3} ' && fail "results shown for a blocked query"

# 5. SIGHUP: the terminal is restored and the exit code says why
in_alternate() { [ "$(t display-message -p -t e2e '#{alternate_on}')" = 1 ]; }
in_alternate || fail "the UI is not in the alternate screen"
pkill -HUP -f -- "--cache $tmp/cache" || fail "no picseek process to signal"
wait_for 'e2e-prompt\$ *$' 10
in_alternate && fail "still in the alternate screen after SIGHUP"
t send-keys -t e2e C-u
t send-keys -t e2e "echo exit-code-\$?" Enter
wait_for '^exit-code-129$' 10

# 6. run again: Esc quits; run again: SIGTERM ends it
start_ui() {
  t send-keys -t e2e C-u
  t send-keys -t e2e "clear; '$bin' --cache '$tmp/cache' --data data --annotations '$tmp/annotations.tsv' data/test_images" Enter
  wait_for 'Indexed 100 images' 120
}
start_ui
t send-keys -t e2e Escape
wait_for 'e2e-prompt\$ *$' 10
in_alternate && fail "still in the alternate screen after Esc"
start_ui
pkill -TERM -f -- "--cache $tmp/cache" || fail "no picseek process to signal"
wait_for 'e2e-prompt\$ *$' 10
in_alternate && fail "still in the alternate screen after SIGTERM"
t send-keys -t e2e C-u
t send-keys -t e2e "echo exit-code-\$?" Enter
wait_for '^exit-code-143$' 10

# 7. a hostile folder name: the error names it escaped; the title escape does nothing
t send-keys -t e2e C-u
t send-keys -t e2e "clear; '$bin' --cache '$tmp/cache' \"\$(printf '/tmp/x\\033]2;pwned\\007')\"" Enter
wait_for 'x\\x1b\]2;pwned\\x07' 20
[ "$(t display-message -p -t e2e '#{pane_title}')" = pwned ] && fail "the folder name set the pane title"
# 8. search --preview on a terminal: images, and none of the terminal's answers on screen
t send-keys -t e2e C-u
t send-keys -t e2e "clear; '$bin' --cache '$tmp/cache' search 'dog running on grass' data/test_images --top 2 --preview; echo preview-done" Enter
wait_for '^preview-done$' 60
screen | grep -Fq '▄' || fail "no half-block preview on screen"
screen | grep -Fq '[?' && fail "a terminal answer was left on screen"
screen | grep -Fq '^[' && fail "escape codes were left on screen"
t send-keys -t e2e C-u
t send-keys -t e2e "clear; echo still-alive-\$((6*7))" Enter
wait_for '^still-alive-42$' 10

# 9. the terminal killed under the UI (its tmux session gone, no SIGHUP delivered to picseek):
#    the process ends instead of spinning on a terminal that is gone
t new-session -d -s gone -x 100 -y 30 "env -i HOME=$tmp TERM=xterm-256color PATH=$PATH bash --norc --noprofile"
t send-keys -t gone "'$bin' --cache '$tmp/cache' --data data data/test_images" Enter
deadline=$((SECONDS + 30))
until pgrep -f -- "--cache $tmp/cache --data data" >/dev/null; do
  [ "$SECONDS" -lt "$deadline" ] || fail "the UI in the second session did not start"
  sleep 0.2
done
sleep 2
t kill-session -t gone
deadline=$((SECONDS + 5))
while pgrep -f -- "--cache $tmp/cache --data data" >/dev/null; do
  [ "$SECONDS" -lt "$deadline" ] || { pkill -9 -f -- "--cache $tmp/cache --data data"; fail "picseek kept running after its terminal was killed"; }
  sleep 0.2
done
echo "tui e2e: ok (first result $first)"
