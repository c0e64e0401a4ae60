//! The interpreter: a pure function from (flows, run state, input, now) to (what to show,
//! effects to carry out, the new state).
//!
//! No IO and no clock: the runner feeds it, makes the webhook calls it asks for (and steps
//! again with the answer), and carries out its effects (contact changes, subscriptions, SMS).
//! A step enters at most [`STEP_LIMIT`] nodes (the validator refuses loops without input, so
//! only a broken file can reach it).
//!
//! The routing bodies (`subflow`, `random`, `wait`, `group`) are in [`routing`]: a `subflow`
//! pushes a [`Frame`] on the run's call stack and an `end` pops it; `random` rolls a number
//! from the seed the runner passes to [`step_seeded`] and from the step (see [`roll`]); a
//! `wait` sets `wait_until` and goes on with [`Input::Timeout`], as an SMS question's timeout.

mod routing;
mod state;
mod vars;
pub use routing::{roll, MAX_SUBFLOW_DEPTH};
pub use state::{
    ContactChange, Effect, Frame, Input, Output, RunContact, RunResult, RunState, StepError, WebhookCall,
    WebhookResponse,
};

use std::cell::{Cell, OnceCell};
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::expr::Scope;
use crate::load::{Entry, Flows};
use crate::model::{Action, Case, Flow, Node, Text};
use crate::template::Template;

/// Nodes entered in one step at most.
pub const STEP_LIMIT: usize = 100;

/// One step of the run of `flow_name` (or of `state`'s flow, for an answer), with seed 0:
/// `random` nodes still vary with `now` (see [`roll`]).
pub fn step(
    flows: &Flows,
    flow_name: &str,
    state: Option<RunState>,
    contact: &RunContact,
    input: Input<'_>,
    now: DateTime<Utc>,
) -> Result<Output, StepError> {
    step_seeded(flows, flow_name, state, contact, input, now, 0)
}

/// [`step`] with the randomness `random` nodes roll with: a runner passes a random `seed`
/// for each step, a test a fixed one (the same seed, state, input and `now` take the same
/// branch).
pub fn step_seeded(
    flows: &Flows,
    flow_name: &str,
    state: Option<RunState>,
    contact: &RunContact,
    input: Input<'_>,
    now: DateTime<Utc>,
    seed: u64,
) -> Result<Output, StepError> {
    let fresh = |contact: &RunContact| RunState {
        flow: flow_name.to_string(),
        node: String::new(),
        contact: contact.clone(),
        results: BTreeMap::new(),
        retries: 0,
        input: String::new(),
        wait_until: None,
        expires_at: None,
        stack: Vec::new(),
        carry: None,
    };
    let resumed = state.is_some();
    let mut run = Run {
        flows,
        here: Cell::new(None),
        today: OnceCell::new(),
        state: state.unwrap_or_else(|| fresh(contact)),
        now,
        seed,
        effects: Vec::new(),
        steps: 0,
        entered: Vec::new(),
    };
    if run.here().is_none() {
        return Err(StepError::UnknownFlow(run.state.flow.clone()));
    }
    match (input, resumed) {
        (Input::Start, _) | (_, false) => {
            if resumed {
                run.state = fresh(contact);
            }
            let start = run.flow()?.start.as_str();
            run.enter(start)
        }
        (Input::Reply(text), true) => run.answer(text),
        (Input::Timeout, true) => run.timeout(),
        (Input::Webhook(resp), true) => run.webhook_answer(resp),
    }
}

/// What expressions read about a contact (no results or input yet).
pub fn scope_of(c: &RunContact, globals: BTreeMap<String, String>, now: DateTime<Utc>) -> Scope {
    let mut s = Scope {
        fields: c.fields.clone(),
        globals,
        today: now.date_naive().to_string(),
        now: now.to_rfc3339(),
        ..Default::default()
    };
    s.contact.msisdn.clone_from(&c.msisdn);
    s.contact.name = c.name.clone().unwrap_or_default();
    s.contact.language = c.language.clone().unwrap_or_default();
    s.contact.groups = c.groups.iter().cloned().collect();
    s.contact.fields.clone_from(&c.fields);
    s
}

struct Run<'a> {
    flows: &'a Flows,
    /// The flow the run is in, as last looked up (checked against `state.flow` at each use).
    here: Cell<Option<Entry<'a>>>,
    /// `today` as expressions read it, made when one first does.
    today: OnceCell<minijinja::Value>,
    state: RunState,
    now: DateTime<Utc>,
    seed: u64,
    effects: Vec<Effect>,
    steps: usize,
    entered: Vec<(String, String)>,
}

impl<'a> Run<'a> {
    /// The flow the run is in, with its file.
    fn here(&self) -> Option<Entry<'a>> {
        if let Some(e) = self.here.get().filter(|e| e.name == self.state.flow) {
            return Some(e);
        }
        let e = self.flows.entry(&self.state.flow);
        self.here.set(e);
        e
    }

    fn flow(&self) -> Result<&'a Flow, StepError> {
        self.here()
            .map(|e| e.flow)
            .ok_or_else(|| StepError::UnknownFlow(self.state.flow.clone()))
    }

    fn node(&self, id: &str) -> Result<&'a Node, StepError> {
        self.flow()?.nodes.get(id).ok_or_else(|| StepError::UnknownNode {
            flow: self.state.flow.clone(),
            node: id.into(),
        })
    }

    /// The language texts are shown in: the contact's, if the flow's file has it.
    fn lang(&self) -> (&'a str, &'a str) {
        let file = self.here().and_then(|e| e.file);
        let base = file.map_or("eng", |f| f.base());
        let lang = match (file, self.state.contact.language.as_deref()) {
            (Some(f), Some(l)) => f.languages.iter().find(|k| *k == l).map_or(base, String::as_str),
            _ => base,
        };
        (lang, base)
    }

    /// The compiled form of a text of the flows (compiled now if it is not one).
    fn template<R>(&self, text: &str, f: impl FnOnce(&Template) -> R) -> R {
        match self.flows.template(text) {
            Some(t) => f(t),
            None => {
                #[cfg(test)]
                vars::MISSES.with(|m| m.set(m.get() + 1));
                f(&Template::new(text))
            }
        }
    }

    /// A text rendered ([`crate::expr::render`]).
    fn render(&self, text: &str) -> String {
        self.template(text, |t| t.render(self))
    }

    /// A text rendered onto the end of `out`.
    fn render_to(&self, text: &str, out: &mut String) {
        self.template(text, |t| t.render_to(self, out));
    }

    /// A value that may be an expression ([`crate::expr::value_of`]).
    fn value_of(&self, text: &str) -> String {
        self.template(text, |t| t.value(self))
    }

    /// Everything expressions read, at once.
    fn scope(&self) -> Scope {
        let globals = self
            .here()
            .and_then(|e| e.file)
            .map(|f| f.globals.clone())
            .unwrap_or_default();
        let mut s = scope_of(&self.state.contact, globals, self.now);
        s.results = self
            .state
            .results
            .iter()
            .map(|(k, r)| (k.clone(), r.value.clone()))
            .collect();
        s.categories = self
            .state
            .results
            .iter()
            .map(|(k, r)| (k.clone(), r.category.clone()))
            .collect();
        s.input.clone_from(&self.state.input);
        s
    }

    fn text(&self, t: &Text) -> String {
        let (lang, base) = self.lang();
        self.render(t.get(lang, base))
    }

    fn save(&mut self, name: &Option<String>, value: String, category: String) {
        if let Some(name) = name {
            let node = self.state.node.clone();
            self.state.results.insert(
                name.clone(),
                RunResult {
                    value,
                    category,
                    node,
                },
            );
        }
    }

    /// What the step gives back. A subflow's end text left to show goes above `text` (or is
    /// the text, when the run now waits without a screen); a webhook call keeps it for later.
    fn output(&mut self, text: Option<String>, end: bool, call: Option<WebhookCall>) -> Output {
        let text = match (call.is_none().then(|| self.state.carry.take()).flatten(), text) {
            (Some(carried), Some(t)) => Some(format!("{carried}\n{t}")),
            (carried, t) => t.or(carried),
        };
        // The step is over: the state moves into the output.
        let state = std::mem::replace(&mut self.state, RunState::empty());
        let (state, contact) = if end {
            (None, state.contact)
        } else {
            let contact = state.contact.clone();
            (Some(state), contact)
        };
        Output {
            text,
            end,
            state,
            call,
            effects: std::mem::take(&mut self.effects),
            contact,
            steps: self.steps,
            entered: std::mem::take(&mut self.entered),
        }
    }

    fn act(&mut self, action: &Action) {
        let change = match action {
            Action::SetField { name, value } => {
                let v = self.value_of(value);
                self.state.contact.fields.insert(name.clone(), v.clone());
                Some(ContactChange::Field(name.clone(), v))
            }
            Action::SetName(n) => {
                let v = self.value_of(n);
                self.state.contact.name = Some(v.clone());
                Some(ContactChange::Name(v))
            }
            Action::SetLanguage(l) => {
                let v = self.value_of(l);
                self.state.contact.language = Some(v.clone());
                Some(ContactChange::Language(v))
            }
            Action::AddGroup(g) => {
                self.state.contact.groups.insert(g.clone());
                Some(ContactChange::AddGroup(g.clone()))
            }
            Action::RemoveGroup(g) => {
                self.state.contact.groups.remove(g);
                Some(ContactChange::RemoveGroup(g.clone()))
            }
            Action::OptOut(true) => {
                self.state.contact.opted_out = true;
                Some(ContactChange::OptOut)
            }
            Action::OptOut(false) => None,
            Action::Subscribe(set) => {
                self.state.contact.subscriptions.insert(set.clone());
                self.effects.push(Effect::Subscribe(set.clone()));
                None
            }
            Action::Unsubscribe(set) => {
                self.state.contact.subscriptions.remove(set);
                self.effects.push(Effect::Unsubscribe(set.clone()));
                None
            }
            Action::SendSms { text, to, channel } => {
                let body = self.text(text);
                let to = to
                    .as_deref()
                    .map_or_else(|| self.state.contact.msisdn.clone(), |t| self.value_of(t));
                self.effects.push(Effect::SendSms {
                    to,
                    text: body,
                    channel: channel.clone(),
                });
                None
            }
        };
        if let Some(change) = change {
            self.effects.push(Effect::Contact(change));
        }
    }

    /// The first case `value` passes, with the value it matched.
    fn route<'c>(&self, cases: &'c [Case], value: &str) -> Option<(&'c Case, String)> {
        let today = self.now.date_naive();
        let is_expr = |a: &serde_json::Value| matches!(a, serde_json::Value::String(s) if s.starts_with('@'));
        cases.iter().find_map(|c| {
            let args: std::borrow::Cow<'_, [serde_json::Value]> = if c.args.iter().any(is_expr) {
                c.args
                    .iter()
                    .map(|a| match a {
                        serde_json::Value::String(s) if s.starts_with('@') => {
                            serde_json::Value::String(self.value_of(s))
                        }
                        other => other.clone(),
                    })
                    .collect()
            } else {
                c.args.as_slice().into()
            };
            crate::cases::apply(&c.test, &args, value, today).map(|m| (c, m))
        })
    }

    /// Enters `id` and goes on until the run waits, calls out or ends.
    fn enter(&mut self, id: &str) -> Result<Output, StepError> {
        let mut at = id;
        loop {
            self.steps += 1;
            if self.steps > STEP_LIMIT {
                return Err(StepError::StepLimit(self.state.flow.clone()));
            }
            if let Some(other) = at.strip_prefix("flow:") {
                if !self.flows.has(other) {
                    return Err(StepError::UnknownFlow(other.into()));
                }
                self.state.flow = other.to_string();
                at = &self.flow()?.start;
                continue;
            }
            let node = self.node(at)?;
            self.state.node.clear();
            self.state.node.push_str(at);
            self.entered.push((self.state.flow.clone(), at.to_string()));
            self.state.retries = 0;
            self.state.wait_until = None;
            for action in &node.actions {
                self.act(action);
            }
            if let Some(next) = &node.goto {
                at = next;
                continue;
            }
            if let Some(sw) = &node.switch {
                let value = self.value_of(&sw.on);
                at = self.route(&sw.cases, &value).map_or(&sw.other, |(c, _)| &c.goto);
                continue;
            }
            if let Some(sub) = &node.subflow {
                at = self.call(sub)?;
                continue;
            }
            if let Some(r) = &node.random {
                at = self.pick(r);
                continue;
            }
            if let Some(g) = &node.group {
                at = self.split_by_group(g);
                continue;
            }
            if let Some(w) = &node.wait {
                if self.sleep(w)? {
                    return Ok(self.output(None, false, None));
                }
                at = &w.goto;
                continue;
            }
            if let Some(w) = &node.webhook {
                let call = WebhookCall {
                    node: at.to_string(),
                    method: w.method.to_uppercase(),
                    url: self.render(&w.url),
                    headers: w
                        .headers
                        .iter()
                        .map(|(k, v)| (k.clone(), self.render(v)))
                        .collect(),
                    body: w.body.as_deref().map(|b| self.render(b)),
                    timeout_ms: w.timeout_ms.unwrap_or(3000),
                };
                return Ok(self.output(None, false, Some(call)));
            }
            if let Some(end) = &node.end {
                let text = self.text(&end.text);
                return self.finish(Some(text));
            }
            if node.waits() {
                let text = self.screen(node);
                let timeout = node
                    .ask
                    .as_ref()
                    .and_then(|a| a.timeout.as_ref())
                    .and_then(|t| crate::model::parse_duration(&t.after));
                self.wait(timeout)?;
                return Ok(self.output(Some(text), false, None));
            }
            return Err(StepError::UnknownNode {
                flow: self.state.flow.clone(),
                node: at.to_string(),
            });
        }
    }

    /// The screen of a node that waits: the question, and a menu's options.
    fn screen(&self, node: &Node) -> String {
        let (lang, base) = self.lang();
        if let Some(menu) = &node.menu {
            let mut text = self.text(&menu.text);
            let labels: usize = menu
                .options
                .iter()
                .map(|o| o.key.len() + 3 + o.label.get(lang, base).len())
                .sum();
            text.reserve(labels);
            for opt in &menu.options {
                text.push('\n');
                text.push_str(opt.key.trim());
                text.push_str(". ");
                self.render_to(opt.label.get(lang, base), &mut text);
            }
            return text;
        }
        node.ask.as_ref().map(|a| self.text(&a.text)).unwrap_or_default()
    }

    /// The run now waits at its node: set its timeout and expiry.
    fn wait(&mut self, timeout: Option<chrono::Duration>) -> Result<(), StepError> {
        self.state.wait_until = timeout.map(|t| self.now + t);
        let expire = crate::model::parse_duration(&self.flow()?.expire_after);
        self.state.expires_at = expire.map(|e| self.now + e);
        Ok(())
    }

    /// Shows the node the run waits at again, with a notice above it (its actions do not
    /// run again, its timeout stays).
    fn again(&mut self, notice: &str) -> Result<Output, StepError> {
        let node = self.node(&self.state.node)?;
        let text = format!("{notice}\n{}", self.screen(node));
        Ok(self.output(Some(text), false, None))
    }

    fn answer(&mut self, text: &str) -> Result<Output, StepError> {
        let node = self.node(&self.state.node)?;
        if node.wait.is_some() {
            // Waiting for the clock, not for the user: the message changes nothing.
            return Ok(self.output(None, false, None));
        }
        self.state.input.clear();
        self.state.input.push_str(text.trim());
        if let Some(menu) = &node.menu {
            return match menu.options.iter().find(|o| o.key.trim() == text.trim()) {
                Some(opt) => {
                    let value = opt.value.clone().unwrap_or_else(|| opt.key.trim().to_string());
                    self.save(&menu.result, value, opt.key.trim().to_string());
                    self.enter(&opt.goto)
                }
                None => {
                    let notice = self.text(&self.flow()?.invalid_choice);
                    self.again(&notice)
                }
            };
        }
        if let Some(ask) = &node.ask {
            if let Some(v) = &ask.validate {
                let today = self.now.date_naive();
                return match crate::cases::apply(&v.test, &v.args, text, today) {
                    Some(matched) => {
                        self.save(&ask.result, matched, "valid".into());
                        let next = ask.goto.clone().unwrap_or_else(|| self.state.node.clone());
                        self.enter(&next)
                    }
                    None => {
                        self.state.retries += 1;
                        match &v.on_fail {
                            Some(fail) if self.state.retries > v.retries => {
                                self.save(&ask.result, text.trim().to_string(), "invalid".into());
                                self.enter(fail)
                            }
                            _ => {
                                let notice = self.text(&v.error);
                                self.again(&notice)
                            }
                        }
                    }
                };
            }
            if !ask.cases.is_empty() {
                return match self.route(&ask.cases, text) {
                    Some((case, matched)) => {
                        let category = case.category.clone().unwrap_or_else(|| case.test.clone());
                        self.save(&ask.result, matched, category);
                        self.enter(&case.goto)
                    }
                    None => match &ask.other {
                        Some(other) => {
                            self.save(&ask.result, text.trim().to_string(), "other".into());
                            self.enter(other)
                        }
                        None => {
                            let notice = self.text(&self.flow()?.invalid_choice);
                            self.again(&notice)
                        }
                    },
                };
            }
            self.save(&ask.result, text.trim().to_string(), "any".into());
            return match &ask.goto {
                Some(next) => self.enter(next),
                None => self.finish(None),
            };
        }
        // The run waits on a webhook (or a node changed under it): go through the node again.
        let at = self.state.node.clone();
        self.enter(&at)
    }

    fn timeout(&mut self) -> Result<Output, StepError> {
        let node = self.node(&self.state.node)?;
        if let Some(w) = &node.wait {
            return self.enter(&w.goto);
        }
        match node.ask.as_ref().and_then(|a| a.timeout.as_ref()) {
            Some(t) => self.enter(&t.goto),
            None => Ok(self.output(None, true, None)),
        }
    }

    fn webhook_answer(&mut self, resp: &WebhookResponse) -> Result<Output, StepError> {
        let node = self.node(&self.state.node)?;
        let Some(w) = &node.webhook else {
            let at = self.state.node.clone();
            return self.enter(&at);
        };
        let ok = (200..300).contains(&resp.status);
        let category = if ok { "success" } else { "failure" };
        self.save(&w.result, resp.body.clone(), category.into());
        let next = if ok { &w.on_success } else { &w.on_failure };
        self.enter(next)
    }
}
