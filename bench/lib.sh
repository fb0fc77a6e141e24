# Shared by the bench scripts (sourced, not run): a scratch directory, the processes to stop
# on exit, free ports (never the same one twice), waiting for a port, and the release build
# of what they run.
# A script may define `on_exit` for cleanup of its own; it runs before the scratch directory
# is removed.

target="${CARGO_TARGET_DIR:-target}"
work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if declare -F on_exit > /dev/null; then on_exit; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A free port on 127.0.0.1, never one this script was given before: the kernel may offer a
# closed listener's port again before the script's first taker has bound it.
free_port() {
  python3 - "$work/ports-given" <<'PY'
import socket, sys
try:
    given = set(open(sys.argv[1]).read().split())
except FileNotFoundError:
    given = set()
held = []  # kept bound until a new port turns up, so the kernel offers another each time
while True:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    held.append(sock)
    port = str(sock.getsockname()[1])
    if port not in given:
        break
with open(sys.argv[1], "a") as f:
    f.write(port + "\n")
print(port)
PY
}
# CPU time so far of each thread of process $1, one "name ticks" line per thread (clock ticks,
# user + system, from /proc; names with spaces get underscores). The fields of `stat` are
# counted after the name's closing parenthesis, since a name may hold spaces.
thread_ticks() {
  for t in /proc/"$1"/task/*; do
    echo "$(tr ' ' _ < "$t/comm") $(sed 's/.*) //' "$t/stat" | awk '{print $12 + $13}')"
  done
}
wait_port() { for _ in $(seq 1 300); do (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }

cargo build --release -q -p strata -p strata-bench
bench="$target/release/strata-bench"
strata="$target/release/strata"
