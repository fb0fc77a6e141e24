#!/usr/bin/env bash
# Benchmark of the ai layer's governance (a script, not a test): the latency Strata adds to a
# non-streamed chat completion against a zero-latency upstream, bare (no keys, no policy) and
# governed (a key with rpm, tpm and concurrency limits and a budget, two guardrails on request
# and response, cost accounting with the usage ledger), at a fixed rate and closed loop over
# one connection. The target: governed added latency within 2x of the bare proxy's.
#
#   bash bench/governance.sh [seconds-per-run]        (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-10}"
conns=64
rate="${RATE:-2000}"
. bench/lib.sh

up=$(free_port)
"$bench" upstream --addr "127.0.0.1:$up" & pids+=($!)
wait_port "$up"

# Starts a gateway; its URL is left in $url (no subshell, so that its pid stays in $pids and
# the cleanup stops it).
serve() { # name policy-yaml
  local ai mcp agent admin
  ai=$(free_port); mcp=$(free_port); agent=$(free_port); admin=$(free_port)
  cat > "$work/$1.yaml" <<YAML
listeners: { ai: 127.0.0.1:$ai, mcp: 127.0.0.1:$mcp, agent: 127.0.0.1:$agent, admin: 127.0.0.1:$admin }
storage: { url: "sqlite://$work/$1.db" }
$2
YAML
  "$strata" serve --config "$work/$1.yaml" --layers ai --log-level warn 2>> "$work/strata.log" > /dev/null & pids+=($!)
  wait_port "$ai"
  url="http://127.0.0.1:$ai/v1/chat/completions"
}

serve bare "ai:
  providers:
    - { name: bench, kind: openai, api_base: 'http://127.0.0.1:$up/v1', models: [bench] }"
bare=$url
serve governed "auth:
  keys:
    - name: bench
      key: sk-bench
      limits: { rpm: 100000000, tpm: 100000000000, concurrent: 100000 }
      budget: { usd: 1000000000, period: monthly }
ai:
  providers:
    - name: bench
      kind: openai
      api_base: 'http://127.0.0.1:$up/v1'
      models: [bench]
      pricing: { bench: { input: 1.0, output: 2.0 } }
      guardrails: [pii_redaction, toxicity_filter]"
governed=$url

direct="http://127.0.0.1:$up/v1/chat/completions"
load() { "$bench" load --seconds "$secs" "$@"; }
echo "# $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# fixed rate $rate req/s over $conns connections"
dr=$(load --url "$direct" --connections "$conns" --rate "$rate" --label direct); echo "$dr"
br=$(load --url "$bare" --connections "$conns" --rate "$rate" --label bare); echo "$br"
gr=$(load --url "$governed" --connections "$conns" --rate "$rate" --key sk-bench --label governed); echo "$gr"
echo "# closed loop, 1 connection"
d1=$(load --url "$direct" --connections 1 --label direct); echo "$d1"
b1=$(load --url "$bare" --connections 1 --label bare); echo "$b1"
g1=$(load --url "$governed" --connections 1 --key sk-bench --label governed); echo "$g1"

if grep -q . "$work/strata.log"; then echo "# strata log (warn and above)"; tail -n 20 "$work/strata.log"; fi

python3 - "$dr" "$br" "$gr" "$d1" "$b1" "$g1" <<'PY'
import json, sys
dr, br, gr, d1, b1, g1 = (json.loads(a) for a in sys.argv[1:7])
def added(r, d, k):
    return r[k] - d[k]
print()
print("| measurement | direct | bare Strata | governed Strata | governed added / bare added |")
print("|---|---|---|---|---|")
for name, d, b, g in ((f"{dr['rate']} req/s over {dr['connections']} connections", dr, br, gr), ("closed loop, 1 connection", d1, b1, g1)):
    for k in ("p50_ms", "p99_ms"):
        ab, ag = added(b, d, k), added(g, d, k)
        ratio = f"{ag/ab:.2f}x" if ab > 0 else "-"
        print(f"| {name}: {k[:-3]} ms (added) | {d[k]} | {b[k]} (+{ab:.3f}) | {g[k]} (+{ag:.3f}) | {ratio} |")
print()
for k in ("p50_ms", "p99_ms"):
    ab, ag = added(br, dr, k), added(gr, dr, k)
    verdict = "met" if ab > 0 and ag <= 2 * ab else "**not met**"
    print(f"target: governed added {k[:-3]} <= 2x bare added {k[:-3]} at {dr['rate']} req/s: +{ag:.3f} ms vs +{ab:.3f} ms: {verdict}")
for r in (dr, br, gr, d1, b1, g1):
    if r.get("errors"):
        print(f"errors: {r['label']} {r['errors']}", file=sys.stderr)
PY
