//! `openapi` and `http` upstreams: documents read and turned into tools with the config, and
//! every mistake in them reported with its file, path, line and column.

use strata_config::{ConfigErrors, ParamLocation, RestBody, RestTools};

/// A config with one `openapi` upstream (`extra` goes under its `openapi:`) whose document
/// `doc` is written beside it; the upstream's compiled tools, or the errors.
fn compile(doc: &str, extra: &str) -> (Result<RestTools, ConfigErrors>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("api.yaml"), doc).unwrap();
    let config = format!(
        "mcp:\n  upstreams:\n    - name: api\n      openapi:\n        spec: api.yaml\n        base_url: http://127.0.0.1:9/v1/\n{extra}"
    );
    let path = dir.path().join("strata.yaml");
    std::fs::write(&path, config).unwrap();
    let loaded = strata_config::load_file(&path)
        .map(|c| (*c.mcp.upstreams[0].rest.clone().expect("compiled")).clone());
    (loaded, dir)
}

fn lines(result: Result<RestTools, ConfigErrors>, dir: &tempfile::TempDir) -> Vec<String> {
    let prefix = format!("{}/", dir.path().display());
    match result {
        Ok(tools) => panic!("accepted: {tools:?}"),
        Err(e) => e
            .errors()
            .iter()
            .map(|e| e.to_string().replace(&prefix, ""))
            .collect(),
    }
}

const DOC: &str = "openapi: 3.1.0
info: { title: t, version: '1' }
paths:
  /pets/{id}:
    get:
      operationId: getPet
      description: One pet
      parameters:
        - { name: id, in: path, required: true, schema: { type: integer } }
        - { $ref: '#/components/parameters/Fields' }
      responses:
        '200':
          $ref: '#/components/responses/Pet'
  /pets:
    post:
      tags: [write]
      requestBody:
        content: { application/json: { schema: { type: array, items: { $ref: '#/components/schemas/Pet' } } } }
      responses: { '201': { description: ok } }
components:
  parameters:
    Fields: { name: fields, in: query, schema: { type: array, items: { type: string } } }
  responses:
    Pet: { description: ok, content: { application/json: { schema: { $ref: '#/components/schemas/Pet' } } } }
  schemas:
    Pet: { type: object, properties: { name: { type: string } } }
";

#[test]
fn operations_become_tools_with_refs_resolved() {
    let (tools, _dir) = compile(DOC, "");
    let tools = tools.unwrap();
    let names: Vec<&str> = tools.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["getPet", "post_pets"]);
    let get = &tools.tools[0];
    assert_eq!(get.base, "http://127.0.0.1:9/v1");
    assert_eq!(get.path, "/pets/{id}");
    assert_eq!(get.description, "One pet");
    assert_eq!(get.params[1].location, ParamLocation::Query);
    assert_eq!(
        get.input_schema["properties"]["fields"]["items"]["type"],
        "string"
    );
    let output = get.output_schema.as_ref().unwrap();
    assert_eq!(output["properties"]["name"]["type"], "string");
    let post = &tools.tools[1];
    assert_eq!(
        post.body,
        RestBody::Argument("body".into()),
        "an array body is one argument"
    );
    assert_eq!(
        post.input_schema["properties"]["body"]["items"]["properties"]["name"]["type"],
        "string"
    );
    assert_eq!(
        post.input_schema.get("required"),
        None,
        "the body is optional"
    );
    assert_eq!(tools.digest.len(), 64);
}

#[test]
fn overrides_rename_and_describe_and_unknown_ones_are_errors() {
    let extra = "        exclude: { tags: [write] }\n        overrides:\n          getPet: { name: pet, description: Fetch a pet }\n";
    let (tools, _dir) = compile(DOC, extra);
    let tools = tools.unwrap();
    assert_eq!(tools.tools.len(), 1);
    assert_eq!(
        (
            tools.tools[0].name.as_str(),
            tools.tools[0].description.as_str()
        ),
        ("pet", "Fetch a pet")
    );
    let extra = "        overrides:\n          getPets: { name: pets }\n";
    let (result, dir) = compile(DOC, extra);
    assert_eq!(
        lines(result, &dir),
        [
            "strata.yaml:8:20: mcp.upstreams[0].openapi.overrides.getPets: no selected operation has the operationId, tool name or method and path `getPets`"
        ]
    );
}

#[test]
fn an_unreadable_document_is_an_error_at_its_key() {
    let (result, dir) = compile(DOC, "");
    drop(result);
    std::fs::remove_file(dir.path().join("api.yaml")).unwrap();
    let err = strata_config::load_file(&dir.path().join("strata.yaml")).unwrap_err();
    let line = err.errors()[0].to_string();
    assert!(line.contains("strata.yaml:5:15: mcp.upstreams[0].openapi.spec: cannot load the OpenAPI document: cannot read"), "{line}");
}

#[test]
fn duplicate_names_and_unsupported_constructs_are_located_in_the_document() {
    let doc = "openapi: 3.0.0
info: { title: t, version: '1' }
paths:
  /a:
    get: { operationId: same, responses: {} }
    post:
      operationId: same
      responses: {}
  /b:
    get:
      operationId: cookie
      parameters: [{ name: session, in: cookie, schema: { type: string } }]
      responses: {}
  /c:
    post:
      operationId: upload
      requestBody: { content: { multipart/form-data: { schema: { type: object } } } }
      responses: {}
  /d/{id}:
    get:
      operationId: external
      parameters: [{ name: id, in: path, required: true, schema: { $ref: 'other.yaml#/Id' } }]
      responses: {}
";
    let (result, dir) = compile(doc, "");
    assert_eq!(
        lines(result, &dir),
        [
            "api.yaml:7:7: paths./a.post: duplicate tool name `same`: GET /a (line 5) has it too; rename one with `overrides`",
            "api.yaml:12:20: paths./b.get.parameters[0]: operation `cookie`: cookie parameter `session` is not supported (leave the operation out with `exclude`)",
            "api.yaml:17:20: paths./c.post.requestBody: operation `upload`: request body of type multipart/form-data is not supported (only JSON) (leave the operation out with `exclude`)",
            "api.yaml:22:74: paths./d/{id}.get.parameters[0].schema.$ref: operation `external`: `$ref: other.yaml#/Id` refers outside this document: only local references (`#/...`) are supported (leave the operation out with `exclude`)",
        ]
    );
    // Left out, the same operations are no problem.
    let extra = "        exclude: { operations: [cookie, upload, external] }\n        overrides: { \"GET /a\": { name: same_get } }\n";
    let (result, _dir) = compile(doc, extra);
    let names: Vec<String> = result.unwrap().tools.into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["same_get", "same"]);
}

#[test]
fn documents_that_are_not_openapi_3_are_refused() {
    let (result, dir) = compile("swagger: '2.0'\npaths: {}\n", "");
    assert_eq!(
        lines(result, &dir),
        [
            "api.yaml:1:10: swagger: Swagger 2.0 documents are not supported: convert the document to OpenAPI 3"
        ]
    );
    let (result, dir) = compile("openapi: 3.1.0\npaths: { /a: { get: {\n", "");
    assert!(
        lines(result, &dir)[0].starts_with("api.yaml:3:1: invalid OpenAPI document"),
        "syntax errors are located"
    );
    let (result, dir) = compile("openapi: 3.1.0\npaths: {}\n", "");
    assert_eq!(
        lines(result, &dir),
        ["strata.yaml:5:15: mcp.upstreams[0].openapi.spec: no operation of `api.yaml` is selected"]
    );
}

#[test]
fn http_tools_and_auth_mistakes_are_config_errors() {
    let text = "mcp:
  upstreams:
    - name: ops
      http:
        auth: { bearer: { env: NEVER_SET_TOKEN } }
        tools:
          - { name: a, method: GET, url: 'http://{host}/x' }
          - { name: b, method: GET, url: 'http://h/x/{id}' }
          - { name: b, method: GET, url: 'http://h/y' }
";
    let errs = crate::errors(text);
    assert_eq!(
        errs,
        [
            "strata.yaml:5:32: mcp.upstreams[0].http.auth.bearer.env: environment variable NEVER_SET_TOKEN is not set",
            "strata.yaml:7:42: mcp.upstreams[0].http.tools[0].url: placeholders may only be in the URL's path, not in its host or port",
            "strata.yaml:8:13: mcp.upstreams[0].http.tools[1].input_schema: the URL's `{id}` must be a required property of input_schema",
            "strata.yaml:9:21: mcp.upstreams[0].http.tools[2].name: duplicate tool name `b`",
        ]
    );
}
