//! Workflow files named by `agent.workflows` load with the config, and their mistakes are
//! reported with the workflow file, path and line.

use std::path::Path;

const CONFIG: &str = r#"ai:
  providers:
    - { name: openai, models: [gpt-4o, gpt-4o-mini] }
mcp:
  upstreams:
    - { name: fs, stdio: { command: npx } }
  servers:
    - { name: dev, upstreams: [fs] }
agent:
  workflows: ["flows/*.yaml"]
"#;

const TRIAGE: &str = r#"name: triage
steps:
  classify:
    llm: { model: gpt-4o, messages: [{ role: user, content: "{{ input.ticket }}" }] }
    output: class
  answer:
    needs: [classify]
    agent: { name: kb, message: "{{ state.class }}" }
"#;

const KB: &str = r#"name: kb
steps:
  search:
    tool: { server: dev, name: search, arguments: { q: "{{ input.message }}" } }
"#;

/// Writes `files` (path, text) under `dir`.
fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

fn load_errors(config: &Path) -> Vec<String> {
    match strata_config::load_file(config) {
        Ok(_) => panic!("config was accepted"),
        Err(e) => e.errors().iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn workflows_load_with_the_config() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            ("strata.yaml", CONFIG),
            ("flows/triage.yaml", TRIAGE),
            ("flows/kb.yaml", KB),
        ],
    );
    let config = strata_config::load_file(&dir.path().join("strata.yaml")).unwrap();
    let names: Vec<&str> = config.workflows.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, ["kb", "triage"]);
    assert_eq!(config.workflows[1].steps["answer"].needs, ["classify"]);
}

#[test]
fn unknown_workflows_servers_and_models_are_reported_in_the_workflow_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = r"name: bad
steps:
  a:
    llm: { model: claude-9, messages: [] }
    next: b
  b:
    tool: { server: prod, name: x }
    next: c
  c:
    workflow: { name: nope }
";
    write(
        dir.path(),
        &[
            ("strata.yaml", CONFIG),
            ("flows/triage.yaml", TRIAGE),
            ("flows/kb.yaml", KB),
            ("flows/bad.yaml", bad),
        ],
    );
    let file = dir.path().join("flows/bad.yaml").display().to_string();
    assert_eq!(
        load_errors(&dir.path().join("strata.yaml")),
        [
            format!(
                "{file}:4:19: steps.a.llm.model: unknown model `claude-9` (known: gpt-4o, gpt-4o-mini)"
            ),
            format!("{file}:7:21: steps.b.tool.server: unknown virtual server `prod` (known: dev)"),
            format!(
                "{file}:10:23: steps.c.workflow.name: unknown workflow `nope` (known: bad, kb, triage)"
            ),
        ]
    );
}

#[test]
fn structural_mistakes_are_reported_in_the_workflow_file() {
    let dir = tempfile::tempdir().unwrap();
    let broken = "name: broken\nsteps:\n  fetch: { needs: [parse], wait: { duration: 1s } }\n";
    write(
        dir.path(),
        &[("strata.yaml", CONFIG), ("flows/broken.yaml", broken)],
    );
    let file = dir.path().join("flows/broken.yaml").display().to_string();
    assert_eq!(
        load_errors(&dir.path().join("strata.yaml")),
        [format!(
            "{file}:3:20: steps.fetch.needs[0]: unknown step `parse` (known: fetch)"
        )]
    );
}

#[test]
fn a_glob_that_matches_nothing_is_an_error_in_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = CONFIG.replace(
        r#"workflows: ["flows/*.yaml"]"#,
        "workflows:\n    - flows/*.yaml\n    - missing/*.yaml",
    );
    write(
        dir.path(),
        &[("strata.yaml", &config), ("flows/kb.yaml", KB)],
    );
    let file = dir.path().join("strata.yaml").display().to_string();
    assert_eq!(
        load_errors(&dir.path().join("strata.yaml")),
        [format!(
            "{file}:12:7: agent.workflows[1]: no workflow file matches `missing/*.yaml`"
        )]
    );
}
