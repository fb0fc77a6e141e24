//! The in-process MCP server of one `openapi` or `http` upstream: it lists the compiled
//! tools and turns each call into one HTTP request to the API.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::handler::server::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData,
    Implementation, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
    Tool, ToolAnnotations,
};
use rmcp::service::{RequestContext, RoleServer};
use serde_json::{Map, Value, json};
use strata_config::{RestTool, RestTools};
use strata_core::Secret;

use super::args::{self, Invalid};
use super::request::{self, BuildError};
use super::response;

/// One session's server for one upstream.
#[derive(Debug)]
pub(crate) struct RestServer {
    pub upstream: String,
    pub tools: Arc<RestTools>,
    /// The upstream's `headers` (with forwarded identity).
    pub headers: BTreeMap<String, Secret>,
    /// How long one HTTP call may take.
    pub timeout: Duration,
    pub client: reqwest::Client,
    /// Input validators, compiled on a tool's first call.
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

/// Why a call failed: refused before any request (a JSON-RPC error) or failed on the way
/// (a tool error the caller sees).
#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error("Unknown tool: {0}")]
    UnknownTool(String),
    #[error("invalid argument `{}`: {}", .0.field, .0.message)]
    Invalid(Invalid),
    #[error("{0}")]
    Build(BuildError),
    #[error("{method} {target} timed out after {}", humantime::format_duration(*.after))]
    Timeout {
        method: &'static str,
        target: String,
        after: Duration,
    },
    #[error("{method} {target} failed: {error}")]
    Send {
        method: &'static str,
        target: String,
        error: reqwest::Error,
    },
    #[error("{method} {target}: {error}")]
    Read {
        method: &'static str,
        target: String,
        error: response::ReadError,
    },
}

impl CallError {
    /// The JSON-RPC error or the tool error this is.
    fn into_outcome(self) -> Result<CallToolResult, ErrorData> {
        let message = self.to_string();
        match self {
            CallError::UnknownTool(_) => Err(ErrorData::invalid_params(message, None)),
            CallError::Invalid(Invalid { field, .. })
            | CallError::Build(BuildError::Argument { field, .. }) => Err(
                ErrorData::invalid_params(message, Some(json!({ "field": field }))),
            ),
            CallError::Build(BuildError::Escapes { .. }) => {
                Err(ErrorData::invalid_params(message, None))
            }
            CallError::Build(BuildError::Url(_))
            | CallError::Timeout { .. }
            | CallError::Send { .. }
            | CallError::Read { .. } => {
                Ok(CallToolResult::error(vec![ContentBlock::text(message)]))
            }
        }
    }
}

fn object(map: &Map<String, Value>) -> Arc<Map<String, Value>> {
    Arc::new(map.clone())
}

fn listed(tool: &RestTool) -> Tool {
    let mut listed = Tool::new(
        tool.name.clone(),
        tool.description.clone(),
        object(&tool.input_schema),
    );
    if let Some(output) = &tool.output_schema {
        listed = listed.with_raw_output_schema(object(output));
    }
    listed.with_annotations(ToolAnnotations::new().read_only(tool.method.is_read_only()))
}

impl RestServer {
    pub(crate) fn new(
        upstream: String,
        tools: Arc<RestTools>,
        headers: BTreeMap<String, Secret>,
        timeout: Duration,
        client: reqwest::Client,
    ) -> Self {
        Self {
            upstream,
            tools,
            headers,
            timeout,
            client,
            validators: Mutex::new(HashMap::new()),
        }
    }

    fn validator(&self, tool: &RestTool) -> Result<Arc<jsonschema::Validator>, CallError> {
        let mut cache = self
            .validators
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(v) = cache.get(&tool.name) {
            return Ok(v.clone());
        }
        let v = Arc::new(args::validator(&tool.input_schema).map_err(|message| {
            CallError::Invalid(Invalid {
                field: String::new(),
                message: format!("the tool's input schema does not compile: {message}"),
            })
        })?);
        cache.insert(tool.name.clone(), v.clone());
        Ok(v)
    }

    async fn call(
        &self,
        name: &str,
        args: Map<String, Value>,
    ) -> Result<CallToolResult, CallError> {
        let tool = self
            .tools
            .tools
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| CallError::UnknownTool(name.to_string()))?;
        let arguments = Value::Object(args);
        args::check(&*self.validator(tool)?, &arguments).map_err(CallError::Invalid)?;
        let Value::Object(args) = arguments else {
            return Err(CallError::UnknownTool(name.to_string()));
        };
        let url = request::url(tool, &args).map_err(CallError::Build)?;
        let headers = request::headers(tool, &args, &self.headers, self.tools.auth.as_ref())
            .map_err(CallError::Build)?;
        let method = tool.method.as_str();
        let target = format!("{}{}", url.origin().ascii_serialization(), url.path());
        let mut builder = self
            .client
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap_or_default(),
                url,
            )
            .headers(headers)
            .timeout(self.timeout);
        if let Some(body) = request::body(tool, &args) {
            builder = builder.json(&body);
        }
        let response = builder.send().await.map_err(|error| {
            if error.is_timeout() {
                CallError::Timeout {
                    method,
                    target: target.clone(),
                    after: self.timeout,
                }
            } else {
                CallError::Send {
                    method,
                    target: target.clone(),
                    error: error.without_url(),
                }
            }
        })?;
        let (status, reason, body) =
            response::read(response)
                .await
                .map_err(|error| match error {
                    response::ReadError::Transport(e) if e.is_timeout() => CallError::Timeout {
                        method,
                        target: target.clone(),
                        after: self.timeout,
                    },
                    error => CallError::Read {
                        method,
                        target: target.clone(),
                        error,
                    },
                })?;
        Ok(response::result(tool, status, &reason, &body))
    }
}

impl ServerHandler for RestServer {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder().enable_tools().build();
        ServerConfig::new(capabilities).with_server_info(Implementation::new(
            format!("strata-rest-{}", self.upstream),
            env!("CARGO_PKG_VERSION"),
        ))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(
            self.tools.tools.iter().map(listed).collect(),
        ))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = request.arguments.clone().unwrap_or_default();
        match self.call(&request.name, args).await {
            Ok(result) => Ok(result.into()),
            Err(error) => error.into_outcome().map(Into::into),
        }
    }
}
