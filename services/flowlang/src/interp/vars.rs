//! What a run's expressions read ([`Vars`] for the interpreter's run): each name is built
//! from the run state when an expression reads it, exactly as `Value::from_serialize` gives
//! that field of the run's [`Scope`], without building the rest; a file's `globals` come
//! compiled from the load ([`crate::compiled`]).

use std::collections::{BTreeMap, BTreeSet};

use minijinja::Value;
use serde::{Serialize, Serializer};

use super::{Run, RunResult};
use crate::expr::Scope;
use crate::template::{Root, Vars};

#[cfg(test)]
thread_local! {
    /// Texts the interpreter compiled on the spot, not found among the loaded flows' texts.
    pub(super) static MISSES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The contact as [`crate::expr::ContactScope`] serialises (the same fields in the same
/// order, a set of groups serialising as their list does), borrowed from the run.
#[derive(Serialize)]
struct ContactView<'a> {
    msisdn: &'a str,
    name: &'a str,
    language: &'a str,
    groups: &'a BTreeSet<String>,
    fields: &'a BTreeMap<String, String>,
}

/// One column of the results, as the map of names to that column serialises.
struct Column<'a>(&'a BTreeMap<String, RunResult>, fn(&RunResult) -> &str);

impl Serialize for Column<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, r)| (k, (self.1)(r))))
    }
}

impl Vars for Run<'_> {
    fn var(&self, root: Root) -> Value {
        let c = &self.state.contact;
        match root {
            Root::Contact => Value::from_serialize(ContactView {
                msisdn: &c.msisdn,
                name: c.name.as_deref().unwrap_or_default(),
                language: c.language.as_deref().unwrap_or_default(),
                groups: &c.groups,
                fields: &c.fields,
            }),
            Root::Fields => Value::from_serialize(&c.fields),
            Root::Results => Value::from_serialize(Column(&self.state.results, |r| &r.value)),
            Root::Categories => Value::from_serialize(Column(&self.state.results, |r| &r.category)),
            Root::Globals => match self.here().and_then(|e| e.globals) {
                Some(g) => g.clone(),
                None => Value::from_serialize(BTreeMap::<String, String>::new()),
            },
            Root::Input => Value::from(self.state.input.as_str()),
            Root::Today => self
                .today
                .get_or_init(|| Value::from(self.now.date_naive().to_string()))
                .clone(),
            Root::Now => Value::from(self.now.to_rfc3339()),
        }
    }

    fn attr(&self, root: Root, name: &str) -> Value {
        let c = &self.state.contact;
        let text = |t: Option<&String>| t.map_or(Value::UNDEFINED, |t| Value::from(t.as_str()));
        match (root, name) {
            (Root::Fields, _) => text(c.fields.get(name)),
            (Root::Results, _) => text(self.state.results.get(name).map(|r| &r.value)),
            (Root::Categories, _) => text(self.state.results.get(name).map(|r| &r.category)),
            (Root::Globals, _) => self
                .here()
                .and_then(|e| e.globals)
                .and_then(|g| g.get_attr(name).ok())
                .unwrap_or(Value::UNDEFINED),
            (Root::Contact, "msisdn") => Value::from(c.msisdn.as_str()),
            (Root::Contact, "name") => Value::from(c.name.as_deref().unwrap_or_default()),
            (Root::Contact, "language") => Value::from(c.language.as_deref().unwrap_or_default()),
            _ => self.var(root).get_attr(name).unwrap_or(Value::UNDEFINED),
        }
    }

    fn scope(&self) -> Scope {
        Run::scope(self)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::super::{step, Input, RunContact, RunState};
    use super::*;
    use crate::template::tests::TEXTS;
    use crate::template::Template;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-02T10:00:00.123456789Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    /// A registration run part-way: results, contact fields and groups, an answer.
    fn state(flows: &crate::Flows) -> RunState {
        let contact = RunContact {
            msisdn: "+27820000001".into(),
            name: Some("thandi nkosi".into()),
            language: Some("zul".into()),
            groups: ["mothers".to_string(), "registered".into()].into(),
            fields: [("edd".to_string(), "2027-03-17".to_string())].into(),
            ..Default::default()
        };
        let mut s = step(flows, "registration", None, &contact, Input::Start, now())
            .unwrap()
            .state
            .unwrap();
        for answer in ["1", "1", "about 24 weeks"] {
            s = step(
                flows,
                "registration",
                Some(s),
                &contact,
                Input::Reply(answer),
                now(),
            )
            .unwrap()
            .state
            .unwrap();
        }
        s.results.insert(
            "registry".into(),
            RunResult {
                value: "{\"id\": \"REG-1\"}".into(),
                category: "success".into(),
                node: "register".into(),
            },
        );
        s
    }

    #[test]
    fn a_runs_names_are_its_scope() {
        let flows = crate::builtin().unwrap();
        let run = |state: RunState| Run {
            flows: &flows,
            here: std::cell::Cell::new(None),
            today: std::cell::OnceCell::new(),
            state,
            now: now(),
            seed: 0,
            effects: Vec::new(),
            steps: 0,
            entered: Vec::new(),
        };
        let mut other = state(&flows);
        other.flow = "no such flow".into();
        other.contact = RunContact::default();
        for run in [run(state(&flows)), run(other)] {
            let scope = run.scope();
            for text in TEXTS {
                let t = Template::new(text);
                assert_eq!(t.render(&run), crate::expr::render(text, &scope), "{text:?}");
                assert_eq!(t.value(&run), crate::expr::value_of(text, &scope), "{text:?}");
            }
        }
    }

    #[test]
    fn every_text_a_transcript_shows_was_compiled_at_load() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for path in ["../../flows", "tests/flows"] {
            let flows = crate::load_dir(&dir.join(path)).unwrap();
            assert!(!flows.compiled().is_empty());
            MISSES.with(|m| m.set(0));
            let (ran, failures) = crate::transcript::run_all(&flows);
            assert!(ran > 0 && failures.is_empty(), "{path}: {failures:?}");
            assert_eq!(MISSES.with(std::cell::Cell::get), 0, "{path}");
        }
    }
}
