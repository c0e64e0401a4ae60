//! Africa's Talking USSD: a form POST per hop, answered in plain text.
//!
//! Request fields: `sessionId`, `serviceCode`, `phoneNumber`, `networkCode`, `text`. `text`
//! holds every input of the session so far joined with `*`, and is empty on the first request.
//! The answer starts with `CON ` (show this and wait for input) or `END ` (show this and close).

use std::time::Duration;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use seedgate_proto::{Message, RoutingKey, SessionEvent, SessionInfo, TransportType};
use seedgate_runtime::config::ChannelConfig;
use seedgate_runtime::telemetry::Masked;
use serde::Deserialize;
use tokio::time::Instant;

use crate::{json_error, Channels};

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
}

/// Parses one request into an inbound message, or says precisely what is wrong with it.
fn parse(channel: &str, headers: &HeaderMap, body: &[u8]) -> Result<Message, String> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err(format!(
            "expected Content-Type application/x-www-form-urlencoded, got `{content_type}`"
        ));
    }
    let form: Form = serde_urlencoded::from_bytes(body).map_err(|e| format!("bad form: {e}"))?;
    for (name, value) in [
        ("sessionId", &form.session_id),
        ("serviceCode", &form.service_code),
        ("phoneNumber", &form.phone_number),
    ] {
        if value.trim().is_empty() {
            return Err(format!("field `{name}` is empty"));
        }
    }
    let (event, content) = if form.text.is_empty() {
        (SessionEvent::New, String::new())
    } else {
        // The newest input is the part after the last `*`.
        (
            SessionEvent::Resume,
            form.text.rsplit('*').next().unwrap_or_default().to_string(),
        )
    };
    let mut msg = Message::inbound(
        channel,
        TransportType::Ussd,
        form.phone_number.trim(),
        form.service_code.trim(),
        content,
    );
    msg.session = Some(SessionInfo {
        id: format!("{channel}:{}", form.session_id.trim()),
        event,
    });
    msg.metadata
        .insert("service_code".into(), form.service_code.into());
    msg.metadata.insert("at_text".into(), form.text.into());
    if let Some(code) = form.network_code {
        msg.metadata.insert("network_code".into(), code.into());
    }
    Ok(msg)
}

fn plain(text: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

/// The reply as Africa's Talking wants it.
fn render(reply: &Message) -> String {
    let prefix = if reply.session_event() == Some(SessionEvent::Close) {
        "END"
    } else {
        "CON"
    };
    format!("{prefix} {}", reply.content)
}

pub(crate) async fn callback(
    ch: &Channels,
    channel: &str,
    cfg: &ChannelConfig,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let started = Instant::now();
    let deadline = started + Duration::from_millis(cfg.hop_deadline_ms);
    let msg = match parse(channel, headers, body) {
        Ok(m) => m,
        Err(reason) => {
            metrics::counter!("seedgate_channel_requests_total", "channel" => channel.to_string(), "outcome" => "bad_request").increment(1);
            tracing::warn!(channel, %reason, "refused a malformed Africa's Talking request");
            return json_error(StatusCode::BAD_REQUEST, "bad_request", reason);
        }
    };
    let payload = match serde_json::to_vec(&msg) {
        Ok(p) => p,
        Err(e) => return json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
    };
    let (waiting, _registered) = ch.pending.register(msg.id);
    metrics::gauge!("seedgate_channel_pending_requests").set(ch.pending.len() as f64);
    let outcome = match ch
        .bus
        .publish(&RoutingKey::Inbound(channel).render(), &payload)
        .await
    {
        Err(e) => {
            tracing::error!(channel, error = %e, "cannot publish an inbound hop; answering with the fallback");
            Err("bus_error")
        }
        Ok(()) => match tokio::time::timeout_at(deadline, waiting).await {
            Ok(Ok(reply)) => Ok(reply),
            _ => Err("fallback"),
        },
    };
    let latency = started.elapsed();
    metrics::histogram!("seedgate_channel_hop_latency_seconds", "channel" => channel.to_string())
        .record(latency.as_secs_f64());
    let session = msg.session_id().unwrap_or_default().to_string();
    match outcome {
        Ok(reply) => {
            metrics::counter!("seedgate_channel_requests_total", "channel" => channel.to_string(), "outcome" => "reply").increment(1);
            tracing::info!(channel, session, msisdn = %Masked(&msg.from), latency_ms = latency.as_millis() as u64, "hop answered");
            plain(render(&reply))
        }
        Err(outcome) => {
            metrics::counter!("seedgate_channel_requests_total", "channel" => channel.to_string(), "outcome" => outcome).increment(1);
            tracing::warn!(channel, session, msisdn = %Masked(&msg.from), latency_ms = latency.as_millis() as u64, outcome, "hop not answered in time; sent the fallback text");
            // The user saw END: tell the session engine the session is over.
            let mut close = msg.clone();
            close.id = uuid::Uuid::now_v7();
            close.content.clear();
            close.session = msg.session.clone().map(|s| SessionInfo {
                event: SessionEvent::Close,
                ..s
            });
            close.metadata.insert("reason".into(), "hop_deadline".into());
            let bus = ch.bus.clone();
            let key = RoutingKey::Inbound(channel).render();
            tokio::spawn(async move {
                if let Ok(payload) = serde_json::to_vec(&close) {
                    if let Err(e) = bus.publish(&key, &payload).await {
                        tracing::warn!(error = %e, "could not publish the session close after a fallback");
                    }
                }
            });
            plain(format!("END {}", cfg.fallback_text))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        h
    }

    #[test]
    fn first_request_starts_a_session() {
        let body =
            b"sessionId=ATUid_1&serviceCode=*134*550%23&phoneNumber=%2B27820000001&networkCode=65501&text=";
        let m = parse("demo-at", &form_headers(), body).unwrap();
        assert_eq!(m.session_id(), Some("demo-at:ATUid_1"));
        assert_eq!(m.session_event(), Some(SessionEvent::New));
        assert_eq!(
            (m.from.as_str(), m.to.as_str(), m.content.as_str()),
            ("+27820000001", "*134*550#", "")
        );
        assert_eq!(m.metadata["network_code"], "65501");
    }

    #[test]
    fn later_requests_carry_the_newest_input() {
        let body = b"sessionId=ATUid_1&serviceCode=*134*550%23&phoneNumber=%2B27820000001&networkCode=65501&text=1*2*12";
        let m = parse("demo-at", &form_headers(), body).unwrap();
        assert_eq!(
            (m.session_event(), m.content.as_str()),
            (Some(SessionEvent::Resume), "12")
        );
        assert_eq!(m.metadata["at_text"], "1*2*12");
    }

    #[test]
    fn malformed_requests_say_what_is_wrong() {
        let cases: [(&[u8], &str); 4] = [
            (b"serviceCode=x&phoneNumber=1&text=", "missing field `sessionId`"),
            (
                b"sessionId=&serviceCode=x&phoneNumber=1&text=",
                "`sessionId` is empty",
            ),
            (b"sessionId=a&serviceCode=x&text=", "missing field `phoneNumber`"),
            (
                b"sessionId=a&serviceCode=x&phoneNumber=%20&text=",
                "`phoneNumber` is empty",
            ),
        ];
        for (body, want) in cases {
            let err = parse("demo-at", &form_headers(), body).unwrap_err();
            assert!(err.contains(want), "{err} should contain {want}");
        }
        let err = parse("demo-at", &HeaderMap::new(), b"sessionId=a").unwrap_err();
        assert!(err.contains("Content-Type"), "{err}");
    }

    #[test]
    fn replies_render_con_or_end() {
        let m = parse(
            "demo-at",
            &form_headers(),
            b"sessionId=a&serviceCode=x&phoneNumber=1&text=",
        )
        .unwrap();
        assert_eq!(render(&m.reply("Menu", SessionEvent::Resume)), "CON Menu");
        assert_eq!(render(&m.reply("Bye", SessionEvent::Close)), "END Bye");
    }
}
