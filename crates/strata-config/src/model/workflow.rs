//! Workflow definitions: the YAML files `agent.workflows` names. Each file holds one
//! workflow: its input schema, state keys with reducers, defaults, and named steps joined by
//! `needs` (DAG edges) and `next`/`catch`/`choice` (state-machine edges).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::duration::Duration;

/// One workflow definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Workflow {
    /// Unique name; runs start at `POST /v1/workflows/{name}/runs`.
    pub name: String,
    /// What the workflow does (shown in listings and the agent card).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of the run input, checked when a run starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// The run's output, a template over `input`, `state` and `steps`; the whole state when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// State keys and how writes to them merge.
    #[serde(default)]
    pub state: BTreeMap<String, StateKey>,
    /// Timeout and retry policy of every step that does not set its own.
    #[serde(default)]
    pub defaults: StepDefaults,
    /// The whole run fails with `timeout` after this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Free-form labels (shown in listings; skills for the agent card).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, Value>,
    /// What `llm` steps send to models: the session's earlier turns, kept within a token budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<ContextWindow>,
    /// The steps, by name.
    pub steps: BTreeMap<String, Step>,
}

/// The context window of a workflow's model calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContextWindow {
    /// Put the session's earlier turns (its messages in, its answers out) before each `llm`
    /// step's own messages, after its system prompts.
    #[serde(default = "yes")]
    pub history: bool,
    /// Most tokens of messages sent to a model, estimated as one token per 4 characters of
    /// content plus 4 per message.
    pub max_tokens: u32,
    /// What happens to the oldest messages over the budget.
    #[serde(default)]
    pub strategy: WindowStrategy,
    /// The last messages (other than system prompts) always sent, whatever the budget.
    #[serde(default = "default_keep_last")]
    pub keep_last: u32,
    /// The model that writes summaries (`strategy: summarize`); the step's own when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary_model: Option<String>,
}

fn yes() -> bool {
    true
}

fn default_keep_last() -> u32 {
    4
}

/// How a context window sheds messages. System prompts and the last `keep_last` messages stay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WindowStrategy {
    /// Drop the oldest messages until the rest fit.
    #[default]
    TruncateOldest,
    /// Replace the oldest messages by a summary written by a model (through the ai layer).
    Summarize,
}

/// A state key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateKey {
    /// How a write merges with the current value.
    #[serde(default)]
    pub reducer: Reducer,
    /// The value before any write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
}

/// How writes to a state key merge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reducer {
    /// The write replaces the value (two steps that may run at once must not both write it).
    #[default]
    Replace,
    /// Lists: the written list is concatenated, any other value pushed.
    Append,
    /// Objects: merged deeply, the write winning on conflicts.
    Merge,
    /// Numbers: added.
    Add,
}

/// Defaults for every step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepDefaults {
    /// A step attempt fails with `timeout` after this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Retry rules; the first whose `errors` matches the failure applies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retry: Vec<RetryRule>,
}

/// When and how a failed attempt is retried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryRule {
    /// Error classes this rule covers (`timeout`, `rate_limited`, `unavailable`, `bad_request`,
    /// `unauthorized`, `not_found`, `invalid_output`, `tool_error`, `failed`, `internal`, or `all`).
    pub errors: Vec<String>,
    /// Attempts in all, the first included.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Wait before the second attempt.
    #[serde(default = "default_interval")]
    pub interval: Duration,
    /// Each further wait is the previous one times this.
    #[serde(default = "default_backoff")]
    pub backoff: f64,
    /// The longest wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_interval: Option<Duration>,
    /// Randomize each wait between half and all of it.
    #[serde(default)]
    pub jitter: bool,
}

fn default_attempts() -> u32 {
    3
}

fn default_interval() -> Duration {
    Duration::from_secs(1)
}

fn default_backoff() -> f64 {
    2.0
}

/// One step: exactly one kind (`llm`, `tool`, `agent`, `handoff`, `workflow`, `human`, `wait`,
/// `choice`, `parallel`, `succeed`, `fail`; `map` runs an `llm`, `tool`, `agent` or `workflow`
/// once per item) and the edges and policies around it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// A model call through the ai layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<LlmCall>,
    /// A tool call through the mcp layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<ToolCall>,
    /// A message to another agent (a local workflow); its answer is the output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentCall>,
    /// Hands the conversation and control to another agent; its outcome ends this run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff: Option<Handoff>,
    /// A sub-workflow run; its output is the output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<SubWorkflow>,
    /// Parks the run until `POST /v1/runs/{id}/signal` or the timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub human: Option<Human>,
    /// Parks the run for a while.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<Wait>,
    /// Routes to the first branch whose CEL `when` holds, or the `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choice: Option<Vec<ChoiceRule>>,
    /// Runs named branches at once; the output is an object of their outputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<Parallel>,
    /// Runs this step's call once per item of a list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<MapSpec>,
    /// Ends the run successfully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succeed: Option<Succeed>,
    /// Ends the run as failed (compensation runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail: Option<Fail>,

    /// Steps that must have finished before this one runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<String>,
    /// CEL condition; when false the step is skipped (and counts as finished for `needs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// The step to run after this one succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// Where a failure goes instead of failing the run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub catch: Vec<CatchRule>,
    /// How often the step may run in one run (required on cycles of `next`/`catch`/`choice`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_visits: Option<u32>,
    /// State path the output is written to (`key` or `key.field.sub`), through the key's reducer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Per-attempt timeout (overrides `defaults.timeout`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Retry rules (override `defaults.retry`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Vec<RetryRule>>,
    /// Step run, in reverse order of completion, when the run later fails terminally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compensate: Option<String>,
}

/// A chat completion through the ai layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LlmCall {
    /// Model or route name, as the ai layer knows it.
    pub model: String,
    /// Chat messages (`role`, `content`); strings are templates.
    pub messages: Vec<Value>,
    /// When set, the answer must be JSON matching this schema; the parsed object is the output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
}

/// A `tools/call` through the mcp layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    /// Virtual server name.
    pub server: String,
    /// Tool name as the virtual server lists it.
    pub name: String,
    /// Arguments; strings are templates.
    #[serde(default)]
    pub arguments: Value,
}

/// A message to another agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentCall {
    /// The agent (a workflow name).
    pub name: String,
    /// The message (a template); the agent's run gets `{ "message": … }` as input.
    pub message: String,
}

/// Handing control to another agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Handoff {
    /// The agent (a workflow name).
    pub agent: String,
    /// A message (a template); the agent's run gets `{ "message": …, "context": state }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A sub-workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubWorkflow {
    /// The workflow's name.
    pub name: String,
    /// Its input; strings are templates.
    #[serde(default)]
    pub input: Value,
}

/// A human decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Human {
    /// What to ask (a template).
    pub prompt: String,
    /// The step fails with `timeout` when no signal arrives in time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// JSON Schema the signal's data must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
}

/// A pause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Wait {
    /// How long.
    pub duration: Duration,
}

/// One branch of a `choice`: `{ when: CEL, next: step }` or `{ default: step }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChoiceRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// Branches run at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Parallel {
    /// Each branch is one call (`llm`, `tool`, `agent` or `workflow`).
    pub branches: BTreeMap<String, Branch>,
}

/// One call inside `parallel`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Branch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<LlmCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<ToolCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<SubWorkflow>,
}

/// A fan-out over a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MapSpec {
    /// CEL expression giving the list; each element is `item` in the call's templates.
    pub items: String,
    /// Most items in flight at once.
    #[serde(default = "default_concurrency")]
    pub max_concurrency: u32,
    /// Failed items tolerated: a count (`2`) or a share (`50%`); the step fails beyond it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerated_failure: Option<Value>,
}

fn default_concurrency() -> u32 {
    8
}

/// Successful end of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Succeed {
    /// The run's output (a template); the workflow's `output` or the state when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
}

/// Failed end of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fail {
    /// Error class (default `failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What went wrong (a template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Where a failure goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CatchRule {
    /// Error classes caught (`all` for any).
    pub errors: Vec<String>,
    /// The step to run instead.
    pub next: String,
}

/// The error classes a step failure can have.
pub const ERROR_CLASSES: &[&str] = &[
    "timeout",
    "rate_limited",
    "unavailable",
    "bad_request",
    "unauthorized",
    "not_found",
    "invalid_output",
    "tool_error",
    "failed",
    "cancelled",
    "internal",
];

impl Step {
    /// The names of the kinds set on this step, in a fixed order.
    #[must_use]
    pub fn kinds(&self) -> Vec<&'static str> {
        let set = [
            ("llm", self.llm.is_some()),
            ("tool", self.tool.is_some()),
            ("agent", self.agent.is_some()),
            ("handoff", self.handoff.is_some()),
            ("workflow", self.workflow.is_some()),
            ("human", self.human.is_some()),
            ("wait", self.wait.is_some()),
            ("choice", self.choice.is_some()),
            ("parallel", self.parallel.is_some()),
            ("succeed", self.succeed.is_some()),
            ("fail", self.fail.is_some()),
        ];
        set.into_iter()
            .filter(|(_, on)| *on)
            .map(|(k, _)| k)
            .collect()
    }

    /// The steps this one routes to (`next`, `catch`, `choice`).
    #[must_use]
    pub fn routes(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.next.iter().map(String::as_str).collect();
        out.extend(self.catch.iter().map(|c| c.next.as_str()));
        for rule in self.choice.iter().flatten() {
            out.extend(rule.next.as_deref());
            out.extend(rule.default.as_deref());
        }
        out
    }
}

impl Branch {
    /// The names of the kinds set on this branch.
    #[must_use]
    pub fn kinds(&self) -> Vec<&'static str> {
        let set = [
            ("llm", self.llm.is_some()),
            ("tool", self.tool.is_some()),
            ("agent", self.agent.is_some()),
            ("workflow", self.workflow.is_some()),
        ];
        set.into_iter()
            .filter(|(_, on)| *on)
            .map(|(k, _)| k)
            .collect()
    }
}
