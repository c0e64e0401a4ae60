//! Arkesel USSD: one JSON POST per hop, answered in JSON.
//!
//! Request: `sessionID`, `userID`, `newSession` (`true` on the first request), `msisdn`,
//! `userData` (the dialled string first, the input after), `network`. Answer: `{"sessionID",
//! "userID", "msisdn", "message", "continueSession"}`.

use axum::response::Response;
use seedgate_proto::Message;
use seedgate_runtime::config::ChannelConfig;
use serde::Deserialize;

use crate::{
    dial_or_answer, json_body, json_reply, required, Aggregator, Malformed, Parsed, Request, Screen,
};

pub(crate) struct Arkesel;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    #[serde(rename = "sessionID")]
    session_id: String,
    #[serde(rename = "userID")]
    user_id: String,
    new_session: bool,
    msisdn: String,
    #[serde(default)]
    user_data: String,
    #[serde(default)]
    network: Option<String>,
}

impl Aggregator for Arkesel {
    fn name(&self) -> &'static str {
        "arkesel"
    }

    fn parse(&self, req: &Request<'_>) -> Result<Parsed, Malformed> {
        let body: Body = json_body(req.headers, req.body)?;
        required("sessionID", &body.session_id)?;
        crate::msisdn("msisdn", &body.msisdn)?;
        let mut msg = dial_or_answer(
            req.channel,
            &body.msisdn,
            &body.session_id,
            body.new_session,
            &body.user_data,
        );
        msg.metadata
            .insert("arkesel_session_id".into(), body.session_id.into());
        msg.metadata.insert("arkesel_user_id".into(), body.user_id.into());
        if let Some(network) = body.network {
            msg.metadata.insert("network".into(), network.into());
        }
        Ok(Parsed::Hop(msg))
    }

    fn render(&self, _cfg: &ChannelConfig, screen: &Screen, msg: &Message) -> Response {
        json_reply(serde_json::json!({
            "sessionID": msg.metadata.get("arkesel_session_id").cloned().unwrap_or_default(),
            "userID": msg.metadata.get("arkesel_user_id").cloned().unwrap_or_default(),
            "msisdn": crate::as_sent(msg),
            "message": screen.text,
            "continueSession": !screen.close,
        }))
    }
}
