//! Guardrails: checks on the text of requests and responses that redact, mask, block or flag
//! what they find.
//!
//! A [`Library`] compiles the configured guardrails once per config generation (built-in
//! kinds used by bare name — `pii_redaction`, `toxicity_filter`, `prompt_injection` — are
//! compiled once per process). [`Library::resolve`] turns a `guardrails:` list into
//! [`Guards`], cheap to clone, which check one text ([`Guards::check`]), every text of a JSON
//! body ([`Guards::check_json`]) or a response stream ([`Guards::stream`]). Guardrails run in
//! the order listed, each on the output of the one before.
//!
//! # Kinds
//!
//! - **pii_redaction**: emails; phone numbers (`+` international, US and European national
//!   formats with separators); card numbers (13 to 19 digits, optional spaces or dashes,
//!   Luhn-checked); US SSNs (valid area, group and serial); IBANs (known country length,
//!   mod-97 checked); IPv4 and IPv6 addresses; secrets (OpenAI/Anthropic `sk-…`, Stripe,
//!   AWS `AKIA…`, GitHub, Slack, Google `AIza…`, `Bearer <token>`, and PEM private-key
//!   blocks). `entities` restricts the list. `redact` puts typed placeholders (`[EMAIL]`,
//!   `[PHONE]`, `[CREDIT_CARD]`, `[US_SSN]`, `[IBAN]`, `[IP_ADDRESS]`, `[SECRET]`); `mask` puts
//!   one `*` per character (card numbers keep their separators and last four digits).
//! - **toxicity_filter**: a small built-in lexicon (profanity, insults, threats, a few slurs),
//!   tolerant of simple obfuscation (`sh1t`, `f**k`), each term with a weight between 0 and 1;
//!   `words` (whole words or phrases, case-insensitive) and `patterns` weigh 1 each.
//!   `builtin_lexicon: false` leaves only those.
//!
//!   *Scoring*: the score of a text is the sum of the weights of the *distinct* terms found,
//!   capped at 1; the action applies once it is at or above `threshold` (default 0.5). Terms
//!   are taken in text order, so with `redact` or `mask` the term that brings the score to the
//!   threshold and every term after it are replaced (`[REDACTED:<name>]` or `*`s); terms
//!   before it stay. This makes a stream and a whole text agree. In a JSON body, each string
//!   is scored on its own.
//! - **prompt_injection**: common phrasings ("ignore all previous instructions", "disregard
//!   your system prompt", "you are now DAN", "enable developer mode", "reveal your system
//!   prompt", "act as … without restrictions", "forget everything") and role-tag injection
//!   (`</system>`, `<|im_start|>`, `[INST]`, `### system:`), plus `patterns`.
//! - **regex**: custom `patterns`; `redact` puts `[REDACTED:<name>]`.
//! - **webhook**: see below.
//!
//! Block reasons name what was found (entity types, a score, a pattern index), never the
//! matched text.
//!
//! # JSON bodies
//!
//! [`Guards::check_json`] checks every string under the keys `content`, `text`, `system`,
//! `input`, `instructions`, `prompt`, `arguments`, `query`, `partial_json`, `thinking` and
//! `output` (a Responses tool call's output), including strings in arrays under them and the
//! text blocks inside (`content[j].text`); objects under `input` and `arguments` (tool
//! inputs) have all their strings checked. Other keys are only descended into (`messages`,
//! `choices`, …), never checked themselves; keys such as `role`, `type`, `id`, `name`,
//! `tools`, `metadata`, `image_url`, `data` and `source` are skipped entirely. A tool call's
//! `arguments` string is checked as text (a redaction keeps it valid JSON). Each string is
//! checked on its own (toxicity is scored per string); each guardrail yields one verdict
//! per body, its counts summed.
//!
//! # Webhooks
//!
//! Webhooks run only in [`Guards::check_json`], once per guardrail per body, on the body's
//! text strings joined with blank lines. `replace` rewrites the body only when it has exactly
//! one text string; otherwise the replacement is ignored and the body is let through with a
//! `flag` verdict saying so. Errors, timeouts, non-2xx statuses and malformed answers follow
//! `on_error`: `open` lets the text through with a `flag` verdict, `closed` (the default)
//! blocks with the reason "webhook unavailable" (details go to the log only). Webhooks do not
//! apply to [`Guards::check`] nor to [`StreamGuard`]; the ai layer asks them about a streamed
//! answer once its text is whole, holding back only the stream's final event ([`Guards::webhooks`]).
//!
//! # Streams
//!
//! [`StreamGuard`] applies the local response-side guardrails to streamed text: for any
//! split of a text into pieces, what it emits equals [`Guards::check`] on the whole text (or
//! it blocks), as long as no match of a custom pattern without a longest match (such as
//! `\d+`) is longer than 128 bytes. It holds back only
//! the tail that could still begin a match: each built-in pattern has a *prefix* expression
//! matching every beginning of its matches, so ordinary prose comes out piece by piece,
//! minus the last partial word (and the start of a phrase that could still complete: "act as"
//! holds the rest of its line, up to 140 characters). Custom `patterns` hold back as many bytes
//! as their longest match can have (at least 128; 128 for a pattern with no longest match,
//! such as `\d+`; at most 32 KiB); a started
//! `-----BEGIN … PRIVATE KEY-----` block is held until its end line (up to 16 KiB, after
//! which the key-looking text is treated as the secret). Nothing is ever held beyond 32 KiB.

mod compile;
mod json;
mod lexicon;
mod phrase;
mod pii;
mod scan;
mod stream;
#[cfg(test)]
mod tests;
mod webhook;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use strata_config::{GuardAction, GuardSide, Guardrail, GuardrailKind};

pub use stream::StreamGuard;

use compile::{Engine, Guard};
use scan::{Cand, Hit, Local, Rule, Tally};

/// Why guardrails could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error(
        "unknown guardrail `{0}`: not defined under ai.guardrails and not a built-in kind \
         (pii_redaction, toxicity_filter, prompt_injection)"
    )]
    Unknown(String),
    #[error("guardrail `{0}` is defined more than once")]
    Duplicate(String),
    #[error(
        "guardrail `{guardrail}`: patterns[{index}] is not a valid regular expression: {source}"
    )]
    Pattern {
        guardrail: String,
        index: usize,
        source: regex::Error,
    },
    #[error("guardrail `{guardrail}`: its words do not compile: {source}")]
    Words {
        guardrail: String,
        source: regex::Error,
    },
    #[error("guardrail `{guardrail}`: {message}")]
    Config { guardrail: String, message: String },
}

/// The configured guardrails, compiled.
#[derive(Debug, Clone, Default)]
pub struct Library {
    defined: HashMap<String, Arc<Guard>>,
}

impl Library {
    /// Compiles the definitions (an invalid pattern, url or threshold is an error naming the
    /// guardrail).
    pub fn new(defs: &[Guardrail], http: reqwest::Client) -> Result<Self, GuardError> {
        let mut defined = HashMap::with_capacity(defs.len());
        for def in defs {
            let guard = compile::compile(def, &http)?;
            if defined.insert(def.name.clone(), Arc::new(guard)).is_some() {
                return Err(GuardError::Duplicate(def.name.clone()));
            }
        }
        drop(http);
        compile::warm_up();
        Ok(Self { defined })
    }

    /// The guardrails named (definitions, or bare built-in kind names with their defaults),
    /// without repeats, in order.
    pub fn resolve<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<Guards, GuardError> {
        let mut list: Vec<Arc<Guard>> = Vec::new();
        for name in names {
            if list.iter().any(|g| g.name == name) {
                continue;
            }
            let guard = match self.defined.get(name) {
                Some(g) => g.clone(),
                None => GuardrailKind::builtin(name)
                    .and_then(compile::builtin)
                    .ok_or_else(|| GuardError::Unknown(name.into()))?,
            };
            list.push(guard);
        }
        Ok(Guards { list: list.into() })
    }
}

/// An ordered set of guardrails to apply to one call.
#[derive(Clone, Default)]
pub struct Guards {
    list: Arc<[Arc<Guard>]>,
}

impl fmt::Debug for Guards {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.list.iter().map(|g| &g.name))
            .finish()
    }
}

/// The result of checking one text.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// The rewritten text; `None` when unchanged.
    pub text: Option<String>,
    pub verdicts: Vec<Verdict>,
}

/// What one guardrail found and did.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub guardrail: String,
    pub kind: GuardrailKind,
    pub side: GuardSide,
    /// What was done: `redact`/`mask` (rewritten), `flag` (let through), `block`.
    pub action: GuardAction,
    /// How many matches (terms, for toxicity; 1 for a webhook decision).
    pub matches: usize,
    /// The kinds of personal data found, such as `email` or `credit_card` (pii only).
    pub entities: Vec<&'static str>,
    /// A toxicity score, a webhook's reason or failure; never the matched text.
    pub reason: Option<String>,
}

/// A guardrail refused the text.
#[derive(Debug, Clone, PartialEq)]
pub struct Blocked {
    pub guardrail: String,
    pub kind: GuardrailKind,
    pub side: GuardSide,
    /// Why, without the matched text: "personal data found: email", "toxicity score 0.75
    /// is at or above 0.5", "webhook unavailable", …
    pub reason: String,
    /// The verdicts before the block, then the block itself.
    pub verdicts: Vec<Verdict>,
}

impl fmt::Display for Blocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "blocked by guardrail `{}`: {}",
            self.guardrail, self.reason
        )
    }
}

pub(crate) fn verdict(g: &Guard, side: GuardSide, tally: &Tally, action: GuardAction) -> Verdict {
    let reason = match g.local().map(|l| &l.rule) {
        Some(Rule::Toxicity(_, threshold)) => Some(format!(
            "toxicity score {} is at or above {}",
            scan::score_text(tally.score),
            scan::score_text(*threshold)
        )),
        _ => tally.reason.clone(),
    };
    Verdict {
        guardrail: g.name.clone(),
        kind: g.kind,
        side,
        action,
        matches: tally.matches,
        entities: tally.entity_labels(),
        reason,
    }
}

pub(crate) fn blocked(
    g: &Guard,
    side: GuardSide,
    reason: String,
    tally: &Tally,
    mut verdicts: Vec<Verdict>,
) -> Blocked {
    let mut v = verdict(g, side, tally, GuardAction::Block);
    v.reason = Some(reason.clone());
    verdicts.push(v);
    Blocked {
        guardrail: g.name.clone(),
        kind: g.kind,
        side,
        reason,
        verdicts,
    }
}

/// One local guardrail on a whole text: the rewritten text (`None`: unchanged) or the reason
/// to block.
fn run_whole(
    g: &Guard,
    local: &Local,
    text: &str,
    tally: &mut Tally,
    scratch: &mut (Vec<Cand>, Vec<Hit>),
) -> Result<Option<String>, String> {
    let (cands, hits) = scratch;
    cands.clear();
    local.candidates(text, 0, cands);
    if cands.is_empty() {
        return Ok(None);
    }
    Local::resolve(cands, text.len(), hits);
    local.apply(&g.name, g.action, (text, 0, text.len()), hits, tally)
}

impl Guards {
    /// No guardrails at all.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Whether any guardrail checks this side.
    pub fn applies_to(&self, side: GuardSide) -> bool {
        self.list.iter().any(|g| g.applies(side))
    }

    /// Only the webhook guardrails (streamed answers check them once the text is whole).
    #[must_use]
    pub fn webhooks(&self) -> Guards {
        let list: Vec<Arc<Guard>> = self
            .list
            .iter()
            .filter(|g| matches!(g.engine, Engine::Webhook(_)))
            .cloned()
            .collect();
        Guards { list: list.into() }
    }

    /// The guardrails' names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.list.iter().map(|g| g.name.as_str())
    }

    /// The local guardrails (all but webhooks) on one text.
    pub fn check(&self, side: GuardSide, text: &str) -> Result<Checked, Blocked> {
        let mut current: Option<String> = None;
        let mut verdicts = Vec::new();
        let mut scratch = (Vec::new(), Vec::new());
        for g in self.list.iter().filter(|g| g.applies(side)) {
            let Engine::Local(local) = &g.engine else {
                continue;
            };
            let mut tally = Tally::default();
            let t = current.as_deref().unwrap_or(text);
            match run_whole(g, local, t, &mut tally, &mut scratch) {
                Ok(Some(new)) => current = Some(new),
                Ok(None) => {}
                Err(reason) => return Err(blocked(g, side, reason, &tally, verdicts)),
            }
            if tally.fired {
                verdicts.push(verdict(g, side, &tally, g.action));
            }
        }
        Ok(Checked {
            text: current,
            verdicts,
        })
    }

    /// A guard for the text of a streamed response: the local response-side guardrails.
    pub fn stream(&self) -> StreamGuard {
        StreamGuard::new(
            self.list
                .iter()
                .filter(|g| g.applies(GuardSide::Response) && g.local().is_some())
                .cloned()
                .collect(),
        )
    }
}
