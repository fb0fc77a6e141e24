//! The fixture's prompts and argument completion.

use rmcp::model::{
    CacheScope, CompleteRequestParams, CompleteResult, CompletionInfo, ContentBlock, ErrorData,
    GetPromptRequestParams, GetPromptResult, ImageContent, ListPromptsResult, Prompt,
    PromptArgument, PromptMessage, Reference, ResourceContents, Role,
};

use super::content::{CACHE_TTL_MS, PNG_BASE64};

/// Every prompt the fixture serves.
#[must_use]
pub fn list() -> ListPromptsResult {
    let arg = |name: &str, description: &str| {
        PromptArgument::new(name)
            .with_description(description)
            .with_required(true)
    };
    let mut prompts = vec![
        Prompt::new(
            "test_simple_prompt",
            Some("A simple prompt without arguments"),
            None,
        )
        .with_title("Simple Test Prompt"),
        Prompt::new(
            "test_prompt_with_arguments",
            Some("A prompt with required arguments"),
            Some(vec![
                arg("arg1", "First test argument"),
                arg("arg2", "Second test argument"),
            ]),
        )
        .with_title("Prompt With Arguments"),
        Prompt::new(
            "test_prompt_with_embedded_resource",
            Some("A prompt that includes an embedded resource"),
            Some(vec![arg("resourceUri", "URI of the resource to embed")]),
        )
        .with_title("Prompt With Embedded Resource"),
        Prompt::new(
            "test_prompt_with_image",
            Some("A prompt that includes image content"),
            None,
        )
        .with_title("Prompt With Image"),
    ];
    prompts.push(super::mrtr::prompt());
    ListPromptsResult::with_all_items(prompts)
        .with_ttl_ms(CACHE_TTL_MS)
        .with_cache_scope(CacheScope::Public)
}

/// Renders one of the plain prompts; `None` for names this module does not serve.
#[must_use]
pub fn get(request: &GetPromptRequestParams) -> Option<Result<GetPromptResult, ErrorData>> {
    let arg = |name: &str| {
        request
            .arguments
            .as_ref()
            .and_then(|a| a.get(name))
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let messages = match request.name.as_str() {
        "test_simple_prompt" => vec![PromptMessage::new_text(
            Role::User,
            "This is a simple prompt for testing.",
        )],
        "test_prompt_with_arguments" => vec![PromptMessage::new_text(
            Role::User,
            format!(
                "Prompt with arguments: arg1='{}', arg2='{}'",
                arg("arg1"),
                arg("arg2")
            ),
        )],
        "test_prompt_with_embedded_resource" => {
            let uri = match arg("resourceUri") {
                uri if uri.is_empty() => "test://example-resource".to_owned(),
                uri => uri,
            };
            vec![
                PromptMessage::new(
                    Role::User,
                    ContentBlock::resource(ResourceContents::text(
                        "Embedded resource content for testing.",
                        uri,
                    )),
                ),
                PromptMessage::new_text(Role::User, "Please process the embedded resource above."),
            ]
        }
        "test_prompt_with_image" => vec![
            PromptMessage::new(
                Role::User,
                ContentBlock::Image(ImageContent::new(PNG_BASE64, "image/png")),
            ),
            PromptMessage::new_text(Role::User, "Please analyze the image above."),
        ],
        _ => return None,
    };
    Some(Ok(GetPromptResult::new(messages)))
}

/// Completion values for prompt arguments and the resource template's `id`.
pub fn complete(request: &CompleteRequestParams) -> Result<CompleteResult, ErrorData> {
    let value = request.argument.value.as_str();
    let values = match &request.r#ref {
        Reference::Resource(_) if request.argument.name == "id" => {
            super::resources::complete_id(value)
        }
        Reference::Prompt(_) => ["paris", "park", "party", "test", "testValue1"]
            .into_iter()
            .filter(|v| v.starts_with(value))
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    let info = CompletionInfo::new(values).map_err(|e| ErrorData::internal_error(e, None))?;
    Ok(CompleteResult::new(info))
}
