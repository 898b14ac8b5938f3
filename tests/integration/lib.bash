# Shared by the integration tests (sourced). ctest sets SHARDQ, SHARDQ_SHARED.
set -euo pipefail
: "${SHARDQ:?path to the shardq binary}"
: "${SHARDQ_SHARED:?path to ../shared}"
LLAMA_BIN="$SHARDQ_SHARED/tools/llama.cpp/bin"
MODELS="$SHARDQ_SHARED/models"
GOLDEN="$SHARDQ_SHARED/golden"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
FAILURES=0

fail() { echo "FAIL: $*"; FAILURES=$((FAILURES + 1)); }
pass() { echo "ok: $*"; }
# Exit 77 (ctest: skipped) when llama.cpp's tools are not there.
need_llama() {
  for t in "$@"; do
    [ -x "$LLAMA_BIN/$t" ] || { echo "skip: $LLAMA_BIN/$t not present"; exit 77; }
  done
}
finish() {
  if [ "$FAILURES" -ne 0 ]; then echo "$FAILURES check(s) failed"; exit 1; fi
  echo "all checks passed"
}
# Greedy continuation by llama.cpp, newlines shown as '|'. One thread: ggml hands out
# work chunks dynamically, so under load a multi-threaded run can flip a near-tie.
llama_greedy() {  # model prompt n
  timeout 60 "$LLAMA_BIN/llama-completion" -m "$1" -p "$2" -n "$3" --temp 0 -no-cnv --no-warmup -t 1 \
    --simple-io --no-display-prompt 2>/dev/null | tr '\n' '|'
}
# Whether llama.cpp's greedy continuation equals `want`. Under load llama-completion
# sometimes loses the tail of its stdout at exit (its log shows every token was
# generated), so an output that is a strict prefix of `want` is retried, up to 10
# times; any other difference fails at once. Prints what it got.
greedy_is() {  # model prompt want
  local got=""
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    got=$(llama_greedy "$1" "$2" 24)
    [ "$got" = "$3" ] && { echo "$got"; return 0; }
    case "$3" in "$got"*) ;; *) break ;; esac
  done
  echo "$got"; return 1
}
# The continuation llama.cpp produced for a golden file, from llama-cpp-greedy.md.
golden_greedy() {  # file name
  awk -F'|' -v f="$1" '$2 ~ " "f" " { print }' "$GOLDEN/gguf/llama-cpp-greedy.md" |
    sed -E 's/^[^`]*`(.*)`[^`]*$/\1/'
}
quantize() {  # model out type [extra args]
  local model=$1 out=$2 type=$3; shift 3
  "$SHARDQ" quantize --quiet --model "$model" --out "$out" --type "$type" "$@"
}
