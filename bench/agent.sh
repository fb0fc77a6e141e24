#!/usr/bin/env bash
# Benchmark of the agent layer (a script, not a test): journaled workflow steps per second and
# the per-step overhead, with zero-latency upstreams (the built-in mock provider and the
# built-in demo tool server, both called in process), on SQLite and on Postgres.
#
#   bash bench/agent.sh [seconds-per-run]        (default 10)
#
# Every run is started with `POST /v1/workflows/{name}/runs` and `"wait": true`, so one
# request is one whole run: started, every step journaled (input, the ai/mcp call with its
# request and response, output), ended. CONNECTIONS (default 32) sets the concurrency of the
# throughput runs. POSTGRES (default postgres://postgres@127.0.0.1:5432) is the server the
# Postgres runs use; a fresh database is created there and dropped afterwards. SKIP_POSTGRES=1
# runs SQLite only.
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-10}"
connections="${CONNECTIONS:-32}"
pg_server="${POSTGRES:-postgres://postgres@127.0.0.1:5432}"
pg_db="strata_bench_$$"
on_exit() {
  [ "${SKIP_POSTGRES:-}" = 1 ] || psql -q "$pg_server/postgres" -c "DROP DATABASE IF EXISTS $pg_db" 2>/dev/null || true
}
. bench/lib.sh

ai=$(free_port); mcp=$(free_port); agent=$(free_port); admin=$(free_port)

# Workflows: chains of 1, 3 and 10 steps alternating a model call and a tool call.
mkdir -p "$work/workflows"
python3 - "$work/workflows" <<'PY'
import sys
for n in (1, 3, 10):
    lines = [f"name: chain{n}", "steps:"]
    for i in range(n):
        lines.append(f"  s{i}:")
        if i:
            lines.append(f"    needs: [s{i-1}]")
        if i % 2 == 0:
            lines.append("    llm: { model: mock-1, messages: [{ role: user, content: \"step {{ input.n }}\" }] }")
        else:
            lines.append("    tool: { server: demo, name: add, arguments: { a: 2, b: 3 } }")
        lines.append(f"    output: r{i}")
    open(f"{sys.argv[1]}/chain{n}.yaml", "w").write("\n".join(lines) + "\n")
PY

write_config() {
  cat > "$work/strata.yaml" <<YAML
listeners: { ai: 127.0.0.1:$ai, mcp: 127.0.0.1:$mcp, agent: 127.0.0.1:$agent, admin: 127.0.0.1:$admin }
storage: { url: "$1" }
ai:
  providers:
    - { name: mock, models: [mock-1] }
mcp:
  upstreams:
    - { name: demo, builtin: demo }
  servers:
    - { name: demo, upstreams: [demo] }
agent:
  workflows: ["workflows/*.yaml"]
YAML
}
spid=""
start_strata() {
  write_config "$1"
  "$strata" serve --config "$work/strata.yaml" --log-level warn > /dev/null 2>> "$work/strata.log" & spid=$!; pids+=($spid)
  wait_port "$agent"
}
stop_strata() { kill "$spid"; wait "$spid" 2>/dev/null || true; }

run() { # workflow connections label
  "$bench" load --url "http://127.0.0.1:$agent/v1/workflows/$1/runs" --connections "$2" \
    --seconds "$secs" --body '{"input":{"n":1},"wait":true}' --expect '"status":"succeeded"' \
    --label "$3"
}

echo "# $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
results=()
backends=(sqlite)
[ "${SKIP_POSTGRES:-}" = 1 ] || backends+=(postgres)
for backend in "${backends[@]}"; do
  if [ "$backend" = sqlite ]; then
    url="sqlite://$work/strata.db"
  else
    PGOPTIONS="-c client_min_messages=warning" psql -q "$pg_server/postgres" -c "DROP DATABASE IF EXISTS $pg_db" -c "CREATE DATABASE $pg_db"
    url="$pg_server/$pg_db"
  fi
  start_strata "$url"
  echo "# $backend"
  # Reference: one model call through the ai layer over HTTP, what each llm step wraps.
  r=$("$bench" load --url "http://127.0.0.1:$ai/v1/chat/completions" --model mock-1 \
      --connections 1 --seconds "$secs" --label "$backend ai call"); echo "$r"; results+=("$r")
  for n in 1 3 10; do
    r=$(run "chain$n" 1 "$backend chain$n c1"); echo "$r"; results+=("$r")
  done
  r=$(run chain10 "$connections" "$backend chain10 c$connections"); echo "$r"; results+=("$r")
  r=$(run chain3 "$connections" "$backend chain3 c$connections"); echo "$r"; results+=("$r")
  stop_strata
done

if grep -q . "$work/strata.log"; then echo "# strata log (warn and above)"; tail -n 20 "$work/strata.log"; fi

python3 - "$connections" "${results[@]}" <<'PY'
import json, sys
c = sys.argv[1]
rs = {r["label"]: r for r in map(json.loads, sys.argv[2:])}
backends = [b for b in ("sqlite", "postgres") if f"{b} chain1 c1" in rs]
def verdict(ok):
    return "met" if ok else "**not met**"
print()
print("| measurement | " + " | ".join(backends) + " |")
print("|---|" + "---|" * len(backends) + "")
def row(name, f):
    print(f"| {name} | " + " | ".join(f(b) for b in backends) + " |")
def lat(label):
    return lambda b: f"{rs[f'{b} {label}']['p50_ms']} / {rs[f'{b} {label}']['p99_ms']}"
row("one chat completion through the ai layer (mock), p50 / p99 ms", lat("ai call"))
for n in (1, 3, 10):
    row(f"{n}-step run, 1 connection, p50 / p99 ms", lat(f"chain{n} c1"))
def overhead(b):
    return (rs[f"{b} chain10 c1"]["p50_ms"] - rs[f"{b} chain1 c1"]["p50_ms"]) / 9
row("per-step time in a run, (p50 10-step − p50 1-step) / 9, ms", lambda b: f"{overhead(b):.3f}")
def steps(b, n):
    r = rs[f"{b} chain{n} c{c}"]
    return r["rps"] * n
row(f"10-step runs, {c} connections: runs/s → steps/s", lambda b: f"{rs[f'{b} chain10 c{c}']['rps']:.0f} → **{steps(b, 10):.0f}**")
row(f"3-step runs, {c} connections: runs/s → steps/s", lambda b: f"{rs[f'{b} chain3 c{c}']['rps']:.0f} → **{steps(b, 3):.0f}**")
row(f"10-step runs, {c} connections: p50 / p99 ms", lat(f"chain10 c{c}"))
print()
print("| target (SQLite) | measured | verdict |")
print("|---|---|---|")
best = max(steps("sqlite", 10), steps("sqlite", 3))
print(f"| >= 1,000 journaled steps/s | {best:.0f} | {verdict(best >= 1000)} |")
p3 = rs["sqlite chain3 c1"]["p50_ms"]
print(f"| 3-step run end to end <= 10 ms | p50 {p3} ms, p99 {rs['sqlite chain3 c1']['p99_ms']} ms | {verdict(p3 <= 10)} |")
for r in rs.values():
    if r.get("errors"):
        print(f"errors: {r['label']} {r['errors']}", file=sys.stderr)
PY
