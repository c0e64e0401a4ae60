//! The flow file format (YAML). See `flows/registration.yaml` for a full example and
//! `schema/flow-file.json` for the JSON Schema generated from these types.
//!
//! A file holds `languages` (the first is the base), `globals`, `flows` and `message_sets`.
//! Unknown keys are refused everywhere. The bodies that route without asking (`subflow`,
//! `random`, `wait`, `group`) are in [`routing`], the transcripts under `tests:` in [`transcripts`].

use std::collections::BTreeMap;

mod routing;
mod transcripts;
pub use routing::{Branch, GroupCase, GroupSplit, Random, Subflow, Wait};
pub use transcripts::{Expect, Step, StubResponse, TestContact, Transcript};

use schemars::JsonSchema;
use serde::Deserialize;

/// One flow file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowFile {
    /// ISO 639-3 codes; the first is the base language every text must have.
    #[serde(default = "default_languages")]
    pub languages: Vec<String>,
    /// Values every flow of the file reads as `@globals.<name>`.
    #[serde(default)]
    pub globals: BTreeMap<String, String>,
    #[serde(default)]
    pub flows: BTreeMap<String, Flow>,
    /// Scheduled SMS campaigns contacts subscribe to.
    #[serde(default)]
    pub message_sets: BTreeMap<String, MessageSet>,
}

fn default_languages() -> Vec<String> {
    vec!["eng".into()]
}

/// Where a flow runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FlowChannel {
    /// USSD sessions: every screen must fit the channel's screen limit.
    Ussd,
    /// SMS conversations: each reply is an SMS, waits can last days.
    Sms,
    Any,
}

/// One flow: a start node and nodes keyed by readable slugs.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    #[serde(default = "default_channel")]
    pub channel: FlowChannel,
    pub start: String,
    /// An SMS conversation waiting longer than this for an answer ends (`30m`, `2d`, `1w`).
    #[serde(default = "default_expire_after")]
    pub expire_after: String,
    /// Shown above a menu when the user picks an option it does not have.
    #[serde(default = "default_invalid_choice")]
    pub invalid_choice: Text,
    /// The session budget the expected billing slices are checked against (seconds).
    #[serde(default = "default_budget_secs")]
    pub budget_secs: u64,
    pub nodes: BTreeMap<String, Node>,
    #[serde(default)]
    pub tests: Vec<Transcript>,
}

fn default_channel() -> FlowChannel {
    FlowChannel::Ussd
}
fn default_expire_after() -> String {
    "7d".into()
}
fn default_budget_secs() -> u64 {
    180
}
fn default_invalid_choice() -> Text {
    Text::Plain("Sorry, that is not one of the options.".into())
}

/// A node: entry actions, then exactly one body.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// Run in order when the node is entered.
    #[serde(default, deserialize_with = "actions")]
    pub actions: Vec<Action>,
    #[serde(default)]
    pub menu: Option<Menu>,
    #[serde(default)]
    pub ask: Option<Ask>,
    #[serde(default)]
    pub switch: Option<Switch>,
    #[serde(default)]
    pub webhook: Option<Webhook>,
    #[serde(default)]
    pub end: Option<End>,
    #[serde(default)]
    pub subflow: Option<Subflow>,
    #[serde(default)]
    pub random: Option<Random>,
    #[serde(default)]
    pub wait: Option<Wait>,
    #[serde(default)]
    pub group: Option<GroupSplit>,
    /// Another node of this flow, or `flow:<name>` to start another flow.
    #[serde(default)]
    pub goto: Option<String>,
}

impl Node {
    /// The names of the bodies the node has (exactly one is valid).
    pub fn bodies(&self) -> Vec<&'static str> {
        [
            ("menu", self.menu.is_some()),
            ("ask", self.ask.is_some()),
            ("switch", self.switch.is_some()),
            ("webhook", self.webhook.is_some()),
            ("end", self.end.is_some()),
            ("subflow", self.subflow.is_some()),
            ("random", self.random.is_some()),
            ("wait", self.wait.is_some()),
            ("group", self.group.is_some()),
            ("goto", self.goto.is_some()),
        ]
        .into_iter()
        .filter_map(|(n, has)| has.then_some(n))
        .collect()
    }

    /// Every node or `flow:` this node can go to next.
    pub fn exits(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        if let Some(m) = &self.menu {
            out.extend(m.options.iter().map(|o| o.goto.as_str()));
        }
        if let Some(a) = &self.ask {
            out.extend(a.goto.as_deref());
            if let Some(v) = &a.validate {
                out.extend(v.on_fail.as_deref());
            }
            out.extend(a.cases.iter().map(|c| c.goto.as_str()));
            out.extend(a.other.as_deref());
            if let Some(t) = &a.timeout {
                out.push(&t.goto);
            }
        }
        if let Some(s) = &self.switch {
            out.extend(s.cases.iter().map(|c| c.goto.as_str()));
            out.push(&s.other);
        }
        if let Some(w) = &self.webhook {
            out.push(&w.on_success);
            out.push(&w.on_failure);
        }
        if let Some(s) = &self.subflow {
            out.push(&s.then);
        }
        if let Some(r) = &self.random {
            out.extend(r.branches.iter().map(|b| b.goto.as_str()));
        }
        if let Some(w) = &self.wait {
            out.push(&w.goto);
        }
        if let Some(g) = &self.group {
            out.extend(g.cases.iter().map(|c| c.goto.as_str()));
            out.push(&g.other);
        }
        out.extend(self.goto.as_deref());
        out
    }

    /// Whether the node waits for the user (a screen or a question).
    pub fn waits(&self) -> bool {
        self.menu.is_some() || self.ask.is_some()
    }

    /// Whether the run stops at the node until something comes in: the user (a screen or
    /// a question) or the clock (a `wait`).
    pub fn pauses(&self) -> bool {
        self.waits() || self.wait.is_some()
    }
}

/// Actions are written as one-key maps (`- set_language: zul`); read through JSON, whose
/// serde takes that form for enums.
fn actions<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Action>, D::Error> {
    let raw: Vec<serde_json::Value> = Deserialize::deserialize(d)?;
    raw.into_iter()
        .enumerate()
        .map(|(i, v)| {
            serde_json::from_value(v).map_err(|e| serde::de::Error::custom(format!("action {}: {e}", i + 1)))
        })
        .collect()
}

/// What a node does on entry.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// `set_field: {name: edd, value: "@(date_add(today, weeks=40 - results.weeks))"}`
    SetField {
        name: String,
        value: String,
    },
    /// The contact's name.
    SetName(String),
    /// The contact's language (ISO 639-3, or an expression giving one).
    SetLanguage(String),
    AddGroup(String),
    RemoveGroup(String),
    /// Subscribe the contact to a message set.
    Subscribe(String),
    Unsubscribe(String),
    /// An SMS to the contact (or to `to`), on `channel` or the flow's SMS channel.
    SendSms {
        text: Text,
        #[serde(default)]
        to: Option<String>,
        #[serde(default)]
        channel: Option<String>,
    },
    /// The contact opts out: no more messages of any kind.
    OptOut(bool),
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Menu {
    pub text: Text,
    pub options: Vec<MenuOption>,
    /// Saves the chosen option (its `value`, else its key) as this result.
    #[serde(default)]
    pub result: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MenuOption {
    pub key: String,
    pub label: Text,
    pub goto: String,
    /// What the result holds when this option is picked (default: the key).
    #[serde(default)]
    pub value: Option<String>,
}

/// A question answered with free text: checked by `validate`, or routed by `cases`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ask {
    pub text: Text,
    /// The answer is saved as this result.
    #[serde(default)]
    pub result: Option<String>,
    #[serde(default)]
    pub validate: Option<Validate>,
    /// Where a valid answer goes (with `validate`, or without `cases`).
    #[serde(default)]
    pub goto: Option<String>,
    /// Tests tried in order; the first that passes picks the category and the next node.
    #[serde(default)]
    pub cases: Vec<Case>,
    /// Where an answer no case takes goes.
    #[serde(default)]
    pub other: Option<String>,
    /// SMS flows: where the run goes when no answer comes in time.
    #[serde(default)]
    pub timeout: Option<Timeout>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Validate {
    /// A test name (`has_number_between`, `has_date`, …) and its arguments.
    pub test: String,
    #[serde(default)]
    pub args: Vec<serde_json::Value>,
    /// Shown above the question again when the answer fails the test.
    pub error: Text,
    /// Wrong answers allowed before `on_fail` (default 2); without `on_fail` the question
    /// is asked again until the session ends.
    #[serde(default = "default_retries")]
    pub retries: u32,
    #[serde(default)]
    pub on_fail: Option<String>,
}

fn default_retries() -> u32 {
    2
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub test: String,
    #[serde(default)]
    pub args: Vec<serde_json::Value>,
    /// The result's category when this case takes the answer (default: the test name).
    #[serde(default)]
    pub category: Option<String>,
    pub goto: String,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Timeout {
    /// `30m`, `6h`, `2d`, `1w`.
    pub after: String,
    pub goto: String,
}

/// Routes on a value without waiting for input.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Switch {
    /// An expression: `@contact.language`, `@(results.weeks|int)`.
    pub on: String,
    pub cases: Vec<Case>,
    pub other: String,
}

/// An HTTP call; its answer is saved as a result (`@results.<name>` holds the JSON body).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    #[serde(default = "default_method")]
    pub method: String,
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A template; usually JSON built from results and contact fields.
    #[serde(default)]
    pub body: Option<String>,
    /// Required: the call counts against the USSD hop deadline.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    #[serde(default)]
    pub result: Option<String>,
    /// A 2xx answer goes here, anything else (or no answer in time) to `on_failure`.
    pub on_success: String,
    pub on_failure: String,
}

fn default_method() -> String {
    "POST".into()
}

/// The run ends with this text; in a flow run as a `subflow`, the run goes back to the
/// calling flow and the text (if any) is shown above its next screen.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct End {
    #[serde(default = "no_text")]
    pub text: Text,
}

fn no_text() -> Text {
    Text::Plain(String::new())
}

/// Text: one string, or one per language.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Text {
    Plain(String),
    Translated(BTreeMap<String, String>),
}

impl Text {
    /// The text in `lang`, else in the base language `base`.
    pub fn get<'a>(&'a self, lang: &str, base: &str) -> &'a str {
        match self {
            Text::Plain(s) => s,
            Text::Translated(m) => m.get(lang).or_else(|| m.get(base)).map_or("", String::as_str),
        }
    }

    /// Every (language, text) it has; a plain text counts for every language.
    pub fn variants<'a>(&'a self, languages: &'a [String]) -> Vec<(&'a str, &'a str)> {
        match self {
            Text::Plain(s) => languages.iter().map(|l| (l.as_str(), s.as_str())).collect(),
            Text::Translated(m) => m.iter().map(|(l, s)| (l.as_str(), s.as_str())).collect(),
        }
    }
}

/// A scheduled SMS campaign: messages at offsets from a contact's date (or at fixed times),
/// sent within a delivery window.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageSet {
    /// The SMS channel the messages go out on.
    pub channel: String,
    /// A contact field holding a date (`YYYY-MM-DD`) the offsets count from, e.g. `edd`.
    #[serde(default)]
    pub anchor: Option<String>,
    #[serde(default)]
    pub window: Window,
    /// When subscribing after some messages' times have passed: `skip` them (default) or
    /// `catch_up` (send the latest one that passed, then go on).
    #[serde(default)]
    pub on_subscribe: OnSubscribe,
    /// When sending resumes after downtime with several messages due: `latest` (send only
    /// the newest due one, default) or `all` (send each, in order).
    #[serde(default)]
    pub catch_up: CatchUp,
    pub messages: Vec<SetMessage>,
    #[serde(default)]
    pub on_complete: OnComplete,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetMessage {
    /// From the anchor (`-36w`, `+2d`, `0d`); or `at` for a fixed date.
    #[serde(default)]
    pub offset: Option<String>,
    /// A fixed date (`YYYY-MM-DD`) for sets without an anchor.
    #[serde(default)]
    pub at: Option<String>,
    pub text: Text,
}

/// When messages may go out: days, hours (local to `timezone`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    #[serde(default = "default_days")]
    pub days: Vec<String>,
    /// `HH:MM`: a message due on a day goes out at this time.
    #[serde(default = "default_from")]
    pub from: String,
    /// `HH:MM`: nothing goes out after this.
    #[serde(default = "default_until")]
    pub until: String,
    /// IANA name, e.g. `Africa/Johannesburg`.
    #[serde(default = "default_timezone")]
    pub timezone: String,
}

impl Default for Window {
    fn default() -> Self {
        Self {
            days: default_days(),
            from: default_from(),
            until: default_until(),
            timezone: default_timezone(),
        }
    }
}

fn default_days() -> Vec<String> {
    ["mon", "tue", "wed", "thu", "fri"].map(String::from).to_vec()
}
fn default_from() -> String {
    "09:00".into()
}
fn default_until() -> String {
    "17:00".into()
}
fn default_timezone() -> String {
    "UTC".into()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnSubscribe {
    #[default]
    Skip,
    CatchUp,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    #[default]
    Latest,
    All,
}

/// What happens after the last message.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OnComplete {
    #[serde(default)]
    pub add_group: Option<String>,
    #[serde(default)]
    pub remove_group: Option<String>,
    /// Subscribe to this set next.
    #[serde(default)]
    pub next: Option<String>,
}

/// A duration as flows write it: `90s`, `30m`, `6h`, `2d`, `1w`.
pub fn parse_duration(text: &str) -> Option<chrono::Duration> {
    let t = text.trim();
    let (n, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = n.parse().ok()?;
    Some(match unit {
        "s" => chrono::Duration::seconds(n),
        "m" => chrono::Duration::minutes(n),
        "h" => chrono::Duration::hours(n),
        "d" => chrono::Duration::days(n),
        "w" => chrono::Duration::weeks(n),
        _ => return None,
    })
}

/// A message-set offset from its anchor, in days: `-36w`, `+2d`, `0d`.
pub fn parse_offset(text: &str) -> Option<i64> {
    let t = text.trim();
    let (sign, rest) = match t.strip_prefix('-') {
        Some(r) => (-1, r),
        None => (1, t.strip_prefix('+').unwrap_or(t)),
    };
    let (n, unit) = rest.split_at(rest.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = n.parse().ok()?;
    Some(
        sign * match unit {
            "d" => n,
            "w" => 7 * n,
            _ => return None,
        },
    )
}
