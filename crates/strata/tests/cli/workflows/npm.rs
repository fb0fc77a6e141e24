//! Tool steps against a real MCP server from npm (the reference memory server, over stdio).

use serde_json::json;
use strata_testkit::MockLlm;

use super::run;
use crate::harness::Stack;
use crate::mcp_sdk::{reference_servers, yaml};

const REMEMBER: &str = r#"
name: remember
input: { type: object, required: [name, fact] }
steps:
  store:
    tool:
      server: memory
      name: create_entities
      arguments: { entities: [{ name: "{{ input.name }}", entityType: person, observations: ["{{ input.fact }}"] }] }
  recall:
    needs: [store]
    tool: { server: memory, name: search_nodes, arguments: { query: "{{ input.name }}" } }
    output: found
  tell:
    needs: [recall]
    llm: { model: m, messages: [{ role: user, content: "{{ input.name }}: {{ state.found.entities[0].observations[0] }}" }] }
    output: told
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_steps_reach_the_npm_memory_server() {
    let Some(servers) = reference_servers("workflows::npm") else {
        return;
    };
    let llm = MockLlm::start().await;
    let dir = tempfile::tempdir().unwrap();
    let memory_file = dir.path().join("memory.jsonl");
    let extra = format!(
        "ai:\n  retry: {{ attempts: 0 }}\n  providers:\n    - {{ name: llm, kind: openai, api_base: {}, api_key: test }}\n\
         mcp:\n  upstreams:\n    - {{ name: memory, stdio: {{ command: node, args: [{mem}], env: {{ MEMORY_FILE_PATH: {file} }} }} }}\n\
         \x20 servers:\n    - {{ name: memory, upstreams: [memory], prefix: never }}\n\
         agent:\n  workflows: [\"*.wf.yaml\"]\n",
        llm.base_url,
        mem = yaml(&servers.memory),
        file = yaml(&memory_file),
    );
    let stack = Stack::start_with_files(&extra, &[("remember.wf.yaml", REMEMBER)], &[], &[]).await;
    let r = run(
        &stack,
        "remember",
        json!({ "name": "Ada", "fact": "wrote the first program" }),
    )
    .await;
    assert_eq!(r["status"], "succeeded", "{r:#}");
    assert_eq!(r["state"]["found"]["entities"][0]["name"], "Ada", "{r:#}");
    assert_eq!(r["state"]["told"], "mock: Ada: wrote the first program");
    // The server kept what the workflow stored.
    let kept = std::fs::read_to_string(&memory_file).unwrap();
    assert!(kept.contains("wrote the first program"), "{kept}");
}
