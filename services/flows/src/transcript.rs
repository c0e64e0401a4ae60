//! Runs the transcripts (`tests:`) of flows against the interpreter, reporting a diff of what
//! was expected and what the phone showed.

use crate::interp::{step, Input, RunState};
use crate::load::Flows;

/// One failed transcript step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub flow: String,
    pub test: String,
    pub step: usize,
    pub diff: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "flow `{}`, test `{}`, step {}:\n{}",
            self.flow,
            self.test,
            self.step + 1,
            self.diff
        )
    }
}

/// Runs every transcript of every flow; returns (transcripts run, failures).
pub fn run_all(flows: &Flows) -> (usize, Vec<Failure>) {
    let mut ran = 0;
    let mut failures = Vec::new();
    for name in flows.names() {
        let Some(flow) = flows.get(name) else {
            continue;
        };
        let lang = flows.base_language(name).to_string();
        for test in &flow.tests {
            ran += 1;
            let mut state: Option<RunState> = None;
            for (i, s) in test.steps.iter().enumerate() {
                let input = match (&s.dial, &s.input) {
                    (Some(_), _) => Input::Start,
                    (None, Some(text)) => Input::Reply(text),
                    (None, None) => Input::Start,
                };
                let fail = |diff: String| Failure {
                    flow: name.into(),
                    test: test.name.clone(),
                    step: i,
                    diff,
                };
                let (screen, next) = match step(flows, name, state.as_ref(), input, &lang) {
                    Ok(out) => out,
                    Err(e) => {
                        failures.push(fail(format!("  error: {e}")));
                        break;
                    }
                };
                let shown = format!("{} {}", if screen.end { "END" } else { "CON" }, screen.text);
                let mut problems = Vec::new();
                if let Some(cont) = s.expect.continues {
                    if cont == screen.end {
                        problems.push(format!(
                            "expected the session to {}",
                            if cont { "continue" } else { "end" }
                        ));
                    }
                }
                if let Some(needle) = &s.expect.contains {
                    if !screen.text.contains(needle.as_str()) {
                        problems.push(format!("expected the screen to contain {needle:?}"));
                    }
                }
                if let Some(want) = &s.expect.screen {
                    if want.trim_end() != screen.text.trim_end() {
                        problems.push(diff(want.trim_end(), screen.text.trim_end()));
                    }
                }
                if !problems.is_empty() {
                    let mut text = problems.join("\n");
                    text.push_str("\n  the phone showed:\n");
                    for line in shown.lines() {
                        text.push_str("  | ");
                        text.push_str(line);
                        text.push('\n');
                    }
                    failures.push(fail(text));
                    break;
                }
                state = next;
            }
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
