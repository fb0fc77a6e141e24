//! Turns guardrail definitions into compiled guards (once per config generation; the
//! built-in kinds once per process).

use std::sync::{Arc, LazyLock};

use regex::{Regex, RegexSet};
use strata_config::{FailMode, GuardAction, GuardSide, Guardrail, GuardrailKind, PiiEntity};

use super::GuardError;
use super::lexicon::{ACT_AS, INJECTION, INJECTION_RAW, SLURS_ROT13, TOXIC, rot13};
use super::phrase::{
    Atom, boundary, literal, obfuscated, prefixes, seq, slots_prefixes, slots_regex,
};
use super::pii::{self, Check};
use super::scan::{CUSTOM_WINDOW, HOLD_CAP, Local, Rule, Source, Tag};
use super::webhook::Webhook;

/// A compiled guardrail.
#[derive(Debug)]
pub(crate) struct Guard {
    pub name: String,
    pub kind: GuardrailKind,
    pub action: GuardAction,
    pub request: bool,
    pub response: bool,
    pub engine: Engine,
}

#[derive(Debug)]
pub(crate) enum Engine {
    Local(Local),
    Webhook(Webhook),
}

impl Guard {
    pub(crate) fn applies(&self, side: GuardSide) -> bool {
        match side {
            GuardSide::Request => self.request,
            GuardSide::Response => self.response,
        }
    }

    pub(crate) fn local(&self) -> Option<&Local> {
        match &self.engine {
            Engine::Local(l) => Some(l),
            Engine::Webhook(_) => None,
        }
    }
}

/// The action a kind takes unless told otherwise.
pub(crate) fn default_action(kind: GuardrailKind) -> GuardAction {
    match kind {
        GuardrailKind::PiiRedaction | GuardrailKind::Regex => GuardAction::Redact,
        GuardrailKind::ToxicityFilter | GuardrailKind::Webhook => GuardAction::Block,
        GuardrailKind::PromptInjection => GuardAction::Flag,
    }
}

const DEFAULT_THRESHOLD: f64 = 0.5;
const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

static BUILTINS: LazyLock<[Arc<Guard>; 3]> = LazyLock::new(|| {
    let guard = |name: &str, kind, engine| {
        Arc::new(Guard {
            name: name.into(),
            kind,
            action: default_action(kind),
            request: true,
            response: true,
            engine: Engine::Local(engine),
        })
    };
    [
        guard("pii_redaction", GuardrailKind::PiiRedaction, pii_local(&[])),
        guard(
            "toxicity_filter",
            GuardrailKind::ToxicityFilter,
            toxicity_local("toxicity_filter", true, &[], &[], DEFAULT_THRESHOLD)
                .expect("built-in guardrail expressions compile"),
        ),
        guard(
            "prompt_injection",
            GuardrailKind::PromptInjection,
            injection_local("prompt_injection", &[])
                .expect("built-in guardrail expressions compile"),
        ),
    ]
});

/// Compiles the built-in guards now rather than on first use (once per process).
pub(crate) fn warm_up() {
    LazyLock::force(&BUILTINS);
}

/// The built-in guard a bare kind name stands for.
pub(crate) fn builtin(kind: GuardrailKind) -> Option<Arc<Guard>> {
    let i = match kind {
        GuardrailKind::PiiRedaction => 0,
        GuardrailKind::ToxicityFilter => 1,
        GuardrailKind::PromptInjection => 2,
        GuardrailKind::Regex | GuardrailKind::Webhook => return None,
    };
    Some(BUILTINS[i].clone())
}

/// Compiles one definition.
pub(crate) fn compile(def: &Guardrail, http: &reqwest::Client) -> Result<Guard, GuardError> {
    let name = def.name.as_str();
    let config = |message: String| GuardError::Config {
        guardrail: name.into(),
        message,
    };
    let threshold = def.threshold.unwrap_or(DEFAULT_THRESHOLD);
    if !(0.0..=1.0).contains(&threshold) {
        return Err(config(format!(
            "threshold {threshold} is not between 0 and 1"
        )));
    }
    let engine = match def.kind {
        GuardrailKind::PiiRedaction => Engine::Local(pii_local(&def.entities)),
        GuardrailKind::ToxicityFilter => Engine::Local(toxicity_local(
            name,
            def.builtin_lexicon.unwrap_or(true),
            &def.words,
            &def.patterns,
            threshold,
        )?),
        GuardrailKind::PromptInjection => Engine::Local(injection_local(name, &def.patterns)?),
        GuardrailKind::Regex => {
            if def.patterns.is_empty() {
                return Err(config("a regex guardrail needs `patterns`".into()));
            }
            let (sources, _) = custom(name, &def.patterns, 0)?;
            Engine::Local(assemble(
                sources,
                Vec::new(),
                false,
                custom_window(&def.patterns),
                Rule::Regex,
            ))
        }
        GuardrailKind::Webhook => {
            let url = def
                .url
                .as_deref()
                .ok_or_else(|| config("a webhook guardrail needs `url`".into()))?;
            let timeout = def.timeout.as_ref().map_or(DEFAULT_TIMEOUT, |d| d.0);
            let on_error = def.on_error.unwrap_or(FailMode::Closed);
            Engine::Webhook(
                Webhook::new(url, &def.headers, timeout, on_error, http.clone()).map_err(config)?,
            )
        }
    };
    let sides = if def.apply_to.is_empty() {
        &[GuardSide::Request, GuardSide::Response][..]
    } else {
        &def.apply_to[..]
    };
    Ok(Guard {
        name: name.into(),
        kind: def.kind,
        action: def.action.unwrap_or(default_action(def.kind)),
        request: sides.contains(&GuardSide::Request),
        response: sides.contains(&GuardSide::Response),
        engine,
    })
}

/// Puts the pieces together: the prefilter and the combined tail expression.
fn assemble(
    sources: Vec<Source>,
    tails: Vec<String>,
    pem: bool,
    window: usize,
    rule: Rule,
) -> Local {
    let prefilter = (sources.len() > 1)
        .then(|| RegexSet::new(sources.iter().map(|s| s.re.as_str())).ok())
        .flatten();
    let mut unique: Vec<String> = Vec::new();
    for t in tails {
        let t = format!("(?:{t})");
        if !unique.contains(&t) {
            unique.push(t);
        }
    }
    let tail = (!unique.is_empty())
        .then(|| Regex::new(&format!(r"(?:{})\z", unique.join("|"))).ok())
        .flatten();
    Local {
        sources,
        prefilter,
        pem,
        tail,
        window,
        rule,
    }
}

/// Built-in expressions never fail to compile (the tests compile every one of them).
fn builtin_regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("built-in guardrail expressions compile")
}

fn pii_local(entities: &[PiiEntity]) -> Local {
    let selected = |e: &PiiEntity| entities.is_empty() || entities.contains(e);
    let mut sources = Vec::new();
    let mut tails = Vec::new();
    for e in pii::ORDER.iter().filter(|e| selected(e)) {
        for (pattern, check) in pii::patterns(*e) {
            sources.push(Source {
                re: builtin_regex(&pattern),
                check,
                tag: Tag::Fixed(pii::tag(*e)),
            });
        }
        tails.extend(pii::tails(*e));
    }
    let pem = selected(&PiiEntity::Secret);
    assemble(sources, tails, pem, 0, Rule::Pii)
}

/// Custom `patterns`, tagged from `base`; their anchored forms for identification.
/// How far a stream holds back text for custom patterns: the longest match any of them can
/// have (so a match split across chunks is still found whole), at least [`CUSTOM_WINDOW`]
/// (also what a pattern without a longest match, such as `\d+`, gets), at most
/// [`HOLD_CAP`].
fn custom_window(patterns: &[String]) -> usize {
    patterns
        .iter()
        .filter_map(|p| regex_syntax::Parser::new().parse(p).ok())
        .filter_map(|hir| hir.properties().maximum_len())
        .fold(CUSTOM_WINDOW, usize::max)
        .min(HOLD_CAP)
}

fn custom(
    name: &str,
    patterns: &[String],
    base: u32,
) -> Result<(Vec<Source>, Vec<f64>), GuardError> {
    let mut sources = Vec::new();
    for (index, p) in patterns.iter().enumerate() {
        let re = Regex::new(p).map_err(|source| GuardError::Pattern {
            guardrail: name.into(),
            index,
            source,
        })?;
        sources.push(Source {
            re,
            check: Check::Plain,
            tag: Tag::Fixed(base + index as u32),
        });
    }
    Ok((sources, vec![1.0; patterns.len()]))
}

/// A list of literal-ish terms as one expression, plus an identifier of the term matched
/// and the tail expression.
fn terms(
    name: &str,
    list: &[(Vec<Atom>, bool)],
    unicode: bool,
    base: u32,
) -> Result<(Source, String), GuardError> {
    let mut alts = Vec::new();
    let mut anchored = Vec::new();
    let mut tails = Vec::new();
    for (atoms, plural) in list {
        let (b0, b1) = (
            boundary(atoms, true, unicode),
            boundary(atoms, false, unicode),
        );
        let suffix = if *plural { "(?:e?s)?" } else { "" };
        let body = format!("{b0}{}{suffix}{b1}", seq(atoms));
        anchored.push(format!("(?i)^(?:{body})$"));
        alts.push(body);
        tails.push(format!("{b0}{}", prefixes(atoms)));
        if *plural {
            tails.push(format!("{b0}{}e?s?", seq(atoms)));
        }
    }
    let error = |source| GuardError::Words {
        guardrail: name.into(),
        source,
    };
    let re = Regex::new(&format!("(?i)(?:{})", alts.join("|"))).map_err(error)?;
    let set = RegexSet::new(&anchored).map_err(error)?;
    let source = Source {
        re,
        check: Check::Plain,
        tag: Tag::Lookup(set, base),
    };
    Ok((source, format!("(?i:{})", tails.join("|"))))
}

fn toxicity_local(
    name: &str,
    builtin: bool,
    words: &[String],
    patterns: &[String],
    threshold: f64,
) -> Result<Local, GuardError> {
    let mut sources = Vec::new();
    let mut tails = Vec::new();
    let mut weights = Vec::new();
    if builtin {
        let mut list: Vec<(String, f64)> =
            TOXIC.iter().map(|(w, x)| ((*w).to_string(), *x)).collect();
        list.extend(SLURS_ROT13.iter().map(|s| (rot13(s), 1.0)));
        // Longer terms first, so that "fuck you" wins over "fuck" where both match.
        list.sort_by_key(|t| std::cmp::Reverse(t.0.len()));
        let atoms: Vec<(Vec<Atom>, bool)> = list
            .iter()
            .map(|(w, _)| (obfuscated(w), !w.contains(' ')))
            .collect();
        let (source, tail) = terms(name, &atoms, false, 0)?;
        sources.push(source);
        tails.push(tail);
        weights.extend(list.iter().map(|(_, w)| *w));
    }
    let words: Vec<&String> = words.iter().filter(|w| !w.trim().is_empty()).collect();
    if !words.is_empty() {
        let mut atoms: Vec<(Vec<Atom>, bool)> = words.iter().map(|w| (literal(w), false)).collect();
        atoms.sort_by_key(|t| std::cmp::Reverse(t.0.len()));
        let (source, tail) = terms(name, &atoms, true, weights.len() as u32)?;
        sources.push(source);
        tails.push(tail);
        weights.extend(std::iter::repeat_n(1.0, words.len()));
    }
    let (custom_sources, custom_weights) = custom(name, patterns, weights.len() as u32)?;
    let window = if custom_sources.is_empty() {
        0
    } else {
        custom_window(patterns)
    };
    sources.extend(custom_sources);
    weights.extend(custom_weights);
    Ok(assemble(
        sources,
        tails,
        false,
        window,
        Rule::Toxicity(weights, threshold),
    ))
}

fn injection_local(name: &str, patterns: &[String]) -> Result<Local, GuardError> {
    let mut alts: Vec<String> = INJECTION.iter().map(|slots| slots_regex(slots)).collect();
    let mut tails: Vec<String> = INJECTION
        .iter()
        .map(|slots| slots_prefixes(slots))
        .collect();
    for (re, tail) in INJECTION_RAW {
        alts.push(format!("(?:{re})"));
        tails.push((*tail).into());
    }
    tails.push(format!("(?i:{})", slots_prefixes(ACT_AS)));
    let tails = tails.into_iter().map(|t| format!("(?i:(?:{t}))")).collect();
    let builtin = Source {
        re: builtin_regex(&format!("(?i)(?:{})", alts.join("|"))),
        check: Check::Plain,
        tag: Tag::Fixed(0),
    };
    let (custom_sources, _) = custom(name, patterns, 1)?;
    let window = if custom_sources.is_empty() {
        0
    } else {
        custom_window(patterns)
    };
    let mut sources = vec![builtin];
    sources.extend(custom_sources);
    Ok(assemble(sources, tails, false, window, Rule::Injection))
}
