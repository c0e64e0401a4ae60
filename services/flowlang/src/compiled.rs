//! The texts of a set of loaded flows, compiled once ([`Template`]) when [`crate::load::check`]
//! loads them, and each file's `globals` as the value expressions read: a step looks its texts
//! up here instead of parsing and compiling them again.
//!
//! Every text the interpreter renders or evaluates is here: screens, options, errors, end
//! texts, actions' values, SMS texts and numbers, `switch.on`, case arguments that are
//! expressions, webhook URLs, headers and bodies, and `wait.until`. A text that is not (flows
//! built another way) is compiled when it is used, with the same result; a test checks no
//! transcript of the repository needs that.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use minijinja::Value;

use crate::model::{Action, Flow, Node, Text};
use crate::template::Template;

/// FxHash (rustc's hash), for looking texts up by their source: several times faster than
/// SipHash on a screen's length, and the keys are the flows' own texts, looked up with the
/// flows' own texts, so there is no hash flooding to guard against.
#[derive(Debug, Default, Clone, Copy)]
struct TextHasher(u64);

impl TextHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for TextHasher {
    fn write(&mut self, bytes: &[u8]) {
        // A long text hashes by its length, its start, middle and end: texts that share
        // all of those only cost a comparison more.
        if bytes.len() > 48 {
            let (n, mid) = (bytes.len(), bytes.len() / 2);
            self.add(n as u64);
            for part in [&bytes[..16], &bytes[mid - 4..mid + 4], &bytes[n - 16..]] {
                self.write(part);
            }
            return;
        }
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.add(u64::from_le_bytes(w.try_into().unwrap_or_default()));
        }
        let mut last = [0u8; 8];
        let rest = words.remainder();
        last[..rest.len()].copy_from_slice(rest);
        self.add(u64::from_le_bytes(last) ^ ((rest.len() as u64) << 56));
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<TextHasher>>;

/// Compiled texts by their source, and each file's globals.
#[derive(Debug, Default)]
pub struct Compiled {
    templates: Vec<Template>,
    /// Templates by source.
    texts: FxMap<Box<str>, usize>,
    /// Templates by where the loaded flows hold their source (address and length): the
    /// interpreter's texts are found without hashing them. A text found there is compared
    /// with the template's source before it is trusted (once those flows are dropped, an
    /// address may hold another text), and looked up by source when it is not.
    places: FxMap<(usize, usize), usize>,
    globals: Vec<Value>,
}

impl Compiled {
    /// Compiles every text of `flows` and the `globals` of each file (by file index).
    pub(crate) fn of<'a>(
        flows: impl IntoIterator<Item = &'a Flow>,
        globals: impl IntoIterator<Item = &'a BTreeMap<String, String>>,
    ) -> Compiled {
        let mut c = Compiled {
            templates: Vec::new(),
            texts: HashMap::default(),
            places: HashMap::default(),
            globals: globals.into_iter().map(Value::from_serialize).collect(),
        };
        for flow in flows {
            c.text(&flow.invalid_choice);
            for node in flow.nodes.values() {
                c.node(node);
            }
        }
        c
    }

    /// The compiled form of `text`, if it is one of the flows' texts.
    pub fn get(&self, text: &str) -> Option<&Template> {
        let place = (text.as_ptr() as usize, text.len());
        if let Some(t) = self.places.get(&place).map(|i| &self.templates[*i]) {
            if t.text() == text {
                return Some(t);
            }
        }
        self.texts.get(text).map(|i| &self.templates[*i])
    }

    /// The globals of the file at `index`, as expressions read them.
    pub(crate) fn globals(&self, index: usize) -> Option<&Value> {
        self.globals.get(index)
    }

    /// How many distinct texts are compiled.
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    /// Whether no text is compiled.
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    fn add(&mut self, s: &str) {
        let i = match self.texts.get(s) {
            Some(i) => *i,
            None => {
                self.templates.push(Template::new(s));
                self.texts.insert(s.into(), self.templates.len() - 1);
                self.templates.len() - 1
            }
        };
        self.places.insert((s.as_ptr() as usize, s.len()), i);
    }

    fn text(&mut self, t: &Text) {
        match t {
            Text::Plain(s) => self.add(s),
            Text::Translated(m) => m.values().for_each(|s| self.add(s)),
        }
    }

    fn args(&mut self, args: &[serde_json::Value]) {
        for a in args {
            if let serde_json::Value::String(s) = a {
                if s.starts_with('@') {
                    self.add(s);
                }
            }
        }
    }

    fn node(&mut self, node: &Node) {
        for a in &node.actions {
            match a {
                Action::SetField { value, .. } => self.add(value),
                Action::SetName(v) | Action::SetLanguage(v) => self.add(v),
                Action::SendSms { text, to, .. } => {
                    self.text(text);
                    if let Some(to) = to {
                        self.add(to);
                    }
                }
                Action::AddGroup(_)
                | Action::RemoveGroup(_)
                | Action::Subscribe(_)
                | Action::Unsubscribe(_)
                | Action::OptOut(_) => {}
            }
        }
        if let Some(m) = &node.menu {
            self.text(&m.text);
            for o in &m.options {
                self.text(&o.label);
            }
        }
        if let Some(a) = &node.ask {
            self.text(&a.text);
            if let Some(v) = &a.validate {
                self.text(&v.error);
            }
            for c in &a.cases {
                self.args(&c.args);
            }
        }
        if let Some(s) = &node.switch {
            self.add(&s.on);
            for c in &s.cases {
                self.args(&c.args);
            }
        }
        if let Some(w) = &node.webhook {
            self.add(&w.url);
            w.headers.values().for_each(|v| self.add(v));
            if let Some(b) = &w.body {
                self.add(b);
            }
        }
        if let Some(e) = &node.end {
            self.text(&e.text);
        }
        if let Some(until) = node.wait.as_ref().and_then(|w| w.until.as_ref()) {
            self.add(until);
        }
    }
}
