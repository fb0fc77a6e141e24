//! REST APIs served as MCP tools: an `openapi` upstream (every selected operation of an
//! OpenAPI document is a tool) and an `http` upstream (tools declared by hand, one endpoint
//! each). Both are compiled into [`RestTools`] when the config is loaded.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use strata_core::Secret;

use super::mcp::ToolOverride;

/// An OpenAPI 3.0 or 3.1 document served as tools.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenApiUpstream {
    /// The document (YAML or JSON): a file path (relative to the config file) or an
    /// `http(s)://` URL. Read, checked and turned into tools whenever the config is (re)loaded.
    pub spec: String,
    /// Where the API is: every call is a request under this URL (the document's `servers`
    /// are not used, and nothing in a call's arguments can change the host).
    pub base_url: String,
    /// How the gateway authenticates to the API.
    #[serde(default)]
    pub auth: RestAuth,
    /// Only operations matching any of these are tools (all operations when empty).
    #[serde(default)]
    pub include: OperationSelector,
    /// Operations matching any of these are not tools (wins over `include`).
    #[serde(default)]
    pub exclude: OperationSelector,
    /// Only `GET` and `HEAD` operations are tools.
    #[serde(default)]
    pub read_only: bool,
    /// Per operation, keyed by its method and path (`GET /items/{id}`), its `operationId`, or
    /// its generated tool name: the tool's name and description.
    #[serde(default)]
    pub overrides: BTreeMap<String, ToolOverride>,
}

/// Operations picked by tag, path or `operationId`; an operation matching any entry is picked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct OperationSelector {
    /// Tags (exact).
    pub tags: Vec<String>,
    /// Path templates as the document writes them, as globs: `/items/*` matches
    /// `/items/{id}` but not `/items/{id}/tags`; `/items/**` matches both.
    pub paths: Vec<String>,
    /// `operationId`s (exact).
    pub operations: Vec<String>,
}

impl OperationSelector {
    /// Whether nothing is listed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty() && self.paths.is_empty() && self.operations.is_empty()
    }
}

/// How the gateway authenticates to a REST API (besides the upstream's `headers`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RestAuth {
    /// No credentials.
    #[default]
    None,
    /// `Authorization: Bearer <token>`, the token read from an environment variable when the
    /// config is loaded.
    Bearer {
        /// The environment variable holding the token.
        env: String,
    },
    /// One static header, such as `X-Api-Key`.
    Header {
        /// The header's name.
        name: String,
        /// Its value (write it as `${ENV_VAR}`).
        value: Secret,
    },
}

/// Tools declared by hand, one HTTP endpoint each, for APIs without a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpUpstream {
    /// How the gateway authenticates to the endpoints.
    #[serde(default)]
    pub auth: RestAuth,
    /// The tools.
    pub tools: Vec<HttpTool>,
}

/// One endpoint as a tool. Arguments named in the URL's `{placeholders}` fill its path
/// (percent-encoded); the others go in the query string (`GET`, `HEAD`, `DELETE`) or the
/// JSON body (`POST`, `PUT`, `PATCH`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpTool {
    /// The tool's name.
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{1,64}$"))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub method: HttpMethod,
    /// The URL, with `{name}` placeholders in its path only, e.g.
    /// `https://status.internal/v1/services/{service}`.
    pub url: String,
    /// JSON Schema of the arguments (an object schema). Every placeholder must be one of its
    /// required properties.
    #[serde(default)]
    pub input_schema: Map<String, Value>,
    /// JSON Schema of the JSON the endpoint answers with; the result then carries it as
    /// `structuredContent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Map<String, Value>>,
}

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
}

impl HttpMethod {
    /// Every method, in the order the OpenAPI path item lists them.
    pub const ALL: [HttpMethod; 6] = [
        HttpMethod::Get,
        HttpMethod::Put,
        HttpMethod::Post,
        HttpMethod::Delete,
        HttpMethod::Head,
        HttpMethod::Patch,
    ];

    /// The method's name: `GET`, `POST`…
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Head => "HEAD",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }

    /// Whether it only reads (`GET`, `HEAD`).
    #[must_use]
    pub fn is_read_only(self) -> bool {
        matches!(self, HttpMethod::Get | HttpMethod::Head)
    }
}

/// The tools of an `openapi` or `http` upstream, compiled when the config is loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct RestTools {
    /// The tools, in document (or config) order.
    pub tools: Vec<RestTool>,
    /// The authentication header, resolved.
    pub auth: Option<(String, Secret)>,
    /// SHA-256 of the document the tools come from (empty for `http` upstreams), so that a
    /// reload notices a changed document.
    pub digest: String,
}

/// One operation as a tool.
#[derive(Debug, Clone, PartialEq)]
pub struct RestTool {
    /// The tool's name (client-safe).
    pub name: String,
    pub description: String,
    pub method: HttpMethod,
    /// Scheme, host and port every request of this tool goes to, and the path prefix it
    /// stays under, e.g. `http://127.0.0.1:8000/api`.
    pub base: String,
    /// The path after `base`, with `{name}` placeholders, e.g. `/items/{item_id}`.
    pub path: String,
    /// Where each argument goes.
    pub params: Vec<RestParam>,
    /// How the JSON body is made from the arguments.
    pub body: RestBody,
    /// JSON Schema of the arguments (`$ref`s resolved).
    pub input_schema: Map<String, Value>,
    /// JSON Schema of the structured result, when the API declares a JSON response.
    pub output_schema: Option<Map<String, Value>>,
    /// The API's JSON is wrapped as `{"result": …}` (its schema is not an object).
    pub wrap_output: bool,
}

/// An argument sent outside the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestParam {
    /// The argument's (and the parameter's) name.
    pub name: String,
    pub location: ParamLocation,
}

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamLocation {
    Path,
    Query,
    Header,
}

/// How a request body is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestBody {
    /// No body.
    None,
    /// The argument with this name is the body.
    Argument(String),
    /// These arguments are the body's properties.
    Fields(Vec<String>),
    /// Every argument that is not a parameter is a property of the body.
    Rest,
}
