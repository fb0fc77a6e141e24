// The console in a real browser: headless Chromium (Debian's) driven by playwright-core. Logs
// in, opens every page of a stack that has served traffic and a finished workflow, checks that
// what the page shows is what the admin API says, uses the run actions, and saves a screenshot
// of each page.
//
// Environment (set by crates/strata/tests/cli/console.rs):
//   PLAYWRIGHT_CORE   the installed playwright-core package folder
//   CHROMIUM          the browser executable
//   STRATA_ADMIN_URL  http://127.0.0.1:PORT (the admin listener)
//   STRATA_ADMIN_KEY  the admin key
//   STRATA_RUN        a finished run; STRATA_WAITING_A, STRATA_WAITING_B: runs waiting for a person
//   SCREENSHOTS       where screenshots go
//
// Prints `ok <scenario>` per scenario that passed, `FAIL <scenario>: ...` otherwise.

import { createRequire } from "node:module";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const require = createRequire(import.meta.url);
const { chromium } = require(process.env.PLAYWRIGHT_CORE);
const BASE = process.env.STRATA_ADMIN_URL;
const KEY = process.env.STRATA_ADMIN_KEY;
const SHOTS = process.env.SCREENSHOTS;
mkdirSync(SHOTS, { recursive: true });

async function api(path, options = {}) {
  const r = await fetch(BASE + path, { ...options, headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" } });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

async function cellTexts(page, testid) {
  return page.locator(`[data-testid="${testid}"] td`).allTextContents();
}

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** Waits until the page shows run `id` (not the run shown before). */
async function showing(id) {
  await page.waitForFunction((run) => document.querySelector("#page h1")?.textContent === `Run ${run}`, id);
  await settled(page);
}

async function settled(page) {
  await page.waitForSelector('#page[aria-busy="false"]');
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM, args: ["--no-sandbox"] });
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
const errors = [];
page.on("pageerror", (e) => errors.push(e.message));
// A refused key is answered 401 by design (the login form shows it); anything else is a defect.
page.on("console", (m) => { if (m.type() === "error" && !m.text().includes("status of 401")) errors.push(m.text()); });

async function login_needs_the_admin_key() {
  await page.goto(BASE + "/");
  await page.waitForSelector("#login:not([hidden])");
  await page.fill("#key", "not-the-key");
  await page.click('#login button[type="submit"]');
  await page.waitForFunction(() => document.getElementById("login-error").textContent.includes("refused"));
  await shot(page, "login");
  await page.fill("#key", KEY);
  await page.click('#login button[type="submit"]');
  await page.waitForSelector('[data-testid="layer-ai"]');
}

async function overview_shows_each_layer_and_the_runs() {
  const o = await api("/admin/api/console/overview");
  for (const l of o.layers) {
    const cells = await cellTexts(page, `layer-${l.layer}`);
    assert(cells[0] === l.layer && cells[1] === l.health, `layer row ${cells}`);
    // The API was asked after the page drew, so it has seen at least as much.
    assert(Number(cells[3]) <= l.requests && Number(cells[3]) > 0, `requests ${cells[3]} vs ${l.requests}`);
  }
  const finished = (o.runs.succeeded || 0) + (o.runs.failed || 0) + (o.runs.cancelled || 0);
  assert((await page.textContent('[data-testid="runs-finished"]')) === String(finished), "finished runs");
  assert((await page.textContent('[data-testid="runs-waiting"]')) === String(o.runs.waiting || 0), "waiting runs");
  // Live: the request counts move on their own.
  const before = Number((await cellTexts(page, "layer-admin"))[3]);
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid="layer-admin"] td:nth-child(4)').textContent) > n, before, { timeout: 10000 });
  await shot(page, "overview");
}

async function models_show_traffic_tokens_cost_and_budgets() {
  await page.click('nav a[data-page="models"]');
  await page.waitForSelector('[data-testid="usage-mock-1"]');
  const u = await api("/admin/api/console/usage?by=model&since=24h&bucket=1h");
  const mine = u.series.filter((r) => r.group === "mock-1");
  const requests = mine.reduce((a, r) => a + r.requests, 0);
  const cost = mine.reduce((a, r) => a + r.cost_usd, 0);
  const cells = await cellTexts(page, "usage-mock-1");
  assert(Number(cells[1]) === requests && requests >= 3, `requests ${cells[1]} vs ${requests}`);
  assert(cells[5] === `$${cost.toFixed(6)}`, `cost ${cells[5]} vs ${cost}`);
  assert((await page.locator("svg[aria-label=Requests] rect").count()) >= 1, "a requests chart");
  const budget = u.budgets.find((b) => b.name === "alice");
  const row = await cellTexts(page, "budget-alice");
  assert(budget && row[3] === `$${budget.spent_usd.toFixed(6)}`, `budget ${row}`);
  await page.selectOption("#group-by", "key");
  await page.waitForSelector('[data-testid="usage-alice"]');
  await shot(page, "models");
}

async function tools_show_servers_calls_and_the_audit_log() {
  await page.click('nav a[data-page="tools"]');
  await page.waitForSelector('[data-testid="tool-demo-add"]');
  const t = await api("/admin/api/console/tools?since=24h");
  const add = t.tools.find((x) => x.server === "demo" && x.tool === "add");
  const cells = await cellTexts(page, "tool-demo-add");
  assert(Number(cells[2]) === add.calls && add.calls >= 2, `calls ${cells} vs ${add.calls}`);
  const upstream = await cellTexts(page, "upstream-demo-demo");
  assert(upstream[3] === "healthy", `upstream ${upstream}`);
  // The audit log, filtered on the server, with a record's detail.
  await page.fill('input[name="principal"]', "alice");
  await page.click('form.filters button[type="submit"]');
  await page.waitForFunction(() => location.hash.includes("principal=alice"));
  await settled(page);
  const audit = await api("/admin/api/audit?principal=alice&limit=50");
  const rows = page.locator('tr[data-testid^="audit-"]');
  assert((await rows.count()) === audit.records.length && audit.records.length > 0, "audit rows");
  for (const principal of await page.locator('tr[data-testid^="audit-"] td:nth-child(4)').allTextContents()) {
    assert(principal === "alice", `a record of ${principal}`);
  }
  await rows.first().click();
  const detail = JSON.parse(await page.textContent("#audit-detail"));
  assert(detail.id === audit.records[0].id, "the detail of the clicked record");
  await shot(page, "tools");
}

async function a_run_shows_its_graph_and_trace() {
  await page.click('nav a[data-page="workflows"]');
  const id = process.env.STRATA_RUN;
  await page.waitForSelector(`[data-testid="run-${id}"]`);
  await shot(page, "workflows");
  // The list is paged by the server: 50 runs, then the older ones, none twice.
  const first = await page.locator('tr[data-testid^="run-"]').evaluateAll((rows) => rows.map((r) => r.dataset.testid));
  const api1 = await api("/admin/api/console/runs?limit=50");
  assert(first.length === 50 && first.join() === api1.runs.map((r) => `run-${r.id}`).join(), "the first page");
  await page.click("#runs-older");
  await page.waitForFunction(() => location.hash.includes("before_id="));
  await settled(page);
  const second = await page.locator('tr[data-testid^="run-"]').evaluateAll((rows) => rows.map((r) => r.dataset.testid));
  const api2 = await api(`/admin/api/console/runs?limit=50&before=${api1.next_before}&before_id=${api1.next_before_id}`);
  assert(second.length > 0 && second.join() === api2.runs.map((r) => `run-${r.id}`).join(), "the second page");
  assert(second.every((r) => !first.includes(r)), "a run on both pages");
  await page.goBack();
  await page.waitForSelector(`[data-testid="run-${id}"]`);
  await page.click(`[data-testid="run-${id}"]`);
  await page.waitForSelector("#run-graph");
  const d = await api(`/admin/api/console/runs/${id}`);
  assert((await page.textContent('[data-testid="run-status"]')) === d.run.status, "status");
  assert((await page.textContent('[data-testid="run-cost"]')) === `$${d.run.cost_usd.toFixed(6)}`, "cost");
  assert((await page.locator("#run-graph g[data-step]").count()) === d.graph.nodes.length, "graph nodes");
  for (const n of d.graph.nodes) {
    assert((await page.getAttribute(`#run-graph g[data-step="${n.id}"]`, "data-state")) === n.state, `state of ${n.id}`);
  }
  const calls = d.trace.children.flatMap((s) => s.children.flatMap((a) => a.children));
  const attempts = d.trace.children.flatMap((s) => s.children);
  assert((await page.locator("#run-trace g.trace-row").count()) === calls.length + attempts.length, "waterfall rows");
  const labels = await page.locator("#run-trace g.trace-row text:first-child").allTextContents();
  assert(labels.some((l) => l.includes("ai mock-1")) && labels.some((l) => l.includes("mcp demo/add")), `trace rows ${labels}`);
  await shot(page, "run");
  // Fork from the tool step: a new run, shown at once.
  await page.selectOption("#action-step", "add");
  await page.click("#fork");
  await page.waitForFunction((old) => location.hash.startsWith("#/runs/") && !location.hash.includes(old), id);
  const forked = decodeURIComponent(page.url().split("#/runs/")[1]);
  const f = await api(`/admin/api/console/runs/${forked}`);
  assert(f.run.forked_from === id, "the fork names its source");
}

async function waiting_runs_can_be_signalled_and_cancelled() {
  const a = process.env.STRATA_WAITING_A, b = process.env.STRATA_WAITING_B;
  await page.goto(`${BASE}/#/runs/${a}`);
  await showing(a);
  await page.selectOption("#action-step", "ask");
  await page.fill("#signal-data", '{"approved": true}');
  await page.click("#signal");
  await page.waitForFunction(() => document.getElementById("action-result").textContent.startsWith("signal:"));
  await page.waitForFunction(() => document.querySelector('[data-testid="run-status"]')?.textContent === "succeeded", null, { timeout: 15000 });
  assert((await api(`/admin/api/console/runs/${a}`)).run.output === "approved", "the signalled run's output");
  await page.goto(`${BASE}/#/runs/${b}`);
  await showing(b);
  await page.click("#cancel");
  await page.waitForFunction(() => document.querySelector('[data-testid="run-status"]')?.textContent === "cancelled", null, { timeout: 15000 });
  await shot(page, "run-cancelled");
}

async function config_hides_secrets_and_shows_the_doctor() {
  await page.click('nav a[data-page="config"]');
  await page.waitForSelector("#config-json");
  const text = await page.textContent("#config-json");
  assert(!text.includes(KEY) && !text.includes("sk-alice"), "a secret is shown");
  assert(JSON.parse(text).admin.key !== undefined, "the admin section");
  const doctor = await api("/admin/api/console/doctor");
  assert((await page.locator('tr[data-testid^="finding-"]').count()) === doctor.findings.length, "doctor rows");
  await shot(page, "config");
}

async function the_pages_raised_no_errors() {
  assert(errors.length === 0, errors.join("\n"));
}

const SCENARIOS = [
  login_needs_the_admin_key,
  overview_shows_each_layer_and_the_runs,
  models_show_traffic_tokens_cost_and_budgets,
  tools_show_servers_calls_and_the_audit_log,
  a_run_shows_its_graph_and_trace,
  waiting_runs_can_be_signalled_and_cancelled,
  config_hides_secrets_and_shows_the_doctor,
  the_pages_raised_no_errors,
];

let failed = false;
for (const scenario of SCENARIOS) {
  try {
    await scenario();
    console.log(`ok ${scenario.name}`);
  } catch (e) {
    failed = true;
    console.log(`FAIL ${scenario.name}: ${e.message}`);
    await shot(page, `failed-${scenario.name}`).catch(() => {});
  }
}
await browser.close();
process.exit(failed ? 1 : 0);
