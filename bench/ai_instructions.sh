#!/usr/bin/env bash
# Instructions per call (a script, not a test): the same non-streamed chat completions as
# bench/ai.sh, served at a fixed low rate by each server in turn under valgrind's callgrind,
# which counts the instructions a process executes in user space (not the kernel's work, not
# time). The count does not depend on what else the machine is doing, so it compares builds
# and machines where the timings of bench/ai.sh are too noisy to.
#
#   bash bench/ai_instructions.sh [seconds] [rate]       (defaults: 10 s at 400 calls/s)
#
# Servers measured, one after the other, each with its own upstream:
# - upstream: `strata-bench upstream`, the zero-latency provider (what going direct costs
#   the server side);
# - proxy: `strata-bench proxy --mode inline`, the feature-less pass-through (the floor of a
#   proxy on these crates);
# - strata: `strata serve --layers ai` with one `openai` provider, usage ledger on SQLite;
#   its instructions are also split into the request path and the ledger's SQLite thread.
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-10}"
rate="${2:-400}"
. bench/lib.sh
command -v valgrind > /dev/null || { echo "valgrind is needed (Debian package valgrind)" >&2; exit 1; }

# measure NAME PORT COMMAND...: runs COMMAND under callgrind (listening on PORT), warms it up,
# counts the instructions of the measured load and prints them per call as JSON.
measure() {
  local name=$1 port=$2; shift 2
  local out="$work/$name.cg"
  valgrind --tool=callgrind --callgrind-out-file="$out" --dump-instr=no "$@" 2> "$work/$name.vg" &
  local pid=$!
  # In a subshell: when the port never opens, show valgrind's log before giving up.
  (wait_port "$port") || { cat "$work/$name.vg" >&2; exit 1; }
  local url="http://127.0.0.1:$port/v1/chat/completions"
  "$bench" load --connections 8 --seconds 3 --rate 200 --url "$url" > /dev/null
  callgrind_control -z "$pid" > /dev/null 2>&1
  local load
  load=$("$bench" load --connections 8 --seconds "$secs" --rate "$rate" --url "$url" --label "$name")
  callgrind_control -d "$pid" > /dev/null 2>&1
  kill "$pid"; wait "$pid" 2>/dev/null || true
  # The load's own warm-up second is served too.
  python3 - "$load" "$rate" "$work" "$name" <<'PY'
import glob, json, re, subprocess, sys
load, rate, work, name = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
calls = load["requests"] + rate
files = sorted(f for f in glob.glob(f"{work}/{name}.cg*") if re.search(r"\.cg\.\d+$", f))
report = subprocess.run(["callgrind_annotate", "--inclusive=yes", files[-1]],
                        capture_output=True, text=True).stdout
def count(pattern):
    for line in report.splitlines():
        if re.search(pattern, line):
            return int(line.split()[0].replace(",", ""))
    return 0
total = count(r"PROGRAM TOTALS")
out = {"server": name, "calls": calls, "errors": load["errors"],
       "instructions_per_call": round(total / calls)}
ledger = count(r"sqlx_sqlite::connection::worker::ConnectionWorker::establish::\{\{closure\}\}::\{\{closure\}\} ")
if ledger:
    out["of_which_sqlite_thread"] = round(ledger / calls)
print(json.dumps(out))
PY
}

up_port=$(free_port); u_port=$(free_port); p_port=$(free_port)
ai=$(free_port); mcp=$(free_port); agent=$(free_port); admin=$(free_port)
"$bench" upstream --addr "127.0.0.1:$up_port" & pids+=($!)
wait_port "$up_port"

u=$(measure upstream "$u_port" "$bench" upstream --addr "127.0.0.1:$u_port")
echo "$u"
p=$(measure proxy "$p_port" "$bench" proxy --addr "127.0.0.1:$p_port" --upstream "127.0.0.1:$up_port" --mode inline)
echo "$p"

cat > "$work/strata.yaml" <<YAML
listeners: { ai: 127.0.0.1:$ai, mcp: 127.0.0.1:$mcp, agent: 127.0.0.1:$agent, admin: 127.0.0.1:$admin }
storage: { url: "sqlite://$work/strata.db" }
ai:
  providers:
    - { name: bench, kind: openai, api_base: "http://127.0.0.1:$up_port/v1", models: [bench] }
YAML
s=$(measure strata "$ai" "$strata" serve --config "$work/strata.yaml" --layers ai --log-level warn)
echo "$s"

python3 - "$u" "$p" "$s" <<'PY'
import json, sys
u, p, s = (json.loads(a) for a in sys.argv[1:4])
print()
print("| server | instructions per call | against the feature-less proxy |")
print("|---|---|---|")
print(f"| upstream (going direct: its server side) | {u['instructions_per_call']:,} | |")
print(f"| feature-less proxy (inline connection) | {p['instructions_per_call']:,} | 1.00x |")
print(f"| Strata, ai layer | {s['instructions_per_call']:,} | {s['instructions_per_call']/p['instructions_per_call']:.2f}x |")
if "of_which_sqlite_thread" in s:
    print(f"| of which the usage ledger's SQLite thread | {s['of_which_sqlite_thread']:,} | |")
for r in (u, p, s):
    if r["errors"]:
        print(f"errors: {r['server']} {r['errors']}", file=sys.stderr)
PY
