//! Runs the transcripts (`tests:`) of flows against the interpreter, as the runner would run
//! them (webhooks answered by the test's stubs, redial-resume as on a channel with the
//! default `resume_prompt`), and reports a diff of what was expected and what the phone
//! showed.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::interp::{step_seeded, Effect, Input, Output, RunContact, RunState, StepError, WebhookResponse};
use crate::load::Flows;
use crate::model::{FlowChannel, Step, TestContact, Transcript};

/// The offer on a redial after a broken-off session (the channels' default).
pub const RESUME_PROMPT: &str = "Welcome back.\n1. Continue where you left off\n2. Start again";
/// The date transcripts run on, so they give the same answer every day.
pub const TEST_NOW: &str = "2026-12-02T10:00:00Z";

/// One failed transcript step.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    pub flow: String,
    pub test: String,
    /// 1-based; 0 for the contact check after the last step.
    pub step: usize,
    pub diff: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.step == 0 {
            "after the last step".to_string()
        } else {
            format!("step {}", self.step)
        };
        write!(
            f,
            "flow `{}`, test `{}`, {at}:\n{}",
            self.flow, self.test, self.diff
        )
    }
}

/// What one step showed.
#[derive(Debug, Default)]
struct Shown {
    text: Option<String>,
    end: bool,
    sms: Vec<String>,
}

fn contact_of(t: &TestContact) -> RunContact {
    RunContact {
        msisdn: t.msisdn.clone().unwrap_or_else(|| "+27820000001".into()),
        language: t.language.clone(),
        fields: t.fields.clone(),
        groups: t.groups.iter().cloned().collect(),
        subscriptions: t.subscriptions.iter().cloned().collect(),
        opted_out: t.opted_out.unwrap_or(false),
        ..Default::default()
    }
}

/// The phone and the runner, in memory.
struct Phone<'a> {
    flows: &'a Flows,
    flow: &'a str,
    test: &'a Transcript,
    now: DateTime<Utc>,
    ussd: bool,
    contact: RunContact,
    state: Option<RunState>,
    last_screen: Option<String>,
    /// A USSD run that broke off, and one offered for resuming.
    broken: Option<(RunState, String)>,
    offered: Option<(RunState, String)>,
}

impl Phone<'_> {
    fn run(&mut self, input: Input<'_>) -> Result<Shown, StepError> {
        let mut out: Output = step_seeded(
            self.flows,
            self.flow,
            self.state.take(),
            &self.contact,
            input,
            self.now,
            self.test.seed,
        )?;
        let mut sms = Vec::new();
        loop {
            for e in &out.effects {
                if let Effect::SendSms { text, .. } = e {
                    sms.push(text.clone());
                }
            }
            self.contact = out.contact.clone();
            let Some(call) = out.call.take() else { break };
            let resp = self
                .test
                .webhooks
                .get(&call.node)
                .map(|s| WebhookResponse {
                    status: s.status,
                    body: s.body.to_string(),
                })
                .unwrap_or(WebhookResponse {
                    status: 0,
                    body: String::new(),
                });
            out = step_seeded(
                self.flows,
                self.flow,
                out.state.take(),
                &self.contact,
                Input::Webhook(&resp),
                self.now,
                self.test.seed,
            )?;
        }
        self.state = out.state;
        if !self.ussd {
            // An SMS flow's screens are SMS too.
            if let Some(t) = &out.text {
                sms.push(t.clone());
            }
        }
        self.last_screen.clone_from(&out.text);
        Ok(Shown {
            text: out.text,
            end: out.end || self.state.is_none(),
            sms,
        })
    }

    fn prompt(&self) -> Shown {
        Shown {
            text: Some(RESUME_PROMPT.into()),
            end: false,
            sms: Vec::new(),
        }
    }

    fn step(&mut self, s: &Step) -> Result<Option<Shown>, StepError> {
        if s.dial.is_some() {
            if let Some(b) = self.broken.take() {
                self.offered = Some(b);
                return Ok(Some(self.prompt()));
            }
            return self.run(Input::Start).map(Some);
        }
        if let Some(text) = &s.input {
            if let Some((run, screen)) = self.offered.take() {
                return match text.trim() {
                    "1" => {
                        self.state = Some(run);
                        self.last_screen = Some(screen.clone());
                        Ok(Some(Shown {
                            text: Some(screen),
                            end: false,
                            sms: Vec::new(),
                        }))
                    }
                    "2" => self.run(Input::Start).map(Some),
                    _ => {
                        self.offered = Some((run, screen));
                        Ok(Some(self.prompt()))
                    }
                };
            }
            return self.run(Input::Reply(text)).map(Some);
        }
        // A timeout: a USSD session drops (the run can be resumed on redial); an SMS wait
        // times out.
        if self.ussd {
            if let (Some(run), Some(screen)) = (self.state.take(), self.last_screen.clone()) {
                self.broken = Some((run, screen));
            }
            return Ok(None);
        }
        if self.state.is_none() {
            return Ok(None);
        }
        self.run(Input::Timeout).map(Some)
    }
}

fn check_step(s: &Step, shown: Option<&Shown>) -> Vec<String> {
    let Some(want) = &s.expect else { return Vec::new() };
    let mut problems = Vec::new();
    let text = shown.and_then(|s| s.text.as_deref()).unwrap_or("");
    if let Some(cont) = want.continues {
        let ended = shown.is_none_or(|s| s.end);
        if cont == ended {
            problems.push(format!(
                "expected the session to {}",
                if cont { "continue" } else { "end" }
            ));
        }
    }
    if let Some(needle) = &want.contains {
        if !text.contains(needle.as_str()) {
            problems.push(format!("expected the screen to contain {needle:?}"));
        }
    }
    if let Some(screen) = &want.screen {
        if screen.trim_end() != text.trim_end() {
            problems.push(diff(screen.trim_end(), text.trim_end()));
        }
    }
    if let Some(sms) = &want.sms {
        let sent = shown.map(|s| s.sms.clone()).unwrap_or_default();
        let matched = sms.len() == sent.len() && sms.iter().zip(&sent).all(|(w, g)| g.contains(w.as_str()));
        if !matched {
            problems.push(format!("expected SMS {sms:?}\n  sent: {sent:?}"));
        }
    }
    if !problems.is_empty() {
        let shown_text = match shown {
            None => "(nothing)".to_string(),
            Some(s) => format!("{} {text}", if s.end { "END" } else { "CON" }),
        };
        let mut out = problems.join("\n");
        out.push_str("\n  the phone showed:\n");
        for line in shown_text.lines() {
            out.push_str("  | ");
            out.push_str(line);
            out.push('\n');
        }
        return vec![out];
    }
    Vec::new()
}

fn check_contact(want: &TestContact, got: &RunContact) -> Option<String> {
    let mut problems = Vec::new();
    for (k, v) in &want.fields {
        if got.fields.get(k) != Some(v) {
            problems.push(format!(
                "field `{k}`: expected {v:?}, got {:?}",
                got.fields.get(k)
            ));
        }
    }
    let missing = |want: &[String], got: &BTreeSet<String>| -> Vec<String> {
        want.iter().filter(|g| !got.contains(*g)).cloned().collect()
    };
    let g = missing(&want.groups, &got.groups);
    if !g.is_empty() {
        problems.push(format!("expected groups {g:?}; the contact has {:?}", got.groups));
    }
    let s = missing(&want.subscriptions, &got.subscriptions);
    if !s.is_empty() {
        problems.push(format!(
            "expected subscriptions {s:?}; the contact has {:?}",
            got.subscriptions
        ));
    }
    if want.language.is_some() && want.language != got.language {
        problems.push(format!(
            "expected language {:?}, got {:?}",
            want.language, got.language
        ));
    }
    if let Some(o) = want.opted_out {
        if o != got.opted_out {
            problems.push(format!("expected opted_out {o}, got {}", got.opted_out));
        }
    }
    (!problems.is_empty()).then(|| format!("  {}", problems.join("\n  ")))
}

/// Runs one transcript; its failures.
pub fn run_one(flows: &Flows, flow: &str, test: &Transcript) -> Vec<Failure> {
    let now = DateTime::parse_from_rfc3339(TEST_NOW)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default();
    let ussd = flows.get(flow).is_some_and(|f| f.channel != FlowChannel::Sms);
    let mut phone = Phone {
        flows,
        flow,
        test,
        now,
        ussd,
        contact: contact_of(&test.contact),
        state: None,
        last_screen: None,
        broken: None,
        offered: None,
    };
    let fail = |step: usize, diff: String| Failure {
        flow: flow.into(),
        test: test.name.clone(),
        step,
        diff,
    };
    for (i, s) in test.steps.iter().enumerate() {
        let shown = match phone.step(s) {
            Ok(shown) => shown,
            Err(e) => return vec![fail(i + 1, format!("  error: {e}"))],
        };
        if let Some(p) = check_step(s, shown.as_ref()).pop() {
            return vec![fail(i + 1, p)];
        }
    }
    match test
        .expect_contact
        .as_ref()
        .and_then(|w| check_contact(w, &phone.contact))
    {
        Some(p) => vec![fail(0, p)],
        None => Vec::new(),
    }
}

/// Runs every transcript of every flow; returns (transcripts run, failures).
pub fn run_all(flows: &Flows) -> (usize, Vec<Failure>) {
    let mut ran = 0;
    let mut failures = Vec::new();
    for name in flows.names() {
        let Some(flow) = flows.get(name) else { continue };
        for test in &flow.tests {
            ran += 1;
            failures.extend(run_one(flows, name, test));
        }
    }
    (ran, failures)
}

/// A line diff: `-` expected, `+` shown.
fn diff(want: &str, got: &str) -> String {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let mut out = String::from("  screen differs (- expected, + shown):\n");
    for i in 0..w.len().max(g.len()) {
        match (w.get(i), g.get(i)) {
            (Some(a), Some(b)) if a == b => out.push_str(&format!("    {a}\n")),
            (a, b) => {
                if let Some(a) = a {
                    out.push_str(&format!("  - {a}\n"));
                }
                if let Some(b) = b {
                    out.push_str(&format!("  + {b}\n"));
                }
            }
        }
    }
    out
}
