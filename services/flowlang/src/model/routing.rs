//! The bodies that route a run without asking anything: `subflow` (run another flow, come
//! back), `random` (a weighted split), `wait` (SMS flows: go on after a time) and `group`
//! (split by the contact's groups). `services/flowlang/tests/flows/routing.yaml`
//! has each in use.

use schemars::JsonSchema;
use serde::Deserialize;

/// Runs another flow; when that flow reaches an `end` (or a question with nowhere to go),
/// the run comes back here and goes on at `then`. The called flow's end text is shown above
/// the next screen; the results it saved stay (one set of results for the whole run).
///
/// `subflow: {flow: consent, then: weeks}`
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Subflow {
    /// The flow to run (any file).
    pub flow: String,
    /// A node of this flow the run goes on at when the called flow ends.
    pub then: String,
}

/// A random split: each branch is taken in proportion to its weight.
///
/// `random: {branches: [{weight: 1, goto: short}, {weight: 3, goto: long}]}`
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Random {
    pub branches: Vec<Branch>,
    /// Saves the branch taken (its `category`, else its `goto`) as this result.
    #[serde(default)]
    pub result: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Branch {
    /// How often, relative to the other branches (default 1).
    #[serde(default = "default_weight")]
    pub weight: u32,
    pub goto: String,
    /// The result's category when this branch is taken (default: its `goto`).
    #[serde(default)]
    pub category: Option<String>,
}

fn default_weight() -> u32 {
    1
}

/// SMS flows: the run waits `for` a time, or `until` a date and time, then goes on at `goto`.
/// Messages from the contact while it waits are not answered. A time already past (or an
/// `until` that gives no date) goes on at once.
///
/// `wait: {for: 2d, goto: remind}` or `wait: {until: "@fields.edd", goto: due}`
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Wait {
    /// `30m`, `6h`, `2d`, `1w`.
    #[serde(rename = "for", default)]
    pub duration: Option<String>,
    /// An expression giving a date (`YYYY-MM-DD`, midnight UTC) or a date and time (RFC 3339).
    #[serde(default)]
    pub until: Option<String>,
    pub goto: String,
}

/// Splits by the contact's groups: the first case whose group the contact is in.
///
/// `group: {cases: [{group: mothers, goto: welcome_back}], other: register}`
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupSplit {
    pub cases: Vec<GroupCase>,
    /// Where a contact in none of the groups goes.
    pub other: String,
    /// Saves the group matched (`other` when none) as this result.
    #[serde(default)]
    pub result: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupCase {
    pub group: String,
    pub goto: String,
}
