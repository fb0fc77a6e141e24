//! Checking a call's arguments against the tool's input schema before any request is made.

use serde_json::Value;

/// Why arguments were refused: the field at fault and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Invalid {
    /// The argument's name (a path like `tags/0` inside it), empty for the whole object.
    pub field: String,
    pub message: String,
}

/// Compiles a tool's input schema.
pub(super) fn validator(
    schema: &serde_json::Map<String, Value>,
) -> Result<jsonschema::Validator, String> {
    jsonschema::validator_for(&Value::Object(schema.clone())).map_err(|e| e.to_string())
}

/// The first way `arguments` break the schema, if any.
pub(super) fn check(validator: &jsonschema::Validator, arguments: &Value) -> Result<(), Invalid> {
    use jsonschema::error::ValidationErrorKind as K;
    let Some(error) = validator.iter_errors(arguments).next() else {
        return Ok(());
    };
    let mut field: Vec<String> = error
        .instance_path()
        .iter()
        .map(|seg| match seg {
            jsonschema::paths::LocationSegment::Property(p) => p.to_string(),
            jsonschema::paths::LocationSegment::Index(i) => i.to_string(),
        })
        .collect();
    match error.kind() {
        K::Required { property } => field.push(property.as_str().unwrap_or_default().to_string()),
        K::AdditionalProperties { unexpected } => {
            field.push(unexpected.first().cloned().unwrap_or_default());
        }
        _ => {}
    }
    Err(Invalid {
        field: field.join("/"),
        message: error.masked().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> jsonschema::Validator {
        let schema = json!({"type": "object", "properties": {
            "id": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}}},
            "required": ["id"], "additionalProperties": false});
        validator(schema.as_object().unwrap()).unwrap()
    }

    #[test]
    fn the_field_at_fault_is_named() {
        let v = schema();
        assert!(check(&v, &json!({"id": 1})).is_ok());
        assert_eq!(check(&v, &json!({"id": "x"})).unwrap_err().field, "id");
        assert_eq!(check(&v, &json!({})).unwrap_err().field, "id");
        assert_eq!(
            check(&v, &json!({"id": 1, "url": "http://evil"}))
                .unwrap_err()
                .field,
            "url"
        );
        assert_eq!(
            check(&v, &json!({"id": 1, "tags": [1]})).unwrap_err().field,
            "tags/0"
        );
    }
}
