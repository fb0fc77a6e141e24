//! What a call costs: the built-in, versioned price table (`prices.json`, US dollars per
//! million tokens, so a price is also micro-dollars per token), overridden per provider and
//! model by `pricing:` in the config.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;
use strata_config::{ModelPrice, Provider};

/// The table shipped with this build.
#[derive(Debug, Deserialize)]
struct Table {
    version: String,
    models: HashMap<String, ModelPrice>,
}

static BUILT_IN: LazyLock<Table> = LazyLock::new(|| {
    serde_json::from_str(include_str!("prices.json")).unwrap_or_else(|_| Table {
        version: "invalid".into(),
        models: HashMap::new(),
    })
});

/// The built-in table's version (also shown by `strata spend`).
#[must_use]
pub fn table_version() -> &'static str {
    &BUILT_IN.version
}

/// Tokens of one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
    /// Input tokens read from the provider's prompt cache (part of `input`).
    pub cached: u64,
}

/// Prices of one config generation: the overrides by provider, over the built-in table.
#[derive(Debug, Default)]
pub struct Prices {
    overrides: HashMap<(String, String), ModelPrice>,
}

impl Prices {
    #[must_use]
    pub fn new(providers: &[Provider]) -> Self {
        let overrides = providers
            .iter()
            .flat_map(|p| {
                p.pricing
                    .iter()
                    .map(|(model, price)| ((p.name.clone(), model.clone()), *price))
            })
            .collect();
        Self { overrides }
    }

    /// The price of `model` at `provider`: an override, the table's entry for the name
    /// (without a `vendor/` prefix), or the longest table name the model extends with a
    /// dash (dated versions such as `gpt-4o-2024-08-06`). `None`: unknown, costs nothing.
    #[must_use]
    pub fn price(&self, provider: &str, model: &str) -> Option<ModelPrice> {
        if !self.overrides.is_empty()
            && let Some(p) = self
                .overrides
                .get(&(provider.to_string(), model.to_string()))
        {
            return Some(*p);
        }
        let name = model.rsplit('/').next().unwrap_or(model);
        let models = &BUILT_IN.models;
        if let Some(p) = models.get(name) {
            return Some(*p);
        }
        // The longest name extended with a dash: the prefixes ending before each dash,
        // longest first.
        name.rmatch_indices('-')
            .find_map(|(dash, _)| models.get(&name[..dash]))
            .copied()
    }

    /// The cost in micro-dollars of `tokens` at `price`.
    #[must_use]
    pub fn cost_micros(price: Option<ModelPrice>, tokens: Tokens) -> i64 {
        let Some(price) = price else {
            return 0;
        };
        let cached = tokens.cached.min(tokens.input);
        let fresh = (tokens.input - cached) as f64;
        let cost = fresh * price.input
            + cached as f64 * price.cached_input.unwrap_or(price.input)
            + tokens.output as f64 * price.output;
        cost.round() as i64
    }
}

/// Micro-dollars as dollars, for headers and reports.
#[must_use]
pub fn usd(micros: i64) -> f64 {
    micros as f64 / 1_000_000.0
}

/// Micro-dollars as dollars with six decimals (`0.003400`), in integer arithmetic.
#[must_use]
pub fn usd_text(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let micros = micros.unsigned_abs();
    format!("{sign}{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_table_loads_and_matches_dated_names() {
        assert_ne!(table_version(), "invalid");
        let prices = Prices::default();
        let gpt4o = prices.price("openai", "gpt-4o").unwrap();
        assert_eq!((gpt4o.input, gpt4o.output), (2.5, 10.0));
        assert_eq!(prices.price("openai", "gpt-4o-2024-08-06"), Some(gpt4o));
        assert_eq!(prices.price("openrouter", "openai/gpt-4o"), Some(gpt4o));
        let mini = prices.price("openai", "gpt-4o-mini-2024-07-18").unwrap();
        assert_eq!(mini.input, 0.15, "the longest matching name wins");
        assert!(prices.price("x", "gpt-4ox").is_none());
        assert!(prices.price("x", "my-model").is_none());
    }

    #[test]
    fn overrides_and_costs() {
        let provider: Provider = serde_json::from_value(serde_json::json!({
            "name": "azure", "pricing": { "prod-4o": { "input": 3.0, "output": 12.0, "cached_input": 1.0 } }
        }))
        .unwrap();
        let prices = Prices::new(&[provider]);
        let p = prices.price("azure", "prod-4o");
        assert_eq!(p.map(|p| p.input), Some(3.0));
        assert!(prices.price("other", "prod-4o").is_none());
        let tokens = Tokens {
            input: 1000,
            output: 100,
            cached: 400,
        };
        // 600 × 3 + 400 × 1 + 100 × 12 micro-dollars.
        assert_eq!(Prices::cost_micros(p, tokens), 3400);
        assert_eq!(Prices::cost_micros(None, tokens), 0);
        assert_eq!(usd(3400), 0.0034);
        assert_eq!(usd_text(3400), "0.003400");
        assert_eq!(usd_text(12_000_001), "12.000001");
        assert_eq!(usd_text(0), "0.000000");
        assert_eq!(usd_text(-5), "-0.000005");
    }
}
