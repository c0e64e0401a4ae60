//! The validator: everything a flow file can get wrong, each with file, line and reason.
//!
//! Errors: unknown keys and bad YAML (from the parser), a start or `goto` that goes nowhere,
//! nodes with no body or two, nodes nobody reaches, loops that never ask anything, texts
//! missing a language (or in a language the file does not declare), USSD screens over the
//! screen limit in any language, webhooks without `timeout_ms`, unknown tests and bad
//! arguments, bad expressions, SMS-only features in USSD flows (`timeout`, `wait`), subflows
//! that are unknown, call themselves or nest too deep ([`routing`]), random splits without
//! weight, and broken message sets (offsets, windows, time zones, chained sets: [`sets`]).
//!
//! Warnings: a USSD webhook whose timeout eats most of a hop deadline, and a flow whose
//! longest path of screens is expected to take longer than its session budget. Every USSD flow
//! gets a line with its longest path and the 20 s billing slices it is expected to use
//! ([`crate::paths`]).

use std::collections::{BTreeSet, HashSet};

use serde::Serialize;

use crate::lines::Lines;
use crate::load::{FlowError, Flows};
use crate::model::{Action, Flow, FlowChannel, FlowFile, Node, Text};

mod routing;
mod sets;

/// Limits the validator checks against.
#[derive(Debug, Clone, Serialize)]
pub struct Limits {
    /// The longest USSD screen (the channel's `max_screen_chars`).
    pub max_screen_chars: usize,
    /// Seconds a user typically takes per screen, for the expected billing slices.
    pub hop_secs: u64,
    /// The hop deadline a USSD webhook's timeout must leave room in (milliseconds).
    pub hop_deadline_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_screen_chars: 182,
            hop_secs: 10,
            hop_deadline_ms: 4000,
        }
    }
}

/// Everything found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub errors: Vec<FlowError>,
    pub warnings: Vec<FlowError>,
    /// One line per USSD flow: its longest path and expected billing slices.
    pub slices: Vec<String>,
    /// Every USSD screen's length in every language (the studio's character counts).
    pub screens: Vec<ScreenLength>,
}

/// How long a USSD screen is in one language, against the limit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScreenLength {
    pub file: String,
    /// The key path of the screen (`flows.<flow>.nodes.<node>.menu`).
    pub path: String,
    pub language: String,
    pub chars: usize,
    pub limit: usize,
}

impl Report {
    pub fn error(&mut self, file: &str, line: Option<usize>, reason: impl Into<String>) {
        self.errors.push(FlowError {
            file: file.into(),
            line,
            reason: reason.into(),
        });
    }

    fn warn(&mut self, file: &str, line: Option<usize>, reason: impl Into<String>) {
        self.warnings.push(FlowError {
            file: file.into(),
            line,
            reason: reason.into(),
        });
    }
}

struct Ctx<'a> {
    flows: &'a Flows,
    file: &'a str,
    lines: &'a Lines,
    languages: &'a [String],
    limits: &'a Limits,
    report: &'a mut Report,
}

impl Ctx<'_> {
    fn error(&mut self, path: &str, reason: impl Into<String>) {
        let line = self.lines.line(path);
        self.report.error(self.file, line, reason);
    }

    fn warn(&mut self, path: &str, reason: impl Into<String>) {
        let line = self.lines.line(path);
        self.report.warn(self.file, line, reason);
    }

    /// A text: every language, no unknown ones, expressions that compile.
    fn text(&mut self, path: &str, what: &str, t: &Text) {
        if let Text::Translated(m) = t {
            let missing: Vec<&str> = self
                .languages
                .iter()
                .filter(|l| !m.contains_key(*l))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                self.error(
                    path,
                    format!("{what} has no translation in {}", missing.join(", ")),
                );
            }
            for l in m.keys().filter(|l| !self.languages.contains(l)) {
                self.error(
                    &format!("{path}.{l}"),
                    format!("{what} is in `{l}`, which is not in the file's `languages`"),
                );
            }
        }
        for (lang, s) in t.variants(self.languages) {
            if let Err(e) = crate::expr::check(s) {
                self.error(&format!("{path}.{lang}"), format!("{what}: {e}"));
            }
        }
    }

    /// A USSD screen's length in every language.
    fn screen(&mut self, path: &str, what: &str, main: &Text, options: &[(&str, &Text)]) {
        for lang in self.languages {
            let base = self.languages.first().map_or("eng", String::as_str);
            let mut len = main.get(lang, base).chars().count();
            for (key, label) in options {
                len += 1 + key.chars().count() + 2 + label.get(lang, base).chars().count();
            }
            self.report.screens.push(ScreenLength {
                file: self.file.to_string(),
                path: path.to_string(),
                language: lang.clone(),
                chars: len,
                limit: self.limits.max_screen_chars,
            });
            if len > self.limits.max_screen_chars {
                self.error(
                    path,
                    format!(
                        "{what} is {len} characters in `{lang}`, over the {} a USSD screen shows",
                        self.limits.max_screen_chars
                    ),
                );
            }
        }
    }

    fn test(&mut self, path: &str, test: &str, args: &[serde_json::Value]) {
        if let Err(e) = crate::cases::check(test, args) {
            self.error(path, e.to_string());
        }
    }

    fn target(&mut self, flow: &Flow, path: &str, from: &str, to: &str) {
        match to.strip_prefix("flow:") {
            Some(other) if !self.flows.has(other) => self.error(
                path,
                format!("node `{from}` goes to flow `{other}`, which does not exist"),
            ),
            Some(_) => {}
            None if !flow.nodes.contains_key(to) => self.error(
                path,
                format!("node `{from}` goes to `{to}`, which does not exist"),
            ),
            None => {}
        }
    }
}

/// Every exit of a node with the path of the key that names it.
fn exits_with_paths(node: &Node, at: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(m) = &node.menu {
        for (i, o) in m.options.iter().enumerate() {
            out.push((format!("{at}.menu.options.{i}.goto"), o.goto.clone()));
        }
    }
    if let Some(a) = &node.ask {
        if let Some(g) = &a.goto {
            out.push((format!("{at}.ask.goto"), g.clone()));
        }
        if let Some(f) = a.validate.as_ref().and_then(|v| v.on_fail.as_ref()) {
            out.push((format!("{at}.ask.validate.on_fail"), f.clone()));
        }
        for (i, c) in a.cases.iter().enumerate() {
            out.push((format!("{at}.ask.cases.{i}.goto"), c.goto.clone()));
        }
        if let Some(o) = &a.other {
            out.push((format!("{at}.ask.other"), o.clone()));
        }
        if let Some(t) = &a.timeout {
            out.push((format!("{at}.ask.timeout.goto"), t.goto.clone()));
        }
    }
    if let Some(s) = &node.switch {
        for (i, c) in s.cases.iter().enumerate() {
            out.push((format!("{at}.switch.cases.{i}.goto"), c.goto.clone()));
        }
        out.push((format!("{at}.switch.other"), s.other.clone()));
    }
    if let Some(w) = &node.webhook {
        out.push((format!("{at}.webhook.on_success"), w.on_success.clone()));
        out.push((format!("{at}.webhook.on_failure"), w.on_failure.clone()));
    }
    if let Some(s) = &node.subflow {
        out.push((format!("{at}.subflow.then"), s.then.clone()));
    }
    if let Some(r) = &node.random {
        for (i, b) in r.branches.iter().enumerate() {
            out.push((format!("{at}.random.branches.{i}.goto"), b.goto.clone()));
        }
    }
    if let Some(w) = &node.wait {
        out.push((format!("{at}.wait.goto"), w.goto.clone()));
    }
    if let Some(g) = &node.group {
        for (i, c) in g.cases.iter().enumerate() {
            out.push((format!("{at}.group.cases.{i}.goto"), c.goto.clone()));
        }
        out.push((format!("{at}.group.other"), g.other.clone()));
    }
    if let Some(g) = &node.goto {
        out.push((format!("{at}.goto"), g.clone()));
    }
    out
}

/// Checks one parsed file (with `flows` holding every file, for names across files).
pub fn file(flows: &Flows, path: &str, lines: &Lines, file: &FlowFile, limits: &Limits, report: &mut Report) {
    let mut cx = Ctx {
        flows,
        file: path,
        lines,
        languages: &file.languages,
        limits,
        report,
    };
    if file.languages.is_empty() {
        cx.error("languages", "`languages` needs at least the base language");
    }
    for l in &file.languages {
        if l.len() != 3 || !l.bytes().all(|b| b.is_ascii_lowercase()) {
            cx.error(
                "languages",
                format!("`{l}` is not an ISO 639-3 code (three lower-case letters)"),
            );
        }
    }
    for (name, f) in &file.flows {
        flow(&mut cx, name, f);
    }
    for (name, set) in &file.message_sets {
        sets::message_set(&mut cx, name, set);
    }
}

fn flow(cx: &mut Ctx<'_>, name: &str, f: &Flow) {
    let at = format!("flows.{name}");
    let ussd = f.channel == FlowChannel::Ussd;
    if !f.nodes.contains_key(&f.start) {
        cx.error(
            &format!("{at}.start"),
            format!("flow `{name}`: start node `{}` does not exist", f.start),
        );
        return;
    }
    if crate::model::parse_duration(&f.expire_after).is_none() {
        cx.error(
            &format!("{at}.expire_after"),
            "`expire_after` is a duration like `30m`, `2d`, `1w`",
        );
    }
    cx.text(
        &format!("{at}.invalid_choice"),
        "`invalid_choice`",
        &f.invalid_choice,
    );
    let mut broken_gotos = false;
    for (id, node) in &f.nodes {
        let np = format!("{at}.nodes.{id}");
        let bodies = node.bodies();
        if bodies.len() != 1 {
            cx.error(
                &np,
                format!(
                    "node `{id}` needs exactly one of menu, ask, switch, webhook, end, subflow, random, wait, group or goto (has {})",
                    if bodies.is_empty() {
                        "none".to_string()
                    } else {
                        bodies.join(", ")
                    }
                ),
            );
        }
        for (p, to) in exits_with_paths(node, &np) {
            let before = cx.report.errors.len();
            cx.target(f, &p, id, &to);
            broken_gotos |= cx.report.errors.len() > before;
        }
        for (i, a) in node.actions.iter().enumerate() {
            action(cx, &format!("{np}.actions.{i}"), a);
        }
        routing::node(cx, name, f, id, node);
        if let Some(m) = &node.menu {
            if m.options.is_empty() {
                cx.error(&format!("{np}.menu"), format!("menu `{id}` has no options"));
            }
            let mut keys = HashSet::new();
            for (i, o) in m.options.iter().enumerate() {
                if o.key.trim().is_empty() || !keys.insert(o.key.trim()) {
                    cx.error(
                        &format!("{np}.menu.options.{i}.key"),
                        format!("menu `{id}` has an empty or repeated option key `{}`", o.key),
                    );
                }
                cx.text(
                    &format!("{np}.menu.options.{i}.label"),
                    &format!("option {} of `{id}`", o.key),
                    &o.label,
                );
            }
            cx.text(
                &format!("{np}.menu.text"),
                &format!("the text of `{id}`"),
                &m.text,
            );
            if ussd {
                let opts: Vec<(&str, &Text)> = m.options.iter().map(|o| (o.key.trim(), &o.label)).collect();
                cx.screen(&format!("{np}.menu"), &format!("menu `{id}`"), &m.text, &opts);
            }
        }
        if let Some(a) = &node.ask {
            cx.text(
                &format!("{np}.ask.text"),
                &format!("the question of `{id}`"),
                &a.text,
            );
            if ussd {
                cx.screen(
                    &format!("{np}.ask.text"),
                    &format!("question `{id}`"),
                    &a.text,
                    &[],
                );
            }
            if let Some(v) = &a.validate {
                cx.test(&format!("{np}.ask.validate.test"), &v.test, &v.args);
                cx.text(
                    &format!("{np}.ask.validate.error"),
                    &format!("the error of `{id}`"),
                    &v.error,
                );
                if a.goto.is_none() {
                    cx.error(
                        &format!("{np}.ask"),
                        format!("question `{id}` validates: it needs a `goto` for valid answers"),
                    );
                }
                if !a.cases.is_empty() {
                    cx.error(
                        &format!("{np}.ask.cases"),
                        format!("question `{id}` has both `validate` and `cases`"),
                    );
                }
            }
            for (i, c) in a.cases.iter().enumerate() {
                cx.test(&format!("{np}.ask.cases.{i}.test"), &c.test, &c.args);
            }
            if let Some(t) = &a.timeout {
                if ussd {
                    cx.error(
                        &format!("{np}.ask.timeout"),
                        "a USSD session cannot wait: `timeout` is for SMS flows (the session budget ends USSD waits)",
                    );
                }
                if crate::model::parse_duration(&t.after).is_none() {
                    cx.error(
                        &format!("{np}.ask.timeout.after"),
                        "`after` is a duration like `30m`, `6h`, `2d`",
                    );
                }
            }
        }
        if let Some(s) = &node.switch {
            if let Err(e) = crate::expr::check(&s.on) {
                cx.error(&format!("{np}.switch.on"), e.to_string());
            }
            for (i, c) in s.cases.iter().enumerate() {
                cx.test(&format!("{np}.switch.cases.{i}.test"), &c.test, &c.args);
            }
        }
        if let Some(w) = &node.webhook {
            match w.timeout_ms {
                None => cx.error(
                    &format!("{np}.webhook"),
                    format!("webhook `{id}` has no `timeout_ms`: a slow server would hold the user's session"),
                ),
                Some(t) if ussd && t * 4 > cx.limits.hop_deadline_ms * 3 => cx.warn(
                    &format!("{np}.webhook.timeout_ms"),
                    format!(
                        "webhook `{id}` may take {t} ms of a {} ms hop deadline: the user may get the fallback text",
                        cx.limits.hop_deadline_ms
                    ),
                ),
                Some(_) => {}
            }
            if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&w.method.to_uppercase().as_str()) {
                cx.error(
                    &format!("{np}.webhook.method"),
                    format!("`{}` is not an HTTP method", w.method),
                );
            }
            for (p, t) in [("url", Some(&w.url)), ("body", w.body.as_ref())] {
                if let Some(t) = t {
                    if let Err(e) = crate::expr::check(t) {
                        cx.error(&format!("{np}.webhook.{p}"), e.to_string());
                    }
                }
            }
        }
        if let Some(e) = &node.end {
            cx.text(
                &format!("{np}.end.text"),
                &format!("the end text of `{id}`"),
                &e.text,
            );
            if ussd {
                cx.screen(
                    &format!("{np}.end.text"),
                    &format!("end screen `{id}`"),
                    &e.text,
                    &[],
                );
            }
        }
    }
    // Nodes behind a broken goto would all read as unreachable: fix the goto first.
    if !broken_gotos {
        reachability(cx, name, f);
    }
    loops(cx, name, f);
    if ussd {
        slices(cx, name, f);
    }
    for (i, t) in f.tests.iter().enumerate() {
        let tp = format!("{at}.tests.{i}");
        for (j, s) in t.steps.iter().enumerate() {
            let n = [s.dial.is_some(), s.input.is_some(), s.timeout == Some(true)]
                .iter()
                .filter(|b| **b)
                .count();
            if n != 1 {
                cx.error(
                    &format!("{tp}.steps.{j}"),
                    format!(
                        "test `{}`: a step is one of `dial`, `input` or `timeout: true`",
                        t.name
                    ),
                );
            }
        }
        for node in t.webhooks.keys() {
            if !routing::has_webhook(cx.flows, f, node) {
                cx.error(
                    &format!("{tp}.webhooks.{node}"),
                    format!(
                        "test `{}`: `{node}` is not a webhook node of the flow or of a flow it runs",
                        t.name
                    ),
                );
            }
        }
    }
}

fn action(cx: &mut Ctx<'_>, path: &str, a: &Action) {
    match a {
        Action::Subscribe(set) | Action::Unsubscribe(set) if cx.flows.message_set(set).is_none() => {
            cx.error(path, format!("there is no message set `{set}`"));
        }
        Action::SetLanguage(l) if !l.starts_with('@') && !cx.languages.contains(l) => {
            cx.error(
                path,
                format!(
                    "`{l}` is not one of the file's languages ({})",
                    cx.languages.join(", ")
                ),
            );
        }
        Action::SetField { name, value } => {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                cx.error(path, format!("field name `{name}`: use letters, digits and `_`"));
            }
            if let Err(e) = crate::expr::check(value) {
                cx.error(path, e.to_string());
            }
        }
        Action::SendSms { text, .. } => cx.text(path, "the SMS", text),
        _ => {}
    }
}

fn reachability(cx: &mut Ctx<'_>, name: &str, f: &Flow) {
    let mut seen = BTreeSet::new();
    let mut todo = vec![f.start.as_str()];
    while let Some(id) = todo.pop() {
        if !seen.insert(id) {
            continue;
        }
        if let Some(n) = f.nodes.get(id) {
            todo.extend(n.exits().into_iter().filter(|t| !t.starts_with("flow:")));
        }
    }
    for orphan in f.nodes.keys().filter(|k| !seen.contains(k.as_str())) {
        cx.error(
            &format!("flows.{name}.nodes.{orphan}"),
            format!("node `{orphan}` cannot be reached from `{}`", f.start),
        );
    }
}

/// Loops through nodes that never wait for the user or the clock (goto, switch, webhook,
/// random, group, and subflows whose flows never wait).
fn loops(cx: &mut Ctx<'_>, name: &str, f: &Flow) {
    fn visit<'f>(
        flows: &Flows,
        f: &'f Flow,
        id: &'f str,
        path: &mut Vec<&'f str>,
        done: &mut HashSet<&'f str>,
        found: &mut Option<Vec<&'f str>>,
    ) {
        if found.is_some() || done.contains(id) {
            return;
        }
        if let Some(i) = path.iter().position(|p| *p == id) {
            *found = Some(path[i..].to_vec());
            return;
        }
        let Some(node) = f.nodes.get(id) else { return };
        if node.pauses()
            || node
                .subflow
                .as_ref()
                .is_some_and(|s| routing::pauses(flows, &s.flow))
        {
            return;
        }
        path.push(id);
        for next in node.exits().into_iter().filter(|t| !t.starts_with("flow:")) {
            visit(flows, f, next, path, done, found);
        }
        path.pop();
        done.insert(id);
    }
    let mut done = HashSet::new();
    for id in f.nodes.keys() {
        let mut found = None;
        visit(cx.flows, f, id, &mut Vec::new(), &mut done, &mut found);
        if let Some(cycle) = found {
            cx.error(
                &format!("flows.{name}.nodes.{}", cycle[0]),
                format!("nodes {} loop without asking anything", cycle.join(" → ")),
            );
            return;
        }
    }
}

/// The longest path of screens from the start, and the 20 s slices it is expected to use.
fn slices(cx: &mut Ctx<'_>, name: &str, f: &Flow) {
    let screens = crate::paths::longest(cx.flows, f);
    let (secs, slices) = crate::paths::cost(screens, cx.limits);
    cx.report.slices.push(format!(
        "{}: flow `{name}`: longest path {screens} screens ≈ {secs} s at {} s a screen ≈ {slices} billing slice(s) of {} s",
        cx.file,
        cx.limits.hop_secs,
        seedgate_proto::SLICE_SECS
    ));
    if secs > f.budget_secs {
        cx.warn(
            &format!("flows.{name}.start"),
            format!(
                "flow `{name}`: its longest path ({screens} screens ≈ {secs} s) is longer than the {} s session budget",
                f.budget_secs
            ),
        );
    }
}
