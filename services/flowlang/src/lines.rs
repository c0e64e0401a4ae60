//! Where each key of a YAML file stands: a map from a dotted path (`flows.demo.nodes.ask.goto`,
//! list items by index: `options.0.goto`) to its 1-based line, so a validation error about a
//! value points at the line a nurse has to change. [`locate`] goes the other way, for the
//! studio: from a report's line to the flow and node it is about.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// Lines by path.
#[derive(Debug, Clone, Default)]
pub struct Lines {
    lines: HashMap<String, usize>,
}

enum Frame {
    Map { expecting_key: bool },
    Seq { index: usize },
}

#[derive(Default)]
struct Indexer {
    stack: Vec<Frame>,
    path: Vec<String>,
    lines: HashMap<String, usize>,
}

impl Indexer {
    fn record(&mut self, line: usize) {
        self.lines.entry(self.path.join(".")).or_insert(line);
    }

    fn begin_value(&mut self, line: usize) {
        if let Some(Frame::Seq { index }) = self.stack.last() {
            self.path.push(index.to_string());
            self.record(line);
        }
    }

    fn end_value(&mut self) {
        match self.stack.last_mut() {
            Some(Frame::Seq { index }) => {
                *index += 1;
                self.path.pop();
            }
            Some(Frame::Map { expecting_key }) => {
                *expecting_key = true;
                self.path.pop();
            }
            None => {}
        }
    }
}

impl MarkedEventReceiver for Indexer {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let line = mark.line();
        match ev {
            Event::Scalar(value, ..) => {
                if let Some(Frame::Map { expecting_key }) = self.stack.last_mut() {
                    if *expecting_key {
                        *expecting_key = false;
                        self.path.push(value);
                        self.record(line);
                        return;
                    }
                }
                self.begin_value(line);
                self.end_value();
            }
            Event::Alias(_) => {
                self.begin_value(line);
                self.end_value();
            }
            Event::MappingStart(..) => {
                self.begin_value(line);
                self.stack.push(Frame::Map { expecting_key: true });
            }
            Event::SequenceStart(..) => {
                self.begin_value(line);
                self.stack.push(Frame::Seq { index: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                self.end_value();
            }
            _ => {}
        }
    }
}

impl Lines {
    /// Indexes `text`; a file that does not parse gives an empty index (serde reports it).
    pub fn of(text: &str) -> Self {
        let mut ix = Indexer::default();
        let mut parser = Parser::new_from_str(text);
        if parser.load(&mut ix, false).is_err() {
            return Self::default();
        }
        Self { lines: ix.lines }
    }

    /// The line of `path`, or of its nearest ancestor that has one.
    pub fn line(&self, path: &str) -> Option<usize> {
        let mut p = path;
        loop {
            if let Some(l) = self.lines.get(p) {
                return Some(*l);
            }
            p = &p[..p.rfind('.')?];
        }
    }

    /// The flow and node the key nearest above `line` (1-based) belongs to; see [`locate`].
    pub fn locate(&self, line: usize) -> Option<(String, Option<String>)> {
        // The last key at or above the line; of several on one line, the deepest.
        let (path, _) = self
            .lines
            .iter()
            .filter(|(_, l)| **l <= line)
            .max_by_key(|(p, l)| (**l, p.matches('.').count()))?;
        let mut parts = path.split('.');
        if parts.next() != Some("flows") {
            return None;
        }
        let flow = parts.next()?.to_string();
        let node = (parts.next() == Some("nodes"))
            .then(|| parts.next().map(str::to_string))
            .flatten();
        Some((flow, node))
    }
}

/// The flow and node a line of the flow file `text` is in, for showing a validation error on
/// the node it concerns: `(flow, Some(node))` inside a node, `(flow, None)` elsewhere in a
/// flow (its `start`, `tests`, …), `None` outside flows (`languages`, `message_sets`) or for
/// a file that does not parse.
pub fn locate(text: &str, line: usize) -> Option<(String, Option<String>)> {
    Lines::of(text).locate(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_find_their_lines() {
        let text = "flows:\n  f:\n    start: a\n    nodes:\n      a:\n        menu:\n          options:\n            - {key: \"1\", goto: b}\n            - key: \"2\"\n              goto: c\n";
        let l = Lines::of(text);
        assert_eq!(l.line("flows.f.start"), Some(3));
        assert_eq!(l.line("flows.f.nodes.a"), Some(5));
        assert_eq!(l.line("flows.f.nodes.a.menu.options.0.goto"), Some(8));
        assert_eq!(l.line("flows.f.nodes.a.menu.options.1.goto"), Some(10));
        assert_eq!(
            l.line("flows.f.nodes.a.menu.options.1.nope"),
            Some(9),
            "falls back to the parent"
        );
        assert_eq!(Lines::of("a: [").line("a"), None);
    }

    #[test]
    fn lines_locate_their_flow_and_node() {
        let text = "languages: [eng]\nflows:\n  f:\n    start: a\n    nodes:\n      a:\n        menu:\n          text: Hi\n          options:\n            - {key: \"1\", label: Go, goto: b}\n\n      b:\n        end: {text: Bye}\n    tests: []\nmessage_sets: {}\n";
        let at = |line| locate(text, line);
        let node = |n: &str| Some(("f".to_string(), Some(n.to_string())));
        assert_eq!(at(1), None, "languages");
        assert_eq!(at(3), Some(("f".into(), None)));
        assert_eq!(at(4), Some(("f".into(), None)), "start");
        assert_eq!(at(6), node("a"));
        assert_eq!(at(10), node("a"), "an option of a's menu");
        assert_eq!(at(11), node("a"), "a blank line inside a");
        assert_eq!(at(13), node("b"));
        assert_eq!(at(14), Some(("f".into(), None)), "tests");
        assert_eq!(at(15), None, "message_sets");
        assert_eq!(locate("flows: [", 1), None);
    }
}
