#!/usr/bin/env bash
# deploy/ without a cluster: `kubectl kustomize deploy/` renders, the objects
# agree with each other (deploy_check.py), the launcher's `shardq serve` flags
# start a real server here, and the Dockerfile's runtime stage installs every
# shared library `ldd shardq` needs. Building the image needs a container
# registry this machine cannot reach: not tried (README, "Operating the service").
source "$(dirname "$0")/lib.bash"
command -v kubectl >/dev/null || { echo "skip: kubectl (Debian's kubernetes-client) not installed"; exit 77; }
PY=/usr/bin/python3
$PY -c "import yaml" 2>/dev/null || { echo "skip: python3-yaml not installed"; exit 77; }
SRC="${SHARDQ_SOURCE_DIR:-$(dirname "$0")/../..}"

kubectl kustomize "$SRC/deploy" > "$WORK/rendered.yaml" 2> "$WORK/kustomize.err" &&
  pass "kubectl kustomize deploy/ renders $(grep -c '^kind:' "$WORK/rendered.yaml") objects" ||
  { fail "kubectl kustomize: $(cat "$WORK/kustomize.err")"; finish; }
serve_args=$($PY "$(dirname "$0")/deploy_check.py" < "$WORK/rendered.yaml" 2> "$WORK/check.err")
rc=$?
grep -E "^(ok|FAIL)" "$WORK/check.err" || true
[ $rc = 0 ] && pass "rendered objects agree" || fail "rendered objects: see above"

# The launcher's own flags, with its cluster values swapped for local ones.
if [ -n "$serve_args" ]; then
  mkdir -p "$WORK/data/models" "$WORK/data/corpus" "$WORK/data/out"
  args=$(echo "$serve_args" | sed -e 's/0\.0\.0\.0:[0-9]*/127.0.0.1:0/g' -e "s#/data/#$WORK/data/#g" \
    -e "s#\"\\?\$(SHARDQ_ROOTS)\"\\?#$WORK/data/models,$WORK/data/out#")
  eval "set -- $args"
  SHARDQ_TOKEN=deploy-test timeout 20 "$SHARDQ" "$@" > "$WORK/serve.out" 2> "$WORK/serve.err" &
  pid=$!
  for _ in $(seq 100); do grep -q "^shardq serve: thrift" "$WORK/serve.out" && break; sleep 0.1; done
  grep -q "^shardq serve: thrift" "$WORK/serve.out" && pass "the launcher's flags start shardq serve: $(head -1 "$WORK/serve.out")" ||
    fail "shardq $args: $(cat "$WORK/serve.err")"
  kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true
  # An empty token (the committed Secret) is refused.
  SHARDQ_TOKEN= timeout 20 "$SHARDQ" "$@" > /dev/null 2> "$WORK/notoken.err" && fail "serve started without a token" ||
    { grep -q "no token" "$WORK/notoken.err" && pass "an empty token is refused: $(cat "$WORK/notoken.err")" || fail "no-token error: $(cat "$WORK/notoken.err")"; }
fi

# The runtime stage's packages (and what they depend on, and Debian's required
# base) must hold every library the binary links.
runtime_pkgs=$(awk '/^FROM .* AS runtime/ { r = 1 } r && /apt-get install/ { on = 1 } on { print } on && !/\\$/ { on = 0 }' "$SRC/deploy/Dockerfile" |
  tr ' \\' '\n\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' | grep -vE '^(apt-get|install|update|rm|mkdir|qq|y|no|recommends)$' | sort -u)
if closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
    --no-enhances $runtime_pkgs 2>/dev/null | grep -E '^[a-z0-9]' | sed 's/:.*//' | sort -u) && [ -n "$closure" ]; then
  # One dpkg call for every library (each call reads the whole package database).
  libs=$(ldd "$SHARDQ" | awk '/=>/ { print $3 }' | xargs readlink -f)
  pkgs=$( (dpkg -S $libs 2>/dev/null || true) | cut -d: -f1 | sort -u)
  missing=""
  for pkg in $pkgs; do
    prio=$(dpkg-query -W -f='${Priority}' "$pkg" 2>/dev/null || true)
    # (a here-string: under pipefail, `echo | grep -q` fails when grep exits before echo has written)
    grep -qx "$pkg" <<<"$closure" || [ "$prio" = required ] || missing="$missing $pkg"
  done
  [ "$(echo "$libs" | wc -l)" -gt 5 ] || missing="$missing (ldd found too few libraries)"
  [ -z "$missing" ] && pass "the runtime stage provides every library of ldd shardq ($(echo $runtime_pkgs | wc -w) packages listed)" ||
    fail "the runtime stage lacks:$missing"
else
  echo "skip: apt-cache has no package lists here (run apt-get update): runtime libraries not checked"
fi
bash -n "$SRC/deploy/slurm/shardq-serve.sbatch" && pass "the sbatch script parses" || fail "sbatch script syntax"
finish
