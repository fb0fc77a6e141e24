//! Guardrail tests.

use strata_config::{GuardAction, GuardSide, Guardrail, GuardrailKind, PiiEntity};

use super::*;

/// A definition with the given kind and everything else defaulted.
pub(super) fn def(name: &str, kind: GuardrailKind) -> Guardrail {
    Guardrail {
        name: name.into(),
        kind,
        action: None,
        apply_to: vec![GuardSide::Request, GuardSide::Response],
        entities: Vec::new(),
        words: Vec::new(),
        patterns: Vec::new(),
        threshold: None,
        builtin_lexicon: None,
        url: None,
        headers: Default::default(),
        timeout: None,
        on_error: None,
    }
}

/// One client for all tests (building one is slow).
pub(super) fn http() -> reqwest::Client {
    static HTTP: std::sync::LazyLock<reqwest::Client> =
        std::sync::LazyLock::new(reqwest::Client::new);
    HTTP.clone()
}

pub(super) fn guards(defs: &[Guardrail], names: &[&str]) -> Guards {
    Library::new(defs, http())
        .unwrap()
        .resolve(names.iter().copied())
        .unwrap()
}

/// The text after the guards (unchanged text included).
pub(super) fn out(g: &Guards, text: &str) -> String {
    let c = g.check(GuardSide::Request, text).unwrap();
    c.text.unwrap_or_else(|| text.to_string())
}

#[test]
fn builtins_compile() {
    let g = guards(
        &[],
        &["pii_redaction", "toxicity_filter", "prompt_injection"],
    );
    assert_eq!(g.names().count(), 3);
    let _ = (GuardAction::Flag, PiiEntity::Email);
}

mod json;
mod kinds;
mod pii;
mod stream;

#[test]
fn unknown_names_and_duplicates() {
    let lib = Library::new(
        &[def("mine", GuardrailKind::Regex)].map(|mut d| {
            d.patterns = vec!["x".into()];
            d
        }),
        http(),
    )
    .unwrap();
    let err = lib.resolve(["mine", "nope"]).unwrap_err();
    assert!(matches!(&err, GuardError::Unknown(n) if n == "nope"));
    assert!(err.to_string().contains("`nope`"));
    assert!(matches!(
        lib.resolve(["regex"]),
        Err(GuardError::Unknown(_))
    ));
    assert!(matches!(
        lib.resolve(["webhook"]),
        Err(GuardError::Unknown(_))
    ));

    let g = lib
        .resolve(["pii_redaction", "mine", "pii_redaction", "mine"])
        .unwrap();
    assert_eq!(g.names().collect::<Vec<_>>(), ["pii_redaction", "mine"]);
    assert!(lib.resolve([]).unwrap().is_empty());

    let mut a = def("a", GuardrailKind::PiiRedaction);
    a.entities = vec![PiiEntity::Email];
    let err = Library::new(&[a.clone(), a], http()).unwrap_err();
    assert!(matches!(err, GuardError::Duplicate(n) if n == "a"));
}

#[test]
fn bad_definitions_name_the_guardrail() {
    let mut d = def("ids", GuardrailKind::Regex);
    d.patterns = vec!["ok".into(), "(unclosed".into()];
    let err = Library::new(&[d], http()).unwrap_err();
    assert!(matches!(&err, GuardError::Pattern { guardrail, index: 1, .. } if guardrail == "ids"));
    let msg = err.to_string();
    assert!(
        msg.starts_with("guardrail `ids`: patterns[1] is not a valid regular expression"),
        "{msg}"
    );

    let mut d = def("tox", GuardrailKind::ToxicityFilter);
    d.patterns = vec!["[z-a]".into()];
    assert!(
        Library::new(&[d], http())
            .unwrap_err()
            .to_string()
            .contains("`tox`: patterns[0]")
    );

    let mut d = def("t", GuardrailKind::ToxicityFilter);
    d.threshold = Some(1.5);
    assert!(matches!(
        Library::new(&[d], http()),
        Err(GuardError::Config { .. })
    ));
    let d = def("hook", GuardrailKind::Webhook);
    let err = Library::new(&[d], http()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "guardrail `hook`: a webhook guardrail needs `url`"
    );
    let d = def("r", GuardrailKind::Regex);
    assert!(Library::new(&[d], http()).is_err());
}

#[test]
fn definitions_shadow_builtin_names() {
    let mut d = def("pii_redaction", GuardrailKind::PiiRedaction);
    d.action = Some(GuardAction::Mask);
    let g = guards(&[d], &["pii_redaction"]);
    assert_eq!(out(&g, "a@b.io"), "******");
}

#[test]
fn apply_to_filters_sides() {
    let mut d = def("req", GuardrailKind::PiiRedaction);
    d.apply_to = vec![GuardSide::Request];
    let g = guards(&[d], &["req"]);
    assert!(g.applies_to(GuardSide::Request));
    assert!(!g.applies_to(GuardSide::Response));
    assert!(
        g.check(GuardSide::Request, "a@b.io")
            .unwrap()
            .text
            .is_some()
    );
    let c = g.check(GuardSide::Response, "a@b.io").unwrap();
    assert_eq!(
        c,
        Checked {
            text: None,
            verdicts: Vec::new()
        }
    );
    assert!(g.stream().is_empty());

    let none = Guards::default();
    assert!(none.is_empty() && !none.applies_to(GuardSide::Request));
    assert_eq!(none.check(GuardSide::Request, "a@b.io").unwrap().text, None);
}

/// A typical prompt through the three built-ins: nothing found, nothing allocated for the
/// text. No timing asserted; `cargo test -- --nocapture` shows the time per check.
#[test]
fn typical_prompt_passes_untouched() {
    let g = guards(
        &[],
        &["pii_redaction", "toxicity_filter", "prompt_injection"],
    );
    let paragraph = "You are a helpful assistant. Summarise the quarterly report below in five \
        bullet points, keeping the numbers exact (revenue grew 12.5% to 4.2 million, costs \
        fell 3%). Use plain English, avoid jargon, and finish with one sentence on the risks \
        the board should watch in 2025 — supply chains, hiring and the new office in Lyon. ";
    let prompt = paragraph.repeat(2048 / paragraph.len() + 1);
    assert!(prompt.len() >= 2048);
    let start = std::time::Instant::now();
    let rounds = 200;
    for _ in 0..rounds {
        let c = g.check(GuardSide::Request, &prompt).unwrap();
        assert_eq!(
            c,
            Checked {
                text: None,
                verdicts: Vec::new()
            }
        );
    }
    eprintln!(
        "2 KB prompt, three built-ins: {:?} per check",
        start.elapsed() / rounds
    );
}

#[test]
fn types_are_send_and_sync() {
    fn both<T: Send + Sync>() {}
    both::<Library>();
    both::<Guards>();
    both::<StreamGuard>();
    both::<Blocked>();
    both::<GuardError>();
}
