//! The transcripts a flow's `tests:` hold: what the phone does (dial, answer, time out) and
//! what it must see, with the contact before and after and stubbed webhook answers.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

/// A transcript: what the phone does and what it must see.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Transcript {
    pub name: String,
    /// The contact before the test: `language`, `fields`, `groups`.
    #[serde(default)]
    pub contact: TestContact,
    /// Answers for webhooks, by node: `{status: 200, body: {...}}`.
    #[serde(default)]
    pub webhooks: BTreeMap<String, StubResponse>,
    pub steps: Vec<Step>,
    /// The contact after the last step must have these (fields, groups, language,
    /// subscriptions).
    #[serde(default)]
    pub expect_contact: Option<TestContact>,
    /// The randomness `random` nodes roll with (default 0): pick one that takes the branch
    /// the test is about.
    #[serde(default)]
    pub seed: u64,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestContact {
    #[serde(default)]
    pub msisdn: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub subscriptions: Vec<String>,
    #[serde(default)]
    pub opted_out: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StubResponse {
    #[serde(default = "default_status")]
    pub status: u16,
    #[serde(default)]
    pub body: serde_json::Value,
}

fn default_status() -> u16 {
    200
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Dial the service code: starts the flow (or offers to resume one that broke off).
    #[serde(default)]
    pub dial: Option<String>,
    /// Send this input.
    #[serde(default)]
    pub input: Option<String>,
    /// The network dropped the session (USSD), or the SMS wait timed out.
    #[serde(default)]
    pub timeout: Option<bool>,
    #[serde(default)]
    pub expect: Option<Expect>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Whether the session continues (`CON`) or ends (`END`).
    #[serde(rename = "continue", default)]
    pub continues: Option<bool>,
    #[serde(default)]
    pub contains: Option<String>,
    /// The whole screen, exactly.
    #[serde(default)]
    pub screen: Option<String>,
    /// SMS the step sent (texts, in order; each may be a part of the text).
    #[serde(default)]
    pub sms: Option<Vec<String>>,
}
