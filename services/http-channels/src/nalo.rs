//! Nalo Solutions USSD: one JSON POST per hop, answered in JSON.
//!
//! Request: `USERID` (the account), `MSISDN`, `USERDATA` (the dialled string on the first
//! request, the input after), `MSGTYPE` (`true` on the first request of a session), `NETWORK`,
//! and on newer accounts `SESSIONID`. Answer: `{"USERID", "MSISDN", "USERDATA", "MSG",
//! "MSGTYPE"}` with `MSGTYPE` `true` to wait for input and `false` to end.
//!
//! Without `SESSIONID` the protocol identifies a session only by its MSISDN, so Nalo channels
//! key sessions by MSISDN and dialog (`session_key = "msisdn"`, the default for this type).

use axum::response::Response;
use seedgate_proto::Message;
use seedgate_runtime::config::ChannelConfig;
use serde::Deserialize;

use crate::{
    dial_or_answer, json_body, json_reply, required, Aggregator, Malformed, Parsed, Request, Screen,
    NO_SESSION_ID,
};

pub(crate) struct Nalo;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
struct Body {
    userid: String,
    msisdn: String,
    #[serde(default)]
    userdata: String,
    msgtype: bool,
    #[serde(default)]
    network: Option<String>,
    #[serde(default)]
    sessionid: Option<String>,
}

impl Aggregator for Nalo {
    fn name(&self) -> &'static str {
        "nalo"
    }

    fn parse(&self, req: &Request<'_>) -> Result<Parsed, Malformed> {
        let body: Body = json_body(req.headers, req.body)?;
        required("USERID", &body.userid)?;
        crate::msisdn("MSISDN", &body.msisdn)?;
        let session = body
            .sessionid
            .clone()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| NO_SESSION_ID.to_string());
        let mut msg = dial_or_answer(req.channel, &body.msisdn, &session, body.msgtype, &body.userdata);
        msg.metadata.insert("nalo_userid".into(), body.userid.into());
        msg.metadata.insert("nalo_userdata".into(), body.userdata.into());
        if let Some(network) = body.network {
            msg.metadata.insert("network".into(), network.into());
        }
        Ok(Parsed::Hop(msg))
    }

    fn render(&self, _cfg: &ChannelConfig, screen: &Screen, msg: &Message) -> Response {
        json_reply(serde_json::json!({
            "USERID": msg.metadata.get("nalo_userid").cloned().unwrap_or_default(),
            "MSISDN": crate::as_sent(msg),
            "USERDATA": msg.metadata.get("nalo_userdata").cloned().unwrap_or_default(),
            "MSG": screen.text,
            "MSGTYPE": !screen.close,
        }))
    }
}
