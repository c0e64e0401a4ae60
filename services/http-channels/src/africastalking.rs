//! Africa's Talking USSD: a form POST per hop, answered in plain text.
//!
//! Request fields: `sessionId`, `serviceCode`, `phoneNumber`, `networkCode`, `text`. `text`
//! holds every input of the session so far joined with `*`, and is empty on the first request.
//! The answer starts with `CON ` (show this and wait for input) or `END ` (show this and close).
//!
//! The end-of-session notification (sent to the channel's callback URL, or to
//! `…/callback/events`) carries `status` (`Success`, `Incomplete`, `Failed`), `cost`,
//! `durationInMillis`, `hopsCount` and `errorMessage`; it becomes a `Close` with the billing
//! report in `metadata.carrier`.

use axum::response::Response;
use seedgate_proto::{CarrierReport, Message, SessionEndReason, SessionEvent};
use seedgate_runtime::config::ChannelConfig;
use serde::Deserialize;

use crate::{closing, msisdn, plain, required, ussd_inbound, Aggregator, Malformed, Parsed, Request, Screen};

pub(crate) struct AfricasTalking;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Form {
    session_id: String,
    service_code: String,
    phone_number: String,
    #[serde(default)]
    network_code: Option<String>,
    #[serde(default)]
    text: String,
    // The end-of-session notification's fields.
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    cost: Option<String>,
    #[serde(default)]
    duration_in_millis: Option<String>,
    #[serde(default)]
    hops_count: Option<String>,
    #[serde(default)]
    error_message: Option<String>,
}

impl Aggregator for AfricasTalking {
    fn name(&self) -> &'static str {
        "africastalking"
    }

    fn parse(&self, req: &Request<'_>) -> Result<Parsed, Malformed> {
        crate::expect_form(req.headers)?;
        if !req.path.is_empty() && req.path != "events" {
            return Err(malformed!(
                "unknown path `{}`: hops go to the callback, notifications to it or to `events`",
                req.path
            ));
        }
        let form: Form = serde_urlencoded::from_bytes(req.body).map_err(|e| format!("bad form: {e}"))?;
        required("sessionId", &form.session_id)?;
        required("serviceCode", &form.service_code)?;
        msisdn("phoneNumber", &form.phone_number)?;
        if let Some(status) = form.status.as_deref() {
            return end_notification(req.channel, &form, status).map(Parsed::Ended);
        }
        if req.path == "events" {
            return Err("missing field `status` in an end-of-session notification".into());
        }
        let (event, content) = if form.text.is_empty() {
            (SessionEvent::New, "")
        } else {
            // The newest input is the part after the last `*`.
            (
                SessionEvent::Resume,
                form.text.rsplit('*').next().unwrap_or_default(),
            )
        };
        let mut msg = ussd_inbound(
            req.channel,
            &form.phone_number,
            &form.service_code,
            &form.session_id,
            event,
            content,
        );
        msg.metadata.insert("at_text".into(), form.text.clone().into());
        if let Some(code) = &form.network_code {
            msg.metadata.insert("network_code".into(), code.clone().into());
        }
        Ok(Parsed::Hop(msg))
    }

    fn render(&self, _cfg: &ChannelConfig, screen: &Screen, _msg: &Message) -> Response {
        let prefix = if screen.close { "END" } else { "CON" };
        plain(format!("{prefix} {}", screen.text))
    }
}

fn end_notification(channel: &str, form: &Form, status: &str) -> Result<Message, Malformed> {
    let reason = match status {
        "Success" => SessionEndReason::Completed,
        "Incomplete" => SessionEndReason::UserAbort,
        "Failed" => SessionEndReason::GatewayError,
        other => {
            return Err(malformed!(
                "field `status`: `{other}` is not Success, Incomplete or Failed"
            ))
        }
    };
    let number = |name: &str, v: &Option<String>| -> Result<Option<u64>, Malformed> {
        v.as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                s.trim()
                    .parse::<u64>()
                    .map_err(|_| malformed!("field `{name}`: `{s}` is not a whole number"))
            })
            .transpose()
    };
    let report = CarrierReport {
        status: status.to_string(),
        cost: form.cost.clone().filter(|c| !c.trim().is_empty()),
        duration_ms: number("durationInMillis", &form.duration_in_millis)?,
        hops: number("hopsCount", &form.hops_count)?.map(|h| u32::try_from(h).unwrap_or(u32::MAX)),
        error: form.error_message.clone().filter(|e| !e.trim().is_empty()),
    };
    let hop = ussd_inbound(
        channel,
        &form.phone_number,
        &form.service_code,
        &form.session_id,
        SessionEvent::Close,
        "",
    );
    let mut msg = closing(&hop, reason);
    msg.metadata.insert(
        "carrier".into(),
        serde_json::to_value(&report).map_err(|e| e.to_string())?,
    );
    if let Some(code) = &form.network_code {
        msg.metadata.insert("network_code".into(), code.clone().into());
    }
    Ok(msg)
}
