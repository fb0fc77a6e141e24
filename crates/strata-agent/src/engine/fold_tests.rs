//! The scheduler: which tasks start when, routing, fan-out, failure handling.

use serde_json::{Value, json};

use super::*;

fn fold(yaml: &str) -> Fold {
    let (def, _) = strata_config::load_workflow(yaml, "wf.yaml", &|_| None).unwrap();
    Fold::new(
        Arc::new(def),
        json!({ "n": 2 }),
        json!({ "id": "r", "workflow": "wf" }),
    )
}

fn start(f: &mut Fold, task: &str) {
    let attempt = f.tasks[task].attempt;
    f.apply(&Event::StepStarted {
        task: task.into(),
        attempt,
        input: Value::Null,
        key: String::new(),
    })
    .unwrap();
}

fn succeed(f: &mut Fold, task: &str, output: Value) {
    start(f, task);
    let attempt = f.tasks[task].attempt;
    f.apply(&Event::StepSucceeded {
        task: task.into(),
        attempt,
        output,
        calls: Vec::new(),
        ms: 0,
    })
    .unwrap();
}

fn fail(f: &mut Fold, task: &str, class: &str, retry_at: Option<i64>) {
    start(f, task);
    let attempt = f.tasks[task].attempt;
    f.apply(&Event::StepFailed {
        task: task.into(),
        attempt,
        error: StepError::new(class, "boom"),
        calls: Vec::new(),
        ms: 0,
        retry_at,
    })
    .unwrap();
}

const T: &str = "tool: { server: s, name: t }";

#[test]
fn needs_order_the_dag_and_routed_steps_wait_to_be_routed() {
    let mut f = fold(&format!(
        "name: wf\nsteps:\n  a: {{ {T}, output: x }}\n  b: {{ {T}, needs: [a] }}\n  c: {{ {T}, needs: [a] }}\n  \
         d: {{ {T}, needs: [b, c], next: e }}\n  e: {{ {T} }}\n"
    ));
    assert_eq!(f.startable(0), ["a#1"]);
    succeed(&mut f, "a#1", json!(1));
    assert_eq!(f.state["x"], 1);
    assert_eq!(f.startable(0), ["b#1", "c#1"]);
    succeed(&mut f, "b#1", Value::Null);
    assert_eq!(f.startable(0), ["c#1"], "d waits for both");
    succeed(&mut f, "c#1", Value::Null);
    succeed(&mut f, "d#1", Value::Null);
    assert_eq!(f.startable(0), ["e#1"]);
    succeed(&mut f, "e#1", Value::Null);
    assert_eq!(f.status, Status::Succeeded);
    assert_eq!(f.output, Some(json!({ "x": 1 })));
}

#[test]
fn catch_routes_and_max_visits_stops_a_loop() {
    let mut f = fold(&format!(
        "name: wf\nsteps:\n  s: {{ {T} }}\n  a: {{ {T}, needs: [s], catch: [{{ errors: [tool_error], next: h }}], max_visits: 2 }}\n  \
         h: {{ {T}, next: a }}\n"
    ));
    succeed(&mut f, "s#1", Value::Null);
    fail(&mut f, "a#1", "tool_error", None);
    assert_eq!(f.startable(0), ["h#1"]);
    succeed(&mut f, "h#1", Value::Null);
    assert_eq!(f.startable(0), ["a#2"]);
    fail(&mut f, "a#2", "tool_error", None);
    succeed(&mut f, "h#2", Value::Null);
    assert_eq!(f.status, Status::Failed);
    assert!(f.error.as_ref().unwrap().message.contains("max_visits: 2"));
    // An error class the catch does not name fails the run.
    let mut g = fold(&format!(
        "name: wf\nsteps:\n  a: {{ {T}, catch: [{{ errors: [timeout], next: h }}] }}\n  h: {{ {T} }}\n"
    ));
    fail(&mut g, "a#1", "tool_error", None);
    assert_eq!(g.status, Status::Failed);
}

#[test]
fn retries_wait_for_their_time_with_the_next_attempt() {
    let mut f = fold(&format!("name: wf\nsteps:\n  a: {{ {T} }}\n"));
    fail(&mut f, "a#1", "unavailable", Some(500));
    assert_eq!(f.tasks["a#1"].attempt, 2);
    assert!(f.startable(499).is_empty());
    assert_eq!(f.next_retry(), Some(500));
    assert_eq!(f.startable(500), ["a#1"]);
    succeed(&mut f, "a#1", Value::Null);
    assert_eq!(f.status, Status::Succeeded);
    // A journal that does not fit is refused.
    let mut g = fold(&format!("name: wf\nsteps:\n  a: {{ {T} }}\n"));
    let wrong = Event::StepSucceeded {
        task: "a#1".into(),
        attempt: 2,
        output: Value::Null,
        calls: Vec::new(),
        ms: 0,
    };
    assert!(g.apply(&wrong).is_err());
}

#[test]
fn map_runs_within_concurrency_and_tolerates_failures() {
    let spec = |tolerated: &str| {
        format!(
            "name: wf\nsteps:\n  m: {{ map: {{ items: '[1, 2, 3]', max_concurrency: 2, tolerated_failure: {tolerated} }}, {T}, output: out }}\n"
        )
    };
    let mut f = fold(&spec("1"));
    assert_eq!(f.startable(0), ["m#1[0]", "m#1[1]"]);
    fail(&mut f, "m#1[0]", "tool_error", None);
    assert_eq!(f.startable(0), ["m#1[1]", "m#1[2]"], "the next item starts");
    succeed(&mut f, "m#1[2]", json!("c"));
    succeed(&mut f, "m#1[1]", json!("b"));
    assert_eq!(f.status, Status::Succeeded);
    assert_eq!(
        f.state["out"],
        json!([null, "b", "c"]),
        "results keep item order"
    );

    let mut g = fold(&spec("'0%'"));
    fail(&mut g, "m#1[1]", "tool_error", None);
    assert_eq!(g.status, Status::Failed);
    assert!(g.tasks.is_empty(), "the other items are dropped");
    assert!(
        g.error
            .as_ref()
            .unwrap()
            .message
            .starts_with("1 of 3 failed")
    );
}

#[test]
fn parallel_branches_join_into_an_object_and_choice_routes() {
    let mut f = fold(&format!(
        "name: wf\nsteps:\n  p: {{ parallel: {{ branches: {{ x: {{ {T} }}, y: {{ {T} }} }} }}, output: both }}\n  \
         c: {{ needs: [p], choice: [{{ when: 'state.both.x > 1', next: big }}, {{ default: small }}] }}\n  \
         big: {{ succeed: {{}} }}\n  small: {{ succeed: {{}} }}\n"
    ));
    assert_eq!(f.startable(0), ["p#1.x", "p#1.y"]);
    succeed(&mut f, "p#1.y", json!(1));
    succeed(&mut f, "p#1.x", json!(5));
    assert_eq!(f.state["both"], json!({ "x": 5, "y": 1 }));
    let (_, input) = super::super::input::render(&f, &f.tasks["c#1"]).unwrap();
    assert_eq!(input, json!({ "next": "big" }));
    succeed(&mut f, "c#1", input);
    assert_eq!(f.startable(0), ["big#1"]);
}

#[test]
fn terminal_failure_compensates_newest_first() {
    let mut f = fold(&format!(
        "name: wf\nsteps:\n  a: {{ {T}, compensate: ua }}\n  b: {{ {T}, needs: [a], compensate: ub }}\n  \
         c: {{ {T}, needs: [b] }}\n  ua: {{ {T} }}\n  ub: {{ {T} }}\n"
    ));
    assert_eq!(
        f.startable(0),
        ["a#1"],
        "compensations never start on their own"
    );
    succeed(&mut f, "a#1", Value::Null);
    succeed(&mut f, "b#1", Value::Null);
    fail(&mut f, "c#1", "failed", None);
    assert_eq!(f.status, Status::Compensating);
    assert_eq!(f.startable(0), ["ub@b#1"]);
    fail(&mut f, "ub@b#1", "tool_error", None);
    assert_eq!(
        f.startable(0),
        ["ua@a#1"],
        "a failed compensation does not stop the others"
    );
    succeed(&mut f, "ua@a#1", Value::Null);
    assert_eq!(f.status, Status::Failed);
    assert_eq!(f.compensation_errors.len(), 1);
}

#[test]
fn a_signal_before_the_human_step_waits_for_it() {
    let mut f = fold("name: wf\nsteps:\n  h: { human: { prompt: '?' }, output: answer }\n");
    f.apply(&Event::SignalReceived {
        step: Some("h".into()),
        data: json!("yes"),
    })
    .unwrap();
    start(&mut f, "h#1");
    f.apply(&Event::StepParked {
        task: "h#1".into(),
        attempt: 1,
        wake_at: None,
        child: None,
    })
    .unwrap();
    assert_eq!(f.status, Status::Succeeded);
    assert_eq!(f.state["answer"], "yes");
}
