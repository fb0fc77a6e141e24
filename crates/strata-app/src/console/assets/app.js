// The Strata console: plain JavaScript, no dependencies. Every view reads the admin API with
// the admin key kept in this tab's session storage; lists are paged by the server.
"use strict";

const $ = (id) => document.getElementById(id);
let timer = null;

/** An element with attributes and children (strings become text, never HTML). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** An SVG element. */
function s(tag, attrs, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  for (const c of children.flat()) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

async function api(path, options = {}) {
  const key = sessionStorage.getItem("strata-admin-key") || "";
  const response = await fetch(path, {
    ...options,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...(options.headers || {}) },
  });
  if (response.status === 401) {
    showLogin("The admin key was refused.");
    throw new Error("unauthorized");
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error ? body.error.message : `HTTP ${response.status}`);
  return body;
}

const fmt = {
  ms: (v) => (v === null || v === undefined ? "–" : `${Number(v).toFixed(v < 10 ? 2 : 0)} ms`),
  usd: (v) => `$${Number(v || 0).toFixed(6)}`,
  time: (ms) => (ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 19) : "–"),
  pct: (a, b) => (b ? `${((100 * a) / b).toFixed(1)}%` : "0.0%"),
};

function table(headers, rows, onClick) {
  return h("table", {},
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))),
    h("tbody", {}, rows.map((r) => {
      const tr = h("tr", onClick ? { class: "clickable", onclick: () => onClick(r) } : {});
      for (const cell of r.cells) tr.append(cell instanceof Node ? h("td", {}, cell) : h("td", {}, String(cell)));
      if (r.testid) tr.setAttribute("data-testid", r.testid);
      return tr;
    })));
}

/** Replaces a page's content (absent parts left out). */
function put(page, ...children) {
  page.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
}

function showLogin(message) {
  clearInterval(timer);
  $("nav").hidden = true;
  $("page").replaceChildren();
  $("login").hidden = false;
  $("login-error").textContent = message || "";
}

// ---- Overview ------------------------------------------------------------------------------

let previous = null;
async function overview(page) {
  const draw = async () => {
    const o = await api("/admin/api/console/overview");
    const dt = previous ? (o.now_ms - previous.now_ms) / 1000 : 0;
    const rows = o.layers.map((l) => {
      const before = previous && previous.layers.find((p) => p.layer === l.layer);
      const rate = before && dt > 0 ? ((l.requests - before.requests) / dt).toFixed(1) : "–";
      return { testid: `layer-${l.layer}`, cells: [l.layer, h("span", { class: l.health }, l.health), rate, l.requests, fmt.pct(l.errors, l.requests), fmt.ms(l.p50_ms), fmt.ms(l.p99_ms), l.in_flight] };
    });
    previous = o;
    const runs = o.runs || {};
    put(page,
      h("h1", {}, "Overview"),
      h("div", { class: "cards" },
        card("MCP sessions", o.mcp_sessions, "mcp-sessions"),
        card("Running workflows", (runs.running || 0) + (runs.pending || 0), "runs-running"),
        card("Waiting workflows", runs.waiting || 0, "runs-waiting"),
        card("Finished runs", (runs.succeeded || 0) + (runs.failed || 0) + (runs.cancelled || 0), "runs-finished"),
        card("Storage", o.storage, "storage"),
        card("Config generation", o.generation, "generation")),
      h("h2", {}, "Layers"),
      table(["layer", "health", "req/s", "requests", "errors", "p50", "p99", "in flight"], rows),
      h("p", { class: "muted" }, `Strata ${o.version}; updated ${fmt.time(o.now_ms)} (every 2 s).`));
  };
  await draw();
  timer = setInterval(() => draw().catch(() => {}), 2000);
}

function card(label, value, testid) {
  return h("div", { class: "card" }, h("div", { class: "muted" }, label), h("div", { class: "value", "data-testid": testid }, value));
}

// ---- Models --------------------------------------------------------------------------------

async function models(page, params) {
  const by = params.get("by") || "model";
  const since = params.get("since") || "24h";
  const u = await api(`/admin/api/console/usage?by=${by}&since=${since}&bucket=${params.get("bucket") || "1h"}`);
  const totals = new Map();
  for (const r of u.series) {
    const t = totals.get(r.group) || { requests: 0, errors: 0, input: 0, output: 0, cost: 0 };
    t.requests += r.requests; t.errors += r.errors; t.input += r.input_tokens; t.output += r.output_tokens; t.cost += r.cost_usd;
    totals.set(r.group, t);
  }
  const windows = { "1h": "1m", "24h": "1h", "7d": "6h" };
  const go = (g, w) => (location.hash = `#/models?by=${g}&since=${w}&bucket=${windows[w] || "1h"}`);
  const select = h("select", { id: "group-by", onchange: (e) => go(e.target.value, since) },
    ["model", "provider", "key", "team"].map((g) => h("option", { value: g, selected: g === by }, g)));
  const windowSelect = h("select", { id: "window", onchange: (e) => go(by, e.target.value) },
    Object.keys(windows).map((w) => h("option", { value: w, selected: w === since }, `last ${w}`)));
  put(page,
    h("h1", {}, "Models"),
    h("div", { class: "filters" }, "Group by", select, windowSelect, h("span", { class: "muted" }, `${u.bucket_ms / 60000} min buckets`)),
    h("div", { class: "row" },
      chart("Requests", u, (r) => r.requests),
      chart("Tokens", u, (r) => r.input_tokens + r.output_tokens),
      chart("Cost (USD)", u, (r) => r.cost_usd),
      chart("Errors", u, (r) => r.errors)),
    h("h2", {}, `Per ${by}`),
    table([by, "requests", "errors", "input tokens", "output tokens", "cost"],
      [...totals].map(([g, t]) => ({ testid: `usage-${g}`, cells: [g || "–", t.requests, t.errors, t.input, t.output, fmt.usd(t.cost)] }))),
    h("h2", {}, "Budgets"),
    u.budgets.length ? table(["", "name", "period", "spent", "limit", "use"], u.budgets.map((b) => ({
      testid: `budget-${b.name}`,
      cells: [b.kind, b.name, b.period, fmt.usd(b.spent_usd), fmt.usd(b.limit_usd),
        h("span", {}, meter(b.spent_usd / b.limit_usd), ` ${fmt.pct(b.spent_usd, b.limit_usd)}`)],
    }))) : h("p", { class: "muted" }, "No key or team has a budget."));
}

/** A use meter (0..1 and beyond). */
function meter(fraction) {
  const w = 160 * Math.min(1, Math.max(0, fraction || 0));
  return s("svg", { width: 160, height: 8, class: "meter" },
    s("rect", { x: 0, y: 0, width: 160, height: 8, fill: "#e4e7ec" }),
    s("rect", { x: 0, y: 0, width: w, height: 8, fill: fraction > 0.9 ? "#f04438" : "#2e90fa" }));
}

/** Bars per time bucket over the whole window (all groups summed), with the peak and the ends. */
function chart(title, u, value) {
  const sums = new Map();
  for (const r of u.series) sums.set(r.t, (sums.get(r.t) || 0) + value(r));
  const first = Math.floor(u.since_ms / u.bucket_ms) * u.bucket_ms;
  const slots = [];
  for (let t = first; t <= first + u.bucket_ms * 400 && t <= Date.now(); t += u.bucket_ms) slots.push([t, sums.get(t) || 0]);
  const w = 380, hgt = 110, left = 10, max = Math.max(1e-9, ...slots.map((p) => p[1]));
  const step = (w - 2 * left) / Math.max(1, slots.length);
  const peak = max >= 1 ? String(Math.round(max)) : max.toPrecision(2);
  const svg = s("svg", { width: w, height: hgt + 40, viewBox: `0 0 ${w} ${hgt + 40}`, role: "img", "aria-label": title },
    s("text", { x: left, y: 12, "font-size": 11, fill: "#475467" }, `peak ${peak}`),
    s("line", { x1: left, y1: hgt + 18, x2: w - left, y2: hgt + 18, stroke: "#d0d5dd" }),
    slots.map(([t, v], i) => s("rect", { x: left + i * step + 1, y: 18 + hgt - (hgt * v) / max, width: Math.max(1, step - 2), height: (hgt * v) / max, fill: "#2e90fa" },
      s("title", {}, `${fmt.time(t)}: ${v}`))),
    s("text", { x: left, y: hgt + 34, "font-size": 11, fill: "#475467" }, fmt.time(first).slice(5, 16)),
    s("text", { x: w - left, y: hgt + 34, "font-size": 11, fill: "#475467", "text-anchor": "end" }, "now"));
  return h("div", {}, h("h2", {}, title), svg);
}

// ---- Tools ---------------------------------------------------------------------------------

async function tools(page, params) {
  const t = await api("/admin/api/console/tools?since=24h");
  const filters = ["principal", "server", "tool", "action", "outcome"];
  const query = new URLSearchParams();
  for (const f of filters) if (params.get(f)) query.set(f, params.get(f));
  query.set("limit", "50");
  if (params.get("before")) query.set("before", params.get("before"));
  const audit = await api(`/admin/api/audit?${query}`);
  const detail = h("pre", { id: "audit-detail", hidden: true });
  const inputs = filters.map((f) => h("input", { name: f, placeholder: f, value: params.get(f) || "" }));
  const apply = (before) => {
    const q = new URLSearchParams();
    for (const i of inputs) if (i.value) q.set(i.name, i.value);
    if (before) q.set("before", before);
    location.hash = `#/tools?${q}`;
  };
  put(page,
    h("h1", {}, "Tools"),
    h("h2", {}, "Virtual servers"),
    table(["server", "upstream", "kind", "health", "calls (24h)", "errors", "last error"],
      t.servers.flatMap((srv) => srv.upstreams.map((u) => ({ testid: `upstream-${srv.name}-${u.name}`, cells: [srv.name, u.name, u.kind, h("span", { class: u.health }, u.health), u.calls, u.errors, u.last_error || ""] })))),
    h("h2", {}, "Tool calls (24h)"),
    table(["server", "tool", "calls", "errors"], t.tools.map((x) => ({ testid: `tool-${x.server}-${x.tool}`, cells: [x.server, x.tool, x.calls, x.errors] }))),
    h("h2", {}, "Audit log"),
    h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); apply(); } }, inputs, h("button", { type: "submit" }, "Filter")),
    table(["time", "layer", "action", "principal", "target", "outcome", "latency"], audit.records.map((r) => ({
      testid: `audit-${r.id}`, record: r,
      cells: [fmt.time(r.ts_ms), r.layer, r.action, r.principal || "", r.target || "", h("span", { class: r.outcome === "ok" ? "ok" : "fail" }, r.outcome), r.latency_ms ?? ""],
    })), (row) => { detail.hidden = false; detail.textContent = JSON.stringify(row.record, null, 2); }),
    audit.next_before ? h("button", { id: "audit-older", onclick: () => apply(audit.next_before) }, "Older") : null,
    detail);
}

// ---- Workflows -----------------------------------------------------------------------------

async function workflows(page, params) {
  const q = new URLSearchParams({ limit: "50" });
  for (const f of ["workflow", "status", "before", "before_id"]) if (params.get(f)) q.set(f, params.get(f));
  const list = await api(`/admin/api/console/runs?${q}`);
  const workflow = h("input", { name: "workflow", placeholder: "workflow", value: params.get("workflow") || "" });
  const status = h("select", { name: "status" }, ["", "pending", "running", "waiting", "succeeded", "failed", "cancelled"].map((v) => h("option", { value: v, selected: v === (params.get("status") || "") }, v || "any status")));
  const go = (before, beforeId) => {
    const n = new URLSearchParams();
    if (workflow.value) n.set("workflow", workflow.value);
    if (status.value) n.set("status", status.value);
    if (before) { n.set("before", before); n.set("before_id", beforeId); }
    location.hash = `#/workflows?${n}`;
  };
  put(page,
    h("h1", {}, "Workflows"),
    h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); go(); } }, workflow, status, h("button", { type: "submit" }, "Filter")),
    table(["run", "workflow", "status", "principal", "created", "finished"], list.runs.map((r) => ({
      testid: `run-${r.id}`, id: r.id,
      cells: [r.id, r.workflow, h("span", { class: r.status }, r.status), r.principal || "", fmt.time(r.created_ms), fmt.time(r.finished_ms)],
    })), (row) => (location.hash = `#/runs/${row.id}`)),
    list.next_before ? h("button", { id: "runs-older", onclick: () => go(list.next_before, list.next_before_id) }, "Older") : null);
}

async function run(page, id) {
  const d = await api(`/admin/api/console/runs/${encodeURIComponent(id)}`);
  const r = d.run;
  const message = h("p", { id: "action-result", class: "muted" });
  const act = async (action, body) => {
    try {
      const out = await api(`/admin/api/console/runs/${encodeURIComponent(id)}/${action}`, { method: "POST", body: JSON.stringify(body || {}) });
      message.textContent = `${action}: ${JSON.stringify(out)}`;
      if (action === "fork") location.hash = `#/runs/${out.id}`;
      else setTimeout(() => route(), 800);
    } catch (e) { message.textContent = `${action} refused: ${e.message}`; }
  };
  const steps = (d.graph.nodes || []).map((n) => n.id);
  const stepSelect = h("select", { id: "action-step" }, steps.map((x) => h("option", { value: x }, x)));
  const data = h("input", { id: "signal-data", placeholder: "signal data (JSON)", value: "" });
  const live = !["succeeded", "failed", "cancelled"].includes(r.status);
  put(page,
    h("h1", {}, `Run ${r.id}`),
    h("div", { class: "cards" },
      card("Workflow", r.workflow, "run-workflow"), card("Status", r.status, "run-status"),
      card("Tokens", `${r.tokens.input}/${r.tokens.output}`, "run-tokens"), card("Cost", fmt.usd(r.cost_usd), "run-cost")),
    h("div", { class: "filters" },
      h("button", { id: "cancel", disabled: !live, onclick: () => act("cancel") }, "Cancel"),
      stepSelect, data,
      h("button", { id: "signal", disabled: !live, onclick: () => act("signal", { step: stepSelect.value, data: parseData(data.value) }) }, "Signal step"),
      h("button", { id: "fork", onclick: () => act("fork", { step: stepSelect.value }) }, "Fork from step")),
    message,
    h("h2", {}, "Steps"), graph(d.graph),
    h("h2", {}, "Trace"), waterfall(d.trace),
    h("h2", {}, "Output"), h("pre", { id: "run-output" }, JSON.stringify(r.output ?? r.error, null, 2)));
}

function parseData(text) {
  try { return text ? JSON.parse(text) : null; } catch { return text; }
}

/** The steps as a layered graph: a step's column is one more than its farthest predecessor's. */
function graph(g) {
  const depth = new Map(g.nodes.map((n) => [n.id, 0]));
  for (let pass = 0; pass < g.nodes.length; pass++) {
    for (const e of g.edges) {
      if (e.kind !== "needs" && e.kind !== "next" && e.kind !== "choice") continue;
      const d = depth.get(e.from) + 1;
      if (depth.has(e.to) && d > depth.get(e.to) && d < g.nodes.length) depth.set(e.to, d);
    }
  }
  const columns = new Map();
  const pos = new Map();
  for (const n of g.nodes) {
    const c = depth.get(n.id);
    const row = columns.get(c) || 0;
    columns.set(c, row + 1);
    pos.set(n.id, { x: 20 + c * 170, y: 20 + row * 60 });
  }
  const width = 40 + 170 * (Math.max(0, ...depth.values()) + 1);
  const height = 40 + 60 * Math.max(1, ...columns.values());
  const colors = { succeeded: "#d1fadf", failed: "#fee4e2", running: "#fef0c7", waiting: "#fef0c7", retrying: "#fef0c7", pending: "#f2f4f7" };
  return s("svg", { id: "run-graph", width, height, viewBox: `0 0 ${width} ${height}` },
    g.edges.filter((e) => pos.has(e.from) && pos.has(e.to)).map((e) => {
      const a = pos.get(e.from), b = pos.get(e.to);
      return s("line", { x1: a.x + 140, y1: a.y + 20, x2: b.x, y2: b.y + 20, stroke: e.kind === "catch" ? "#f04438" : "#98a2b3", "stroke-dasharray": e.kind === "needs" ? "" : "4 3" });
    }),
    g.nodes.map((n) => {
      const p = pos.get(n.id);
      return s("g", { "data-step": n.id, "data-state": n.state },
        s("rect", { x: p.x, y: p.y, width: 140, height: 40, rx: 6, fill: colors[n.state] || "#f2f4f7", stroke: "#98a2b3" }),
        s("text", { x: p.x + 8, y: p.y + 17, "font-size": 12, "font-weight": 600 }, n.id),
        s("text", { x: p.x + 8, y: p.y + 32, "font-size": 11, fill: "#475467" }, `${n.kind} · ${n.state}`));
    }));
}

/** The trace as a waterfall: one bar per step attempt and per call, on the run's time axis. */
function waterfall(t) {
  const rows = [];
  for (const step of t.children || []) {
    for (const a of step.children || []) {
      const start = a.started_ms, end = a.finished_ms || start + (a.ms || 0);
      rows.push({ label: `${step.task} #${a.attempt}`, start, end, kind: a.outcome, text: `${a.ms} ms ${a.outcome}` });
      let cursor = start;
      for (const c of a.children || []) {
        rows.push({ label: `↳ ${c.layer} ${c.target}`, start: cursor, end: cursor + (c.ms || 0), kind: c.outcome === "ok" ? "call" : "failed",
          text: `${c.ms} ms${c.cost_usd ? " " + fmt.usd(c.cost_usd) : ""}${c.tokens ? ` ${c.tokens.input}/${c.tokens.output} tok` : ""}` });
        cursor += c.ms || 0;
      }
    }
  }
  const t0 = t.started_ms, total = Math.max(1, (t.finished_ms || Date.now()) - t0);
  const width = 900, label = 260, rowH = 22;
  const colors = { succeeded: "#32d583", failed: "#f97066", call: "#53b1fd", parked: "#fdb022", running: "#fdb022" };
  return s("svg", { id: "run-trace", width, height: rows.length * rowH + 30, viewBox: `0 0 ${width} ${rows.length * rowH + 30}` },
    s("text", { x: 8, y: 16, "font-size": 11, fill: "#475467" }, `trace ${t.trace_id} · ${total} ms · ${fmt.usd(t.cost_usd)}`),
    rows.map((r, i) => {
      const x = label + ((width - label - 120) * (r.start - t0)) / total;
      const w = Math.max(2, ((width - label - 120) * (r.end - r.start)) / total);
      const y = 26 + i * rowH;
      return s("g", { class: "trace-row" },
        s("text", { x: 8, y: y + 13, "font-size": 12 }, r.label),
        s("rect", { x, y: y + 2, width: w, height: 14, fill: colors[r.kind] || "#98a2b3", rx: 2 }),
        s("text", { x: x + w + 6, y: y + 13, "font-size": 11, fill: "#475467" }, r.text));
    }));
}

// ---- Config --------------------------------------------------------------------------------

async function config(page) {
  const [c, doctor] = await Promise.all([api("/admin/api/config"), api("/admin/api/console/doctor")]);
  put(page,
    h("h1", {}, "Config"),
    h("p", { class: "muted" }, `Generation ${c.generation}, sha256 ${c.sha256}. Secrets are hidden.`),
    h("h2", {}, "Doctor"),
    table(["", "check", "finding", "fix"], doctor.findings.map((f, i) => ({ testid: `finding-${i}`, cells: [h("span", { class: f.status }, f.status), f.check, f.message, f.fix] }))),
    h("h2", {}, "Effective config"),
    h("pre", { id: "config-json" }, JSON.stringify(c.config, null, 2)));
}

// ---- Routing -------------------------------------------------------------------------------

async function route() {
  clearInterval(timer);
  const [path, query] = (location.hash.slice(1) || "/overview").split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean);
  const name = parts[0] === "runs" ? "workflows" : parts[0];
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.page === name);
  const page = $("page");
  page.setAttribute("data-page", parts[0] || "overview");
  page.setAttribute("aria-busy", "true");
  try {
    if (parts[0] === "runs" && parts[1]) await run(page, decodeURIComponent(parts[1]));
    else if (name === "models") await models(page, params);
    else if (name === "tools") await tools(page, params);
    else if (name === "workflows") await workflows(page, params);
    else if (name === "config") await config(page);
    else await overview(page);
  } catch (e) {
    if (e.message !== "unauthorized") put(page, h("p", { class: "error" }, e.message));
  }
  page.setAttribute("aria-busy", "false");
}

async function start() {
  $("login").hidden = true;
  $("nav").hidden = false;
  await route();
}

$("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  sessionStorage.setItem("strata-admin-key", $("key").value);
  try {
    await api("/admin/api/console/overview");
    await start();
  } catch (err) {
    if (err.message !== "unauthorized") $("login-error").textContent = err.message;
  }
});
$("logout").addEventListener("click", () => { sessionStorage.removeItem("strata-admin-key"); showLogin(); });
window.addEventListener("hashchange", () => { if (!$("nav").hidden) route(); });

api("/admin/api/console/overview").then(start).catch(() => {});
