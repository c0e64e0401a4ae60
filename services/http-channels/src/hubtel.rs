//! Hubtel USSD: one JSON POST per hop, answered in JSON.
//!
//! Request: `Mobile`, `SessionId`, `ServiceCode`, `Type` (`Initiation`, `Response`, `Release`,
//! `Timeout`), `Message` (the dialled string on initiation, the input after), `Operator`,
//! `Sequence`, `ClientState`. Answer: `{"Message", "Type": "Response" | "Release",
//! "ClientState"}`; `ClientState` is echoed back so Hubtel keeps sending it.

use axum::response::Response;
use seedgate_proto::{Message, SessionEndReason, SessionEvent};
use seedgate_runtime::config::ChannelConfig;
use serde::Deserialize;

use crate::{
    closing, json_body, json_reply, required, ussd_inbound, Aggregator, Malformed, Parsed, Request, Screen,
};

pub(crate) struct Hubtel;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Body {
    mobile: String,
    session_id: String,
    #[serde(default)]
    service_code: String,
    #[serde(rename = "Type")]
    kind: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    operator: Option<String>,
    #[serde(default)]
    sequence: Option<u32>,
    #[serde(default)]
    client_state: Option<String>,
}

impl Aggregator for Hubtel {
    fn name(&self) -> &'static str {
        "hubtel"
    }

    fn parse(&self, req: &Request<'_>) -> Result<Parsed, Malformed> {
        let body: Body = json_body(req.headers, req.body)?;
        crate::msisdn("Mobile", &body.mobile)?;
        required("SessionId", &body.session_id)?;
        let (event, content) = match body.kind.as_str() {
            "Initiation" => (SessionEvent::New, ""),
            "Response" => (SessionEvent::Resume, body.message.as_str()),
            "Release" | "Timeout" => (SessionEvent::Close, ""),
            other => {
                return Err(malformed!(
                    "field `Type`: `{other}` is not Initiation, Response, Release or Timeout"
                ))
            }
        };
        let service_code = if body.service_code.is_empty() && event == SessionEvent::New {
            body.message.as_str()
        } else {
            body.service_code.as_str()
        };
        let mut msg = ussd_inbound(
            req.channel,
            &body.mobile,
            service_code,
            &body.session_id,
            event,
            content,
        );
        if let Some(op) = body.operator {
            msg.metadata.insert("operator".into(), op.into());
        }
        if let Some(seq) = body.sequence {
            msg.metadata.insert("sequence".into(), seq.into());
        }
        if let Some(state) = body.client_state {
            msg.metadata.insert("client_state".into(), state.into());
        }
        match body.kind.as_str() {
            "Release" => Ok(Parsed::Ended(closing(&msg, SessionEndReason::UserAbort))),
            "Timeout" => Ok(Parsed::Ended(closing(&msg, SessionEndReason::NetworkTimeout))),
            _ => Ok(Parsed::Hop(msg)),
        }
    }

    fn render(&self, _cfg: &ChannelConfig, screen: &Screen, msg: &Message) -> Response {
        json_reply(serde_json::json!({
            "Message": screen.text,
            "Type": if screen.close { "Release" } else { "Response" },
            "ClientState": client_state(msg),
        }))
    }

    fn ack(&self, msg: &Message) -> Response {
        json_reply(serde_json::json!({
            "Message": "",
            "Type": "Release",
            "ClientState": client_state(msg),
        }))
    }
}

fn client_state(msg: &Message) -> serde_json::Value {
    msg.metadata
        .get("client_state")
        .cloned()
        .unwrap_or_else(|| serde_json::Value::String(String::new()))
}
