//! Infobip-style USSD: one URL per step of the session under the channel's callback URL.
//!
//! - `POST …/callback/session/{sessionId}/start` with `{"msisdn", "shortCode", "text"?}`
//! - `PUT  …/callback/session/{sessionId}/response` with `{"text", "msisdn"?}`
//! - `PUT  …/callback/session/{sessionId}/end` with `{"reason"?, "exitCode"?}`
//!
//! Start and response are answered with `{"ussdMenu", "shouldClose", "responseExpected"}`;
//! end with an empty 200. (POST is accepted where PUT is documented, and the reverse.)

use axum::response::Response;
use seedgate_proto::{Message, SessionEndReason, SessionEvent};
use seedgate_runtime::config::ChannelConfig;
use serde::Deserialize;

use crate::{
    closing, json_body, json_reply, required, ussd_inbound, Aggregator, Malformed, Parsed, Request, Screen,
};

pub(crate) struct Infobip;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Start {
    msisdn: String,
    short_code: String,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Reply {
    text: String,
    #[serde(default)]
    msisdn: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct End {
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    exit_code: Option<serde_json::Value>,
}

impl Aggregator for Infobip {
    fn name(&self) -> &'static str {
        "infobip"
    }

    fn parse(&self, req: &Request<'_>) -> Result<Parsed, Malformed> {
        let parts: Vec<&str> = req.path.split('/').collect();
        let (session_id, step) = match parts.as_slice() {
            ["session", id, step] if !id.trim().is_empty() => (*id, *step),
            _ => {
                return Err(malformed!(
                    "unknown path `{}`: expected session/{{sessionId}}/start, /response or /end",
                    req.path
                ))
            }
        };
        match step {
            "start" => {
                let start: Start = json_body(req.headers, req.body)?;
                crate::msisdn("msisdn", &start.msisdn)?;
                required("shortCode", &start.short_code)?;
                let mut msg = ussd_inbound(
                    req.channel,
                    &start.msisdn,
                    &start.short_code,
                    session_id,
                    SessionEvent::New,
                    "",
                );
                if let Some(text) = start.text.filter(|t| t.trim() != start.short_code.trim()) {
                    msg.metadata.insert("dialled_text".into(), text.into());
                }
                Ok(Parsed::Hop(msg))
            }
            "response" => {
                let reply: Reply = json_body(req.headers, req.body)?;
                // The MSISDN is optional here: the session engine knows it from the start.
                let msisdn = reply.msisdn.unwrap_or_default();
                if !msisdn.trim().is_empty() {
                    crate::msisdn("msisdn", &msisdn)?;
                }
                Ok(Parsed::Hop(ussd_inbound(
                    req.channel,
                    &msisdn,
                    "",
                    session_id,
                    SessionEvent::Resume,
                    reply.text,
                )))
            }
            "end" => {
                let end: End = if req.body.iter().all(u8::is_ascii_whitespace) {
                    End::default()
                } else {
                    json_body(req.headers, req.body)?
                };
                let reason = end.reason.clone().unwrap_or_default();
                let why = if reason.to_ascii_lowercase().contains("timeout") {
                    SessionEndReason::NetworkTimeout
                } else {
                    SessionEndReason::UserAbort
                };
                let hop = ussd_inbound(req.channel, "", "", session_id, SessionEvent::Close, "");
                let mut msg = closing(&hop, why);
                if !reason.is_empty() {
                    msg.metadata.insert("gateway_reason".into(), reason.into());
                }
                if let Some(code) = end.exit_code {
                    msg.metadata.insert("gateway_exit_code".into(), code);
                }
                Ok(Parsed::Ended(msg))
            }
            other => Err(malformed!(
                "unknown step `{other}`: expected start, response or end"
            )),
        }
    }

    fn render(&self, _cfg: &ChannelConfig, screen: &Screen, _msg: &Message) -> Response {
        json_reply(serde_json::json!({
            "ussdMenu": screen.text,
            "shouldClose": screen.close,
            "responseExpected": !screen.close,
        }))
    }
}
