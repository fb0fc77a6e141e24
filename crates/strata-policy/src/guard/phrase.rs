//! Builds a phrase's regular expression together with its *prefix* expression: one that
//! matches every beginning of a possible match. A stream holds back the tail of its text that
//! the prefix expression matches, because the next piece could complete a match there.

/// One unit of a phrase: the regex for one character, or a run of white space.
#[derive(Debug, Clone)]
pub(crate) enum Atom {
    Char(String),
    Space,
}

impl Atom {
    fn regex(&self) -> &str {
        match self {
            Atom::Char(c) => c,
            Atom::Space => r"\s+",
        }
    }
}

/// A literal phrase as atoms: characters escaped, white-space runs collapsed.
pub(crate) fn literal(text: &str) -> Vec<Atom> {
    let mut atoms = Vec::new();
    for c in text.trim().chars() {
        if c.is_whitespace() {
            if !matches!(atoms.last(), Some(Atom::Space)) {
                atoms.push(Atom::Space);
            }
        } else {
            atoms.push(Atom::Char(regex::escape(c.encode_utf8(&mut [0; 4]))));
        }
    }
    atoms
}

/// A built-in lexicon word, tolerant of common obfuscation: digits for letters (`sh1t`) and
/// `*` for inner letters (`f**k`). The first and last characters stay word characters so
/// that word boundaries keep working.
pub(crate) fn obfuscated(word: &str) -> Vec<Atom> {
    let chars: Vec<char> = word.chars().collect();
    let last = chars.len().saturating_sub(1);
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            if c == ' ' {
                return Atom::Space;
            }
            let leet = match c {
                'a' => "4@",
                'e' => "3",
                'i' => "1!",
                'o' => "0",
                's' => "5$",
                't' => "7",
                'l' => "1",
                _ => "",
            };
            let inner = i != 0 && i != last && chars[i - 1] != ' ' && chars[i + 1] != ' ';
            let mut class = String::from("[");
            class.push(c);
            for l in leet.chars() {
                if inner || l.is_ascii_alphanumeric() {
                    if l == '$' {
                        class.push('\\');
                    }
                    class.push(l);
                }
            }
            if inner {
                class.push_str(r"\*");
            }
            class.push(']');
            Atom::Char(class)
        })
        .collect()
}

/// The atoms in sequence.
pub(crate) fn seq(atoms: &[Atom]) -> String {
    atoms.iter().map(Atom::regex).collect()
}

/// Every non-empty beginning of `atoms` (the whole included), as nested optional groups.
pub(crate) fn prefixes(atoms: &[Atom]) -> String {
    let mut out = String::new();
    for (i, atom) in atoms.iter().enumerate() {
        if i > 0 {
            out.push_str("(?:");
        }
        out.push_str(atom.regex());
    }
    for _ in 1..atoms.len() {
        out.push_str(")?");
    }
    out
}

/// A word boundary where the phrase's edge character is a word character (ASCII rules, which
/// keep the fast regex engines usable on any text).
pub(crate) fn boundary(atoms: &[Atom], at_start: bool, unicode: bool) -> &'static str {
    let atom = if at_start {
        atoms.first()
    } else {
        atoms.last()
    };
    let word = match atom {
        Some(Atom::Char(c)) => {
            // A class or an escaped character: look at its first real character.
            let c = c
                .trim_start_matches(['[', '\\'])
                .chars()
                .next()
                .unwrap_or(' ');
            c.is_alphanumeric() || c == '_'
        }
        _ => false,
    };
    match (word, unicode) {
        (false, _) => "",
        (true, true) => r"\b",
        (true, false) => r"(?-u:\b)",
    }
}

/// A phrase made of slots, each a list of alternative literal phrases, optional or not.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    pub alternatives: &'static [&'static str],
    pub optional: bool,
}

/// A required slot.
pub(crate) const fn req(alternatives: &'static [&'static str]) -> Slot {
    Slot {
        alternatives,
        optional: false,
    }
}

/// An optional slot.
pub(crate) const fn opt(alternatives: &'static [&'static str]) -> Slot {
    Slot {
        alternatives,
        optional: true,
    }
}

fn alternation(slot: &Slot, f: impl Fn(&[Atom]) -> String) -> String {
    let parts: Vec<String> = slot.alternatives.iter().map(|a| f(&literal(a))).collect();
    format!("(?:{})", parts.join("|"))
}

/// The match expression of a slotted phrase: slots separated by white space, whole words.
/// The first slot must be required.
pub(crate) fn slots_regex(slots: &[Slot]) -> String {
    let mut out = String::from(r"(?-u:\b)");
    for (i, slot) in slots.iter().enumerate() {
        let alts = alternation(slot, seq);
        let sep = if i == 0 { "" } else { r"\s+" };
        if slot.optional {
            out.push_str(&format!("(?:{sep}{alts})?"));
        } else {
            out.push_str(&format!("{sep}{alts}"));
        }
    }
    out.push_str(r"(?-u:\b)");
    out
}

/// Every beginning of a slotted phrase's matches (a superset is fine: it only holds more).
pub(crate) fn slots_prefixes(slots: &[Slot]) -> String {
    let mut branches = Vec::new();
    let mut head = String::from(r"(?-u:\b)");
    for (i, slot) in slots.iter().enumerate() {
        let started = alternation(slot, prefixes);
        if i == 0 {
            branches.push(format!("{head}{started}"));
        } else {
            branches.push(format!(r"{head}\s+{started}?"));
        }
        let sep = if i == 0 { "" } else { r"\s+" };
        let alts = alternation(slot, seq);
        if slot.optional {
            head.push_str(&format!("(?:{sep}{alts})?"));
        } else {
            head.push_str(&format!("{sep}{alts}"));
        }
    }
    // Complete phrases followed by space (the next slot not started yet).
    branches.push(format!(r"{head}\s*"));
    format!("(?:{})", branches.join("|"))
}
