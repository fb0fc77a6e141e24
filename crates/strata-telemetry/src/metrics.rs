//! The Prometheus registry: HTTP traffic per layer, config reloads, build info.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::genai::GenAi;

/// Labels of HTTP metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub layer: &'static str,
    pub method: String,
    pub status: u16,
}

/// Labels of reload metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LayerLabel {
    layer: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

/// Every metric Strata exports. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Family<LayerLabel, Histogram>,
    http_in_flight: Family<LayerLabel, Gauge>,
    config_reloads: Family<ReloadLabels, Counter>,
    config_generation: Gauge,
    genai: GenAi,
    governance: crate::governance::Governance,
    tallies: crate::tally::Tallies,
}

fn latency_histogram() -> Histogram {
    Histogram::new(crate::tally::BUCKETS)
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric registered.
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "strata_http_requests",
            "HTTP requests served, by layer, method and status",
            http_requests.clone(),
        );
        let http_duration =
            Family::<LayerLabel, Histogram>::new_with_constructor(latency_histogram as fn() -> _);
        registry.register(
            "strata_http_request_duration_seconds",
            "Time to the response head, by layer",
            http_duration.clone(),
        );
        let http_in_flight = Family::<LayerLabel, Gauge>::default();
        registry.register(
            "strata_http_requests_in_flight",
            "Requests being served, by layer",
            http_in_flight.clone(),
        );
        let config_reloads = Family::<ReloadLabels, Counter>::default();
        registry.register(
            "strata_config_reloads",
            "Config reload attempts, by result",
            config_reloads.clone(),
        );
        let config_generation = Gauge::default();
        registry.register(
            "strata_config_generation",
            "Generation of the config in effect (1 at start, +1 per applied reload)",
            config_generation.clone(),
        );
        let build_info = Family::<BuildLabels, Gauge>::default();
        build_info
            .get_or_create(&BuildLabels {
                version: strata_core::VERSION,
            })
            .set(1);
        registry.register("strata_build_info", "Build information", build_info);
        let genai = GenAi::register(&mut registry);
        let governance = crate::governance::Governance::register(&mut registry);
        Self {
            inner: Arc::new(Inner {
                registry,
                http_requests,
                http_duration,
                http_in_flight,
                config_reloads,
                config_generation,
                genai,
                governance,
                tallies: crate::tally::Tallies::default(),
            }),
        }
    }

    /// The registry in the OpenMetrics text format.
    #[must_use]
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.inner.registry);
        out
    }

    /// The registry in the Prometheus text format 0.0.4 (what `promtool check metrics` and
    /// older scrapers read).
    #[must_use]
    pub fn encode_prometheus(&self) -> String {
        openmetrics_to_prometheus(&self.encode())
    }

    /// The ai layer's governance metrics (guardrails, refusals, cache, cost).
    #[must_use]
    pub fn governance(&self) -> &crate::governance::Governance {
        &self.inner.governance
    }

    /// The GenAI (model call) metrics.
    #[must_use]
    pub fn genai(&self) -> &GenAi {
        &self.inner.genai
    }

    /// Counts a finished request.
    pub fn http_request(&self, labels: &HttpLabels, seconds: f64) {
        self.inner.http_requests.get_or_create(labels).inc();
        self.inner
            .tallies
            .record(labels.layer, labels.status, seconds);
        self.inner
            .http_duration
            .get_or_create(&LayerLabel {
                layer: labels.layer,
            })
            .observe(seconds);
    }

    /// Tracks requests in flight for a layer; the guard decrements on drop.
    #[must_use]
    pub fn in_flight(&self, layer: &'static str) -> InFlight {
        let gauge = self
            .inner
            .http_in_flight
            .get_or_create(&LayerLabel { layer })
            .clone();
        gauge.inc();
        InFlight(gauge)
    }

    /// Each layer's requests, server errors and latency percentiles since the start.
    #[must_use]
    pub fn layer_stats(&self) -> Vec<crate::tally::LayerStats> {
        self.inner.tallies.snapshot()
    }

    /// Requests each layer is serving now.
    #[must_use]
    pub fn in_flight_now(&self, layer: &'static str) -> i64 {
        self.inner
            .http_in_flight
            .get_or_create(&LayerLabel { layer })
            .get()
    }

    /// Counts a reload attempt (`ok` or `invalid`).
    pub fn config_reload(&self, result: &'static str) {
        self.inner
            .config_reloads
            .get_or_create(&ReloadLabels { result })
            .inc();
    }

    /// Sets the generation of the config in effect.
    pub fn set_config_generation(&self, generation: u64) {
        self.inner
            .config_generation
            .set(i64::try_from(generation).unwrap_or(i64::MAX));
    }
}

/// Rewrites OpenMetrics text as Prometheus text 0.0.4: a counter family `x` is announced as
/// `x_total` (the name its samples carry), and `# UNIT` / `# EOF` lines go.
fn openmetrics_to_prometheus(text: &str) -> String {
    let counters: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        match meta {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                if counters.contains(&name) {
                    out.push_str(&format!("{prefix}{name}_total {tail}"));
                } else {
                    out.push_str(line);
                }
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Decrements the in-flight gauge when dropped.
#[derive(Debug)]
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_registered_metrics() {
        let m = Metrics::new();
        m.http_request(
            &HttpLabels {
                layer: "ai",
                method: "POST".into(),
                status: 200,
            },
            0.002,
        );
        m.config_reload("ok");
        let text = m.encode();
        assert!(
            text.contains(r#"strata_http_requests_total{layer="ai",method="POST",status="200"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"strata_config_reloads_total{result="ok"} 1"#),
            "{text}"
        );
        assert!(text.contains("strata_build_info{version="), "{text}");
    }

    #[test]
    fn prometheus_text_names_counter_families_by_their_samples() {
        let m = Metrics::new();
        m.config_reload("invalid");
        let text = m.encode_prometheus();
        assert!(
            text.contains("# TYPE strata_config_reloads_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains("# HELP strata_config_reloads_total Config reload"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE strata_config_generation gauge\n"),
            "{text}"
        );
        assert!(!text.contains("# EOF"), "{text}");
    }

    #[test]
    fn in_flight_guard_decrements() {
        let m = Metrics::new();
        let guard = m.in_flight("mcp");
        assert!(
            m.encode()
                .contains(r#"strata_http_requests_in_flight{layer="mcp"} 1"#)
        );
        drop(guard);
        assert!(
            m.encode()
                .contains(r#"strata_http_requests_in_flight{layer="mcp"} 0"#)
        );
    }
}
