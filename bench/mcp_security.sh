#!/usr/bin/env bash
# Benchmark of the mcp layer's security (a script, not a test): `tools/call` over N sessions
# to a fast Streamable HTTP upstream, direct and through two virtual servers of one Strata in
# the same run: `bare` (no credentials, no roles, audit off: the core proxy of bench/mcp.sh)
# and `secured` (an API key checked on every request, RBAC from roles with a CEL rule, a
# per-principal tool rate limit, and an audit record per call, arguments redacted, committed
# to SQLite before the answer leaves).
#
#   bash bench/mcp_security.sh [seconds-per-run]        (default 10)
#
# SESSIONS (default 32) and RATE (fixed-rate runs, calls/s, default 2000) can be set.
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-10}"
sessions="${SESSIONS:-32}"
rate="${RATE:-2000}"
. bench/lib.sh

up=$(free_port)
ai=$(free_port); mcp=$(free_port); agent=$(free_port); admin=$(free_port)
"$bench" mcp-upstream --addr "127.0.0.1:$up" & upid=$!; pids+=($upid)
wait_port "$up"

# The bare proxy: no `auth` section (no credentials, no roles) and the audit log off.
cat > "$work/open.yaml" <<YAML
listeners: { ai: 127.0.0.1:$(free_port), mcp: 127.0.0.1:$(free_port), agent: 127.0.0.1:$(free_port), admin: 127.0.0.1:$(free_port) }
storage: { url: "sqlite://$work/open.db" }
mcp:
  upstreams:
    - { name: fast, url: "http://127.0.0.1:$up/mcp" }
  servers:
    - { name: bench, upstreams: [fast], prefix: never, audit: { enabled: false } }
YAML
cat > "$work/secured.yaml" <<YAML
listeners: { ai: 127.0.0.1:$ai, mcp: 127.0.0.1:$mcp, agent: 127.0.0.1:$agent, admin: 127.0.0.1:$admin }
storage: { url: "sqlite://$work/secured.db" }
auth:
  keys:
    - { name: bench, key: sk-bench, roles: [caller] }
  roles:
    caller:
      tools: ["bench/ech*"]
      rules: [{ tools: ["bench/echo"], when: "has(args.text) && size(args.text) < 1000" }]
      deny: { tools: ["bench/delete_*"] }
mcp:
  upstreams:
    - { name: fast, url: "http://127.0.0.1:$up/mcp" }
  servers:
    - name: bench
      upstreams: [fast]
      prefix: never
      limits: [{ tools: ["echo"], rpm: 100000000 }]
      audit: { arguments: redacted }
YAML
open_mcp=$(grep -o 'mcp: 127.0.0.1:[0-9]*' "$work/open.yaml" | cut -d: -f3)
"$strata" serve --config "$work/open.yaml" --layers mcp --log-level warn > /dev/null 2>> "$work/strata.log" & opid=$!; pids+=($opid)
"$strata" serve --config "$work/secured.yaml" --layers mcp --log-level warn > /dev/null 2>> "$work/strata.log" & spid=$!; pids+=($spid)
wait_port "$open_mcp"; wait_port "$mcp"

echo "# $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
direct="http://127.0.0.1:$up/mcp"
bare="http://127.0.0.1:$open_mcp/mcp/bench"
secured="http://127.0.0.1:$mcp/mcp/bench"
load() { "$bench" mcp-load --sessions "$sessions" --seconds "$secs" "$@"; }
echo "# fixed rate $rate calls/s over $sessions sessions"
dr=$(load --url "$direct" --rate "$rate" --cpu-pid "$upid" --label direct); echo "$dr"
br=$(load --url "$bare" --rate "$rate" --cpu-pid "$opid" --label bare); echo "$br"
sr=$(load --url "$secured" --rate "$rate" --cpu-pid "$spid" --key sk-bench --label secured); echo "$sr"
echo "# closed loop, $sessions sessions"
d=$(load --url "$direct" --cpu-pid "$upid" --label direct); echo "$d"
b=$(load --url "$bare" --cpu-pid "$opid" --label bare); echo "$b"
s=$(load --url "$secured" --cpu-pid "$spid" --key sk-bench --label secured); echo "$s"
records=$(python3 - "$work/secured.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute("SELECT COUNT(*) FROM audit_log WHERE action = 'tools/call' AND outcome = 'ok'").fetchone()[0])
PY
)
echo "# audit records of tools/call in the secured gateway's store: $records"

if grep -q . "$work/strata.log"; then echo "# strata log (warn and above)"; tail -n 20 "$work/strata.log"; fi

python3 - "$d" "$b" "$s" "$dr" "$br" "$sr" "$records" <<'PY'
import json, sys
d, b, s, dr, br, sr = (json.loads(a) for a in sys.argv[1:7])
records = int(sys.argv[7])
def lat(r):
    return f"{r['p50_ms']} / {r['p99_ms']}"
print()
print(f"| measurement ({d['sessions']} sessions) | direct | bare Strata | secured Strata | secured added / bare added |")
print("|---|---|---|---|---|")
for label, x, y, z in (("fixed rate %d calls/s" % dr["rate"], dr, br, sr), ("closed loop", d, b, s)):
    ab50, as50 = y["p50_ms"] - x["p50_ms"], z["p50_ms"] - x["p50_ms"]
    ab99, as99 = y["p99_ms"] - x["p99_ms"], z["p99_ms"] - x["p99_ms"]
    print(f"| {label}: p50 / p99 ms | {lat(x)} | {lat(y)} (+{ab50:.3f} / +{ab99:.3f}) | {lat(z)} (+{as50:.3f} / +{as99:.3f}) | p50 {as50/ab50:.2f}×, p99 {as99/ab99:.2f}× |")
print(f"| closed loop: calls/s | {d['calls_per_s']:.0f} | {b['calls_per_s']:.0f} | {s['calls_per_s']:.0f} | secured = {s['calls_per_s']/b['calls_per_s']:.0%} of bare |")
print(f"| CPU per call, closed loop (µs) | {d['cpu_us_per_call'][0]} | {b['cpu_us_per_call'][0]} | {s['cpu_us_per_call'][0]} | |")
print(f"| audit records written (ok calls) | | | {records} | calls answered: {s['calls'] + sr['calls']} (+ warm-up) |")
for r in (d, b, s, dr, br, sr):
    if r.get("errors"):
        print(f"errors: {r['label']} {r['errors']} (first: {r.get('first_error')})", file=sys.stderr)
PY
