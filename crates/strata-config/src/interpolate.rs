//! `${VAR}` and `${VAR:-default}` in scalar values, taken from the environment. `$${` writes a
//! literal `${`. Keys are never interpolated, and a value is never re-parsed as YAML, so an
//! environment variable cannot inject structure into the config.

use crate::yaml::{Kind, Node, Pos, Seg};

/// A reference to a variable that is not set and has no default.
#[derive(Debug, Clone)]
pub struct Unset {
    pub path: Vec<Seg>,
    pub pos: Pos,
    pub message: String,
}

/// Expands every scalar of the tree in place; returns every unset or malformed reference.
pub fn expand_tree(node: &mut Node, env: &dyn Fn(&str) -> Option<String>) -> Vec<Unset> {
    let mut errors = Vec::new();
    walk(node, &mut Vec::new(), env, &mut errors);
    errors
}

fn walk(
    node: &mut Node,
    path: &mut Vec<Seg>,
    env: &dyn Fn(&str) -> Option<String>,
    errors: &mut Vec<Unset>,
) {
    match &mut node.kind {
        Kind::Scalar { text, .. } => {
            if text.contains('$') {
                match expand(text, env) {
                    Ok(expanded) => *text = expanded,
                    Err(message) => errors.push(Unset {
                        path: path.clone(),
                        pos: node.pos,
                        message,
                    }),
                }
            }
        }
        Kind::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                path.push(Seg::Index(i));
                walk(item, path, env, errors);
                path.pop();
            }
        }
        Kind::Map(entries) => {
            for (key, value) in entries.iter_mut() {
                path.push(Seg::Key(key.name.clone()));
                walk(value, path, env, errors);
                path.pop();
            }
        }
    }
}

/// Expands one string. Errors name every unset variable in it.
pub fn expand(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut unset = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(literal) = after.strip_prefix("${") {
            out.push_str("${");
            rest = literal;
            continue;
        }
        let Some(body) = after.strip_prefix('{') else {
            out.push('$');
            rest = after;
            continue;
        };
        let Some(end) = body.find('}') else {
            return Err(format!("unclosed `${{` in {text:?}"));
        };
        let (name, default) = match body[..end].split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (&body[..end], None),
        };
        if !is_var_name(name) {
            return Err(format!(
                "`${{{}}}` is not a valid variable reference (use ${{NAME}} or ${{NAME:-default}})",
                &body[..end]
            ));
        }
        match (env(name), default) {
            (Some(value), _) => out.push_str(&value),
            (None, Some(default)) => out.push_str(default),
            (None, None) => unset.push(name.to_string()),
        }
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    if unset.is_empty() {
        Ok(out)
    } else {
        let names = unset.join(", ");
        Err(format!(
            "environment variable {names} is not set (set it, or write ${{{}:-default}})",
            unset[0]
        ))
    }
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME_DIR" => Some("/home/x".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_set_variables_and_defaults() {
        assert_eq!(expand("${HOME_DIR}/a", &env).unwrap(), "/home/x/a");
        assert_eq!(expand("${NOPE:-fallback}", &env).unwrap(), "fallback");
        assert_eq!(expand("${NOPE:-}", &env).unwrap(), "");
        assert_eq!(expand("${EMPTY:-d}", &env).unwrap(), "");
        assert_eq!(expand("cost $5", &env).unwrap(), "cost $5");
        assert_eq!(expand("$${HOME_DIR}", &env).unwrap(), "${HOME_DIR}");
    }

    #[test]
    fn unset_without_default_is_an_error() {
        let err = expand("a ${MISSING_ONE} b ${MISSING_TWO}", &env).unwrap_err();
        assert!(err.contains("MISSING_ONE, MISSING_TWO"), "{err}");
    }

    #[test]
    fn malformed_references_are_errors() {
        assert!(expand("${oops", &env).is_err());
        assert!(expand("${1BAD}", &env).is_err());
        assert!(expand("${}", &env).is_err());
    }
}
