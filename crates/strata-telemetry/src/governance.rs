//! Governance metrics of the ai layer: guardrail verdicts, policy refusals, the response
//! cache, and what calls cost.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerdictLabels {
    guardrail: String,
    kind: &'static str,
    side: &'static str,
    action: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CostLabels {
    provider: String,
    model: String,
}

/// The governance metric families.
#[derive(Debug, Clone)]
pub struct Governance {
    verdicts: Family<VerdictLabels, Counter>,
    refusals: Family<RefusalLabels, Counter>,
    cache: Family<CacheLabels, Counter>,
    cost: Family<CostLabels, Counter>,
}

impl Governance {
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let verdicts = Family::<VerdictLabels, Counter>::default();
        registry.register(
            "strata_guardrail_verdicts",
            "Guardrail verdicts, by guardrail, kind, side (request, response) and action taken",
            verdicts.clone(),
        );
        let refusals = Family::<RefusalLabels, Counter>::default();
        registry.register(
            "strata_ai_policy_refusals",
            "Calls refused by policy, by reason (unauthorized, forbidden, rate_limited, budget_exceeded, guardrail)",
            refusals.clone(),
        );
        let cache = Family::<CacheLabels, Counter>::default();
        registry.register(
            "strata_ai_cache_requests",
            "Response cache lookups, by result (hit, miss, bypass)",
            cache.clone(),
        );
        let cost = Family::<CostLabels, Counter>::default();
        registry.register(
            "strata_ai_cost_micro_usd",
            "What served calls cost, in micro-dollars, by provider and model",
            cost.clone(),
        );
        Self {
            verdicts,
            refusals,
            cache,
            cost,
        }
    }

    /// Counts one guardrail verdict.
    pub fn verdict(
        &self,
        guardrail: &str,
        kind: &'static str,
        side: &'static str,
        action: &'static str,
    ) {
        self.verdicts
            .get_or_create(&VerdictLabels {
                guardrail: guardrail.to_string(),
                kind,
                side,
                action,
            })
            .inc();
    }

    /// Counts a call refused by policy.
    pub fn refusal(&self, reason: &'static str) {
        self.refusals.get_or_create(&RefusalLabels { reason }).inc();
    }

    /// Counts a cache lookup.
    pub fn cache(&self, result: &'static str) {
        self.cache.get_or_create(&CacheLabels { result }).inc();
    }

    /// Adds a served call's cost.
    pub fn cost(&self, provider: &str, model: &str, micros: i64) {
        if let Ok(micros) = u64::try_from(micros)
            && micros > 0
        {
            self.cost
                .get_or_create(&CostLabels {
                    provider: provider.to_string(),
                    model: model.to_string(),
                })
                .inc_by(micros);
        }
    }
}
