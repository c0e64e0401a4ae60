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
    globals: Vec<Value>,
}

/// Templates by where one [`crate::Flows`] holds their source (address and length), so the
/// interpreter finds its texts without hashing or comparing them: while those flows are
/// alive (and they never change), no other text can be at the same address with the same
/// length. Each `Flows` has its own (a clone makes its own, for its own copies of the texts).
#[derive(Debug, Default)]
pub(crate) struct Places(FxMap<(usize, usize), usize>);

impl Places {
    /// Whether a text of these flows is held at `ptr` with length `len`.
    #[cfg(test)]
    pub(crate) fn holds(&self, ptr: usize, len: usize) -> bool {
        self.0.contains_key(&(ptr, len))
    }
}

fn place(s: &str) -> (usize, usize) {
    (s.as_ptr() as usize, s.len())
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
            globals: globals.into_iter().map(Value::from_serialize).collect(),
        };
        for flow in flows {
            texts_of(flow, &mut |s| {
                if !c.texts.contains_key(s) {
                    c.templates.push(Template::new(s));
                    c.texts.insert(s.into(), c.templates.len() - 1);
                }
            });
        }
        c
    }

    /// The compiled form of `text`, if it is one of the flows' texts.
    pub fn get(&self, text: &str) -> Option<&Template> {
        self.texts.get(text).map(|i| &self.templates[*i])
    }

    /// Where `flows` (the flows these were compiled from, or a copy) hold each text.
    pub(crate) fn places<'a>(&self, flows: impl IntoIterator<Item = &'a Flow>) -> Places {
        let mut places = Places::default();
        for flow in flows {
            texts_of(flow, &mut |s| {
                if let Some(i) = self.texts.get(s) {
                    places.0.insert(place(s), *i);
                }
            });
        }
        places
    }

    /// The compiled form of `text`, a text of the flows `places` were made for.
    pub(crate) fn at(&self, places: &Places, text: &str) -> Option<&Template> {
        match places.0.get(&place(text)) {
            Some(i) => self.templates.get(*i),
            None => self.get(text),
        }
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
}

/// Calls `f` with every text of `flow` the interpreter renders or evaluates.
pub(crate) fn texts_of(flow: &Flow, f: &mut impl FnMut(&str)) {
    text(&flow.invalid_choice, f);
    for n in flow.nodes.values() {
        node(n, f);
    }
}

fn text(t: &Text, f: &mut impl FnMut(&str)) {
    match t {
        Text::Plain(s) => f(s),
        Text::Translated(m) => m.values().for_each(|s| f(s)),
    }
}

fn args(args: &[serde_json::Value], f: &mut impl FnMut(&str)) {
    for a in args {
        if let serde_json::Value::String(s) = a {
            if s.starts_with('@') {
                f(s);
            }
        }
    }
}

fn node(node: &Node, f: &mut impl FnMut(&str)) {
    for a in &node.actions {
        match a {
            Action::SetField { value, .. } => f(value),
            Action::SetName(v) | Action::SetLanguage(v) => f(v),
            Action::SendSms { text: sms, to, .. } => {
                text(sms, f);
                if let Some(to) = to {
                    f(to);
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
        text(&m.text, f);
        for o in &m.options {
            text(&o.label, f);
        }
    }
    if let Some(a) = &node.ask {
        text(&a.text, f);
        if let Some(v) = &a.validate {
            text(&v.error, f);
        }
        for c in &a.cases {
            args(&c.args, f);
        }
    }
    if let Some(s) = &node.switch {
        f(&s.on);
        for c in &s.cases {
            args(&c.args, f);
        }
    }
    if let Some(w) = &node.webhook {
        f(&w.url);
        w.headers.values().for_each(|v| f(v));
        if let Some(b) = &w.body {
            f(b);
        }
    }
    if let Some(e) = &node.end {
        text(&e.text, f);
    }
    if let Some(until) = node.wait.as_ref().and_then(|w| w.until.as_ref()) {
        f(until);
    }
}
