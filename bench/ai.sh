#!/usr/bin/env bash
# Benchmark of the ai layer (a script, not a test). Non-streamed chat completions against a
# zero-latency upstream: going direct to it, through Strata, and through LiteLLM, in the same
# run and on the same machine (load generator included), and two feature-less proxies
# (`strata-bench proxy`) that show what the extra HTTP hop alone costs here. Then streams:
# added time to first chunk, and whether the gaps between chunks survive the trip.
#
#   bash bench/ai.sh [seconds-per-run]        (default 10)
#
# LiteLLM (pip 'litellm[proxy]==1.108.7') is installed into $LITELLM_VENV on first use
# (default: ~/.cache/strata-bench/litellm-venv); set SKIP_LITELLM=1 to leave it out.
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-10}"
conns=64
rate=2000
# Strata runs with its default (a worker thread per CPU); a second Strata with `--workers 1`
# shows what leaving the other core to the load generator and the upstream changes here.
. bench/lib.sh

"$bench" upstream --addr 127.0.0.1:19100 --chunks 20 --chunk-interval-ms 10 & pids+=($!)
wait_port 19100
# The floor of any proxy here: feature-less pass-throughs on the same crates as Strata, one
# through reqwest's pooled client (as Strata calls providers), one driving hyper's
# connection from the request's own task.
"$bench" proxy --addr 127.0.0.1:19151 --upstream 127.0.0.1:19100 --mode reqwest & pids+=($!)
"$bench" proxy --addr 127.0.0.1:19152 --upstream 127.0.0.1:19100 --mode inline & pids+=($!)
wait_port 19151; wait_port 19152

cat > "$work/strata.yaml" <<YAML
listeners: { ai: 127.0.0.1:19000, mcp: 127.0.0.1:19001, agent: 127.0.0.1:19002, admin: 127.0.0.1:19003 }
storage: { url: "sqlite://$work/strata.db" }
ai:
  providers:
    - { name: bench, kind: openai, api_base: "http://127.0.0.1:19100/v1", models: [bench] }
YAML
"$strata" serve --config "$work/strata.yaml" --layers ai --log-level warn 2> "$work/strata.log" & pids+=($!)
strata_pid=$!
sed -e 's/19000/19010/; s/19001/19011/; s/19002/19012/; s/19003/19013/' -e "s#strata.db#strata-one.db#" \
  "$work/strata.yaml" > "$work/strata-one.yaml"
"$strata" serve --config "$work/strata-one.yaml" --layers ai --log-level warn --workers 1 2> "$work/strata-one.log" & pids+=($!)
one_pid=$!
wait_port 19000; wait_port 19010

litellm_url=""
if [ "${SKIP_LITELLM:-0}" != 1 ]; then
  venv="${LITELLM_VENV:-$HOME/.cache/strata-bench/litellm-venv}"
  if [ ! -x "$venv/bin/litellm" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check 'litellm[proxy]==1.108.7'
  fi
  cat > "$work/litellm.yaml" <<YAML
model_list:
  - model_name: bench
    litellm_params: { model: openai/bench, api_base: "http://127.0.0.1:19100/v1", api_key: sk-upstream }
general_settings: { master_key: sk-bench }
YAML
  LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_LOG=ERROR LITELLM_MASTER_KEY=sk-bench \
    "$venv/bin/litellm" --config "$work/litellm.yaml" --host 127.0.0.1 --port 19200 > "$work/litellm.log" 2>&1 & pids+=($!)
  wait_port 19200
  litellm_url="http://127.0.0.1:19200/v1/chat/completions"
fi

load() { "$bench" load --connections "$conns" --seconds "$secs" "$@"; }
direct="http://127.0.0.1:19100/v1/chat/completions"
through="http://127.0.0.1:19000/v1/chat/completions"
one="http://127.0.0.1:19010/v1/chat/completions"

echo "# closed loop, $conns connections, ${secs}s each"
d=$(load --url "$direct" --label direct); echo "$d"
thread_ticks "$strata_pid" > "$work/cpu-before"
s=$(load --url "$through" --label strata); echo "$s"
thread_ticks "$strata_pid" > "$work/cpu-after"
pr=$(load --url "http://127.0.0.1:19151/v1/chat/completions" --label proxy-floor-reqwest); echo "$pr"
pi=$(load --url "http://127.0.0.1:19152/v1/chat/completions" --label proxy-floor-inline); echo "$pi"
thread_ticks "$one_pid" > "$work/cpu-one-before"
sc=$(load --url "$one" --label strata-one-worker); echo "$sc"
thread_ticks "$one_pid" > "$work/cpu-one-after"
l='{}'
if [ -n "$litellm_url" ]; then l=$(load --url "$litellm_url" --key sk-bench --label litellm); echo "$l"; fi

echo "# fixed rate $rate req/s over $conns connections"
dr=$(load --url "$direct" --rate "$rate" --label direct); echo "$dr"
sr=$(load --url "$through" --rate "$rate" --label strata); echo "$sr"
fr=$(load --url "http://127.0.0.1:19152/v1/chat/completions" --rate "$rate" --label proxy-floor-inline); echo "$fr"
scr=$(load --url "$one" --rate "$rate" --label strata-one-worker); echo "$scr"

echo "# streams (20 chunks, 10 ms apart), $conns connections"
ds=$(load --url "$direct" --stream --label direct); echo "$ds"
ss=$(load --url "$through" --stream --label strata); echo "$ss"
so=$(load --url "$one" --stream --label strata-one-worker); echo "$so"

echo "# Strata's own added-latency histogram"
curl -s http://127.0.0.1:19003/metrics | grep '^strata_ai_added_latency_seconds' | tee "$work/added.txt"

python3 - "$d" "$s" "$l" "$dr" "$sr" "$ds" "$ss" "$work/added.txt" "$pr" "$pi" "$fr" "$sc" "$scr" "$so" "$work" "$(getconf CLK_TCK)" <<'PY'
import json, sys
d, s, l, dr, sr, ds, ss = (json.loads(a) for a in sys.argv[1:8])
pr, pi, fr, sc, scr, so = (json.loads(a) for a in sys.argv[9:15])
work, tck = sys.argv[15], int(sys.argv[16])
def cpu_per_call(before, after, run):
    # Microseconds of CPU per call in each kind of thread, over a closed-loop run.
    def ticks(path):
        out = {}
        for line in open(f"{work}/{path}"):
            name, t = line.split()
            out[name] = out.get(name, 0) + int(t)
        return out
    b, a = ticks(before), ticks(after)
    used = {k: (v - b.get(k, 0)) * 1e6 / tck / run["requests"] for k, v in a.items()}
    return ", ".join(f"{k} {v:.1f}" for k, v in sorted(used.items(), key=lambda kv: -kv[1]) if v >= 0.05)
buckets = []
for line in open(sys.argv[8]):
    if "_bucket" in line:
        le = line.split('le="')[1].split('"')[0]
        buckets.append((float("inf") if le == "+Inf" else float(le), float(line.split()[-1])))
total = buckets[-1][1] if buckets else 0
def q(p):
    for le, n in buckets:
        if total and n >= p * total:
            return le * 1000
    return float("nan")
print()
print("| measurement | direct | Strata | LiteLLM | result |")
print("|---|---|---|---|---|")
print(f"| closed loop: requests/s | {d['rps']:.0f} | {s['rps']:.0f} | {l.get('rps', 0):.0f} | Strata = {s['rps']/d['rps']:.0%} of direct" + (f", {s['rps']/l['rps']:.0f}x LiteLLM |" if l.get('rps') else " |"))
print(f"| closed loop: p50 / p99 ms | {d['p50_ms']} / {d['p99_ms']} | {s['p50_ms']} / {s['p99_ms']} | {l.get('p50_ms','-')} / {l.get('p99_ms','-')} | |")
for p, name in ((pr, "reqwest's pooled client"), (pi, "hyper connection driven in the request's task")):
    print(f"| closed loop: requests/s of a feature-less proxy ({name}) | | {p['rps']:.0f} | | floor = {p['rps']/d['rps']:.0%} of direct |")
print(f"| {dr['rate']} req/s: p50 / p99 ms | {dr['p50_ms']} / {dr['p99_ms']} | {sr['p50_ms']} / {sr['p99_ms']} | | added p50 {sr['p50_ms']-dr['p50_ms']:.3f} ms, p99 {sr['p99_ms']-dr['p99_ms']:.3f} ms |")
print(f"| closed loop: Strata's CPU per call by thread, µs | | {cpu_per_call('cpu-before', 'cpu-after', s)} | | |")
print(f"| closed loop, Strata with `--workers 1`: CPU per call by thread, µs | | {cpu_per_call('cpu-one-before', 'cpu-one-after', sc)} | | |")
print(f"| closed loop, Strata with `--workers 1`: requests/s, p50 / p99 ms | | {sc['rps']:.0f}, {sc['p50_ms']} / {sc['p99_ms']} | | {sc['rps']/d['rps']:.0%} of direct |")
print(f"| {scr['rate']} req/s, Strata with `--workers 1`: p50 / p99 ms | | {scr['p50_ms']} / {scr['p99_ms']} | | added p50 {scr['p50_ms']-dr['p50_ms']:.3f} ms, p99 {scr['p99_ms']-dr['p99_ms']:.3f} ms |")
print(f"| {fr['rate']} req/s through the feature-less proxy (inline): p50 / p99 ms | | {fr['p50_ms']} / {fr['p99_ms']} | | the hop alone adds p50 {fr['p50_ms']-dr['p50_ms']:.3f} ms, p99 {fr['p99_ms']-dr['p99_ms']:.3f} ms |")
print(f"| gateway's own added latency (histogram bucket bound) | | p50 <= {q(0.5):.3f} ms, p99 <= {q(0.99):.3f} ms | | |")
print(f"| stream: first chunk p50 / p99 ms | {ds['first_chunk_p50_ms']} / {ds['first_chunk_p99_ms']} | {ss['first_chunk_p50_ms']} / {ss['first_chunk_p99_ms']} | | added p50 {ss['first_chunk_p50_ms']-ds['first_chunk_p50_ms']:.3f} ms |")
print(f"| stream, Strata with `--workers 1`: first chunk p50 / p99 ms | | {so['first_chunk_p50_ms']} / {so['first_chunk_p99_ms']} | | added p50 {so['first_chunk_p50_ms']-ds['first_chunk_p50_ms']:.3f} ms |")
print(f"| stream: gap between chunks p50 / p99 ms | {ds['chunk_gap_p50_ms']} / {ds['chunk_gap_p99_ms']} | {ss['chunk_gap_p50_ms']} / {ss['chunk_gap_p99_ms']} | | |")
for r in (d, s, l, dr, sr, ds, ss, pr, pi, fr, sc, scr, so):
    if r.get("errors"):
        print(f"errors: {r['label']} {r['errors']}", file=sys.stderr)
PY
