//! The interpreter: a pure function from (flow, run state, input) to (screen, new state).
//!
//! No IO and no clock: the service feeds it and carries out what it returns.

use serde::{Deserialize, Serialize};

use crate::load::Flows;
use crate::model::{Flow, Node};

/// Following more `goto`s than this in one step is an error (the validator prevents loops).
pub const STEP_LIMIT: usize = 64;

/// Where a run stands between two inputs: the menu it waits on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunState {
    pub flow: String,
    pub node: String,
}

/// What the phone sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input<'a> {
    /// The user dialled: start the flow.
    Start,
    /// The user answered the current screen.
    Reply(&'a str),
}

/// What the phone shows; `end` closes the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Screen {
    pub text: String,
    pub end: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    #[error("unknown flow `{0}`")]
    UnknownFlow(String),
    #[error("flow `{flow}` has no node `{node}`")]
    UnknownNode { flow: String, node: String },
    #[error("flow `{0}` followed more than {STEP_LIMIT} gotos in one step")]
    StepLimit(String),
}

/// One step: the screen to show and the state to keep (`None` once the flow ended).
pub fn step(
    flows: &Flows,
    flow_name: &str,
    state: Option<&RunState>,
    input: Input<'_>,
    lang: &str,
) -> Result<(Screen, Option<RunState>), StepError> {
    let flow = flows
        .get(flow_name)
        .ok_or_else(|| StepError::UnknownFlow(flow_name.into()))?;
    let base = flows.base_language(flow_name);
    let ctx = Ctx {
        flow,
        name: flow_name,
        lang,
        base,
    };
    match (input, state) {
        (Input::Reply(text), Some(state)) if state.flow == flow_name => {
            let node = ctx.node(&state.node)?;
            match &node.menu {
                Some(menu) => match menu.options.iter().find(|o| o.key.trim() == text.trim()) {
                    Some(opt) => ctx.enter(&opt.goto),
                    None => {
                        let (screen, st) = ctx.enter(&state.node)?;
                        let notice = flow.invalid_choice.get(lang, base);
                        Ok((
                            Screen {
                                text: format!("{notice}\n{}", screen.text),
                                end: false,
                            },
                            st,
                        ))
                    }
                },
                // A state resting on a non-menu node cannot happen; restart cleanly if it does.
                None => ctx.enter(&flow.start),
            }
        }
        // A dial, or an answer with no (or another flow's) state: start from the top.
        _ => ctx.enter(&flow.start),
    }
}

struct Ctx<'a> {
    flow: &'a Flow,
    name: &'a str,
    lang: &'a str,
    base: &'a str,
}

impl Ctx<'_> {
    fn node(&self, id: &str) -> Result<&Node, StepError> {
        self.flow.nodes.get(id).ok_or_else(|| StepError::UnknownNode {
            flow: self.name.into(),
            node: id.into(),
        })
    }

    /// Enters node `id`, following gotos, and renders the screen it lands on.
    fn enter(&self, id: &str) -> Result<(Screen, Option<RunState>), StepError> {
        let mut at = id;
        for _ in 0..STEP_LIMIT {
            let node = self.node(at)?;
            if let Some(next) = &node.goto {
                at = next;
                continue;
            }
            if let Some(end) = &node.end {
                return Ok((
                    Screen {
                        text: end.text.get(self.lang, self.base).to_string(),
                        end: true,
                    },
                    None,
                ));
            }
            if let Some(menu) = &node.menu {
                let mut text = menu.text.get(self.lang, self.base).to_string();
                for opt in &menu.options {
                    text.push('\n');
                    text.push_str(opt.key.trim());
                    text.push_str(". ");
                    text.push_str(opt.label.get(self.lang, self.base));
                }
                let state = RunState {
                    flow: self.name.into(),
                    node: at.into(),
                };
                return Ok((Screen { text, end: false }, Some(state)));
            }
            return Err(StepError::UnknownNode {
                flow: self.name.into(),
                node: at.into(),
            });
        }
        Err(StepError::StepLimit(self.name.into()))
    }
}
