//! `[channels.<name>.mapping]` of a `generic-ussd` channel: where the fields of an
//! aggregator's request are, and how its replies are written.

use serde::Deserialize;

use crate::config::{invalid, ConfigError};

/// `generic-ussd`: where the fields of an aggregator's request are, and how to answer it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericMapping {
    /// `json` (a JSON object; nested fields as `a.b`) or `form` (urlencoded body or query).
    pub format: RequestFormat,
    /// Field holding the gateway's session id (leave out to key sessions by MSISDN).
    #[serde(default)]
    pub session_id: Option<String>,
    pub msisdn: String,
    #[serde(default)]
    pub service_code: Option<String>,
    /// Field holding the user's input.
    pub text: String,
    /// `latest` (the newest input only) or `cumulative` (every input so far joined by `*`, as
    /// Africa's Talking sends it).
    #[serde(default)]
    pub text_mode: TextMode,
    /// The request starts a session when this field equals `new_value` (for a boolean field,
    /// `new_value = true`); with neither, when the input is empty.
    #[serde(default)]
    pub new_field: Option<String>,
    #[serde(default)]
    pub new_value: Option<serde_json::Value>,
    /// The request reports the end of the session when `end_field` equals `end_value`.
    #[serde(default)]
    pub end_field: Option<String>,
    #[serde(default)]
    pub end_value: Option<serde_json::Value>,
    pub reply: GenericReply,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestFormat {
    Json,
    Form,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextMode {
    #[default]
    Latest,
    Cumulative,
}

/// How a `generic-ussd` reply is written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericReply {
    /// `json` (an object with `text_field`, `continue_field` and the echoed fields) or `text`
    /// (`continue_prefix` or `end_prefix` and the screen, as Africa's Talking does).
    pub format: ReplyFormat,
    #[serde(default)]
    pub text_field: Option<String>,
    /// A JSON field set to `continue_value` while the session goes on, `end_value` at its end.
    #[serde(default)]
    pub continue_field: Option<String>,
    #[serde(default = "GenericReply::yes")]
    pub continue_value: serde_json::Value,
    #[serde(default = "GenericReply::no")]
    pub end_value: serde_json::Value,
    #[serde(default = "GenericReply::con")]
    pub continue_prefix: String,
    #[serde(default = "GenericReply::end")]
    pub end_prefix: String,
    /// Request fields copied into the JSON reply unchanged (session id, user id, …).
    #[serde(default)]
    pub echo: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplyFormat {
    Json,
    Text,
}

/// The defaults of the reply's optional keys (the reply itself has a required one).
impl GenericReply {
    fn yes() -> serde_json::Value {
        serde_json::Value::Bool(true)
    }
    fn no() -> serde_json::Value {
        serde_json::Value::Bool(false)
    }
    fn con() -> String {
        "CON ".into()
    }
    fn end() -> String {
        "END ".into()
    }
}

impl GenericMapping {
    /// Checks the section at `at` (`channels.<name>.mapping`): fields that go in pairs.
    pub(super) fn validate(&self, at: &str) -> Result<(), ConfigError> {
        let key = |field: &str| format!("{at}.{field}");
        if self.new_field.is_some() != self.new_value.is_some() {
            return Err(invalid(key("new_value"), "give new_field and new_value together"));
        }
        if self.end_field.is_some() != self.end_value.is_some() {
            return Err(invalid(key("end_value"), "give end_field and end_value together"));
        }
        if self.reply.format == ReplyFormat::Json
            && (self.reply.text_field.is_none() || self.reply.continue_field.is_none())
        {
            return Err(invalid(
                key("reply.text_field"),
                "a JSON reply needs text_field and continue_field",
            ));
        }
        Ok(())
    }
}
