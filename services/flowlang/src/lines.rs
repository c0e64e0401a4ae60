//! Where each key of a YAML file stands: a map from a dotted path (`flows.demo.nodes.ask.goto`,
//! list items by index: `options.0.goto`) to its 1-based line, so a validation error about a
//! value points at the line a nurse has to change.

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
}
