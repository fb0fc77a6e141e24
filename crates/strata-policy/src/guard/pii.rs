//! Personal and secret data: candidate patterns, the checks that confirm them (Luhn, mod-97,
//! address parsing, SSN rules), and the tails a stream holds back while a match may still be
//! completing.

use std::net::Ipv6Addr;

use strata_config::PiiEntity;

use super::phrase::{literal, prefixes, seq};
use super::scan::Cand;

/// Entities in priority order: when two matches start at the same place and are as long, the
/// earlier entity wins. A candidate's tag is its entity's index here.
pub(crate) const ORDER: [PiiEntity; 7] = [
    PiiEntity::Secret,
    PiiEntity::CreditCard,
    PiiEntity::Iban,
    PiiEntity::UsSsn,
    PiiEntity::Email,
    PiiEntity::Phone,
    PiiEntity::IpAddress,
];

pub(crate) fn tag(entity: PiiEntity) -> u32 {
    ORDER.iter().position(|&e| e == entity).unwrap_or(0) as u32
}

pub(crate) fn entity(tag: u32) -> PiiEntity {
    ORDER
        .get(tag as usize)
        .copied()
        .unwrap_or(PiiEntity::Secret)
}

/// The entity's name in verdicts and reasons.
pub(crate) fn label(entity: PiiEntity) -> &'static str {
    match entity {
        PiiEntity::Email => "email",
        PiiEntity::Phone => "phone",
        PiiEntity::CreditCard => "credit_card",
        PiiEntity::UsSsn => "us_ssn",
        PiiEntity::Iban => "iban",
        PiiEntity::IpAddress => "ip_address",
        PiiEntity::Secret => "secret",
    }
}

/// What `redact` puts in place of the entity.
pub(crate) fn placeholder(entity: PiiEntity) -> &'static str {
    match entity {
        PiiEntity::Email => "[EMAIL]",
        PiiEntity::Phone => "[PHONE]",
        PiiEntity::CreditCard => "[CREDIT_CARD]",
        PiiEntity::UsSsn => "[US_SSN]",
        PiiEntity::Iban => "[IBAN]",
        PiiEntity::IpAddress => "[IP_ADDRESS]",
        PiiEntity::Secret => "[SECRET]",
    }
}

/// How a raw regex candidate is confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    Plain,
    Phone,
    Card,
    Ssn,
    Iban,
    Ipv4,
    Ipv6,
}

const WB: &str = r"(?-u:\b)";

/// The candidate expressions of an entity, each with its check (PEM blocks are scanned by
/// hand, see [`pem_candidates`]).
pub(crate) fn patterns(entity: PiiEntity) -> Vec<(String, Check)> {
    match entity {
        PiiEntity::Email => vec![(
            r"[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.){1,8}[A-Za-z]{2,24}(?-u:\b)".into(),
            Check::Plain,
        )],
        PiiEntity::Phone => vec![(
            concat!(
                r"\+[0-9]{1,4}(?:[ .-]?\(?[0-9]{1,5}\)?){1,6}",
                r"|(?:1[ .-]?)?(?:\([2-9][0-9]{2}\)|[2-9][0-9]{2})[ .-]?[2-9][0-9]{2}[ .-][0-9]{4}",
                r"|0[1-9][0-9]{0,4}(?:[ .-][0-9]{2,8}){1,4}"
            )
            .into(),
            Check::Phone,
        )],
        PiiEntity::CreditCard => {
            vec![(format!("{WB}[0-9](?:[ -]?[0-9]){{12,18}}{WB}"), Check::Card)]
        }
        PiiEntity::UsSsn => vec![(
            format!("{WB}[0-9]{{3}}-[0-9]{{2}}-[0-9]{{4}}{WB}"),
            Check::Ssn,
        )],
        PiiEntity::Iban => vec![(
            format!("{WB}[A-Z]{{2}}[0-9]{{2}}(?:[ ]?[A-Z0-9]){{11,30}}{WB}"),
            Check::Iban,
        )],
        PiiEntity::IpAddress => {
            let octet = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])";
            vec![
                (format!(r"{WB}(?:{octet}\.){{3}}{octet}{WB}"), Check::Ipv4),
                (
                    concat!(
                        r"(?:[0-9A-Fa-f]{0,4}:){2,6}(?:[0-9]{1,3}\.){3}[0-9]{1,3}",
                        r"|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}"
                    )
                    .into(),
                    Check::Ipv6,
                ),
            ]
        }
        PiiEntity::Secret => vec![(
            concat!(
                r"(?-u:\b)sk-[A-Za-z0-9_-]{20,}",
                r"|(?-u:\b)[rs]k_(?:live|test)_[A-Za-z0-9]{16,}",
                r"|(?-u:\b)(?:AKIA|ASIA)[0-9A-Z]{16}(?-u:\b)",
                r"|(?-u:\b)gh[pousr]_[A-Za-z0-9]{30,}",
                r"|(?-u:\b)github_pat_[A-Za-z0-9_]{30,}",
                r"|(?-u:\b)xox[bpas]-[A-Za-z0-9-]{10,}",
                r"|(?-u:\b)AIza[0-9A-Za-z_-]{35}",
                r"|(?i:(?-u:\b)bearer)[ \t]+[A-Za-z0-9._~+/-]{20,}=*"
            )
            .into(),
            Check::Plain,
        )],
    }
}

/// Secret prefixes, for the stream tail.
const SECRET_PREFIXES: [&str; 18] = [
    "sk-",
    "sk_live_",
    "sk_test_",
    "rk_live_",
    "rk_test_",
    "AKIA",
    "ASIA",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "xoxs-",
    "AIza",
];

/// Expressions matching every beginning of the entity's matches (and of the text its checks
/// look at after a match); the stream holds back a tail they match.
pub(crate) fn tails(entity: PiiEntity) -> Vec<String> {
    let digits = r"[0-9](?:[ -]?[0-9]){0,18}[ -]?".to_string();
    match entity {
        PiiEntity::Email => vec![r"[A-Za-z0-9._%+-]{1,64}(?:@[A-Za-z0-9.-]{0,600})?".into()],
        PiiEntity::Phone => vec![r"[+(0-9][0-9 ().-]{0,64}".into()],
        PiiEntity::CreditCard | PiiEntity::UsSsn => vec![digits],
        PiiEntity::Iban => vec![
            format!("{WB}[A-Z]{{1,2}}"),
            format!("{WB}[A-Z]{{2}}[0-9]{{1,2}}(?:[ ]?[A-Z0-9]){{0,30}}[ ]?"),
        ],
        PiiEntity::IpAddress => vec![
            r"[0-9]{1,3}(?:\.[0-9]{0,3}){0,4}".into(),
            r"[0-9A-Fa-f:][0-9A-Fa-f:.]{0,63}".into(),
        ],
        PiiEntity::Secret => {
            let mut t: Vec<String> = SECRET_PREFIXES
                .iter()
                .map(|p| {
                    let atoms = literal(p);
                    format!("{WB}(?:{}[A-Za-z0-9_-]*|{})", seq(&atoms), prefixes(&atoms))
                })
                .collect();
            t.push(format!("(?i:{WB}{})", prefixes(&literal("bearer"))));
            t.push(format!(r"(?i:{WB}bearer)[ \t]+[A-Za-z0-9._~+/-]*=*"));
            t.push(r"-{1,5}".into());
            t.push(format!("-----{}", prefixes(&literal("BEGIN"))));
            t.push(r"-----BEGIN [A-Z0-9 ]{0,64}-{0,5}".into());
            t
        }
    }
}

fn prev_chars(hay: &str, at: usize) -> (Option<char>, Option<char>) {
    let mut it = hay[..at].chars().rev();
    (it.next(), it.next())
}

fn next_chars(hay: &str, at: usize) -> (Option<char>, Option<char>) {
    let mut it = hay[at..].chars();
    (it.next(), it.next())
}

fn is_word(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || c == '_')
}

fn is_digit(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_ascii_digit())
}

/// Confirms a candidate; the span of the confirmed match (possibly a part of the candidate).
/// Checks look at most two characters before and after the candidate.
pub(crate) fn confirm(check: Check, hay: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let text = &hay[start..end];
    let ok = match check {
        Check::Plain => true,
        Check::Phone => phone(hay, start, end),
        Check::Card => return card(text).map(|(a, b)| (start + a, start + b)),
        Check::Ssn => ssn(hay, start, end),
        Check::Iban => return iban(text).map(|len| (start, start + len)),
        Check::Ipv4 => {
            let (p1, p2) = prev_chars(hay, start);
            let (n1, n2) = next_chars(hay, end);
            !((p1 == Some('.') && is_digit(p2)) || (n1 == Some('.') && is_digit(n2)))
        }
        Check::Ipv6 => return ipv6(hay, start, end),
    };
    ok.then_some((start, end))
}

fn phone(hay: &str, start: usize, end: usize) -> bool {
    let text = &hay[start..end];
    let (p1, p2) = prev_chars(hay, start);
    let (n1, n2) = next_chars(hay, end);
    if is_word(p1) || p1 == Some('+') || (matches!(p1, Some('-' | '.')) && is_digit(p2)) {
        return false;
    }
    if is_word(n1) || (matches!(n1, Some('-' | '.')) && is_digit(n2)) {
        return false;
    }
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    if text.starts_with('+') {
        return (8..=15).contains(&digits);
    }
    if text.starts_with('0') {
        let mut seps = text.bytes().filter(|b| !b.is_ascii_digit());
        let first = seps.next();
        if seps.any(|s| Some(s) != first) || !(9..=12).contains(&digits) {
            return false;
        }
        // dd.mm.yyyy and the like are dates, not numbers.
        let groups: Vec<&str> = text.split(|c: char| !c.is_ascii_digit()).collect();
        let num = |s: &str| s.parse::<u32>().unwrap_or(99);
        let date = groups.len() >= 3
            && num(groups[0]) <= 31
            && num(groups[1]) <= 12
            && groups[2].len() == 4
            && (groups[2].starts_with("19") || groups[2].starts_with("20"));
        return !date;
    }
    text.contains('(') == text.contains(')')
        && (digits == 10 || (digits == 11 && text.starts_with('1')))
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// A card number in a run of digit groups: the longest run of whole groups with 13 to 19
/// digits, a plausible first digit (2 to 6) and a valid Luhn checksum.
fn card(text: &str) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut sep = None;
    let mut groups: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let s = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            groups.push((s, i));
        } else {
            if sep.is_some_and(|s| s != bytes[i]) {
                return None;
            }
            sep = Some(bytes[i]);
            i += 1;
        }
    }
    let mut best: Option<(usize, usize, usize)> = None;
    for a in 0..groups.len() {
        let mut digits: Vec<u8> = Vec::with_capacity(19);
        for b in a..groups.len() {
            digits.extend(bytes[groups[b].0..groups[b].1].iter().map(|d| d - b'0'));
            if digits.len() > 19 {
                break;
            }
            if digits.len() >= 13
                && (2..=6).contains(&digits[0])
                && best.is_none_or(|(n, _, _)| digits.len() > n)
                && luhn(&digits)
            {
                best = Some((digits.len(), groups[a].0, groups[b].1));
            }
        }
    }
    best.map(|(_, s, e)| (s, e))
}

fn ssn(hay: &str, start: usize, end: usize) -> bool {
    let t = &hay.as_bytes()[start..end];
    let area = &t[0..3];
    let ok = area != b"000" && area != b"666" && area[0] != b'9' && &t[4..6] != b"00";
    let (p1, _) = prev_chars(hay, start);
    let (n1, n2) = next_chars(hay, end);
    ok && &t[7..11] != b"0000" && p1 != Some('-') && !(n1 == Some('-') && is_digit(n2))
}

/// IBAN lengths by country (the SWIFT registry): two letters, two digits, repeated.
const IBAN_LENGTHS: &str = concat!(
    "AD24AE23AL28AT20AZ28BA20BE16BG22BH22BI27BR29BY28CH21CR22CY28CZ24DE22DJ27DK18DO28",
    "EE20EG29ES24FI18FK18FO18FR27GB22GE22GI23GL18GR27GT28HR21HU28IE22IL23IQ23IS26IT27",
    "JO30KW30KZ20LB28LC32LI21LT20LU20LV21LY25MC27MD24ME22MK19MN20MR27MT31MU30NI28NL18",
    "NO15OM23PK24PL28PS29QA29RO24RS22RU33SA24SC31SD18SE24SI19SK24SM27SO23ST25SV28TL23",
    "TN24TR26UA29VA22VG24XK20YE30",
);

/// An IBAN at the start of the candidate: its country's length of characters (spaces
/// aside), ending at a group boundary, with a valid mod-97 check. Its length in bytes.
fn iban(text: &str) -> Option<usize> {
    let cc = text.get(..2)?;
    let want = IBAN_LENGTHS
        .as_bytes()
        .chunks(4)
        .find(|c| &c[..2] == cc.as_bytes())
        .map(|c| usize::from((c[2] - b'0') * 10 + (c[3] - b'0')))?;
    let mut chars = Vec::with_capacity(want);
    let mut cut = None;
    for (i, b) in text.bytes().enumerate() {
        if b == b' ' {
            continue;
        }
        chars.push(b);
        if chars.len() == want {
            cut = Some(i + 1);
            break;
        }
    }
    let cut = cut?;
    if cut < text.len() && text.as_bytes()[cut] != b' ' {
        return None;
    }
    let (head, tail) = chars.split_at(4);
    let mut rem: u32 = 0;
    for &b in tail.iter().chain(head) {
        let v = if b.is_ascii_digit() {
            u32::from(b - b'0')
        } else {
            u32::from(b - b'A') + 10
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    (rem == 1).then_some(cut)
}

fn ipv6(hay: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let (p1, _) = prev_chars(hay, start);
    let (n1, _) = next_chars(hay, end);
    if is_word(p1) || matches!(p1, Some(':' | '.')) || is_word(n1) || n1 == Some(':') {
        return None;
    }
    let mut text = &hay[start..end];
    if text.ends_with(':') && !text.ends_with("::") {
        text = &text[..text.len() - 1];
    }
    let hex = text.bytes().filter(u8::is_ascii_hexdigit).count();
    (hex >= 3 && text.parse::<Ipv6Addr>().is_ok()).then_some((start, start + text.len()))
}

/// Private keys are looked for within this many bytes of their `BEGIN` line.
pub(crate) const PEM_CAP: usize = 16 * 1024;
const BEGIN: &str = "-----BEGIN ";
const END: &str = "-----END ";

/// The end of a `<LABEL >PRIVATE KEY-----` header or footer line starting at `at`.
fn key_line_end(hay: &str, at: usize) -> Option<usize> {
    let rest = &hay.as_bytes()[at..];
    let run = rest
        .iter()
        .take(64)
        .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || **b == b' ')
        .count();
    (rest[..run].ends_with(b"PRIVATE KEY") && rest[run..].starts_with(b"-----"))
        .then_some(at + run + 5)
}

fn floor_boundary(hay: &str, mut at: usize) -> usize {
    at = at.min(hay.len());
    while !hay.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// `-----BEGIN … PRIVATE KEY-----` blocks: up to their `-----END … PRIVATE KEY-----` line
/// when one starts within [`PEM_CAP`] bytes; otherwise the key-looking text after the header.
/// A block that may still be growing (no end line yet, text within the cap) is `open`.
pub(crate) fn pem_candidates(hay: &str, from: usize, out: &mut Vec<Cand>) {
    let secret = tag(PiiEntity::Secret);
    let mut pos = from;
    while let Some(i) = hay[pos..].find(BEGIN) {
        let start = pos + i;
        let Some(header_end) = key_line_end(hay, start + BEGIN.len()) else {
            pos = start + 5;
            continue;
        };
        let limit = floor_boundary(hay, start + PEM_CAP);
        let mut end = None;
        let mut search = header_end;
        while let Some(j) = hay[search..limit].find(END) {
            let at = search + j;
            if let Some(e) = key_line_end(hay, at + END.len()) {
                end = Some(e);
                break;
            }
            search = at + 5;
        }
        let (end, open) = match end {
            Some(e) => (e, false),
            None => {
                let body = hay.as_bytes()[header_end..limit]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || b" +/=:,.-\t\r\n".contains(b))
                    .count();
                // Open while an end line could still start within the cap.
                (header_end + body, hay.len() < start + PEM_CAP + 96)
            }
        };
        out.push(Cand {
            start,
            end,
            hit: Some((start, end)),
            tag: secret,
            open,
        });
        pos = end;
    }
}
