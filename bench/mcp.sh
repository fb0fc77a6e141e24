#!/usr/bin/env bash
# Benchmark of the mcp layer (a script, not a test). `tools/call` over N MCP sessions against
# a fast Streamable HTTP upstream (plain JSON answers): going direct to it and through Strata
# at /mcp/bench, in the same run and on the same machine (load generator included). Then the
# memory an idle session costs the gateway.
#
#   bash bench/mcp.sh [seconds-per-run]        (default 10)
#
# SESSIONS (default 32), RATE (fixed-rate runs, calls/s, default 2000), ROUNDS (fixed-rate
# rounds, default 3; the verdict takes the median) and IDLE (sessions opened for the memory
# figure, default 1000) can be set in the environment.
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-10}"
sessions="${SESSIONS:-32}"
rate="${RATE:-2000}"
idle="${IDLE:-1000}"
rounds="${ROUNDS:-3}"
. bench/lib.sh

up=$(free_port); up_get=$(free_port); floor=$(free_port)
ai=$(free_port); mcp=$(free_port); agent=$(free_port); admin=$(free_port)

# The fast upstream; a second one that also holds each session's GET stream open, as
# servers that can notify do (the gateway then keeps one more connection per session).
"$bench" mcp-upstream --addr "127.0.0.1:$up" & upid=$!; pids+=($upid)
"$bench" mcp-upstream --addr "127.0.0.1:$up_get" --standalone-stream & pids+=($!)
wait_port "$up"; wait_port "$up_get"
# The floor of any proxy here: a feature-less pass-through (`strata-bench proxy`, the same
# HTTP crates and upstream client as Strata, no sessions, no policy, no audit).
"$bench" proxy --addr "127.0.0.1:$floor" --upstream "127.0.0.1:$up" --mode inline & fpid=$!; pids+=($fpid)
wait_port "$floor"

cat > "$work/strata.yaml" <<YAML
listeners: { ai: 127.0.0.1:$ai, mcp: 127.0.0.1:$mcp, agent: 127.0.0.1:$agent, admin: 127.0.0.1:$admin }
storage: { url: "sqlite://$work/strata.db" }
mcp:
  upstreams:
    - { name: fast, url: "http://127.0.0.1:$up/mcp" }
    - { name: fast-get, url: "http://127.0.0.1:$up_get/mcp" }
  servers:
    - { name: bench, upstreams: [fast], prefix: never }
    - { name: bench-get, upstreams: [fast-get], prefix: never }
YAML
spid=""
start_strata() {
  "$strata" serve --config "$work/strata.yaml" --layers mcp --log-level warn > /dev/null 2>> "$work/strata.log" & spid=$!; pids+=($spid)
  wait_port "$mcp"
}
stop_strata() { kill "$spid"; wait "$spid" 2>/dev/null || true; }

# Everything shares the machine: other busy processes move the figures a lot.
echo "# $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
direct="http://127.0.0.1:$up/mcp"
through="http://127.0.0.1:$mcp/mcp/bench"
passthrough="http://127.0.0.1:$floor/mcp"

# Memory first, each on a fresh gateway, after a small warm-up run (so that one-time
# allocations such as the upstream connection pool and worker buffers are not counted
# per session).
echo "# memory per idle session ($idle sessions, initialize only, kept open)"
idle_sessions() {
  start_strata
  "$bench" mcp-sessions --url "$1" --pid "$spid" --count 64 --settle-seconds 1 > /dev/null
  "$bench" mcp-sessions --url "$1" --pid "$spid" --count "$idle" --label "$2"
  stop_strata
}
idle_sessions "$through" "upstream without GET stream" > "$work/m.json"; m=$(cat "$work/m.json"); echo "$m"
idle_sessions "http://127.0.0.1:$mcp/mcp/bench-get" "upstream holding a GET stream" > "$work/mg.json"; mg=$(cat "$work/mg.json"); echo "$mg"

start_strata
load() { "$bench" mcp-load --sessions "$sessions" --seconds "$secs" "$@"; }
echo "# closed loop, $sessions sessions, ${secs}s each"
d=$(load --url "$direct" --cpu-pid "$upid" --label direct); echo "$d"
s=$(load --url "$through" --cpu-pid "$spid" --cpu-pid "$upid" --label strata); echo "$s"
f=$(load --url "$passthrough" --cpu-pid "$fpid" --cpu-pid "$upid" --label proxy-floor); echo "$f"
# Fixed rate: ROUNDS rounds of direct, Strata, floor in turn (the verdict takes the median
# round, since other busy processes on the machine move single runs a lot).
echo "# fixed rate $rate calls/s over $sessions sessions, $rounds rounds"
drs=(); srs=(); frs=()
for _ in $(seq 1 "$rounds"); do
  dr=$(load --url "$direct" --rate "$rate" --cpu-pid "$upid" --label direct); echo "$dr"; drs+=("$dr")
  sr=$(load --url "$through" --rate "$rate" --cpu-pid "$spid" --cpu-pid "$upid" --label strata); echo "$sr"; srs+=("$sr")
  fr=$(load --url "$passthrough" --rate "$rate" --cpu-pid "$fpid" --cpu-pid "$upid" --label proxy-floor); echo "$fr"; frs+=("$fr")
done
join() { local IFS=,; echo "[$*]"; }

if grep -q . "$work/strata.log"; then echo "# strata log (warn and above)"; tail -n 20 "$work/strata.log"; fi

python3 - "$d" "$s" "$(join "${drs[@]}")" "$(join "${srs[@]}")" "$m" "$mg" "$f" "$(join "${frs[@]}")" <<'PY'
import json, statistics, sys
d, s, drs, srs, m, mg, f, frs = (json.loads(a) for a in sys.argv[1:9])
def lat(r):
    return f"{r['p50_ms']} / {r['p90_ms']} / {r['p99_ms']} / {r['max_ms']}"
def verdict(ok):
    return "met" if ok else "**not met**"
add50, add99 = s["p50_ms"] - d["p50_ms"], s["p99_ms"] - d["p99_ms"]
fadd50 = f["p50_ms"] - d["p50_ms"]
radds = [(sr["p50_ms"] - dr["p50_ms"], sr["p99_ms"] - dr["p99_ms"]) for dr, sr in zip(drs, srs)]
radd50 = statistics.median(a for a, _ in radds)
radd99 = statistics.median(a for _, a in radds)
dr, sr = drs[0], srs[0]
rate = dr["rate"]
print()
print(f"| measurement ({d['sessions']} sessions) | direct | Strata | result |")
print("|---|---|---|---|")
print(f"| closed loop: calls/s | {d['calls_per_s']:.0f} | {s['calls_per_s']:.0f} | Strata = {s['calls_per_s']/d['calls_per_s']:.0%} of direct |")
print(f"| closed loop: p50 / p90 / p99 / max ms | {lat(d)} | {lat(s)} | added p50 {add50:.3f} ms, p99 {add99:.3f} ms |")
print(f"| feature-less proxy (the floor): closed loop calls/s, p50 ms | | {f['calls_per_s']:.0f}, {f['p50_ms']} | floor = {f['calls_per_s']/d['calls_per_s']:.0%} of direct, adds p50 {fadd50:.3f} ms |")
for i, (di, si, fi) in enumerate(zip(drs, srs, frs), 1):
    print(f"| {rate} calls/s, round {i}: p50 / p90 / p99 / max ms | {lat(di)} | {lat(si)} | added p50 {si['p50_ms']-di['p50_ms']:.3f} ms, p99 {si['p99_ms']-di['p99_ms']:.3f} ms |")
    print(f"| {rate} calls/s, round {i}, feature-less proxy (the floor) | | {lat(fi)} | the hop alone adds p50 {fi['p50_ms']-di['p50_ms']:.3f} ms, p99 {fi['p99_ms']-di['p99_ms']:.3f} ms |")
print(f"| CPU per call, closed loop (µs) | upstream {d['cpu_us_per_call'][0]} | gateway {s['cpu_us_per_call'][0]} (+ upstream {s['cpu_us_per_call'][1]}) | |")
print(f"| CPU per call, {rate} calls/s, round 1 (µs) | upstream {dr['cpu_us_per_call'][0]} | gateway {sr['cpu_us_per_call'][0]} (+ upstream {sr['cpu_us_per_call'][1]}) | |")
for r in (m, mg):
    print(f"| idle session memory, {r['label']} | | **{r['kib_per_session']} KiB/session** | RSS {r['rss_before_kib']} → {r['rss_after_kib']} KiB with {r['sessions']} sessions, {r['rss_after_end_kib']} KiB after DELETE |")
print()
print("| target | measured | verdict |")
print("|---|---|---|")
print(f"| added p50 <= 0.3 ms at {rate} calls/s (median round) | " + ", ".join(f"{a:+.3f}" for a, _ in radds) + f" ms: median {radd50:+.3f} ms | {verdict(radd50 <= 0.3)} |")
print(f"| added p99 <= 2 ms at {rate} calls/s (median round) | " + ", ".join(f"{b:+.3f}" for _, b in radds) + f" ms: median {radd99:+.3f} ms | {verdict(radd99 <= 2)} |")
print(f"| (saturation, for reference) closed loop added p50 / p99 | {add50:+.3f} / {add99:+.3f} ms; the feature-less proxy adds p50 {fadd50:+.3f} ms | queueing at saturation, not a latency target |")
print(f"| >= 5,000 calls/s through the gateway | {s['calls_per_s']:.0f} | {verdict(s['calls_per_s'] >= 5000)} |")
for r in (d, s, m, mg, f, *drs, *srs, *frs):
    if r.get("errors"):
        print(f"errors: {r['label']} {r['errors']} (first: {r.get('first_error')})", file=sys.stderr)
PY
