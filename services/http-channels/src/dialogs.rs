//! Stable session ids for gateways whose ids change mid-session or that send none: the
//! session is keyed by MSISDN and dialog (`session_key = "msisdn"`).
//!
//! A start opens a dialog with a fresh id, kept under `dialog:<channel>:<msisdn>` in the
//! session store for the session budget. Later requests from that MSISDN join it whatever id
//! the gateway gives them; the gateway's id travels in `metadata.gateway_session_id`. A start
//! that repeats the open dialog's start (same gateway id, no answer yet) joins it instead of
//! opening another, so a gateway that sends the start twice gets one session. This is done in
//! the connector, before the message is published, so the store, the session engine and the
//! flow runner all see the one id.

use std::time::Duration;

use seedgate_proto::{Message, SessionEvent};
use seedgate_runtime::session_store::{SessionStore, SessionStoreError};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Metadata key of the gateway's own session id on a message keyed by MSISDN and dialog.
pub const GATEWAY_SESSION_ID: &str = "gateway_session_id";

#[derive(Debug, Serialize, Deserialize)]
struct Dialog {
    id: String,
    /// The gateway's id on the start.
    gateway: String,
    /// Whether the user has answered a screen yet.
    answered: bool,
}

fn key(channel: &str, msisdn: &str) -> String {
    format!("dialog:{channel}:{msisdn}")
}

/// Rewrites the session of `msg` to its dialog's stable id. `budget` bounds the dialog.
pub(crate) async fn join(
    sessions: &dyn SessionStore,
    msg: &mut Message,
    budget: Duration,
) -> Result<(), SessionStoreError> {
    let (Some(session), false) = (msg.session.as_mut(), msg.from.trim().is_empty()) else {
        return Ok(());
    };
    let k = key(&msg.channel, &msg.from);
    let open: Option<Dialog> = sessions
        .get(&k)
        .await?
        .and_then(|s| serde_json::from_slice(&s.value).ok());
    let gateway = std::mem::take(&mut session.id);
    session.id = match (session.event, open) {
        (SessionEvent::New, Some(d)) if !d.answered && d.gateway == gateway => d.id,
        (SessionEvent::New, _) => {
            let id = format!("{gateway}~{}", Uuid::now_v7().simple());
            let d = Dialog {
                id: id.clone(),
                gateway: gateway.clone(),
                answered: false,
            };
            sessions.put(&k, &encode(&d), budget).await?;
            id
        }
        (SessionEvent::Resume, Some(mut d)) => {
            if !d.answered {
                d.answered = true;
                sessions.update(&k, &encode(&d)).await?;
            }
            d.id
        }
        (SessionEvent::Close, Some(d)) => {
            sessions.remove(&k).await?;
            d.id
        }
        // No open dialog: the session engine answers a resume with its closing text, and a
        // close has nothing left to close.
        (_, None) => gateway.clone(),
    };
    msg.metadata.insert(GATEWAY_SESSION_ID.into(), gateway.into());
    Ok(())
}

/// Ends the dialog of `msg` (its session ended with the reply to it).
pub(crate) async fn end(sessions: &dyn SessionStore, msg: &Message) -> Result<(), SessionStoreError> {
    let k = key(&msg.channel, &msg.from);
    if let Some(stored) = sessions.get(&k).await? {
        let open: Option<Dialog> = serde_json::from_slice(&stored.value).ok();
        if open.is_some_and(|d| Some(d.id.as_str()) == msg.session_id()) {
            sessions.remove(&k).await?;
        }
    }
    Ok(())
}

fn encode(d: &Dialog) -> Vec<u8> {
    serde_json::to_vec(d).unwrap_or_default()
}
