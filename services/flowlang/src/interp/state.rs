//! What a run carries between steps ([`RunState`], with its subflow call stack), what comes
//! in ([`Input`]) and what a step gives back ([`Output`], [`Effect`]).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{MAX_SUBFLOW_DEPTH, STEP_LIMIT};

/// The contact as a run sees it: loaded when the run starts, changed by its actions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunContact {
    pub msisdn: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    #[serde(default)]
    pub groups: BTreeSet<String>,
    #[serde(default)]
    pub subscriptions: BTreeSet<String>,
    #[serde(default)]
    pub opted_out: bool,
}

/// A saved answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunResult {
    pub value: String,
    pub category: String,
    pub node: String,
}

/// Where a run stands between two inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunState {
    pub flow: String,
    /// The node it waits at: a `menu`, an `ask`, or a `webhook` whose answer it needs.
    pub node: String,
    pub contact: RunContact,
    #[serde(default)]
    pub results: BTreeMap<String, RunResult>,
    /// Wrong answers so far at this node.
    #[serde(default)]
    pub retries: u32,
    /// The last answer.
    #[serde(default)]
    pub input: String,
    /// An SMS question's `timeout` fires at this time.
    #[serde(default)]
    pub wait_until: Option<DateTime<Utc>>,
    /// An SMS conversation waiting past this ends (`expire_after`).
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// The flows `subflow` nodes left, innermost last: where each goes on when the flow
    /// called ends. Empty outside a subflow (and in states saved before subflows).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stack: Vec<Frame>,
    /// The end text of a subflow, shown above the next screen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carry: Option<String>,
}

impl RunState {
    /// A state with nothing in it (allocates nothing): what a finished step leaves behind.
    pub(super) fn empty() -> RunState {
        RunState {
            flow: String::new(),
            node: String::new(),
            contact: RunContact::default(),
            results: BTreeMap::new(),
            retries: 0,
            input: String::new(),
            wait_until: None,
            expires_at: None,
            stack: Vec::new(),
            carry: None,
        }
    }
}

/// Where a run goes back to when the flow a `subflow` node called ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    /// The calling flow.
    pub flow: String,
    /// The node of `flow` the run goes on at.
    pub then: String,
}

/// What came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input<'a> {
    /// The user dialled, or a message started the flow: a new run.
    Start,
    /// An answer to the current question.
    Reply(&'a str),
    /// The wait of an SMS question timed out.
    Timeout,
    /// The answer to the webhook the run waits on.
    Webhook(&'a WebhookResponse),
}

/// A webhook's answer: `status` 0 when none came in time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookResponse {
    pub status: u16,
    pub body: String,
}

/// A call the runner must make before the run can go on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookCall {
    pub node: String,
    pub method: String,
    pub url: String,
    pub headers: BTreeMap<String, String>,
    pub body: Option<String>,
    pub timeout_ms: u64,
}

/// A change of the contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactChange {
    Field(String, String),
    Name(String),
    Language(String),
    AddGroup(String),
    RemoveGroup(String),
    OptOut,
}

/// Something for the runner to carry out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Contact(ContactChange),
    Subscribe(String),
    Unsubscribe(String),
    SendSms {
        to: String,
        text: String,
        channel: Option<String>,
    },
}

/// What a step produced (the studio's simulator sends it as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Output {
    /// The screen to show (USSD), or the message to send (SMS); `None` when there is none.
    pub text: Option<String>,
    /// The run ended with this text.
    pub end: bool,
    /// The state to keep; `None` once the run ended.
    pub state: Option<RunState>,
    /// A webhook to call; step again with its answer.
    pub call: Option<WebhookCall>,
    pub effects: Vec<Effect>,
    /// The contact as the run left it (its changes are also among the effects).
    pub contact: RunContact,
    /// Nodes entered.
    pub steps: usize,
    /// The nodes entered, in order, as (flow, node): the arrows the run took.
    pub entered: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    #[error("unknown flow `{0}`")]
    UnknownFlow(String),
    #[error("flow `{flow}` has no node `{node}`")]
    UnknownNode { flow: String, node: String },
    #[error("flow `{0}` entered more than {STEP_LIMIT} nodes in one step")]
    StepLimit(String),
    #[error("flow `{0}` runs subflows more than {MAX_SUBFLOW_DEPTH} deep")]
    SubflowDepth(String),
}
