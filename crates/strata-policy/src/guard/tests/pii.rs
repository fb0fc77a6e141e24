//! Personal and secret data.

use strata_config::{GuardAction, GuardSide, GuardrailKind, PiiEntity};

use super::{def, guards, out};

fn redact(text: &str) -> String {
    out(&guards(&[], &["pii_redaction"]), text)
}

fn only(entity: PiiEntity, action: GuardAction) -> super::Guards {
    let mut d = def("p", GuardrailKind::PiiRedaction);
    d.entities = vec![entity];
    d.action = Some(action);
    guards(&[d], &["p"])
}

#[test]
fn emails() {
    assert_eq!(
        redact("mail jane.doe+x@example.co.uk now"),
        "mail [EMAIL] now"
    );
    assert_eq!(redact("a@b.io, c_d@mail.example.org."), "[EMAIL], [EMAIL].");
    for miss in [
        "user@localhost",
        "@handle",
        "a@b",
        "name at example dot com",
        "x@y.c",
    ] {
        assert_eq!(redact(miss), miss);
    }
}

#[test]
fn phones() {
    for (text, want) in [
        ("call +1 (415) 555-0132 today", "call [PHONE] today"),
        ("call +44 20 7946 0958", "call [PHONE]"),
        ("+33612345678", "[PHONE]"),
        ("(415) 555-0132", "[PHONE]"),
        ("415-555-0132", "[PHONE]"),
        ("415.555.0132", "[PHONE]"),
        ("1-800-555-0199", "[PHONE]"),
        ("020 7946 0958", "[PHONE]"),
        ("06 12 34 56 78", "[PHONE]"),
        ("030-1234567", "[PHONE]"),
    ] {
        assert_eq!(redact(text), want, "{text}");
    }
    for miss in [
        "12345",
        "4155550132",
        "page 123-4567",
        "on 2024-01-15",
        "on 01.02.2024 at 12:30",
        "01/02/2024",
        "version 1.2.3",
        "+12",
        "call 555-0132",
        "order 12-345-678-9012-34",
    ] {
        assert_eq!(redact(miss), miss, "{miss}");
    }
}

#[test]
fn cards() {
    for (text, want) in [
        ("card 4111 1111 1111 1111 ok", "card [CREDIT_CARD] ok"),
        ("4111-1111-1111-1111", "[CREDIT_CARD]"),
        ("4111111111111111", "[CREDIT_CARD]"),
        ("amex 378282246310005", "amex [CREDIT_CARD]"),
        ("5500 0000 0000 0004", "[CREDIT_CARD]"),
        ("6011 1111 1111 1117 exp 12/29", "[CREDIT_CARD] exp 12/29"),
        ("4111 1111 1111 1111 99", "[CREDIT_CARD] 99"),
        ("ref 12 4111 1111 1111 1111", "ref 12 [CREDIT_CARD]"),
    ] {
        assert_eq!(redact(text), want, "{text}");
    }
    for miss in [
        "4111 1111 1111 1112",
        "1234 5678 9012 3456",
        "4111111111111112",
        "0000 0000 0000 0000",
        "4111-1111 1111-1111",
        "x4111111111111111",
    ] {
        assert_eq!(redact(miss), miss, "{miss}");
    }
}

#[test]
fn card_mask_keeps_last_four() {
    let g = only(PiiEntity::CreditCard, GuardAction::Mask);
    assert_eq!(
        out(&g, "pay 4111-1111-1111-1234 now").len(),
        "pay 4111-1111-1111-1234 now".len()
    );
    assert_eq!(
        out(&g, "pay 4111 1111 1111 1111 now"),
        "pay **** **** **** 1111 now"
    );
    assert_eq!(out(&g, "4111111111111111"), "************1111");
}

#[test]
fn ssns() {
    assert_eq!(redact("ssn 123-45-6789."), "ssn [US_SSN].");
    for miss in [
        "000-12-3456",
        "666-12-3456",
        "912-34-5678",
        "123-00-4567",
        "123-45-0000",
        "123-45-67890",
        "1-123-45-6789",
    ] {
        assert_eq!(redact(miss), miss, "{miss}");
    }
}

#[test]
fn ibans() {
    for (text, want) in [
        (
            "iban DE89 3704 0044 0532 0130 00 thanks",
            "iban [IBAN] thanks",
        ),
        ("DE89370400440532013000", "[IBAN]"),
        ("GB82 WEST 1234 5698 7654 32", "[IBAN]"),
        ("to GB82WEST12345698765432.", "to [IBAN]."),
        ("FR14 2004 1010 0505 0001 3M02 606 OK", "[IBAN] OK"),
        ("NO93 8601 1117 947", "[IBAN]"),
    ] {
        assert_eq!(redact(text), want, "{text}");
    }
    for miss in [
        "DE88 3704 0044 0532 0130 00",
        "GB82 WEST 1234 5698 7654 33",
        "ZZ89 3704 0044 0532 0130 00",
        "DE89370400440532013000X",
    ] {
        assert_eq!(redact(miss), miss, "{miss}");
    }
}

#[test]
fn ip_addresses() {
    for (text, want) in [
        ("host 192.168.1.10 up", "host [IP_ADDRESS] up"),
        ("255.255.255.255", "[IP_ADDRESS]"),
        ("v6 2001:db8:85a3::8a2e:370:7334 ok", "v6 [IP_ADDRESS] ok"),
        ("fe80::1ff:fe23:4567:890a", "[IP_ADDRESS]"),
        ("mapped ::ffff:192.0.2.128", "mapped [IP_ADDRESS]"),
    ] {
        assert_eq!(redact(text), want, "{text}");
    }
    for miss in [
        "999.1.1.1",
        "256.1.1.1",
        "1.2.3",
        "1.2.3.4.5",
        "at 12:30:45",
        "std::vec::Vec",
        "a::b",
        "00:1a:2b:3c:4d:5e",
    ] {
        assert_eq!(redact(miss), miss, "{miss}");
    }
}

#[test]
fn secrets() {
    for text in [
        "sk-proj-abcdefghijklmnopqrstuvwxyz012345",
        "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz",
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
        "xoxb-123456789012-abcdefghij",
        "AIzaSyA-abcdefghijklmnopqrstuvwxyz01234",
        "sk_live_abcdefghijklmnop1234",
    ] {
        assert_eq!(
            redact(&format!("key {text} end")),
            "key [SECRET] end",
            "{text}"
        );
    }
    assert_eq!(
        redact("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOjF9.abc-DEF_123"),
        "Authorization: [SECRET]"
    );
    for miss in [
        "task-force",
        "sk-short",
        "AKIA1234",
        "Bearer token",
        "ask-abcdefghijklmnopqrstuvwxyz",
    ] {
        assert_eq!(redact(miss), miss, "{miss}");
    }
}

#[test]
fn pem_private_keys() {
    let key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1234+/abc=\nQUJD\n-----END RSA PRIVATE KEY-----";
    assert_eq!(
        redact(&format!("here:\n{key}\nbye")),
        "here:\n[SECRET]\nbye"
    );
    let openssh = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----";
    assert_eq!(redact(openssh), "[SECRET]");
    // No end line: the key-looking text after the header.
    assert_eq!(
        redact("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\nQUJD\n"),
        "[SECRET]"
    );
    let cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
    assert_eq!(redact(cert), cert);
}

#[test]
fn entities_restrict() {
    let g = only(PiiEntity::Email, GuardAction::Redact);
    assert_eq!(out(&g, "a@b.io 415-555-0132"), "[EMAIL] 415-555-0132");
}

#[test]
fn actions() {
    let text = "mail a@b.io or call 415-555-0132";
    let c = only(PiiEntity::Email, GuardAction::Mask)
        .check(GuardSide::Request, text)
        .unwrap();
    assert_eq!(c.text.as_deref(), Some("mail ****** or call 415-555-0132"));
    assert_eq!(c.verdicts[0].action, GuardAction::Mask);

    let c = only(PiiEntity::Email, GuardAction::Flag)
        .check(GuardSide::Request, text)
        .unwrap();
    assert_eq!(c.text, None);
    assert_eq!(c.verdicts.len(), 1);
    assert_eq!(c.verdicts[0].action, GuardAction::Flag);
    assert_eq!(c.verdicts[0].matches, 1);
    assert_eq!(c.verdicts[0].entities, vec!["email"]);

    let mut d = def("p", GuardrailKind::PiiRedaction);
    d.action = Some(GuardAction::Block);
    let b = guards(&[d], &["p"])
        .check(GuardSide::Response, text)
        .unwrap_err();
    assert_eq!(b.guardrail, "p");
    assert_eq!(b.side, GuardSide::Response);
    assert_eq!(b.reason, "personal data found: email, phone");
    assert!(!b.reason.contains("a@b.io"));
    assert_eq!(
        b.verdicts.last().map(|v| v.action),
        Some(GuardAction::Block)
    );

    let c = guards(&[], &["pii_redaction"])
        .check(GuardSide::Request, text)
        .unwrap();
    assert_eq!(c.text.as_deref(), Some("mail [EMAIL] or call [PHONE]"));
    assert_eq!(c.verdicts[0].matches, 2);
    assert_eq!(c.verdicts[0].entities, vec!["email", "phone"]);
}

#[test]
fn unicode_text_is_safe() {
    assert_eq!(
        redact("héllo — a@b.io ✓ 日本 192.168.0.1"),
        "héllo — [EMAIL] ✓ 日本 [IP_ADDRESS]"
    );
    assert_eq!(
        only(PiiEntity::Email, GuardAction::Mask)
            .check(GuardSide::Request, "é a@b.io é")
            .unwrap()
            .text
            .as_deref(),
        Some("é ****** é")
    );
}
