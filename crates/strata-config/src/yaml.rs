//! A YAML document as a tree that remembers where every key and value sits in the file.
//! Built from saphyr's event stream, so that schema and reference errors found later can
//! point at the exact line and column.

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// A position in the source: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    fn from_span(span: Span) -> Self {
        Self {
            line: span.start.line(),
            column: span.start.col() + 1,
        }
    }
}

/// One node of the document.
#[derive(Debug, Clone)]
pub struct Node {
    pub pos: Pos,
    pub kind: Kind,
}

/// What a node holds.
#[derive(Debug, Clone)]
pub enum Kind {
    /// A scalar: its text and whether it was written plain (unquoted), which decides
    /// whether it may be read as a number, a boolean or null.
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    /// Entries in file order, each key with its own position.
    Map(Vec<(Key, Node)>),
}

/// A mapping key and where it is written.
#[derive(Debug, Clone)]
pub struct Key {
    pub name: String,
    pub pos: Pos,
}

/// A step of a path into the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// Formats a path the way users write it: `ai.providers[1].fallback`.
#[must_use]
pub fn path_string(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    out
}

/// Why a document could not be read as a tree.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

/// Parses the first document of `text`. An empty file is an empty mapping. Duplicate keys
/// do not stop the parse: they come back beside the tree (the first value is kept).
pub fn parse(text: &str) -> Result<(Node, Vec<SyntaxError>), SyntaxError> {
    let mut builder = Builder::default();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| SyntaxError {
            pos: Pos {
                line: e.marker().line(),
                column: e.marker().col() + 1,
            },
            message: e.info().to_string(),
        })?;
        if builder.on_event(event, span)? {
            break;
        }
    }
    let root = builder.root.unwrap_or(Node {
        pos: Pos { line: 1, column: 1 },
        kind: Kind::Map(Vec::new()),
    });
    Ok((root, builder.duplicates))
}

enum Open {
    Seq(Node, usize),
    Map(Node, usize, Option<Key>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    anchors: std::collections::HashMap<usize, Node>,
    root: Option<Node>,
    duplicates: Vec<SyntaxError>,
}

impl Builder {
    /// Takes one event; returns true once the first document is complete.
    fn on_event(&mut self, event: Event<'_>, span: Span) -> Result<bool, SyntaxError> {
        let pos = Pos::from_span(span);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let plain = style == ScalarStyle::Plain && tag.is_none();
                let node = Node {
                    pos,
                    kind: Kind::Scalar {
                        text: text.into_owned(),
                        plain,
                    },
                };
                self.finish(node, anchor, pos)
            }
            Event::SequenceStart(anchor, _) => {
                let node = Node {
                    pos,
                    kind: Kind::Seq(Vec::new()),
                };
                self.stack.push(Open::Seq(node, anchor));
                Ok(false)
            }
            Event::MappingStart(anchor, _) => {
                let node = Node {
                    pos,
                    kind: Kind::Map(Vec::new()),
                };
                self.stack.push(Open::Map(node, anchor, None));
                Ok(false)
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Open::Seq(node, anchor) | Open::Map(node, anchor, _)) => {
                    self.finish(node, anchor, pos)
                }
                None => Ok(false),
            },
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(mut node) => {
                    node.pos = pos;
                    self.finish(node, 0, pos)
                }
                None => Err(SyntaxError {
                    pos,
                    message: "alias refers to an unknown anchor".into(),
                }),
            },
            Event::DocumentEnd => Ok(self.root.is_some()),
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart(_) => {
                Ok(false)
            }
        }
    }

    /// Places a complete node into its parent (or as the root).
    fn finish(&mut self, node: Node, anchor: usize, pos: Pos) -> Result<bool, SyntaxError> {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                Ok(false)
            }
            Some(Open::Seq(parent, _)) => {
                if let Kind::Seq(items) = &mut parent.kind {
                    items.push(node);
                }
                Ok(false)
            }
            Some(Open::Map(parent, _, pending)) => {
                let Some(key) = pending.take() else {
                    let Kind::Scalar { text, .. } = node.kind else {
                        return Err(SyntaxError {
                            pos,
                            message: "mapping keys must be plain strings".into(),
                        });
                    };
                    if let Kind::Map(entries) = &parent.kind
                        && let Some((first, _)) = entries.iter().find(|(k, _)| k.name == text)
                    {
                        self.duplicates.push(SyntaxError {
                            pos: node.pos,
                            message: format!(
                                "duplicate key `{text}` (first written at line {})",
                                first.pos.line
                            ),
                        });
                    }
                    *pending = Some(Key {
                        name: text,
                        pos: node.pos,
                    });
                    return Ok(false);
                };
                if let Kind::Map(entries) = &mut parent.kind {
                    entries.push((key, node));
                }
                Ok(false)
            }
        }
    }
}

impl Node {
    /// The node at `path`, if there is one.
    #[must_use]
    pub fn get(&self, path: &[Seg]) -> Option<&Node> {
        let Some((first, rest)) = path.split_first() else {
            return Some(self);
        };
        match (&self.kind, first) {
            (Kind::Map(entries), Seg::Key(k)) => entries
                .iter()
                .find(|(key, _)| &key.name == k)
                .and_then(|(_, v)| v.get(rest)),
            (Kind::Seq(items), Seg::Index(i)) => items.get(*i).and_then(|v| v.get(rest)),
            _ => None,
        }
    }

    /// Where the key `name` of the mapping at `path` is written.
    #[must_use]
    pub fn key_pos(&self, path: &[Seg], name: &str) -> Option<Pos> {
        match &self.get(path)?.kind {
            Kind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.name == name)
                .map(|(k, _)| k.pos),
            _ => None,
        }
    }

    /// The closest position for `path`: the node itself, or its nearest existing ancestor.
    #[must_use]
    pub fn locate(&self, path: &[Seg]) -> Pos {
        (0..=path.len())
            .rev()
            .find_map(|n| self.get(&path[..n]).map(|node| node.pos))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_positions() {
        let (doc, _) = parse("a:\n  b: [1, 'x']\n  c: {d: true}\n").unwrap();
        let b1 = doc.get(&[Seg::Key("a".into()), Seg::Key("b".into()), Seg::Index(1)]);
        let b1 = b1.unwrap();
        assert_eq!((b1.pos.line, b1.pos.column), (2, 10));
        assert!(matches!(&b1.kind, Kind::Scalar { text, plain: false } if text == "x"));
        let c = doc.key_pos(&[Seg::Key("a".into())], "c").unwrap();
        assert_eq!((c.line, c.column), (3, 3));
    }

    #[test]
    fn empty_document_is_empty_map() {
        let (doc, _) = parse("").unwrap();
        assert!(matches!(doc.kind, Kind::Map(ref m) if m.is_empty()));
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let (_, dups) = parse("a: 1\nb: 2\na: 3\n").unwrap();
        let err = &dups[0];
        assert_eq!(err.pos.line, 3);
        assert!(err.message.contains("duplicate key `a`"), "{}", err.message);
    }

    #[test]
    fn aliases_copy_the_anchored_node() {
        let (doc, _) = parse("x: &h {k: v}\ny: *h\n").unwrap();
        let v = doc
            .get(&[Seg::Key("y".into()), Seg::Key("k".into())])
            .unwrap();
        assert!(matches!(&v.kind, Kind::Scalar { text, .. } if text == "v"));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.pos.line >= 1, "{err:?}");
    }

    #[test]
    fn path_format() {
        let p = [
            Seg::Key("ai".into()),
            Seg::Key("providers".into()),
            Seg::Index(1),
        ];
        assert_eq!(path_string(&p), "ai.providers[1]");
    }
}
