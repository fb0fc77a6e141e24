//! Guardrails on streamed text: each guardrail holds back the tail of its input that could
//! still begin a match, and emits the rest (see the module docs).

use std::sync::Arc;

use strata_config::GuardSide;

use super::compile::Guard;
use super::scan::{Cand, Hit, Local, Tally, context_start};
use super::{Blocked, Verdict, blocked, verdict};

/// A guard for the text of one response stream (local guardrails only).
#[derive(Debug)]
pub struct StreamGuard {
    stages: Vec<Stage>,
    blocked: Option<Blocked>,
    verdicts: Vec<Verdict>,
}

/// One guardrail's state: its input not yet emitted, after a little already-emitted context.
#[derive(Debug)]
struct Stage {
    guard: Arc<Guard>,
    buf: String,
    /// Where the pending text starts in `buf`.
    from: usize,
    tally: Tally,
    cands: Vec<Cand>,
    hits: Vec<Hit>,
}

impl Stage {
    fn feed(&mut self, input: &str, last: bool) -> Result<String, String> {
        let Some(local) = self.guard.local() else {
            return Ok(input.to_string());
        };
        self.buf.push_str(input);
        self.cands.clear();
        local.candidates(&self.buf, self.from, &mut self.cands);
        let cut = if last {
            self.buf.len()
        } else {
            local.cut(&self.buf, self.from, &self.cands)
        };
        Local::resolve(&self.cands, cut, &mut self.hits);
        let out = local
            .apply(
                &self.guard.name,
                self.guard.action,
                (&self.buf, self.from, cut),
                &self.hits,
                &mut self.tally,
            )?
            .unwrap_or_else(|| self.buf[self.from..cut].to_string());
        let keep = context_start(&self.buf, cut);
        self.buf.drain(..keep);
        self.from = cut - keep;
        Ok(out)
    }
}

impl StreamGuard {
    pub(crate) fn new(guards: Vec<Arc<Guard>>) -> Self {
        Self {
            stages: guards
                .into_iter()
                .map(|guard| Stage {
                    guard,
                    buf: String::new(),
                    from: 0,
                    tally: Tally::default(),
                    cands: Vec::new(),
                    hits: Vec::new(),
                })
                .collect(),
            blocked: None,
            verdicts: Vec::new(),
        }
    }

    /// No guardrail applies: the text passes unchanged.
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// Feeds the next piece of streamed text; returns the text that is safe to emit now
    /// (held-back text may complete a match later). After a block, every call returns it.
    pub fn push(&mut self, delta: &str) -> Result<String, Blocked> {
        self.feed(delta, false)
    }

    /// The end of the stream: whatever is still held back, checked.
    pub fn finish(&mut self) -> Result<String, Blocked> {
        self.feed("", true)
    }

    /// What the guardrails found so far, one verdict per guardrail.
    pub fn verdicts(&self) -> &[Verdict] {
        &self.verdicts
    }

    /// Bytes of text currently held back, over all guardrails.
    pub fn held(&self) -> usize {
        self.stages.iter().map(|s| s.buf.len() - s.from).sum()
    }

    fn feed(&mut self, delta: &str, last: bool) -> Result<String, Blocked> {
        if let Some(b) = &self.blocked {
            return Err(b.clone());
        }
        let mut carry = delta.to_string();
        for i in 0..self.stages.len() {
            match self.stages[i].feed(&carry, last) {
                Ok(out) => carry = out,
                Err(reason) => {
                    let stage = &self.stages[i];
                    let b = blocked(
                        &stage.guard,
                        GuardSide::Response,
                        reason,
                        &stage.tally,
                        self.verdicts.clone(),
                    );
                    self.blocked = Some(b.clone());
                    return Err(b);
                }
            }
        }
        self.verdicts = self
            .stages
            .iter()
            .filter(|s| s.tally.fired)
            .map(|s| verdict(&s.guard, GuardSide::Response, &s.tally, s.guard.action))
            .collect();
        Ok(carry)
    }
}
