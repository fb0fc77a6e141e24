//! The local matching engine shared by whole texts and streams: candidates, the point up to
//! which a growing text is final, overlap resolution, and the action applied to matches.

use regex::{Regex, RegexSet};
use strata_config::{GuardAction, PiiEntity};

use super::pii::{self, Check};

/// A stream never holds back more than this, whatever its patterns (a private-key block is
/// capped at half of it).
pub(crate) const HOLD_CAP: usize = 2 * pii::PEM_CAP;

/// Bytes of already-emitted text kept before a stream's pending text, for word boundaries
/// and the checks that look at neighbouring characters.
const CONTEXT_CHARS: usize = 4;

/// Text that custom patterns could still match is held back this far (they come without a
/// prefix expression, see the module docs).
pub(crate) const CUSTOM_WINDOW: usize = 128;

/// A raw regex (or PEM) match.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cand {
    pub start: usize,
    pub end: usize,
    /// The confirmed match within it, if any.
    pub hit: Option<(usize, usize)>,
    pub tag: u32,
    /// The match may still grow with more text.
    pub open: bool,
}

/// A confirmed, non-overlapping match.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hit {
    pub start: usize,
    pub end: usize,
    pub tag: u32,
}

/// How a source's matches get their tag.
#[derive(Debug)]
pub(crate) enum Tag {
    Fixed(u32),
    /// The index of the (anchored) expression that matches the whole match, plus a base.
    Lookup(RegexSet, u32),
}

/// One expression looked for.
#[derive(Debug)]
pub(crate) struct Source {
    pub re: Regex,
    pub check: Check,
    pub tag: Tag,
}

/// What a local guardrail does with its matches.
#[derive(Debug)]
pub(crate) enum Rule {
    Pii,
    /// Weights by tag; the score at or above which the action applies.
    Toxicity(Vec<f64>, f64),
    Injection,
    Regex,
}

/// A compiled local guardrail.
#[derive(Debug)]
pub(crate) struct Local {
    pub sources: Vec<Source>,
    /// One expression per source, to skip the sources with no match in one pass.
    pub prefilter: Option<RegexSet>,
    /// Looks for private-key blocks.
    pub pem: bool,
    /// Matches the longest tail that may begin a match (anchored at the end).
    pub tail: Option<Regex>,
    /// A fixed tail held back (custom patterns).
    pub window: usize,
    pub rule: Rule,
}

/// What a guardrail found so far in one text, stream or body.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tally {
    pub matches: usize,
    /// PII entities found, a bit per tag.
    pub entities: u8,
    /// Toxicity: the distinct terms seen and their score; whether it reached the threshold.
    pub seen: Vec<u32>,
    pub score: f64,
    pub fired: bool,
    pub reason: Option<String>,
}

impl Tally {
    /// Adds another text's tally (toxicity scores are per text: the highest is kept).
    pub(crate) fn merge(&mut self, other: &Tally) {
        self.matches += other.matches;
        self.entities |= other.entities;
        self.score = self.score.max(other.score);
        if other.fired && !self.fired {
            self.reason.clone_from(&other.reason);
        }
        self.fired |= other.fired;
    }

    /// The names of the PII entities found, in priority order.
    pub(crate) fn entity_labels(&self) -> Vec<&'static str> {
        entity_labels(self.entities)
    }
}

pub(crate) fn entity_labels(bits: u8) -> Vec<&'static str> {
    pii::ORDER
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, &e)| pii::label(e))
        .collect()
}

/// The score as shown in reasons.
pub(crate) fn score_text(score: f64) -> String {
    format!("{}", (score * 100.0).round() / 100.0)
}

fn next_boundary(hay: &str, mut at: usize) -> usize {
    at += 1;
    while at < hay.len() && !hay.is_char_boundary(at) {
        at += 1;
    }
    at
}

fn floor_boundary(hay: &str, mut at: usize) -> usize {
    while !hay.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Where a stream's kept text starts so that `CONTEXT_CHARS` characters precede `cut`.
pub(crate) fn context_start(hay: &str, cut: usize) -> usize {
    hay[..cut]
        .char_indices()
        .rev()
        .take(CONTEXT_CHARS)
        .last()
        .map_or(cut, |(i, _)| i)
}

impl Local {
    /// Every candidate starting at or after `from`, in no particular order.
    pub(crate) fn candidates(&self, hay: &str, from: usize, out: &mut Vec<Cand>) {
        if self.pem {
            pii::pem_candidates(hay, from, out);
        }
        match &self.prefilter {
            Some(set) => {
                for i in set.matches_at(hay, from).iter() {
                    self.source_candidates(&self.sources[i], hay, from, out);
                }
            }
            None => {
                for source in &self.sources {
                    self.source_candidates(source, hay, from, out);
                }
            }
        }
    }

    fn source_candidates(&self, source: &Source, hay: &str, from: usize, out: &mut Vec<Cand>) {
        let mut pos = from;
        while pos <= hay.len() {
            let Some(m) = source.re.find_at(hay, pos) else {
                break;
            };
            if m.is_empty() {
                pos = next_boundary(hay, m.start());
                continue;
            }
            let hit = pii::confirm(source.check, hay, m.start(), m.end());
            let tag = match &source.tag {
                Tag::Fixed(t) => *t,
                Tag::Lookup(set, base) => {
                    base + set.matches(m.as_str()).iter().next().unwrap_or(0) as u32
                }
            };
            out.push(Cand {
                start: m.start(),
                end: m.end(),
                hit,
                tag,
                open: false,
            });
            pos = m.end();
        }
    }

    /// Up to where a growing text is final: no candidate straddles the cut, and no match
    /// can begin before it and end after it, whatever text comes next.
    pub(crate) fn cut(&self, hay: &str, from: usize, cands: &[Cand]) -> usize {
        let mut cut = hay.len();
        if self.window > 0 {
            cut = floor_boundary(hay, hay.len().saturating_sub(self.window).max(from));
        }
        if let Some(tail) = &self.tail
            && let Some(m) = tail.find_at(hay, from)
        {
            cut = cut.min(m.start());
        }
        loop {
            let before = cut;
            for c in cands {
                if c.start < cut && (c.end > cut || c.open) {
                    cut = c.start;
                }
            }
            if cut == before {
                break;
            }
        }
        if hay.len() - cut > HOLD_CAP {
            // Pathological: a match longer than any secret; let the text go as it is.
            cut = hay.len();
        }
        cut
    }

    /// The confirmed matches in `[from, cut)`, earliest first; of overlapping ones the one
    /// that starts first, then the longest, then the lowest tag.
    pub(crate) fn resolve(cands: &[Cand], cut: usize, hits: &mut Vec<Hit>) {
        hits.clear();
        hits.extend(cands.iter().filter_map(|c| {
            let (start, end) = c.hit?;
            (end <= cut && start < end).then_some(Hit {
                start,
                end,
                tag: c.tag,
            })
        }));
        hits.sort_unstable_by_key(|h| (h.start, std::cmp::Reverse(h.end), h.tag));
        let mut last = 0;
        hits.retain(|h| {
            let keep = h.start >= last;
            if keep {
                last = h.end;
            }
            keep
        });
    }

    /// Applies the guardrail's action to `hay[from..cut]` given its matches: the rewritten
    /// segment (`None`: unchanged), or the reason for blocking.
    pub(crate) fn apply(
        &self,
        name: &str,
        action: GuardAction,
        seg: (&str, usize, usize),
        hits: &[Hit],
        tally: &mut Tally,
    ) -> Result<Option<String>, String> {
        let (hay, from, cut) = seg;
        if hits.is_empty() {
            return Ok(None);
        }
        let replace = matches!(action, GuardAction::Redact | GuardAction::Mask);
        let mut out: Option<String> = None;
        let mut last = from;
        for (i, h) in hits.iter().enumerate() {
            tally.matches += 1;
            let fire_now = match &self.rule {
                Rule::Toxicity(weights, threshold) => {
                    if !tally.seen.contains(&h.tag) {
                        tally.seen.push(h.tag);
                        let w = weights.get(h.tag as usize).copied().unwrap_or(1.0);
                        tally.score = (tally.score + w).min(1.0);
                    }
                    tally.score + 1e-9 >= *threshold
                }
                Rule::Pii => {
                    tally.entities |= 1 << h.tag;
                    true
                }
                Rule::Injection | Rule::Regex => true,
            };
            tally.fired |= fire_now;
            if action == GuardAction::Block && tally.fired {
                return Err(self.block_reason(&hits[i..], tally));
            }
            if replace && tally.fired {
                let o = out.get_or_insert_with(|| String::with_capacity(cut - from + 16));
                o.push_str(&hay[last..h.start]);
                self.replacement(name, action, &hay[h.start..h.end], h.tag, o);
                last = h.end;
            }
        }
        if let Some(o) = &mut out {
            o.push_str(&hay[last..cut]);
        }
        Ok(out)
    }

    fn block_reason(&self, rest: &[Hit], tally: &mut Tally) -> String {
        match &self.rule {
            Rule::Toxicity(weights, threshold) => {
                for h in &rest[1..] {
                    if !tally.seen.contains(&h.tag) {
                        tally.seen.push(h.tag);
                        let w = weights.get(h.tag as usize).copied().unwrap_or(1.0);
                        tally.score = (tally.score + w).min(1.0);
                    }
                }
                format!(
                    "toxicity score {} is at or above {}",
                    score_text(tally.score),
                    score_text(*threshold)
                )
            }
            Rule::Pii => {
                let bits = rest.iter().fold(tally.entities, |b, h| b | (1 << h.tag));
                format!("personal data found: {}", entity_labels(bits).join(", "))
            }
            Rule::Injection => "possible prompt injection".into(),
            Rule::Regex => format!("text matches patterns[{}]", rest[0].tag),
        }
    }

    fn replacement(&self, name: &str, action: GuardAction, text: &str, tag: u32, out: &mut String) {
        let entity = matches!(self.rule, Rule::Pii).then(|| pii::entity(tag));
        match action {
            GuardAction::Redact => match entity {
                Some(e) => out.push_str(pii::placeholder(e)),
                None => {
                    out.push_str("[REDACTED:");
                    out.push_str(name);
                    out.push(']');
                }
            },
            _ => mask(text, entity == Some(PiiEntity::CreditCard), out),
        }
    }
}

/// `*` for every character; a card number keeps its separators and its last four digits.
pub(crate) fn mask(text: &str, card: bool, out: &mut String) {
    let keep_from = if card {
        text.char_indices()
            .filter(|(_, c)| c.is_ascii_digit())
            .map(|(i, _)| i)
            .rev()
            .nth(3)
            .unwrap_or(0)
    } else {
        usize::MAX
    };
    for (i, c) in text.char_indices() {
        if i >= keep_from || (card && !c.is_ascii_digit()) {
            out.push(c);
        } else {
            out.push('*');
        }
    }
}
