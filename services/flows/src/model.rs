//! The flow file format. See `flows/demo.yaml` for an example.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One flow file: languages (the first is the base) and flows by name.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowFile {
    #[serde(default = "default_languages")]
    pub languages: Vec<String>,
    pub flows: BTreeMap<String, Flow>,
}

fn default_languages() -> Vec<String> {
    vec!["eng".into()]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlowChannel {
    Ussd,
    Sms,
    Any,
}

/// One flow: a start node and nodes keyed by readable slugs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    #[serde(default = "default_channel")]
    pub channel: FlowChannel,
    pub start: String,
    /// Shown above a menu when the user picks an option it does not have.
    #[serde(default = "default_invalid_choice")]
    pub invalid_choice: Text,
    pub nodes: BTreeMap<String, Node>,
    #[serde(default)]
    pub tests: Vec<Transcript>,
}

fn default_channel() -> FlowChannel {
    FlowChannel::Ussd
}

fn default_invalid_choice() -> Text {
    Text::Plain("Sorry, that is not one of the options.".into())
}

/// A node has exactly one body: `menu`, `end` or `goto`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    #[serde(default)]
    pub menu: Option<Menu>,
    #[serde(default)]
    pub end: Option<End>,
    #[serde(default)]
    pub goto: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Menu {
    pub text: Text,
    pub options: Vec<MenuOption>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MenuOption {
    pub key: String,
    pub label: Text,
    pub goto: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct End {
    pub text: Text,
}

/// Text: one string, or one per language.
#[derive(Debug, Clone, Deserialize)]
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
}

/// A transcript: what the phone does and what it must see.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transcript {
    pub name: String,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Dial the service code: starts the flow.
    #[serde(default)]
    pub dial: Option<String>,
    /// Send this input.
    #[serde(default)]
    pub input: Option<String>,
    pub expect: Expect,
}

#[derive(Debug, Clone, Deserialize)]
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
}
