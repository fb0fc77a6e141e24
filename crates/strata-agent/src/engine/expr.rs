//! Templates (minijinja) and conditions (CEL) over a run's scope: `input`, `state`, `steps`
//! (each step's latest output), `item` (inside `map`), `error` (the last caught failure) and
//! `run` (`id`, `workflow`).

use std::sync::LazyLock;

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;
use serde_json::{Map, Value};

/// What templates and conditions can read.
#[derive(Debug, Serialize)]
pub struct Scope<'a> {
    pub input: &'a Value,
    pub state: &'a Map<String, Value>,
    pub steps: &'a Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a Value>,
    pub run: &'a Value,
}

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // `{{ state.ticket.class }}` before anything was written renders empty, not an error.
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env
});

/// Renders every string of `value` that holds a template. A string that is one `{{ … }}`
/// expression and nothing else keeps the expression's type (`"{{ state.items }}"` is a list).
pub fn render(value: &Value, scope: &Scope<'_>) -> Result<Value, String> {
    match value {
        Value::String(text) => render_str(text, scope),
        Value::Array(items) => items.iter().map(|v| render(v, scope)).collect(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| Ok((k.clone(), render(v, scope)?)))
            .collect::<Result<Map<_, _>, String>>()
            .map(Value::Object),
        other => Ok(other.clone()),
    }
}

/// Renders one string (see [`render`]).
pub fn render_str(text: &str, scope: &Scope<'_>) -> Result<Value, String> {
    if !text.contains("{{") && !text.contains("{%") {
        return Ok(Value::String(text.to_string()));
    }
    let ctx = minijinja::Value::from(minijinja::value::Serde(scope));
    if let Some(expr) = sole_expression(text) {
        let compiled = TEMPLATES
            .compile_expression(expr)
            .map_err(|e| format!("template `{text}`: {e}"))?;
        let value = compiled
            .eval(ctx)
            .map_err(|e| format!("template `{text}`: {e}"))?;
        if value.is_undefined() || value.is_none() {
            return Ok(Value::Null);
        }
        return serde_json::to_value(&value).map_err(|e| format!("template `{text}`: {e}"));
    }
    TEMPLATES
        .render_str(text, ctx)
        .map(Value::String)
        .map_err(|e| format!("template `{text}`: {e}"))
}

/// The inside of `{{ expr }}` when the string is exactly that.
fn sole_expression(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}") && !inner.contains("{%")).then_some(inner)
}

/// Evaluates a CEL expression to JSON.
pub fn cel(source: &str, scope: &Scope<'_>) -> Result<Value, String> {
    let program = cel::Program::compile(source).map_err(|e| format!("CEL `{source}`: {e}"))?;
    let mut ctx = cel::Context::default();
    let vars: [(&str, Result<(), String>); 4] = [
        ("input", add(&mut ctx, "input", scope.input)),
        ("state", add(&mut ctx, "state", scope.state)),
        ("steps", add(&mut ctx, "steps", scope.steps)),
        ("run", add(&mut ctx, "run", scope.run)),
    ];
    for (name, added) in vars {
        added.map_err(|e| format!("CEL `{source}`: {name}: {e}"))?;
    }
    if let Some(item) = scope.item {
        add(&mut ctx, "item", item)?;
    }
    if let Some(error) = scope.error {
        add(&mut ctx, "error", error)?;
    }
    let value = program
        .execute(&ctx)
        .map_err(|e| format!("CEL `{source}`: {e}"))?;
    value.json().map_err(|e| format!("CEL `{source}`: {e}"))
}

fn add(ctx: &mut cel::Context<'_, '_>, name: &str, value: &impl Serialize) -> Result<(), String> {
    ctx.add_variable(name, value).map_err(|e| e.to_string())
}

/// Evaluates a CEL condition; anything but a boolean is an error.
pub fn condition(source: &str, scope: &Scope<'_>) -> Result<bool, String> {
    match cel(source, scope)? {
        Value::Bool(b) => Ok(b),
        other => Err(format!("CEL `{source}` gave {other}, not a boolean")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn with<R>(f: impl FnOnce(&Scope<'_>) -> R) -> R {
        let input = json!({ "ticket": "printer on fire", "n": 3 });
        let state = json!({ "ticket": { "class": { "severity": "high", "topics": ["a", "b"] } } });
        let steps = json!({ "draft": { "id": 7 } });
        let run = json!({ "id": "r1", "workflow": "triage" });
        scope_of(&input, &state, &steps, &run, f)
    }

    fn scope_of<R>(
        input: &Value,
        state: &Value,
        steps: &Value,
        run: &Value,
        f: impl FnOnce(&Scope<'_>) -> R,
    ) -> R {
        f(&Scope {
            input,
            state: state.as_object().unwrap(),
            steps: steps.as_object().unwrap(),
            item: None,
            error: None,
            run,
        })
    }

    #[test]
    fn templates_render_strings_and_keep_types_of_sole_expressions() {
        with(|s| {
            let v = json!({
                "text": "Classify: {{ input.ticket }}",
                "list": "{{ state.ticket.class.topics }}",
                "num": " {{ steps.draft.id }} ",
                "plain": "no template",
                "missing": "[{{ state.nothing.deeper }}]",
                "nested": [{ "n": "{{ input.n + 1 }}" }]
            });
            assert_eq!(
                render(&v, s).unwrap(),
                json!({
                    "text": "Classify: printer on fire",
                    "list": ["a", "b"],
                    "num": 7,
                    "plain": "no template",
                    "missing": "[]",
                    "nested": [{ "n": 4 }]
                })
            );
            assert!(render_str("{{ input.ticket | nosuchfilter }}", s).is_err());
        });
    }

    #[test]
    fn cel_reads_the_scope() {
        with(|s| {
            assert!(condition("state.ticket.class.severity == 'high'", s).unwrap());
            assert!(!condition("input.n > 5", s).unwrap());
            assert_eq!(
                cel("state.ticket.class.topics", s).unwrap(),
                json!(["a", "b"])
            );
            assert_eq!(
                cel("size(state.ticket.class.topics) * 2", s).unwrap(),
                json!(4)
            );
            assert!(
                condition("input.n", s)
                    .unwrap_err()
                    .contains("not a boolean")
            );
            assert!(cel("state.(", s).is_err());
        });
    }
}
