//! The console's overview, model traffic, tools and doctor views.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use strata_ai::govern::period::Period;
use strata_config::Budget;
use strata_store::AuditQuery;

use crate::admin::{admin_error, admin_only};
use crate::serve::AppState;

type Params = Query<HashMap<String, String>>;

fn failed(e: impl std::fmt::Display) -> Response {
    admin_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        &e.to_string(),
    )
}

/// A duration such as `24h` from the query, in ms; the refusal's message otherwise.
fn span(q: &HashMap<String, String>, name: &str, default: &str) -> Result<i64, String> {
    let text = q.get(name).map_or(default, String::as_str);
    humantime::parse_duration(text)
        .map(|d| d.as_millis() as i64)
        .map_err(|e| format!("{name}: {e}"))
}

fn invalid(message: &str) -> Response {
    admin_error(StatusCode::BAD_REQUEST, "invalid", message)
}

/// `GET /admin/api/console/overview`: each layer's health and traffic, MCP sessions, runs.
pub(super) async fn overview(State(app): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(refused) = admin_only(&app, &headers) {
        return refused;
    }
    let served: HashMap<&str, bool> = app
        .layers
        .iter()
        .map(|(l, up)| (l.name(), up.load(Ordering::Acquire)))
        .collect();
    let layers: Vec<Value> = app
        .metrics
        .layer_stats()
        .into_iter()
        .filter(|s| s.layer == "admin" || served.contains_key(s.layer))
        .map(|s| {
            let health = match served.get(s.layer) {
                Some(true) | None => "up",
                Some(false) => "down",
            };
            json!({
                "layer": s.layer, "health": health, "requests": s.requests, "errors": s.errors,
                "p50_ms": s.p50_ms, "p99_ms": s.p99_ms, "in_flight": app.metrics.in_flight_now(s.layer),
            })
        })
        .collect();
    let runs = match app.store.run_counts().await {
        Ok(counts) => counts.into_iter().collect::<BTreeMap<_, _>>(),
        Err(e) => return failed(e),
    };
    let storage = app
        .store
        .ping()
        .await
        .map_or_else(|e| e.to_string(), |()| "ok".into());
    let runtime = app.current.load();
    axum::Json(json!({
        "version": strata_core::VERSION,
        "generation": runtime.generation,
        "storage": storage,
        "layers": layers,
        "mcp_sessions": app.deps.mcp.session_count(),
        "runs": runs,
        "now_ms": strata_core::now_ms(),
    }))
    .into_response()
}

/// `GET /admin/api/console/usage?since=24h&bucket=5m&by=model`: model traffic over time,
/// and each budget's use in its current period.
pub(super) async fn usage(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Params,
) -> Response {
    if let Some(refused) = admin_only(&app, &headers) {
        return refused;
    }
    let (since, bucket) = match (span(&q, "since", "24h"), span(&q, "bucket", "1h")) {
        (Ok(s), Ok(b)) => (s, b),
        (Err(m), _) | (_, Err(m)) => return invalid(&m),
    };
    let group = match crate::keys::parse_group(q.get("by").map_or("model", String::as_str)) {
        Ok(g) => g,
        Err(e) => return invalid(&e.to_string()),
    };
    let now = strata_core::now_ms();
    let rows = match app.store.usage_series(now - since, bucket, group).await {
        Ok(rows) => rows,
        Err(e) => return failed(e),
    };
    let series: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "t": r.t, "group": r.group, "requests": r.requests, "errors": r.errors,
                "input_tokens": r.input_tokens, "output_tokens": r.output_tokens,
                "cost_usd": r.cost_micros as f64 / 1e6,
            })
        })
        .collect();
    match budgets(&app, now).await {
        Ok(budgets) => axum::Json(json!({ "bucket_ms": bucket, "since_ms": now - since, "by": group, "series": series, "budgets": budgets })).into_response(),
        Err(e) => failed(e),
    }
}

/// Every key and team with a budget: its limit, period and what it spent in the period.
async fn budgets(app: &AppState, now: i64) -> Result<Vec<Value>, strata_store::StoreError> {
    let runtime = app.current.load_full();
    let auth = &runtime.config.auth;
    let mut wanted: Vec<(&str, &str, &Budget)> = Vec::new();
    wanted.extend(
        auth.keys
            .iter()
            .filter_map(|k| k.budget.as_ref().map(|b| ("key", k.name.as_str(), b))),
    );
    wanted.extend(
        auth.teams
            .iter()
            .filter_map(|t| t.budget.as_ref().map(|b| ("team", t.name.as_str(), b))),
    );
    let mut out = Vec::new();
    for (kind, name, budget) in wanted {
        let period = Period::of(budget.period, now);
        let spent = app
            .store
            .spent_micros(name, kind == "team", period.start_ms)
            .await?;
        out.push(json!({
            "kind": kind, "name": name, "limit_usd": budget.usd, "period": budget.period,
            "spent_usd": spent as f64 / 1e6,
        }));
    }
    for row in app.store.keys().await? {
        if row.revoked_ms.is_some() {
            continue;
        }
        let Some(budget) = row
            .budget
            .as_ref()
            .and_then(|b| serde_json::from_value::<Budget>(b.clone()).ok())
        else {
            continue;
        };
        let period = Period::of(budget.period, now);
        let spent = app
            .store
            .spent_micros(&row.name, false, period.start_ms)
            .await?;
        out.push(json!({
            "kind": "key", "name": row.name, "limit_usd": budget.usd, "period": budget.period,
            "spent_usd": spent as f64 / 1e6,
        }));
    }
    Ok(out)
}

/// `GET /admin/api/console/tools?since=24h`: virtual servers, their upstreams with health
/// from recent calls, and calls and errors per tool (from the audit log).
pub(super) async fn tools(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Params,
) -> Response {
    if let Some(refused) = admin_only(&app, &headers) {
        return refused;
    }
    let since = match span(&q, "since", "24h") {
        Ok(s) => s,
        Err(m) => return invalid(&m),
    };
    let records = match app
        .store
        .audit_records(&AuditQuery {
            layer: Some("mcp".into()),
            action: Some("tools/call".into()),
            since_ms: Some(strata_core::now_ms() - since),
            limit: 10_000,
            ..AuditQuery::default()
        })
        .await
    {
        Ok(r) => r,
        Err(e) => return failed(e),
    };
    // (calls, errors, last error) per tool and per upstream.
    let mut per_tool: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    let mut per_upstream: HashMap<String, (u64, u64, Option<String>)> = HashMap::new();
    for r in &records {
        let failed = r.outcome != strata_store::Outcome::Ok;
        let server = r.server.clone().unwrap_or_default();
        let tool = per_tool
            .entry((server, r.target.clone().unwrap_or_default()))
            .or_default();
        tool.0 += 1;
        tool.1 += u64::from(failed);
        if let Some(upstream) = r.detail.get("upstream").and_then(Value::as_str) {
            let u = per_upstream.entry(upstream.to_string()).or_default();
            u.0 += 1;
            u.1 += u64::from(failed);
            if failed && u.2.is_none() {
                u.2.clone_from(&r.error);
            }
        }
    }
    let runtime = app.current.load_full();
    let mcp = &runtime.config.mcp;
    let servers: Vec<Value> = mcp
        .servers
        .iter()
        .map(|s| {
            let upstreams: Vec<Value> = s
                .upstreams
                .iter()
                .map(|name| {
                    let kind = mcp.upstreams.iter().find(|u| u.name == *name).map_or("?", |u| {
                        if u.stdio.is_some() { "stdio" } else if u.builtin.is_some() { "builtin" } else { "http" }
                    });
                    let (calls, errors, last_error) = per_upstream.get(name).cloned().unwrap_or_default();
                    let health = match (calls, errors) {
                        (0, _) => "idle",
                        (c, e) if e * 2 > c => "failing",
                        (_, 0) => "healthy",
                        _ => "degraded",
                    };
                    json!({ "name": name, "kind": kind, "calls": calls, "errors": errors, "health": health, "last_error": last_error })
                })
                .collect();
            json!({ "name": s.name, "upstreams": upstreams })
        })
        .collect();
    let tools: Vec<Value> = per_tool
        .iter()
        .map(|((server, tool), (calls, errors))| json!({ "server": server, "tool": tool, "calls": calls, "errors": errors }))
        .collect();
    axum::Json(json!({ "servers": servers, "tools": tools, "sampled": records.len() }))
        .into_response()
}

/// `GET /admin/api/console/doctor`: the static checks on the config in effect.
pub(super) async fn doctor(State(app): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(refused) = admin_only(&app, &headers) {
        return refused;
    }
    let source = match &app.config_path {
        Some(path) => std::fs::read_to_string(path).unwrap_or_default(),
        None => String::new(),
    };
    let runtime = app.current.load_full();
    let ctx = crate::doctor::Context {
        config: &runtime.config,
        source: &source,
        replicas: 1,
    };
    let findings = crate::doctor::run_static(&ctx);
    axum::Json(json!({ "findings": findings })).into_response()
}
