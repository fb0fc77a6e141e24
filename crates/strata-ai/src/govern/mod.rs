//! Governance of every model call, in the order the request path meets it: identify the key,
//! authorize the model, admit the call (rate and concurrency limits, request guardrails,
//! token and budget reservations), and after the answer: response guardrails, cost, the
//! usage ledger, and settling what was reserved with what was really used.

pub mod cache;
mod cost_stream;
mod estimate;
mod hook_stream;
pub mod period;
mod respond;
mod sse_stage;
mod stream;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use serde_json::Value;
use strata_config::{Config, GuardSide, KeyLimits, Team};
use strata_policy::guard::{Guards, Library, Verdict};
use strata_policy::limits::{BudgetReservation, LimitError, Limiter, Permit, TokenReservation};
use strata_policy::{ApiKeys, KeyIdentity, ModelAccess, StoredKeys};
use strata_store::{BatchWriter, Store, UsageRecord};

use crate::AiError;
use crate::convert::Format;
use crate::pricing::Prices;
use crate::upstream::Operation;

pub use estimate::warm_up;
pub use respond::{answer, cached};

/// What governance keeps across config generations.
#[derive(Clone)]
pub struct Shared {
    /// Rate limits, concurrency and budgets: per process, or shared through Redis.
    pub limiter: Limiter,
    /// Keys created at run time.
    pub stored_keys: Arc<StoredKeys>,
    /// The usage ledger's writer (none without a store: usage is then only in metrics).
    pub usage: Option<BatchWriter<UsageRecord>>,
    /// Where budgets' counters start from (the ledger).
    pub store: Option<Store>,
    /// Budget counters this process has seeded from the ledger.
    seeded: Arc<Mutex<HashSet<String>>>,
    /// The shared Redis, for the response cache.
    redis: Option<redis::aio::ConnectionManager>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("limiter", &self.limiter)
            .field("stored_keys", &self.stored_keys.len())
            .field("redis", &self.redis.is_some())
            .finish_non_exhaustive()
    }
}

impl Shared {
    #[must_use]
    pub fn new(
        limiter: Limiter,
        stored_keys: Arc<StoredKeys>,
        usage: Option<BatchWriter<UsageRecord>>,
        store: Option<Store>,
    ) -> Self {
        Self {
            limiter,
            stored_keys,
            usage,
            store,
            seeded: Arc::default(),
            redis: None,
        }
    }

    /// Keeps cached answers in this Redis (shared by replicas) instead of in memory.
    #[must_use]
    pub fn with_redis(mut self, conn: redis::aio::ConnectionManager) -> Self {
        self.redis = Some(conn);
        self
    }
}

impl Default for Shared {
    fn default() -> Self {
        Self::new(Limiter::local(), Arc::default(), None, None)
    }
}

/// One config generation's governance.
#[derive(Debug)]
pub struct Governance {
    pub keys: ApiKeys,
    /// Access tokens (JWT) accepted besides keys, when `auth.jwt` is set.
    jwt: Option<strata_policy::jwt::JwtValidator>,
    access: ModelAccess,
    /// Keys that may act for a run's principal.
    delegation: strata_policy::Delegation,
    teams: HashMap<String, Team>,
    guards: Library,
    provider_guards: HashMap<String, Vec<String>>,
    route_guards: HashMap<String, Vec<String>>,
    pub prices: Arc<Prices>,
    /// The response cache (when `ai.cache` is set).
    pub cache: Option<cache::ResponseCache>,
    pub shared: Shared,
    pub metrics: strata_telemetry::Metrics,
}

/// A call admitted by policy: what it holds until it ends.
#[derive(Debug)]
pub struct Ticket {
    pub who: Option<Arc<KeyIdentity>>,
    pub operation: Operation,
    pub format: Format,
    pub model: String,
    pub stream: bool,
    /// The body to send (rewritten when a request guardrail redacted something).
    pub body: Bytes,
    /// Guardrails for the answer.
    pub response_guards: Guards,
    /// Verdicts so far.
    pub verdicts: Vec<Verdict>,
    /// `hit`, `miss` or `bypass` when the response cache was consulted.
    pub cache: Option<&'static str>,
    pub started: Instant,
    /// The caller's trace (its `traceparent`, or the request's span), for the usage record.
    pub trace_id: Option<String>,
    /// The client asked for a stream's usage (OpenAI `stream_options.include_usage`; the
    /// other APIs always report it). The gateway always asks providers for it.
    pub client_usage: bool,
    estimate: estimate::Estimate,
    permits: Vec<Permit>,
    tokens: Vec<TokenReservation>,
    budgets: Vec<BudgetReservation>,
}

/// A limiter failure as the client sees it.
fn limit_error(e: LimitError) -> AiError {
    match e {
        LimitError::Denied(denied) => {
            if denied.limit == strata_policy::limits::LimitKind::Budget {
                AiError::BudgetExceeded {
                    message: denied.message,
                    retry_after: denied.retry_after,
                }
            } else {
                AiError::RateLimited {
                    message: denied.message,
                    retry_after: denied.retry_after,
                }
            }
        }
        LimitError::Redis(e) => AiError::PolicyUnavailable(e),
    }
}

/// Counts guardrail verdicts in the metrics.
fn count(metrics: &strata_telemetry::Metrics, verdicts: &[Verdict]) {
    for v in verdicts {
        metrics.governance().verdict(
            &v.guardrail,
            kind_name(v.kind),
            side_name(v.side),
            action_name(v.action),
        );
    }
}

fn kind_name(kind: strata_config::GuardrailKind) -> &'static str {
    use strata_config::GuardrailKind as K;
    match kind {
        K::PiiRedaction => "pii_redaction",
        K::ToxicityFilter => "toxicity_filter",
        K::PromptInjection => "prompt_injection",
        K::Regex => "regex",
        K::Webhook => "webhook",
    }
}

fn action_name(action: strata_config::GuardAction) -> &'static str {
    use strata_config::GuardAction as A;
    match action {
        A::Redact => "redact",
        A::Mask => "mask",
        A::Block => "block",
        A::Flag => "flag",
    }
}

fn side_name(side: GuardSide) -> &'static str {
    match side {
        GuardSide::Request => "request",
        GuardSide::Response => "response",
    }
}

impl Governance {
    /// Governance of `config`; fails on a guardrail that cannot be built.
    pub fn new(
        config: &Config,
        shared: Shared,
        http: reqwest::Client,
        metrics: strata_telemetry::Metrics,
    ) -> Result<Self, AiError> {
        let guards = Library::new(&config.ai.guardrails, http.clone())
            .map_err(|e| AiError::BadRequest(format!("guardrails: {e}")))?;
        let jwt = match &config.auth.jwt {
            Some(jwt) => Some(
                strata_policy::jwt::JwtValidator::new(jwt, http)
                    .map_err(|e| AiError::BadRequest(format!("auth.jwt: {e}")))?,
            ),
            None => None,
        };
        let limited = config
            .auth
            .keys
            .iter()
            .any(|k| k.limits.is_some() || k.budget.is_some())
            || !config.auth.teams.is_empty()
            || !shared.stored_keys.is_empty();
        if limited {
            warm_up();
        }
        Ok(Self {
            keys: ApiKeys::with_stored(&config.auth.keys, shared.stored_keys.clone()),
            jwt,
            access: ModelAccess::new(&config.auth),
            delegation: strata_policy::Delegation::new(&config.auth),
            teams: config
                .auth
                .teams
                .iter()
                .map(|t| (t.name.clone(), t.clone()))
                .collect(),
            guards,
            provider_guards: config
                .ai
                .providers
                .iter()
                .map(|p| (p.name.clone(), p.guardrails.clone()))
                .collect(),
            route_guards: config
                .ai
                .routes
                .iter()
                .map(|r| (r.name.clone(), r.guardrails.clone()))
                .collect(),
            prices: Arc::new(Prices::new(&config.ai.providers)),
            cache: config
                .ai
                .cache
                .as_ref()
                .map(|c| cache::ResponseCache::new(c, shared.redis.clone())),
            shared,
            metrics,
        })
    }

    /// Who is calling: a key, or an access token (JWT) when `auth.jwt` is set. An
    /// in-process caller (the agent layer) was authenticated by its own layer and names its
    /// principal; a key of that name is then held to its limits.
    pub async fn identify(
        &self,
        headers: &http::HeaderMap,
        principal: Option<&strata_core::Principal>,
    ) -> Result<Option<Arc<KeyIdentity>>, AiError> {
        if let Some(principal) = principal {
            return Ok(principal.name.as_deref().and_then(|n| self.keys.by_name(n)));
        }
        if !self.keys.enabled() && self.jwt.is_none() {
            return Ok(None);
        }
        let presented = strata_policy::presented_key(headers);
        if let Some(who) = presented.and_then(|key| self.keys.verify(key)) {
            // The agent tier acting for a run's principal: that principal's key applies.
            if let Some(principal) = self.delegation.acting_for(&who, headers) {
                return Ok(Some(self.keys.by_name(principal).unwrap_or_else(|| {
                    Arc::new(KeyIdentity::holder(principal.to_string(), Vec::new()))
                })));
            }
            return Ok(Some(who));
        }
        if let (Some(jwt), Some(token)) = (&self.jwt, presented) {
            match jwt.validate(token, None).await {
                Ok(claims) => {
                    // A token's holder has its roles; limits and budgets belong to keys.
                    let holder = KeyIdentity::holder(jwt.principal(&claims), claims.roles);
                    return Ok(Some(Arc::new(holder)));
                }
                Err(e) => tracing::info!(error = %e, "access token refused"),
            }
        }
        self.metrics.governance().refusal("unauthorized");
        Err(AiError::Unauthorized)
    }

    /// Whether the key may use the model (without counting a refusal).
    #[must_use]
    pub fn allows(&self, key: &KeyIdentity, model: &str) -> bool {
        self.access.allows(key, model)
    }

    /// Whether the key may use the model.
    pub fn authorize(&self, who: Option<&KeyIdentity>, model: &str) -> Result<(), AiError> {
        match who {
            Some(key) if !self.access.allows(key, model) => {
                self.metrics.governance().refusal("forbidden");
                Err(AiError::Forbidden {
                    key: key.name.clone(),
                    model: model.to_string(),
                })
            }
            _ => Ok(()),
        }
    }

    /// The guardrails of a call: the key's, the route's, and those of every provider that
    /// may serve it (the request is checked once, before the first attempt).
    fn guards_for(
        &self,
        who: Option<&KeyIdentity>,
        model: &str,
        providers: &[String],
    ) -> Result<Guards, AiError> {
        let mut names: Vec<&str> = Vec::new();
        if let Some(key) = who {
            names.extend(key.guardrails.iter().map(String::as_str));
        }
        if let Some(route) = self.route_guards.get(model) {
            names.extend(route.iter().map(String::as_str));
        }
        for provider in providers {
            if let Some(list) = self.provider_guards.get(provider) {
                names.extend(list.iter().map(String::as_str));
            }
        }
        self.guards
            .resolve(names)
            .map_err(|e| AiError::BadRequest(format!("guardrails: {e}")))
    }

    /// The limits that apply to a key: its own and its team's, with their scopes.
    fn limits_of<'a>(&'a self, key: &'a KeyIdentity) -> Vec<(String, &'a KeyLimits)> {
        let mut out = Vec::new();
        if let Some(limits) = &key.limits {
            out.push((format!("key:{}", key.name), limits));
        }
        if let Some(team) = key.team.as_ref().and_then(|t| self.teams.get(t))
            && let Some(limits) = &team.limits
        {
            out.push((format!("team:{}", team.name), limits));
        }
        out
    }

    /// Admits a call: limits, request guardrails, reservations. Refusals are errors in the
    /// client's API shape; whatever was taken is given back when the ticket drops.
    #[allow(clippy::too_many_arguments)]
    pub async fn admit(
        &self,
        who: Option<Arc<KeyIdentity>>,
        operation: Operation,
        format: Format,
        model: &str,
        stream: bool,
        body: Bytes,
        providers: &(dyn Fn() -> Vec<String> + Sync),
    ) -> Result<Ticket, AiError> {
        let started = Instant::now();
        let limiter = &self.shared.limiter;
        let mut ticket = Ticket {
            who: who.clone(),
            operation,
            format,
            model: model.to_string(),
            stream,
            client_usage: true,
            body,
            response_guards: Guards::default(),
            verdicts: Vec::new(),
            cache: None,
            started,
            trace_id: None,
            estimate: estimate::Estimate::default(),
            permits: Vec::new(),
            tokens: Vec::new(),
            budgets: Vec::new(),
        };
        let limits = who
            .as_deref()
            .map(|k| self.limits_of(k))
            .unwrap_or_default();
        for (scope, limit) in &limits {
            if let Some(rpm) = limit.rpm {
                limiter
                    .request(scope, rpm)
                    .await
                    .map_err(|e| self.refused(e))?;
            }
            if let Some(max) = limit.concurrent {
                let permit = limiter
                    .enter(scope, max)
                    .await
                    .map_err(|e| self.refused(e))?;
                ticket.permits.push(permit);
            }
        }
        let providers = if self.provider_guards.values().any(|g| !g.is_empty())
            || who
                .as_ref()
                .is_some_and(|k| k.budget.is_some() || k.team.is_some())
        {
            providers()
        } else {
            Vec::new()
        };
        let guards = self.guards_for(who.as_deref(), model, &providers)?;
        ticket.response_guards = guards.clone();
        let budgets = who
            .as_deref()
            .map(|k| self.budgets_of(k))
            .unwrap_or_default();
        let needs_estimate = !budgets.is_empty() || limits.iter().any(|(_, l)| l.tpm.is_some());
        if guards.applies_to(GuardSide::Request) || needs_estimate {
            let mut parsed: Value = serde_json::from_slice(&ticket.body).map_err(|e| {
                AiError::BadRequest(format!("the request body is not valid JSON: {e}"))
            })?;
            if guards.applies_to(GuardSide::Request) {
                match guards.check_json(GuardSide::Request, &mut parsed).await {
                    Ok(verdicts) => {
                        if verdicts.iter().any(respond::rewrote) {
                            ticket.body = Bytes::from(parsed.to_string());
                        }
                        ticket.verdicts.extend(verdicts);
                    }
                    Err(blocked) => {
                        self.count_verdicts(&blocked.verdicts);
                        self.metrics.governance().refusal("guardrail");
                        let e = AiError::Guardrail {
                            guardrail: blocked.guardrail,
                            side: side_name(blocked.side),
                            reason: blocked.reason,
                        };
                        // The refused call is in the ledger too, with its verdicts.
                        ticket.verdicts.extend(blocked.verdicts);
                        respond::finish(self, ticket, e.status().as_u16(), None).await;
                        return Err(e);
                    }
                }
            }
            ticket.estimate = estimate::request(format, model, &parsed);
        }
        for (scope, limit) in &limits {
            if let Some(tpm) = limit.tpm {
                // An estimate above the whole minute's allowance would never pass: hold the
                // allowance; the real count is charged when the call ends.
                let held = limiter
                    .reserve_tokens(scope, tpm, ticket.estimate.total().min(tpm))
                    .await
                    .map_err(|e| self.refused(e))?;
                ticket.tokens.push(held);
            }
        }
        if !budgets.is_empty() {
            let price = providers.first().and_then(|p| self.prices.price(p, model));
            let estimate = Prices::cost_micros(
                price,
                crate::pricing::Tokens {
                    input: ticket.estimate.input,
                    output: ticket.estimate.output,
                    cached: 0,
                },
            );
            for budget in budgets {
                self.seed(&budget).await?;
                let held = limiter
                    .reserve_budget(&budget.counter, budget.limit_micros, estimate)
                    .await
                    .map_err(|e| match e {
                        LimitError::Denied(mut denied) => {
                            denied.retry_after = budget.period.remaining;
                            denied.message = format!(
                                "the {} budget of {} (${}) is spent",
                                budget.period_name,
                                budget.owner.replacen(':', " ", 1),
                                budget.usd
                            );
                            self.refused(LimitError::Denied(denied))
                        }
                        other => self.refused(other),
                    })?;
                ticket.budgets.push(held);
            }
        }
        self.count_verdicts(&ticket.verdicts);
        Ok(ticket)
    }

    fn refused(&self, e: LimitError) -> AiError {
        let e = limit_error(e);
        self.metrics.governance().refusal(e.kind_name());
        e
    }

    pub(crate) fn count_verdicts(&self, verdicts: &[Verdict]) {
        count(&self.metrics, verdicts);
    }

    /// The budgets a key is held to now: its own and its team's.
    fn budgets_of(&self, key: &KeyIdentity) -> Vec<BudgetNow> {
        let now = strata_core::now_ms();
        let mut out = Vec::new();
        let mut push = |owner: String, team: bool, budget: &strata_config::Budget| {
            let period = period::Period::of(budget.period, now);
            out.push(BudgetNow {
                counter: format!("budget:{owner}:{}", period.id),
                limit_micros: (budget.usd * 1_000_000.0).round() as i64,
                usd: budget.usd,
                period_name: match budget.period {
                    strata_config::BudgetPeriod::Daily => "daily",
                    strata_config::BudgetPeriod::Monthly => "monthly",
                    strata_config::BudgetPeriod::Total => "total",
                },
                owner,
                team,
                period,
            });
        };
        if let Some(budget) = &key.budget {
            push(format!("key:{}", key.name), false, budget);
        }
        if let Some(team) = key.team.as_ref().and_then(|t| self.teams.get(t))
            && let Some(budget) = &team.budget
        {
            push(format!("team:{}", team.name), true, budget);
        }
        out
    }

    /// Starts a budget's counter from the ledger the first time this process meets it.
    async fn seed(&self, budget: &BudgetNow) -> Result<(), AiError> {
        let known = self
            .shared
            .seeded
            .lock()
            .map(|s| s.contains(&budget.counter))
            .unwrap_or(false);
        if known {
            return Ok(());
        }
        let spent = match &self.shared.store {
            Some(store) => {
                let name = budget.owner.split_once(':').map_or("", |(_, n)| n);
                store
                    .spent_micros(name, budget.team, budget.period.start_ms)
                    .await
                    .map_err(|e| AiError::PolicyUnavailable(e.to_string()))?
            }
            None => 0,
        };
        let ttl = budget
            .period
            .remaining
            .unwrap_or(std::time::Duration::from_secs(400 * 86_400))
            + std::time::Duration::from_secs(86_400);
        self.shared
            .limiter
            .seed_budget(&budget.counter, spent, ttl)
            .await
            .map_err(limit_error)?;
        if let Ok(mut seeded) = self.shared.seeded.lock() {
            seeded.insert(budget.counter.clone());
        }
        Ok(())
    }
}

/// One budget as it applies now.
#[derive(Debug)]
struct BudgetNow {
    /// The limiter's counter key.
    counter: String,
    limit_micros: i64,
    usd: f64,
    period_name: &'static str,
    /// `key:NAME` or `team:NAME`.
    owner: String,
    team: bool,
    period: period::Period,
}

impl Ticket {
    /// Gives back what the call held, charging what it really used.
    pub async fn settle(self, limiter: &Limiter, tokens: u64, cost_micros: i64) {
        for held in self.tokens {
            limiter.settle_tokens(held, tokens).await;
        }
        for held in self.budgets {
            limiter.settle_budget(held, cost_micros).await;
        }
        drop(self.permits);
    }

    /// The estimate made at admission (what is charged when the provider reports no usage).
    #[must_use]
    pub fn estimated_tokens(&self) -> u64 {
        self.estimate.total()
    }
}
