//! Built-in word lists: the toxicity lexicon with its weights, and prompt-injection
//! phrasings. Kept deliberately small and conservative; operators add their own terms with
//! `words` and `patterns`.

use super::phrase::{Slot, opt, req};

/// Toxicity terms and their weights (0 to 1). Single words also match their plural.
pub(crate) const TOXIC: &[(&str, f64)] = &[
    // Profanity.
    ("fuck", 0.5),
    ("fucking", 0.4),
    ("fucked", 0.4),
    ("fucker", 0.6),
    ("motherfucker", 0.8),
    ("fuck you", 0.8),
    ("fuck off", 0.7),
    ("shit", 0.3),
    ("bullshit", 0.3),
    ("piece of shit", 0.7),
    ("bitch", 0.6),
    ("son of a bitch", 0.7),
    ("bastard", 0.5),
    ("asshole", 0.6),
    ("dick", 0.3),
    ("dickhead", 0.6),
    ("cunt", 0.8),
    ("twat", 0.6),
    ("wanker", 0.5),
    ("prick", 0.4),
    ("slut", 0.7),
    ("whore", 0.7),
    ("piss off", 0.4),
    ("crap", 0.1),
    ("damn", 0.1),
    ("goddamn", 0.2),
    // Insults and harassment.
    ("idiot", 0.3),
    ("stupid", 0.2),
    ("moron", 0.4),
    ("imbecile", 0.4),
    ("dumbass", 0.5),
    ("loser", 0.3),
    ("pathetic", 0.2),
    ("worthless", 0.2),
    ("retard", 0.8),
    ("retarded", 0.7),
    ("shut up", 0.3),
    ("you suck", 0.4),
    ("nobody likes you", 0.5),
    ("go to hell", 0.4),
    // Threats and self-harm incitement.
    ("kill you", 1.0),
    ("murder you", 1.0),
    ("shoot you", 0.4),
    ("stab you", 1.0),
    ("hurt you", 0.4),
    ("beat you up", 0.8),
    ("i will find you", 0.6),
    ("kill yourself", 1.0),
    ("kys", 0.9),
    ("go die", 0.9),
    ("die in a fire", 0.9),
    ("hope you die", 1.0),
    ("rape", 0.4),
    ("rape you", 1.0),
];

/// Slurs, weight 1 each; stored ROT13 so that the source does not spell them out.
pub(crate) const SLURS_ROT13: &[&str] = &[
    "avttre", "avttn", "snttbg", "xvxr", "puvax", "fcvp", "genaal", "jrgonpx", "enturnq",
];

pub(crate) fn rot13(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'a'..='m' | 'A'..='M' => (c as u8 + 13) as char,
            'n'..='z' | 'N'..='Z' => (c as u8 - 13) as char,
            _ => c,
        })
        .collect()
}

const IGNORE: &[&str] = &[
    "ignore",
    "disregard",
    "forget",
    "skip",
    "override",
    "bypass",
    "overlook",
    "neglect",
];

/// Prompt-injection phrasings as slotted phrases (case-insensitive, any white space between
/// words).
pub(crate) const INJECTION: &[&[Slot]] = &[
    // "ignore all the previous instructions"
    &[
        req(IGNORE),
        opt(&["all", "any", "every", "each"]),
        opt(&["of"]),
        opt(&["the", "your", "my", "these", "those", "their"]),
        req(&[
            "previous",
            "prior",
            "above",
            "earlier",
            "preceding",
            "former",
            "foregoing",
            "initial",
            "original",
            "old",
        ]),
        req(&[
            "instructions",
            "instruction",
            "prompts",
            "prompt",
            "rules",
            "directions",
            "guidelines",
            "directives",
            "commands",
            "context",
            "messages",
        ]),
    ],
    // "disregard your system prompt"
    &[
        req(IGNORE),
        opt(&["all", "any"]),
        opt(&["of"]),
        req(&["your", "the", "this", "my"]),
        req(&[
            "system prompt",
            "system message",
            "system instructions",
            "safety guidelines",
            "guidelines",
            "rules",
            "instructions",
            "programming",
            "restrictions",
            "content policy",
        ]),
    ],
    // "you are now DAN", "pretend to be an unrestricted AI"
    &[
        req(&[
            "you are now",
            "you're now",
            "from now on you are",
            "from now on you're",
            "you will now act as",
            "you will act as",
            "you are going to act as",
            "pretend to be",
            "pretend you are",
            "act as",
            "roleplay as",
        ]),
        opt(&["a", "an", "the", "in"]),
        req(&[
            "DAN",
            "jailbroken",
            "jailbreak mode",
            "unrestricted",
            "unfiltered",
            "uncensored",
            "unaligned",
            "developer mode",
            "dev mode",
            "god mode",
            "do anything now",
        ]),
    ],
    // "enable developer mode"
    &[
        req(&["enable", "enter", "activate", "switch to", "turn on"]),
        opt(&["the"]),
        req(&[
            "developer mode",
            "dev mode",
            "god mode",
            "jailbreak mode",
            "DAN mode",
        ]),
    ],
    // "reveal your system prompt"
    &[
        req(&[
            "reveal",
            "print",
            "show",
            "display",
            "output",
            "repeat",
            "tell me",
            "leak",
            "expose",
            "dump",
            "write out",
            "share",
            "give me",
        ]),
        opt(&["me"]),
        opt(&["your", "the"]),
        opt(&[
            "full", "entire", "complete", "original", "initial", "hidden", "secret", "exact",
        ]),
        req(&[
            "system prompt",
            "system message",
            "system instructions",
            "initial prompt",
            "initial instructions",
            "hidden prompt",
            "hidden instructions",
            "original prompt",
            "original instructions",
            "secret instructions",
            "pre-prompt",
            "preprompt",
        ]),
    ],
    // "forget everything"
    &[
        req(&["forget"]),
        req(&[
            "everything",
            "all that",
            "all of that",
            "all of the above",
            "what you were told",
        ]),
    ],
];

/// Injection expressions that do not fit the slotted shape, each with a tail expression
/// matching every beginning of its matches (used by streams).
pub(crate) const INJECTION_RAW: &[(&str, &str)] = &[
    // "act as X without any restrictions" (on one line).
    (
        concat!(
            r"(?i)(?-u:\b)(?:act|behave|respond|answer)\s+as(?-u:\b)[^\n]{0,80}?(?-u:\b)",
            r"(?:without|with[ \t]+no)[ \t]+(?:any[ \t]+)?",
            r"(?:restrictions|limitations|limits|filters|rules|guidelines|censorship|boundaries)",
            r"(?-u:\b)"
        ),
        r"(?i)(?-u:\b)(?:act|behave|respond|answer)\s+as[^\n]{0,140}",
    ),
    // Role tags: </system>, <|im_start|>, <<SYS>>, [INST], "### system:".
    (
        r"(?i)<\s*/?\s*(?:system|sys|im_start|im_end)\s*>",
        r"(?i)<\s*/?\s*[a-z_]{0,8}\s*",
    ),
    (
        r"(?i)<\|(?:im_start|im_end|system|endoftext|start_header_id|end_header_id|eot_id)\|>",
        r"(?i)<\|[a-z_]{0,15}\|?",
    ),
    (r"(?i)<<\s*/?\s*SYS\s*>>", r"(?i)<<?\s*/?\s*[a-z]{0,3}\s*>?"),
    (r"(?i)\[/?(?:INST|SYS|system)\]", r"(?i)\[/?[a-z]{0,6}"),
    (
        r"(?im)^[ \t]*#{2,}[ \t]*(?:system|instructions?)(?:[ \t]*:|[ \t]*$)",
        r"(?im)^[ \t]*(?:#+[ \t]*[a-z]{0,12}[ \t]*:?)?",
    ),
];

/// The phrase heads of [`INJECTION_RAW`]'s first expression, for its tail.
pub(crate) const ACT_AS: &[Slot] = &[req(&["act as", "behave as", "respond as", "answer as"])];
