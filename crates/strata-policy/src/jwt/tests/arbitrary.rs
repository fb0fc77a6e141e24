//! Arbitrary input never panics.

use super::*;

static FUZZ_VALIDATOR: LazyLock<JwtValidator> = LazyLock::new(file_validator);

fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn arbitrary_strings_are_refused(token in "\\PC{0,300}") {
        prop_assert!(block_on(FUZZ_VALIDATOR.validate(&token, None)).is_err());
    }

    #[test]
    fn arbitrary_three_part_tokens_are_refused(
        header in "[A-Za-z0-9_-]{0,60}",
        payload in "[A-Za-z0-9_-]{0,120}",
        signature in "[A-Za-z0-9_-]{0,90}",
        alg in prop::sample::select(vec!["EdDSA", "ES256", "RS256", "PS512", "HS256", "none"]),
    ) {
        let v = &*FUZZ_VALIDATOR;
        let raw = format!("{header}.{payload}.{signature}");
        prop_assert!(block_on(v.validate(&raw, None)).is_err());
        let header = b64(&format!(r#"{{"alg":"{alg}","kid":"a"}}"#));
        let token = format!("{header}.{payload}.{signature}");
        prop_assert!(block_on(v.validate(&token, None)).is_err());
    }
}
