//! The end of a message's life: its `expires_at`, the messages that failed or expired for
//! good (the dead-letter list) with their reasons, each of which can be sent again, and the
//! delivery receipts no sent message has claimed (yet).

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use seedgate_proto::{Direction, EventKind, Message};
use seedgate_runtime::store::{Accepted, MessageQuery, MessageStatus, StoredMessage};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Caller;
use crate::routes::{view, MessageView};
use crate::{Api, ApiError, ErrorCode};

pub(crate) fn router() -> Router<Api> {
    Router::new()
        .route("/api/v1/messages/dead", get(dead_messages))
        .route("/api/v1/messages/{id}/replay", post(replay_message))
        .route("/api/v1/receipts/held", get(held_receipts))
}

/// A delivery receipt whose carrier id no recorded submit has (yet): kept, and given to the
/// submit that records the id later.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeldReceiptView {
    pub channel: String,
    /// The carrier's id, normalised (lower case, no leading zeros).
    pub carrier_id: String,
    /// `delivered`, `failed`, `expired` or `pending`.
    pub status: String,
    pub received_at: DateTime<Utc>,
}

/// Receipts held, oldest first: a growing list means a carrier sends receipts for messages
/// seedgate did not send on that channel, or ids it did not give.
#[utoipa::path(get, path = "/api/v1/receipts/held",
    params(("channel" = Option<String>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = [HeldReceiptView])), security(("bearer" = [])))]
pub async fn held_receipts(
    State(api): State<Api>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<HeldReceiptView>>, ApiError> {
    caller.require("read")?;
    let p: DeadParams = crate::routes::query(raw)?;
    let limit = p.limit.unwrap_or(50).clamp(1, crate::routes::MAX_PAGE);
    let held = api.store.receipts_held(p.channel.as_deref(), limit).await?;
    Ok(Json(
        held.into_iter()
            .map(|h| HeldReceiptView {
                channel: h.channel,
                carrier_id: h.carrier_id,
                status: h.status,
                received_at: h.received_at,
            })
            .collect(),
    ))
}

/// A send's `expires_at`: in the future, kept on the message for its connector.
pub(crate) fn expiry(at: Option<DateTime<Utc>>, msg: &mut Message) -> Result<(), ApiError> {
    let Some(at) = at else { return Ok(()) };
    if at <= Utc::now() {
        return Err(ApiError::bad_request(format!(
            "`expires_at` ({}) is not in the future",
            at.to_rfc3339()
        )));
    }
    msg.set_expires_at(at);
    Ok(())
}

/// A message that failed or expired for good, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadMessage {
    pub message: MessageView,
    /// The last word on it: the SMSC's refusal, the tries it took, its expiry, a receipt.
    pub reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeadParams {
    channel: Option<String>,
    limit: Option<u32>,
}

/// The dead-letter list: outbound messages that failed or expired, newest first.
#[utoipa::path(get, path = "/api/v1/messages/dead",
    params(("channel" = Option<String>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = [DeadMessage])), security(("bearer" = [])))]
pub async fn dead_messages(
    State(api): State<Api>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<DeadMessage>>, ApiError> {
    caller.require("read")?;
    let p: DeadParams = crate::routes::query(raw)?;
    let limit = p.limit.unwrap_or(50).clamp(1, crate::routes::MAX_PAGE);
    let mut dead: Vec<StoredMessage> = Vec::new();
    for status in [MessageStatus::Failed, MessageStatus::Expired] {
        let q = MessageQuery {
            channel: p.channel.clone(),
            status: Some(status),
            limit,
            ..MessageQuery::default()
        };
        dead.extend(api.store.messages(&q).await?);
    }
    dead.retain(|m| m.message.direction == Direction::Outbound);
    dead.sort_by_key(|m| std::cmp::Reverse(m.message.id));
    dead.truncate(limit as usize);
    let mut out = Vec::with_capacity(dead.len());
    for m in dead {
        let reason = reason(&api, m.message.id).await?;
        out.push(DeadMessage {
            message: view(m),
            reason,
        });
    }
    Ok(Json(out))
}

async fn reason(api: &Api, id: Uuid) -> Result<String, ApiError> {
    let events = api.store.message_events(id).await?;
    Ok(events
        .iter()
        .rev()
        .find_map(|e| match &e.kind {
            EventKind::Nack { reason } | EventKind::Expired { reason } => Some(reason.clone()),
            EventKind::DeliveryReport { status } => {
                Some(format!("the carrier reported {status:?}").to_lowercase())
            }
            EventKind::Ack { .. } => None,
        })
        .unwrap_or_else(|| "no reason recorded".into()))
}

/// Send a failed or expired message again, as a new message (`metadata.replay_of` names the
/// old one); an `expires_at` that has passed is dropped.
#[utoipa::path(post, path = "/api/v1/messages/{id}/replay", params(("id" = Uuid, Path)),
    responses((status = 202, body = MessageView), (status = 404), (status = 422)), security(("bearer" = [])))]
pub async fn replay_message(
    State(api): State<Api>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require("send")?;
    let id =
        Uuid::parse_str(&id).map_err(|_| ApiError::bad_request(format!("`{id}` is not a message id")))?;
    let old = api
        .store
        .stored_message(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no message {id}")))?;
    let dead = matches!(old.status, MessageStatus::Failed | MessageStatus::Expired);
    if !dead || old.message.direction != Direction::Outbound {
        return Err(ApiError::new(
            ErrorCode::Refused,
            format!(
                "message {id} is {}: only failed or expired outbound messages are sent again",
                old.status.as_str()
            ),
        ));
    }
    let mut msg = old.message.clone();
    msg.id = Uuid::now_v7();
    msg.created_at = Utc::now();
    if msg.expires_at().is_some_and(|at| at <= Utc::now()) {
        msg.metadata.remove("expires_at");
    }
    msg.metadata.insert("replay_of".into(), id.to_string().into());
    msg.metadata
        .insert("api_token".into(), caller.0.id.to_string().into());
    match api.store.accept(&msg, None).await? {
        Accepted::New => {}
        Accepted::Repeat(_) | Accepted::Conflict(_) => {
            return Err(ApiError::new(ErrorCode::Internal, "the replay was not accepted"));
        }
    }
    api.outbox_wake.notify_one();
    let accepted = StoredMessage {
        message: msg,
        status: MessageStatus::Queued,
    };
    Ok((StatusCode::ACCEPTED, Json(view(accepted))).into_response())
}
