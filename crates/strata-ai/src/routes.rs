//! Routes: virtual model names whose calls are spread over provider/model targets by a
//! strategy (priority, weighted, latency, cost, SLA). The order a strategy picks is the
//! order of attempts: the first target serves, the next ones are its fallbacks.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use strata_config::{Route as RouteConfig, Strategy};

use crate::provider::{Candidate, Providers};
use crate::resilience::Breakers;

/// How many recent calls of a target the SLA strategy looks at.
const WINDOW: usize = 100;
/// Weight of the newest observation in the latency average.
const EWMA_ALPHA: f64 = 0.2;

#[derive(Debug, Default)]
struct TargetStats {
    ewma: Option<f64>,
    recent: VecDeque<f64>,
}

/// Observed latency per provider/model, kept across config reloads.
#[derive(Debug, Default)]
pub struct Stats {
    targets: Mutex<HashMap<(String, String), TargetStats>>,
}

impl Stats {
    fn with<T>(&self, provider: &str, model: &str, f: impl FnOnce(&mut TargetStats) -> T) -> T {
        let mut targets = self
            .targets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(targets
            .entry((provider.to_string(), model.to_string()))
            .or_default())
    }

    /// Records one served call's time to first token (streams) or to the answer.
    pub fn observe(&self, provider: &str, model: &str, latency: Duration) {
        let secs = latency.as_secs_f64();
        self.with(provider, model, |s| {
            s.ewma = Some(
                s.ewma
                    .map_or(secs, |e| EWMA_ALPHA * secs + (1.0 - EWMA_ALPHA) * e),
            );
            if s.recent.len() == WINDOW {
                s.recent.pop_front();
            }
            s.recent.push_back(secs);
        });
    }

    fn ewma(&self, provider: &str, model: &str) -> Option<f64> {
        self.with(provider, model, |s| s.ewma)
    }

    fn p95(&self, provider: &str, model: &str) -> Option<f64> {
        self.with(provider, model, |s| {
            if s.recent.is_empty() {
                return None;
            }
            let mut v: Vec<f64> = s.recent.iter().copied().collect();
            v.sort_by(f64::total_cmp);
            let i = ((v.len() as f64 * 0.95).ceil() as usize).clamp(1, v.len()) - 1;
            Some(v[i])
        })
    }
}

#[derive(Debug)]
struct Target {
    candidate: Candidate,
    weight: u32,
    /// USD per million input + output tokens; unknown sorts last.
    cost: f64,
}

#[derive(Debug)]
struct Route {
    strategy: Strategy,
    targets: Vec<Target>,
    objective: Option<Duration>,
}

/// Every configured route.
#[derive(Debug, Default)]
pub struct Routes {
    routes: HashMap<String, Route>,
    stats: Arc<Stats>,
}

impl Routes {
    /// Resolves routes against the providers (validation guarantees they exist).
    #[must_use]
    pub fn new(configs: &[RouteConfig], providers: &Providers, stats: Arc<Stats>) -> Self {
        let routes = configs
            .iter()
            .map(|r| {
                let targets = r
                    .targets
                    .iter()
                    .filter_map(|t| {
                        let provider = providers.iter().find(|p| p.name == t.provider)?.clone();
                        Some(Target {
                            candidate: Candidate {
                                provider,
                                model: t.model.clone(),
                            },
                            weight: t.weight.unwrap_or(1),
                            cost: t.cost.map_or(f64::INFINITY, |c| c.input + c.output),
                        })
                    })
                    .collect();
                let route = Route {
                    strategy: r.strategy,
                    targets,
                    objective: r.objective.as_ref().map(|o| o.ttft_p95.0),
                };
                (r.name.clone(), route)
            })
            .collect();
        Self { routes, stats }
    }

    /// The route names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.routes.keys().map(String::as_str)
    }

    /// The attempts for `model` if it names a route, in the route's strategy order.
    #[must_use]
    pub fn candidates(&self, model: &str, breakers: &Breakers) -> Option<Vec<Candidate>> {
        let route = self.routes.get(model)?;
        let mut order: Vec<&Target> = route.targets.iter().collect();
        let stats = &self.stats;
        let key = |t: &Target| (t.candidate.provider.name.clone(), t.candidate.model.clone());
        match route.strategy {
            Strategy::Priority => {}
            Strategy::Weighted => order = weighted_order(order),
            Strategy::Latency => order.sort_by(|a, b| {
                let (a, b) = (key(a), key(b));
                let ea = stats.ewma(&a.0, &a.1).unwrap_or(0.0);
                let eb = stats.ewma(&b.0, &b.1).unwrap_or(0.0);
                ea.total_cmp(&eb)
            }),
            Strategy::Cost => order.sort_by(|a, b| {
                let open = |t: &Target| breakers.is_open(&t.candidate.provider.name);
                open(a).cmp(&open(b)).then(a.cost.total_cmp(&b.cost))
            }),
            Strategy::Sla => {
                let objective = route.objective.map_or(f64::INFINITY, |d| d.as_secs_f64());
                let p95 = |t: &Target| {
                    let (p, m) = key(t);
                    stats.p95(&p, &m)
                };
                // Unobserved targets count as meeting the objective, so they get tried.
                let meets = |t: &Target| p95(t).is_none_or(|v| v <= objective);
                order.sort_by(|a, b| match (meets(a), meets(b)) {
                    (true, true) => a.cost.total_cmp(&b.cost),
                    (true, false) => std::cmp::Ordering::Less,
                    (false, true) => std::cmp::Ordering::Greater,
                    (false, false) => p95(a)
                        .unwrap_or(f64::INFINITY)
                        .total_cmp(&p95(b).unwrap_or(f64::INFINITY)),
                });
            }
        }
        Some(order.into_iter().map(|t| t.candidate.clone()).collect())
    }
}

/// A random order in which each target comes first with probability weight / total.
fn weighted_order(mut left: Vec<&Target>) -> Vec<&Target> {
    let mut order = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let total: u64 = left.iter().map(|t| u64::from(t.weight.max(1))).sum();
        let mut pick = fastrand::u64(0..total);
        let i = left
            .iter()
            .position(|t| {
                let w = u64::from(t.weight.max(1));
                if pick < w {
                    true
                } else {
                    pick -= w;
                    false
                }
            })
            .unwrap_or(0);
        order.push(left.remove(i));
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(yaml: &str) -> (Routes, Arc<Stats>, Breakers) {
        let config = strata_config::load_str(yaml, "t.yaml", &|_| None).unwrap();
        let providers = Providers::new(&config.ai.providers, &|_| None, &reqwest::Client::new());
        let stats = Arc::new(Stats::default());
        let routes = Routes::new(&config.ai.routes, &providers, stats.clone());
        (routes, stats, Breakers::new(config.ai.circuit_breaker))
    }

    const PROVIDERS: &str = "ai:\n  providers:\n    - { name: a, kind: mock }\n    - { name: b, kind: mock }\n    - { name: c, kind: mock }\n  routes:\n";

    fn first(routes: &Routes, breakers: &Breakers, name: &str) -> String {
        routes.candidates(name, breakers).unwrap()[0]
            .provider
            .name
            .clone()
    }

    #[test]
    fn priority_keeps_the_listed_order_and_unknown_names_are_not_routes() {
        let (routes, _, breakers) = setup(&format!(
            "{PROVIDERS}    - {{ name: r, targets: [{{ provider: b, model: x }}, {{ provider: a, model: y }}] }}\n"
        ));
        let order: Vec<(String, String)> = routes
            .candidates("r", &breakers)
            .unwrap()
            .iter()
            .map(|c| (c.provider.name.clone(), c.model.clone()))
            .collect();
        assert_eq!(order, [("b".into(), "x".into()), ("a".into(), "y".into())]);
        assert!(routes.candidates("other", &breakers).is_none());
    }

    #[test]
    fn weighted_spreads_in_proportion() {
        let (routes, _, breakers) = setup(&format!(
            "{PROVIDERS}    - {{ name: r, strategy: weighted, targets: [{{ provider: a, model: m, weight: 3 }}, {{ provider: b, model: m, weight: 1 }}] }}\n"
        ));
        let a = (0..4000)
            .filter(|_| first(&routes, &breakers, "r") == "a")
            .count();
        assert!(
            (2800..3200).contains(&a),
            "{a} of 4000 should be about 3000"
        );
    }

    #[test]
    fn latency_prefers_the_fastest_observed() {
        let (routes, stats, breakers) = setup(&format!(
            "{PROVIDERS}    - {{ name: r, strategy: latency, targets: [{{ provider: a, model: m }}, {{ provider: b, model: m }}] }}\n"
        ));
        stats.observe("a", "m", Duration::from_millis(300));
        stats.observe("b", "m", Duration::from_millis(100));
        assert_eq!(first(&routes, &breakers, "r"), "b");
        for _ in 0..20 {
            stats.observe("b", "m", Duration::from_millis(900));
        }
        assert_eq!(
            first(&routes, &breakers, "r"),
            "a",
            "the average follows b slowing down"
        );
    }

    #[test]
    fn cost_picks_the_cheapest_healthy_target() {
        let (routes, _, breakers) = setup(&format!(
            "{PROVIDERS}  circuit_breaker: {{ failures: 1, cooldown: 1m }}\n  routes:\n    - {{ name: r, strategy: cost, targets: [{{ provider: a, model: m, cost: {{ input: 5, output: 15 }} }}, {{ provider: b, model: m, cost: {{ input: 0.5, output: 1.5 }} }}, {{ provider: c, model: m }}] }}\n"
        ).replacen("  routes:\n  circuit_breaker", "  circuit_breaker", 1));
        assert_eq!(first(&routes, &breakers, "r"), "b");
        breakers.failure("b");
        assert_eq!(first(&routes, &breakers, "r"), "a", "b's breaker is open");
        let order = routes.candidates("r", &breakers).unwrap();
        assert_eq!(order.last().unwrap().provider.name, "b");
    }

    #[test]
    fn sla_picks_the_cheapest_meeting_the_objective_else_the_fastest() {
        let (routes, stats, breakers) = setup(&format!(
            "{PROVIDERS}    - {{ name: r, strategy: sla, objective: {{ ttft_p95: 200ms }}, targets: [{{ provider: a, model: m, cost: {{ input: 10, output: 30 }} }}, {{ provider: b, model: m, cost: {{ input: 1, output: 2 }} }}] }}\n"
        ));
        for _ in 0..50 {
            stats.observe("a", "m", Duration::from_millis(100));
            stats.observe("b", "m", Duration::from_millis(150));
        }
        assert_eq!(
            first(&routes, &breakers, "r"),
            "b",
            "both meet it; b is cheaper"
        );
        for _ in 0..50 {
            stats.observe("b", "m", Duration::from_millis(400));
        }
        assert_eq!(
            first(&routes, &breakers, "r"),
            "a",
            "b no longer meets the objective"
        );
        for _ in 0..100 {
            stats.observe("a", "m", Duration::from_millis(900));
        }
        assert_eq!(
            first(&routes, &breakers, "r"),
            "b",
            "neither meets it: the fastest"
        );
    }
}
