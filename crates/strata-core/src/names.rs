//! Tool and prompt names clients accept. Clients enforce `^[a-zA-Z0-9_-]{1,64}$`, so a name
//! outside it is rewritten: other characters become `_`, at most 55 characters are kept, and
//! `_` plus 8 hex digits of the original's SHA-256 are appended, so the same name always gets
//! the same rewrite and two names never collapse into one.

use sha2::{Digest, Sha256};

/// The longest name clients accept.
pub const MAX_NAME_LEN: usize = 64;

/// Whether `name` already satisfies `^[a-zA-Z0-9_-]{1,64}$`.
#[must_use]
pub fn is_client_safe(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME_LEN && name.chars().all(safe_char)
}

fn safe_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// `name` made valid for clients, unchanged when it already is. Any rewritten name ends with
/// a hash of the original.
#[must_use]
pub fn client_safe(name: &str) -> String {
    if is_client_safe(name) {
        return name.to_string();
    }
    let keep: String = name
        .chars()
        .map(|c| if safe_char(c) { c } else { '_' })
        .take(MAX_NAME_LEN - 9)
        .collect();
    format!(
        "{keep}_{}",
        hex::encode(&Sha256::digest(name.as_bytes())[..4])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_pass_and_others_are_rewritten_distinctly() {
        assert_eq!(client_safe("read_file"), "read_file");
        let a = client_safe("files.read");
        assert!(is_client_safe(&a), "{a}");
        assert_ne!(a, client_safe("files_read"));
        let long = client_safe(&"x".repeat(80));
        assert!(
            is_client_safe(&long) && long.len() == MAX_NAME_LEN,
            "{long}"
        );
        assert!(is_client_safe(&client_safe("")));
    }
}
