//! Exposed names of merged tools and prompts: prefixing, the characters clients accept, and
//! deterministic shortening.
//!
//! Clients enforce `^[a-zA-Z0-9_-]{1,64}$` on tool names, so a name outside it is rewritten:
//! other characters become `_`, at most 55 characters are kept, and `_` plus 8 hex digits of the
//! original's SHA-256 are appended, so the same upstream name always gets the same exposed name.

const SEPARATOR: char = '_';

/// The name a client sees for `name` of upstream `upstream`.
pub(crate) fn exposed(upstream: &str, name: &str, prefixed: bool) -> String {
    let full = if prefixed {
        format!("{upstream}{SEPARATOR}{name}")
    } else {
        name.to_string()
    };
    normalize(&full)
}

/// `name` made valid for clients, unchanged when it already is. Any rewritten name ends with
/// a hash of the original, so two names never collapse into one.
pub(crate) fn normalize(name: &str) -> String {
    strata_core::names::client_safe(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_valid(name: &str) -> bool {
        (1..=64).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    }

    #[test]
    fn valid_names_pass_unchanged() {
        assert_eq!(exposed("fs", "read_file", false), "read_file");
        assert_eq!(exposed("fs", "read_file", true), "fs_read_file");
        assert_eq!(exposed("a", "test-simple_text", false), "test-simple_text");
    }

    #[test]
    fn long_and_odd_names_are_shortened_deterministically_and_stay_distinct() {
        let long = "x".repeat(80);
        let a = exposed("github", &long, true);
        assert!(is_valid(&a), "{a}");
        assert_eq!(a, exposed("github", &long, true));
        let b = exposed("github", &format!("{long}y"), true);
        assert!(is_valid(&b));
        assert_ne!(a, b);
        let dotted = exposed("s", "files.read", false);
        assert!(is_valid(&dotted), "{dotted}");
        assert_ne!(dotted, exposed("s", "files_read", false));
        assert!(is_valid(&normalize("")));
        assert!(is_valid(&normalize("ünïcode tool")));
    }

    proptest::proptest! {
        #[test]
        fn every_exposed_name_is_valid(upstream in "[a-z]{1,10}", name in "\\PC{0,100}") {
            let name = exposed(&upstream, &name, true);
            proptest::prop_assert!(is_valid(&name), "{}", name);
        }
    }
}
