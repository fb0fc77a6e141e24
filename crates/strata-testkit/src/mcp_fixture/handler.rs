//! The MCP server handler: routes each request to the module that serves it.
#![allow(deprecated)] // resources/subscribe and logging/setLevel are legacy-only in rmcp

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CompleteRequestParams, CompleteResult, ErrorData,
    GetPromptRequestParams, GetPromptResponse, Implementation, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities, ServerConfig,
    SetLevelRequestParams, SubscribeRequestParams, SubscriptionFilter, Tool,
    UnsubscribeRequestParams,
};
use rmcp::service::{RequestContext, SubscriptionContext};
use rmcp::{RoleServer, ServerHandler};

use super::content::CACHE_TTL_MS;
use super::diagnostics::{self, Registry};
use super::sessions::FixtureSessions;
use super::{interactive, mrtr, prompts, resources, tools};

/// The conformance "everything" server. Cheap to clone; clones share state.
#[derive(Debug, Clone, Default)]
pub struct Fixture {
    sessions: Option<Arc<FixtureSessions>>,
    registry: Arc<Registry>,
}

impl Fixture {
    /// A fixture for stdio or tests, without an HTTP session manager.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A fixture served over Streamable HTTP by `sessions`, so `test_reconnection`
    /// can close and resume its own stream. Handlers of one server share `registry`.
    #[must_use]
    pub fn with_sessions(sessions: Arc<FixtureSessions>, registry: Arc<Registry>) -> Self {
        Self {
            sessions: Some(sessions),
            registry,
        }
    }

    /// The resource URIs clients subscribed to and did not unsubscribe from.
    #[must_use]
    pub fn subscriptions(&self) -> Vec<String> {
        self.registry.resource_subscriptions()
    }
}

impl ServerHandler for Fixture {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_logging()
            .enable_completions()
            .enable_prompts()
            .enable_prompts_list_changed()
            .enable_resources()
            .enable_resources_subscribe()
            .enable_resources_list_changed()
            .enable_tools()
            .enable_tool_list_changed()
            .build();
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new(
                "strata-mcp-fixture",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions("MCP conformance fixture server (Strata testkit)")
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        all_tools().into_iter().find(|t| t.name == name)
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        Some(requested.supported_by(&self.get_info().capabilities))
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let key = self.registry.add_listener(context.sink().clone());
        context.cancelled().await;
        self.registry.remove_listener(key);
        Ok(())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(all_tools())
            .with_ttl_ms(CACHE_TTL_MS)
            .with_cache_scope(rmcp::model::CacheScope::Public))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if let Some(result) = tools::call_plain(&request) {
            return result;
        }
        if let Some(result) = mrtr::call_tool(&request, &cx) {
            return result;
        }
        if let Some(result) = diagnostics::call(&request, &cx, &self.registry).await {
            return result;
        }
        match interactive::call(&request, &cx, self.sessions.as_deref()).await {
            Some(result) => Ok(result.into()),
            None => Err(ErrorData::invalid_params(
                format!("Unknown tool: {}", request.name),
                None,
            )),
        }
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(resources::list())
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(resources::templates())
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        resources::read(&request.uri).map(Into::into)
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.registry.subscribe_resource(request.uri, true);
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.registry.subscribe_resource(request.uri, false);
        Ok(())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(prompts::list())
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        if let Some(result) = prompts::get(&request) {
            return result.map(Into::into);
        }
        if let Some(result) = mrtr::get_prompt(&request) {
            return result;
        }
        Err(ErrorData::invalid_params(
            format!("Unknown prompt: {}", request.name),
            None,
        ))
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        prompts::complete(&request)
    }

    async fn set_level(
        &self,
        _request: SetLevelRequestParams,
        _cx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        Ok(())
    }
}

fn all_tools() -> Vec<Tool> {
    let mut list = tools::list();
    list.extend(diagnostics::tools());
    list
}
