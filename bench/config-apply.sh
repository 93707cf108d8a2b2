#!/usr/bin/env bash
# The probe loader's config translation (shadow-probe/src/config.c): time and peak memory of parsing a config and
# writing it into real maps, at start and on a reload, from small configs to the tables' capacity. Prints each case
# for this tree and for a baseline revision's config.c, built side by side into the same harness
# (shadow-probe/bench/config_apply.c), with the ratios; then checks on random nested configs that both builds write
# the same entries (a difference in an action fails the run; a difference only in which rule is named is listed).
# Usage: bench/config-apply.sh [--baseline REV] [CASE...]   (root: it creates BPF maps; default baseline HEAD)
#   cases: rules:N, pods:P:R, named:P:R, l7:P:R, peerl7:P:R, ids:N, nested:N (see config_apply.c); default: small to the
#   policy trie's capacity
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
rev=HEAD
if [ "${1:-}" = --baseline ]; then rev=$2; shift 2; fi
[ "$(id -u)" = 0 ] || { echo "SKIPPED: creating BPF maps needs root"; exit 0; }
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(rules:256 rules:1024 rules:4000 pods:64:512 pods:1024:64 named:4096:16384 ids:16000 nested:8000)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
make -s -C "$REPO/shadow-probe" build/config_apply
git -C "$REPO" show "$rev:shadow-probe/src/config.c" >"$tmp/config.c" ||
  { echo "config-apply: no shadow-probe/src/config.c at $rev" >&2; exit 2; }
make -s -C "$REPO/shadow-probe" OUT="$tmp" CONFIG_C="$tmp/config.c" "$tmp/config_apply" >/dev/null
cand="$REPO/shadow-probe/build/config_apply" base="$tmp/config_apply"
out="$REPO/bench/out"; mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
echo "== config translation: this tree ($(git -C "$REPO" rev-parse --short HEAD)$(git -C "$REPO" diff --quiet -- shadow-probe/src/config.c || echo '+changes')) against $rev, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$cand" "${cases[@]}" >"$out/config-apply-$stamp.jsonl"
"$base" "${cases[@]}" >"$out/config-apply-$stamp.base.jsonl"
python3 - "$out/config-apply-$stamp.jsonl" "$out/config-apply-$stamp.base.jsonl" <<'EOF'
import json, sys
cand = {r["case"]: r for r in map(json.loads, open(sys.argv[1]))}
base = {r["case"]: r for r in map(json.loads, open(sys.argv[2]))}
print(f"{'case':<16}{'entries':>9}  {'apply ms':>18}  {'reload ms':>18}  {'start ms*':>18}  {'peak RSS MiB':>18}  {'L7 user ns**':>18}")
for k, c in cand.items():
    b = base.get(k)
    def col(f):
        if not b:
            return f"{c[f]:>9.1f}" + " " * 9
        return f"{c[f]:>9.1f} x{c[f] / max(b[f], 0.05):<7.3f}"
    start = dict(c, start=c["parse_ms"] + c["count_ms"] + c["apply_ms"])
    bstart = b and dict(b, start=b["parse_ms"] + b["count_ms"] + b["apply_ms"])
    s = f"{start['start']:>9.1f} x{start['start'] / max(bstart['start'], 0.05):<7.3f}" if b else f"{start['start']:>9.1f}"
    l7 = f"{c['l7_user_ns']:>9.0f} x{c['l7_user_ns'] / max(b['l7_user_ns'], 1):<7.3f}" if b and 'l7_user_ns' in b else f"{c.get('l7_user_ns', 0):>9.0f}"
    print(f"{k:<16}{c['lpm_entries']:>9}  {col('apply_ms')}  {col('reapply_ms')}  {s}  {col('peak_rss_mib')}  {l7}")
print("ratios: this tree / baseline. *start: parse + counting the LPM entries for the memory check + first apply")
print("**the loader's userspace L7 step for one deferred record (per-peer rules: peerl7 cases), ns")
EOF
mkdir -p "$tmp/c" "$tmp/b"
bad=0
for seed in 1 2 3 4 5 6 7 8; do
  CONFIG_APPLY_DUMP="$tmp/c" "$cand" "random:300:$seed" >/dev/null
  CONFIG_APPLY_DUMP="$tmp/b" "$base" "random:300:$seed" >/dev/null
  f="random_300_$seed.entries"
  sort "$tmp/c/$f" -o "$tmp/c/$f"; sort "$tmp/b/$f" -o "$tmp/b/$f"
  n=$(wc -l <"$tmp/c/$f")
  if cmp -s "$tmp/c/$f" "$tmp/b/$f"; then
    echo "random:300:$seed: $n entries, identical"
  elif cmp -s <(sed 's/ rule [0-9]*$//' "$tmp/c/$f") <(sed 's/ rule [0-9]*$//' "$tmp/b/$f"); then
    echo "random:300:$seed: $n entries, same actions; $(diff "$tmp/c/$f" "$tmp/b/$f" | grep -c '^<') name another rule of the same action"
  else
    echo "random:300:$seed: ACTIONS DIFFER from $rev:"; diff "$tmp/b/$f" "$tmp/c/$f" | head -10; bad=1
  fi
done
exit $bad
