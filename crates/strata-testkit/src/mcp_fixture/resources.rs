//! The fixture's resources: two static ones, a watched one for subscriptions, and the
//! template `test://template/{id}/data`.

use rmcp::model::{
    CacheScope, ErrorData, ListResourceTemplatesResult, ListResourcesResult, ReadResourceResult,
    Resource, ResourceContents, ResourceTemplate,
};
use serde_json::json;

use super::content::{CACHE_TTL_MS, PNG_BASE64};

const TEMPLATE_PREFIX: &str = "test://template/";
const TEMPLATE_SUFFIX: &str = "/data";

/// The concrete resources.
#[must_use]
pub fn list() -> ListResourcesResult {
    ListResourcesResult::with_all_items(vec![
        Resource::new("test://static-text", "static-text")
            .with_title("Static Text Resource")
            .with_description("A static text resource for testing")
            .with_mime_type("text/plain"),
        Resource::new("test://static-binary", "static-binary")
            .with_title("Static Binary Resource")
            .with_description("A static binary resource (image) for testing")
            .with_mime_type("image/png"),
        Resource::new("test://watched-resource", "watched-resource")
            .with_title("Watched Resource")
            .with_description("A resource clients may subscribe to")
            .with_mime_type("text/plain"),
    ])
    .with_ttl_ms(CACHE_TTL_MS)
    .with_cache_scope(CacheScope::Public)
}

/// The resource templates.
#[must_use]
pub fn templates() -> ListResourceTemplatesResult {
    ListResourceTemplatesResult::with_all_items(vec![
        ResourceTemplate::new("test://template/{id}/data", "template")
            .with_title("Resource Template")
            .with_description("A resource template with parameter substitution")
            .with_mime_type("application/json"),
    ])
    .with_ttl_ms(CACHE_TTL_MS)
    .with_cache_scope(CacheScope::Public)
}

/// Reads `uri`; a resource-not-found error (`-32002`, which rmcp turns into `-32602`
/// for 2026-07-28 peers) for anything the fixture does not serve.
pub fn read(uri: &str) -> Result<ReadResourceResult, ErrorData> {
    let contents = match uri {
        "test://static-text" => {
            ResourceContents::text("This is the content of the static text resource.", uri)
        }
        "test://static-binary" => {
            ResourceContents::blob(PNG_BASE64, uri).with_mime_type("image/png")
        }
        "test://watched-resource" => ResourceContents::text("Watched resource content", uri),
        _ => match template_id(uri) {
            Some(id) => ResourceContents::text(
                json!({ "id": id, "templateTest": true, "data": format!("Data for ID: {id}") })
                    .to_string(),
                uri,
            )
            .with_mime_type("application/json"),
            None => {
                return Err(ErrorData::resource_not_found(
                    format!("Resource not found: {uri}"),
                    Some(json!({ "uri": uri })),
                ));
            }
        },
    };
    Ok(ReadResourceResult::new(vec![contents])
        .with_ttl_ms(CACHE_TTL_MS)
        .with_cache_scope(CacheScope::Public))
}

/// The `{id}` of a URI that matches the template, if it is a single non-empty segment.
fn template_id(uri: &str) -> Option<&str> {
    uri.strip_prefix(TEMPLATE_PREFIX)
        .and_then(|rest| rest.strip_suffix(TEMPLATE_SUFFIX))
        .filter(|id| !id.is_empty() && !id.contains('/'))
}

/// Values for completing the template's `id` argument.
#[must_use]
pub fn complete_id(prefix: &str) -> Vec<String> {
    ["1", "2", "3", "123"]
        .into_iter()
        .filter(|v| v.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_substitutes_the_id() {
        let result = read("test://template/123/data").expect("template resolves");
        let text = serde_json::to_string(&result).expect("serializes");
        assert!(text.contains("Data for ID: 123"));
    }

    #[test]
    fn unknown_uris_are_not_found() {
        for uri in [
            "test://nope",
            "test://template//data",
            "test://template/a/b/data",
        ] {
            let err = read(uri).expect_err("not found");
            assert_eq!(err.code, rmcp::model::ErrorCode::RESOURCE_NOT_FOUND);
        }
    }
}
