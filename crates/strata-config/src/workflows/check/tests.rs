#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::super::load_one;
use crate::model::Workflow;
use crate::validate::Report;

/// The workflow of `text`, which must be valid.
fn valid(text: &str) -> Workflow {
    match load_one(text, "wf.yaml", &|_| None) {
        Ok((workflow, _)) => workflow,
        Err(e) => {
            let lines: Vec<String> = e.iter().map(ToString::to_string).collect();
            panic!("workflow was rejected:\n{}", lines.join("\n"))
        }
    }
}

/// The errors of a workflow that must be invalid, as `file:line:col: path: message` lines.
fn errors(text: &str) -> Vec<String> {
    match load_one(text, "wf.yaml", &|_| None) {
        Ok(_) => panic!("workflow was accepted:\n{text}"),
        Err(e) => e.iter().map(ToString::to_string).collect(),
    }
}

fn assert_errors(text: &str, expected: &[&str]) {
    let got = errors(text);
    assert_eq!(got, expected, "got:\n{}", got.join("\n"));
}

/// The example of DESIGN.md, section "Workflow definitions".
const TRIAGE: &str = r#"name: triage
description: Classify a ticket, look up the account, draft a reply.
input: { type: object, required: [ticket] }
state:
  findings: { reducer: append }
  ticket:   { reducer: merge }
defaults:
  timeout: 60s
  retry: [{ errors: [timeout, rate_limited, unavailable], max_attempts: 4, interval: 1s, backoff: 2.0, jitter: true }]
steps:
  classify:
    llm: { model: smart, messages: [{ role: user, content: "Classify: {{ input.ticket }}" }], output_schema: { type: object } }
    output: ticket.class
  lookup:
    needs: [classify]
    tool: { server: dev, name: crm_get_account, arguments: { id: "{{ input.account_id }}" } }
    output: ticket.account
    catch: [{ errors: [all], next: ask_human }]
  research:
    needs: [classify]
    map: { items: "state.ticket.class.topics", max_concurrency: 4, tolerated_failure: 50% }
    agent: { name: kb, message: "{{ item }}" }
    output: findings
  ask_human:
    human: { prompt: "Which account?" }
    output: ticket.account
    next: lookup
    max_visits: 3
  draft:
    needs: [lookup, research]
    llm: { model: writer, messages: [{ role: user, content: "Reply to {{ input.ticket }} using {{ state.findings }}" }] }
    output: answer
    compensate: retract
  route:
    needs: [draft]
    choice: [{ when: "state.ticket.class.severity == 'high'", next: escalate }, { default: done }]
  escalate: { handoff: { agent: oncall } }
  retract: { tool: { server: dev, name: cms_delete_draft, arguments: { id: "{{ steps.draft.id }}" } } }
  done: { succeed: { output: "{{ state.answer }}" } }
"#;

#[test]
fn the_design_example_is_valid() {
    let workflow = valid(TRIAGE);
    assert_eq!(workflow.name, "triage");
    assert_eq!(workflow.steps.len(), 9);
    assert_eq!(workflow.steps["ask_human"].max_visits, Some(3));
}

#[test]
fn each_step_and_branch_has_exactly_one_kind() {
    let text = r#"name: t
steps:
  none:
    output: x
  both:
    llm: { model: m, messages: [] }
    tool: { server: s, name: n }
  mapped:
    map: { items: "input.list" }
    human: { prompt: "Which?" }
  fan:
    parallel:
      branches:
        empty: {}
        two: { agent: { name: a, message: hi }, workflow: { name: w } }
  nobranch:
    parallel: { branches: {} }
"#;
    assert_errors(
        text,
        &[
            "wf.yaml:4:5: steps.none: a step needs exactly one kind: llm, tool, agent, handoff, workflow, human, wait, choice, parallel, succeed or fail",
            "wf.yaml:7:11: steps.both.tool: a step needs exactly one kind, this one has llm and tool",
            "wf.yaml:9:10: steps.mapped.map: `map` runs an llm, tool, agent or workflow call once per item; it cannot run a human step",
            "wf.yaml:14:16: steps.fan.parallel.branches.empty: a branch needs exactly one kind: llm, tool, agent or workflow",
            "wf.yaml:15:59: steps.fan.parallel.branches.two.workflow: a branch needs exactly one kind, this one has agent and workflow",
            "wf.yaml:17:27: steps.nobranch.parallel.branches: a parallel step needs at least one branch",
        ],
    );
}

#[test]
fn a_workflow_needs_steps() {
    assert_errors(
        "name: t\nsteps: {}\n",
        &["wf.yaml:2:8: steps: a workflow needs at least one step"],
    );
}

#[test]
fn step_references_must_exist() {
    let text = r#"name: t
steps:
  first:
    llm: { model: m, messages: [] }
    needs: [first, second, lookp]
    next: ask
    catch: [{ errors: [all], next: nowhere }]
    compensate: first
  second:
    choice:
      - { when: "true", next: finish }
      - { default: finsh }
    next: finish
  lookup:
    tool: { server: s, name: n }
  finish:
    succeed: {}
    next: lookup
  gone:
    handoff: { agent: other }
    next: second
    compensate: undo
"#;
    assert_errors(
        text,
        &[
            "wf.yaml:5:13: steps.first.needs[0]: step `first` cannot need itself",
            "wf.yaml:5:28: steps.first.needs[2]: unknown step `lookp`, did you mean `lookup`?",
            "wf.yaml:6:11: steps.first.next: unknown step `ask` (known: finish, first, gone, lookup, second)",
            "wf.yaml:7:36: steps.first.catch[0].next: unknown step `nowhere` (known: finish, first, gone, lookup, second)",
            "wf.yaml:8:17: steps.first.compensate: step `first` cannot compensate itself",
            "wf.yaml:12:20: steps.second.choice[1].default: unknown step `finsh`, did you mean `finish`?",
            "wf.yaml:13:11: steps.second.next: a choice step cannot have `next`: it routes with its rules",
            "wf.yaml:18:11: steps.finish.next: a succeed step cannot have `next`: it ends the run",
            "wf.yaml:21:11: steps.gone.next: a handoff step cannot have `next`: the other agent's outcome ends the run",
            "wf.yaml:22:17: steps.gone.compensate: unknown step `undo` (known: finish, first, gone, lookup, second)",
        ],
    );
}

#[test]
fn choice_rules_have_one_shape_and_the_default_last() {
    let text = r#"name: t
steps:
  start:
    choice:
      - { default: one }
      - { when: "input.x > 1" }
      - { when: "input.x > 2", next: one, default: one }
      - {}
  one: { succeed: {} }
  empty:
    choice: []
"#;
    assert_errors(
        text,
        &[
            "wf.yaml:5:20: steps.start.choice[0].default: the `default` rule must be the last one",
            "wf.yaml:6:9: steps.start.choice[1]: a choice rule is either `{ when: CEL, next: step }` or `{ default: step }`; this one has `when`",
            "wf.yaml:7:9: steps.start.choice[2]: a choice rule is either `{ when: CEL, next: step }` or `{ default: step }`; this one has `when`, `next` and `default`",
            "wf.yaml:8:9: steps.start.choice[3]: a choice rule is either `{ when: CEL, next: step }` or `{ default: step }`; this one is empty",
            "wf.yaml:11:13: steps.empty.choice: a choice step needs at least one rule",
        ],
    );
}

#[test]
fn needs_must_not_form_a_cycle() {
    let text = r"name: t
steps:
  a: { needs: [c], wait: { duration: 1s } }
  b: { needs: [a], wait: { duration: 1s } }
  c: { needs: [b], wait: { duration: 1s } }
  d: { wait: { duration: 1s } }
";
    assert_errors(
        text,
        &["wf.yaml:3:16: steps.a.needs[0]: cycle in needs: a → c → b → a"],
    );
}

#[test]
fn routing_cycles_need_a_step_with_max_visits() {
    let text = r#"name: t
steps:
  start: { wait: { duration: 1s }, next: check }
  check:
    tool: { server: s, name: n }
    catch: [{ errors: [timeout], next: again }]
  again: { wait: { duration: 1s }, next: check }
  spin: { wait: { duration: 1s }, next: spin }
  bounded_a: { wait: { duration: 1s }, next: bounded_b, max_visits: 2 }
  bounded_b: { wait: { duration: 1s }, next: bounded_a }
  gather: { needs: [start], wait: { duration: 1s } }
  review:
    needs: [gather]
    choice: [{ when: "state.ok", next: done }, { default: gather }]
  done: { succeed: {} }
  zero: { wait: { duration: 1s }, max_visits: 0 }
"#;
    assert_errors(
        text,
        &[
            "wf.yaml:7:42: steps.again.next: cycle again → check → again has no step with max_visits; set max_visits on one of them",
            "wf.yaml:8:41: steps.spin.next: cycle spin → spin has no step with max_visits; set max_visits on one of them",
            "wf.yaml:14:59: steps.review.choice[1].default: cycle review → gather → review has no step with max_visits; set max_visits on one of them",
            "wf.yaml:16:47: steps.zero.max_visits: max_visits must be at least 1 (it counts every run of the step, the first included)",
        ],
    );
}

#[test]
fn some_step_must_start_the_run() {
    let text = r"name: t
steps:
  a: { wait: { duration: 1s }, next: b, max_visits: 2 }
  b: { wait: { duration: 1s }, next: a }
";
    assert_errors(
        text,
        &[
            "wf.yaml:3:3: steps: no step can start the run: every step needs another one or is reached only through next, catch, choice or compensate",
        ],
    );
}

#[test]
fn parallel_steps_must_not_both_write_a_replace_key() {
    let text = r#"name: t
state:
  notes: { reducer: append }
  doc: { reducer: merge }
steps:
  a: { wait: { duration: 1s }, output: result }
  b: { wait: { duration: 1s }, output: result.part }
  c: { needs: [a], wait: { duration: 1s }, output: result }
  d: { wait: { duration: 1s }, output: notes }
  e: { wait: { duration: 1s }, output: notes }
  f: { wait: { duration: 1s }, output: doc.x, next: g }
  g: { wait: { duration: 1s }, output: result }
  h: { needs: [b, c], wait: { duration: 1s }, output: result }
  i: { wait: { duration: 1s }, output: doc.y }
  bad: { wait: { duration: 1s }, output: "state..x" }
  digit: { wait: { duration: 1s }, output: 1st }
"#;
    assert_errors(
        text,
        &[
            "wf.yaml:7:40: steps.b.output: steps `a` and `b` may run at the same time and both write the replace key `result`; give `result` a reducer (append, merge, add) or order them with needs",
            "wf.yaml:8:52: steps.c.output: steps `b` and `c` may run at the same time and both write the replace key `result`; give `result` a reducer (append, merge, add) or order them with needs",
            "wf.yaml:15:42: steps.bad.output: `state..x` is not a state path: write `key` or `key.field.sub`, each part letters, digits and `_`, not starting with a digit",
            "wf.yaml:16:44: steps.digit.output: `1st` is not a state path: write `key` or `key.field.sub`, each part letters, digits and `_`, not starting with a digit",
        ],
    );
}

#[test]
fn conditions_are_cel_and_strings_are_templates() {
    let text = r#"name: t
output: { answer: "{{ state.answer" }
steps:
  a:
    when: "state.x =="
    llm: { model: m, messages: [{ role: user, content: "Hi {{ input.x " }, { role: user, content: "{ not a template }" }] }
    next: route
  route:
    choice: [{ when: "1 +", next: b }, { default: c }]
  b:
    map: { items: "input.(", max_concurrency: 2 }
    tool: { server: s, name: n, arguments: { q: ["ok {{ item }}", { deep: "{% if x %}no end" }] } }
  c:
    agent: { name: kb, message: "{{ item | }}" }
  d:
    handoff: { agent: oncall, message: "{{ }}" }
  e:
    workflow: { name: sub, input: { x: "{{ input.x }}", y: "{% for %}" } }
  f:
    human: { prompt: "Pick {{ state.options" }
  g:
    succeed: { output: ["{{ state.a }}", "{{ state.b"] }
  h:
    fail: { message: "line one\n{{ broken" }
  i:
    parallel:
      branches:
        one: { llm: { model: m, messages: [{ role: user, content: "{{ x" }] } }
        two: { workflow: { name: w, input: "{{ input }}" } }
"#;
    assert_errors(
        text,
        &[
            "wf.yaml:2:19: output.answer: invalid template: syntax error: unexpected end of input, expected end of variable block",
            "wf.yaml:5:11: steps.a.when: invalid CEL expression: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER} (column 11)",
            "wf.yaml:6:56: steps.a.llm.messages[0].content: invalid template: syntax error: unexpected end of input, expected end of variable block",
            "wf.yaml:9:22: steps.route.choice[0].when: invalid CEL expression: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER} (column 4)",
            "wf.yaml:11:19: steps.b.map.items: invalid CEL expression: Syntax error: no viable alternative at input '.(' (column 7)",
            "wf.yaml:12:75: steps.b.tool.arguments.q[1].deep: invalid template: syntax error: unexpected end of input, expected end of block",
            "wf.yaml:14:33: steps.c.agent.message: invalid template: syntax error: unexpected end of variable block, expected identifier",
            "wf.yaml:16:40: steps.d.handoff.message: invalid template: syntax error: unexpected end of variable block",
            "wf.yaml:18:60: steps.e.workflow.input.y: invalid template: syntax error: unexpected end of block, expected in",
            "wf.yaml:20:22: steps.f.human.prompt: invalid template: syntax error: unexpected end of input, expected end of variable block",
            "wf.yaml:22:42: steps.g.succeed.output[1]: invalid template: syntax error: unexpected end of input, expected end of variable block",
            "wf.yaml:24:22: steps.h.fail.message: invalid template: syntax error: unexpected end of input, expected end of variable block (line 2 of the template)",
            "wf.yaml:28:67: steps.i.parallel.branches.one.llm.messages[0].content: invalid template: syntax error: unexpected end of input, expected end of variable block",
        ],
    );
}

#[test]
fn error_classes_retry_map_and_state_defaults() {
    let text = r#"name: t
state:
  total: { reducer: add, default: "zero" }
  items: { reducer: append, default: {} }
  doc: { reducer: merge, default: [] }
  count: { reducer: add, default: 0 }
  list: { reducer: append, default: [] }
  plain: { default: whatever }
defaults:
  retry: [{ errors: [timout], max_attempts: 0, backoff: 0.5 }]
steps:
  a:
    tool: { server: s, name: n }
    retry: [{ errors: [] }, { errors: [all, unavailable] }]
    catch: [{ errors: [all, nope], next: b }]
    map: { items: "input.list", max_concurrency: 0, tolerated_failure: 150% }
  b: { fail: { error: boom } }
  c: { fail: { error: all } }
  counts:
    tool: { server: s, name: n }
    map: { items: "input.list", tolerated_failure: 2 }
  share:
    tool: { server: s, name: n }
    map: { items: "input.list", tolerated_failure: " 12.5 %" }
  negative:
    tool: { server: s, name: n }
    map: { items: "input.list", tolerated_failure: -1 }
  fraction:
    tool: { server: s, name: n }
    map: { items: "input.list", tolerated_failure: 2.5 }
  words:
    tool: { server: s, name: n }
    map: { items: "input.list", tolerated_failure: half }
"#;
    assert_errors(
        text,
        &[
            "wf.yaml:3:35: state.total.default: state key `total` uses the add reducer, so its default must be a number",
            "wf.yaml:4:38: state.items.default: state key `items` uses the append reducer, so its default must be a list",
            "wf.yaml:5:35: state.doc.default: state key `doc` uses the merge reducer, so its default must be an object",
            "wf.yaml:10:22: defaults.retry[0].errors[0]: unknown error class `timout`, did you mean `timeout`?",
            "wf.yaml:10:45: defaults.retry[0].max_attempts: max_attempts must be at least 1 (it counts the first attempt)",
            "wf.yaml:10:57: defaults.retry[0].backoff: backoff must be at least 1.0 (each wait is the previous one times it), found 0.5",
            "wf.yaml:14:23: steps.a.retry[0].errors: list at least one error class (or `all`)",
            "wf.yaml:15:29: steps.a.catch[0].errors[1]: unknown error class `nope` (known: timeout, rate_limited, unavailable, bad_request, unauthorized, not_found, invalid_output, tool_error, failed, cancelled, internal, all)",
            "wf.yaml:16:50: steps.a.map.max_concurrency: max_concurrency must be at least 1",
            "wf.yaml:16:72: steps.a.map.tolerated_failure: tolerated_failure is a count of items (`2`) or a share from 0% to 100% (`50%`), found `150%`",
            "wf.yaml:17:23: steps.b.fail.error: unknown error class `boom` (known: timeout, rate_limited, unavailable, bad_request, unauthorized, not_found, invalid_output, tool_error, failed, cancelled, internal)",
            "wf.yaml:18:23: steps.c.fail.error: unknown error class `all` (known: timeout, rate_limited, unavailable, bad_request, unauthorized, not_found, invalid_output, tool_error, failed, cancelled, internal)",
            "wf.yaml:27:52: steps.negative.map.tolerated_failure: tolerated_failure is a count of items (`2`) or a share from 0% to 100% (`50%`), found -1",
            "wf.yaml:30:52: steps.fraction.map.tolerated_failure: tolerated_failure is a count of items (`2`) or a share from 0% to 100% (`50%`), found 2.5",
            "wf.yaml:33:52: steps.words.map.tolerated_failure: tolerated_failure is a count of items (`2`) or a share from 0% to 100% (`50%`), found `half`",
        ],
    );
}

#[test]
fn embedded_json_schemas_must_be_valid() {
    let text = r#"name: t
input: { type: objekt }
steps:
  a:
    llm: { model: m, messages: [], output_schema: { type: object, required: yes } }
    next: h
  h:
    human: { prompt: "Which?", schema: { properties: { id: { type: 3 } } } }
"#;
    assert_errors(
        text,
        &[
            "wf.yaml:2:16: input.type: invalid JSON Schema: \"objekt\" is not valid under any of the schemas listed in the 'anyOf' keyword",
            "wf.yaml:5:77: steps.a.llm.output_schema.required: invalid JSON Schema: \"yes\" is not of type \"array\"",
            "wf.yaml:8:68: steps.h.human.schema.properties.id.type: invalid JSON Schema: 3 is not valid under any of the schemas listed in the 'anyOf' keyword",
        ],
    );
}

/// The errors `references` finds in `workflow` against `config` and the workflow names.
fn reference_errors(workflow: &str, config: &str, names: &[&str]) -> Vec<String> {
    let config = crate::load_str(config, "strata.yaml", &|_| None).unwrap();
    let (workflow, tree) = load_one(workflow, "wf.yaml", &|_| None).unwrap();
    let mut report = Report::new("wf.yaml", &tree);
    let names: Vec<String> = names.iter().map(ToString::to_string).collect();
    super::references(&mut report, &workflow, &config, &names);
    report.errors.iter().map(ToString::to_string).collect()
}

const CONFIG: &str = r"ai:
  providers:
    - { name: openai, models: [smart, writer] }
mcp:
  upstreams:
    - { name: fs, stdio: { command: npx } }
  servers:
    - { name: dev, upstreams: [fs] }
";

#[test]
fn references_to_workflows_servers_and_models() {
    let all = ["triage", "kb", "oncall"];
    assert!(reference_errors(TRIAGE, CONFIG, &all).is_empty());

    let text = r#"name: t
steps:
  a: { llm: { model: smrt, messages: [] }, next: b }
  b: { tool: { server: prod, name: x }, next: c }
  c: { agent: { name: kbb, message: hi }, next: d }
  d: { workflow: { name: nothing }, next: e }
  e: { handoff: { agent: oncal } }
  f:
    parallel:
      branches:
        one: { llm: { model: gpt-5, messages: [] } }
        two: { tool: { server: dev, name: x } }
        three: { workflow: { name: triage } }
"#;
    assert_eq!(
        reference_errors(text, CONFIG, &all),
        [
            "wf.yaml:3:22: steps.a.llm.model: unknown model `smrt`, did you mean `smart`?",
            "wf.yaml:4:24: steps.b.tool.server: unknown virtual server `prod` (known: dev)",
            "wf.yaml:5:23: steps.c.agent.name: unknown agent `kbb`, did you mean `kb`?",
            "wf.yaml:6:26: steps.d.workflow.name: unknown workflow `nothing` (known: triage, kb, oncall)",
            "wf.yaml:7:26: steps.e.handoff.agent: unknown agent `oncal`, did you mean `oncall`?",
            "wf.yaml:11:30: steps.f.parallel.branches.one.llm.model: unknown model `gpt-5` (known: smart, writer)",
        ]
    );

    // A provider without a model list serves any model; no servers means none is known.
    let open = "ai:\n  providers:\n    - { name: openai }\n";
    assert_eq!(
        reference_errors(text, open, &all)
            .iter()
            .filter(|e| e.contains("model") || e.contains("server"))
            .collect::<Vec<_>>(),
        [
            "wf.yaml:4:24: steps.b.tool.server: unknown virtual server `prod` (no virtual servers are defined)",
            "wf.yaml:12:32: steps.f.parallel.branches.two.tool.server: unknown virtual server `dev` (no virtual servers are defined)",
        ]
    );
    // Route names are models too.
    let routes = "ai:\n  providers:\n    - { name: openai, models: [gpt-4o] }\n  routes:\n    - { name: smrt, targets: [{ provider: openai, model: gpt-4o }] }\n";
    let errs = reference_errors(text, routes, &all);
    assert!(!errs.iter().any(|e| e.contains("`smrt`")), "{errs:?}");
    assert!(
        errs.iter().any(|e| e.contains("unknown model `gpt-5`")),
        "{errs:?}"
    );
    // Layers reached over HTTP have models and servers this config cannot see.
    let remote = "agent:\n  ai: { url: 'http://ai:4000/v1', key: k }\n  mcp: { url: 'http://mcp:4001', key: k }\n";
    let errs = reference_errors(text, remote, &all);
    assert!(
        !errs
            .iter()
            .any(|e| e.contains("model") || e.contains("server")),
        "{errs:?}"
    );
}

#[test]
fn condensed_messages() {
    assert_eq!(
        super::values::one_line_template("syntax error: x (in <string>:3)"),
        "syntax error: x (line 3 of the template)"
    );
    assert_eq!(super::values::one_line_template("other"), "other");
    assert!(super::expression_error("1 + 2").is_none());
    assert!(super::template_error("{{ a }}").is_none());
}

#[test]
fn agent_steps_reach_remote_agents_and_summaries_need_a_known_model() {
    let config = format!(
        "{CONFIG}agent:\n  agents:\n    - {{ name: billing, card: \"http://127.0.0.1:9/\" }}\n"
    );
    let text = r#"name: t
context: { max_tokens: 100, strategy: summarize, summary_model: smrat }
steps:
  a: { agent: { name: billing, message: hi }, next: b }
  b: { handoff: { agent: billing } }
"#;
    assert_eq!(
        reference_errors(text, &config, &["t"]),
        ["wf.yaml:2:65: context.summary_model: unknown model `smrat`, did you mean `smart`?"]
    );
}
