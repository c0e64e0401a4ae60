//! The `/api/v1` handlers.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use seedgate_proto::{Direction, Message, Priority, SessionEvent, SessionRecord, TransportType};
use seedgate_runtime::store::{
    Accepted, Idempotency, MessageQuery, MessageStatus, SessionQuery, StoredMessage,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Caller;
use crate::{channels, contacts, Api, ApiError, ErrorCode};

/// Requests larger than this are refused before they are read.
const BODY_LIMIT: usize = 64 * 1024;
pub(crate) const MAX_PAGE: u32 = 500;
const DEFAULT_PAGE: u32 = 50;
const MAX_CONTENT_CHARS: usize = 1600;

/// The API's routes; merge into the process's HTTP app.
pub fn router(api: Api) -> Router {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi_json))
        .route("/api/v1/messages", post(send).get(list_messages))
        .route("/api/v1/messages/{id}", get(get_message))
        .route("/api/v1/sessions", get(list_sessions))
        .route("/api/v1/sessions/{id}", get(get_session))
        .route("/api/v1/channels", get(channels::list).post(channels::create))
        .route(
            "/api/v1/channels/{name}",
            get(channels::get).put(channels::put).delete(channels::delete),
        )
        .route("/api/v1/channels/{name}/restart", post(channels::restart))
        .route("/api/v1/channels/{name}/logs", get(channels::logs))
        .route("/api/v1/contacts", get(contacts::list))
        .route(
            "/api/v1/contacts/{msisdn}",
            get(contacts::get)
                .put(contacts::put)
                .patch(contacts::patch)
                .delete(contacts::delete),
        )
        .merge(crate::tokens::router())
        .merge(crate::audit::router())
        .route("/api/v1/webhooks/dead", get(dead_webhooks))
        .route("/api/v1/webhooks/{id}/replay", post(replay_webhook))
        .merge(crate::lifecycle::router())
        .merge(crate::flowfiles::router())
        .merge(crate::simulate::router())
        .merge(crate::staff::router())
        .fallback(|| async { ApiError::not_found("no such API route") })
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(crate::error::json_rejections))
        .with_state(api)
}

async fn openapi_json() -> Response {
    Json(crate::openapi::document()).into_response()
}

/// Parses a JSON body, naming the field at fault.
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, ApiError> {
    let ct = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/json") {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("expected Content-Type application/json, got `{ct}`"),
        ));
    }
    seedgate_runtime::json::from_slice_named(body).map_err(|e| ApiError::bad_request(e.0))
}

/// Parses the query string, naming the parameter at fault.
pub(crate) fn query<T: serde::de::DeserializeOwned>(raw: Option<String>) -> Result<T, ApiError> {
    let raw = raw.unwrap_or_default();
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(raw.as_bytes()));
    serde_path_to_error::deserialize(de)
        .map_err(|e| ApiError::bad_request(format!("bad query parameter `{}`: {}", e.path(), e.inner())))
}

/// A page's `cursor` that is an id (the previous page's last).
pub(crate) fn id_cursor(c: Option<&str>) -> Result<Option<Uuid>, ApiError> {
    c.map(|c| Uuid::parse_str(c).map_err(|_| ApiError::bad_request(format!("bad `cursor` `{c}`"))))
        .transpose()
}

/// The cursor of the page after `items`: its last item's, when the page is full.
pub(crate) fn next_cursor<T>(items: &[T], limit: u32, cursor: impl Fn(&T) -> String) -> Option<String> {
    (items.len() == limit as usize)
        .then(|| items.last().map(cursor))
        .flatten()
}

pub(crate) fn limit(l: Option<u32>) -> Result<u32, ApiError> {
    match l.unwrap_or(DEFAULT_PAGE) {
        0 => Err(ApiError::bad_request("`limit` must be at least 1")),
        n if n > MAX_PAGE => Err(ApiError::bad_request(format!("`limit` is at most {MAX_PAGE}"))),
        n => Ok(n),
    }
}

fn time(name: &str, v: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    v.map(|s| {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| ApiError::bad_request(format!("`{name}` must be an RFC 3339 time, got `{s}`")))
    })
    .transpose()
}

// ---- messages ----

/// A message to send.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// A configured channel (an SMS channel, or any channel with `reply_to`).
    pub channel: String,
    /// The recipient's MSISDN (`+` and 5–15 digits). Taken from the original with `reply_to`.
    #[serde(default)]
    pub to: Option<String>,
    /// At most 1,600 characters (split into parts by the connector).
    #[schema(max_length = 1600)]
    pub content: String,
    /// The sender address (a short code or name) where the channel allows one.
    #[serde(default)]
    pub from: Option<String>,
    /// An inbound message this answers: a USSD session continues (or closes) with it.
    #[serde(default)]
    pub reply_to: Option<Uuid>,
    /// With `reply_to` on a session: `resume` (default) or `close`.
    #[serde(default)]
    pub session_event: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, serde_json::Value>,
    /// Not worth sending after this time: reported `expired` if it is not out by then.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A message, its status, and (one message at a time) its events.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    pub id: Uuid,
    pub channel: String,
    /// `sms` or `ussd`.
    pub transport: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    pub from: String,
    pub to: String,
    pub content: String,
    /// `received`, `queued`, `submitted`, `delivered`, `failed` or `expired`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    #[schema(value_type = Object)]
    pub metadata: BTreeMap<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<EventView>>,
}

/// One event about a message.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub id: Uuid,
    /// `ack`, `nack`, `expired` or `delivery_report`.
    pub kind: String,
    pub created_at: DateTime<Utc>,
    /// The event as it travelled (carrier id, reason, delivery status).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// A page of messages, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessagePage {
    pub items: Vec<MessageView>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

pub(crate) fn view(m: StoredMessage) -> MessageView {
    let mut msg = m.message;
    // The API shows a close's reason and a campaign's lane in `metadata`, as it always has
    // (on the bus they are the typed `close_reason` and `priority`).
    if let Some(reason) = msg.close_reason {
        msg.metadata
            .entry("reason".into())
            .or_insert(reason.as_str().into());
    }
    if msg.priority == Priority::Bulk {
        msg.metadata.entry("priority".into()).or_insert("bulk".into());
    }
    MessageView {
        id: msg.id,
        channel: msg.channel,
        transport: match msg.transport {
            TransportType::Sms => "sms".into(),
            TransportType::Ussd => "ussd".into(),
        },
        direction: match msg.direction {
            Direction::Inbound => "inbound".into(),
            Direction::Outbound => "outbound".into(),
        },
        from: msg.from,
        to: msg.to,
        content: msg.content,
        status: m.status.as_str().into(),
        session_id: msg.session.map(|s| s.id),
        in_reply_to: msg.in_reply_to,
        created_at: msg.created_at,
        metadata: msg.metadata,
        events: None,
    }
}

/// Send a message. Answered `202` once it is committed; it then goes to its connector.
#[utoipa::path(post, path = "/api/v1/messages", request_body = SendRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key get the first answer back")),
    responses((status = 202, body = MessageView), (status = 400), (status = 401), (status = 403),
               (status = 409, description = "the Idempotency-Key was used for a different request"),
               (status = 422, description = "unknown channel, or a message the channel cannot carry"),
               (status = 429), (status = 503, description = "the store is down: nothing was accepted")),
    security(("bearer" = [])))]
pub async fn send(
    State(api): State<Api>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require("send")?;
    let req: SendRequest = json_body(&headers, &body)?;
    let Some(channel) = api.registry.get(&req.channel) else {
        return Err(ApiError::new(
            ErrorCode::UnknownChannel,
            format!("no channel named `{}` is configured", req.channel),
        ));
    };
    if req.content.trim().is_empty() {
        return Err(ApiError::bad_request("`content` is empty"));
    }
    if req.content.chars().count() > MAX_CONTENT_CHARS {
        return Err(ApiError::bad_request(format!(
            "`content` is longer than {MAX_CONTENT_CHARS} characters"
        )));
    }
    let mut msg = match req.reply_to {
        Some(original_id) => {
            let original = api
                .store
                .stored_message(original_id)
                .await?
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::UnknownMessage,
                        format!("no message {original_id} to reply to"),
                    )
                })?
                .message;
            if original.channel != req.channel || original.direction != Direction::Inbound {
                return Err(ApiError::new(
                    ErrorCode::BadReplyTo,
                    format!("`reply_to` must be an inbound message of `{}`", req.channel),
                ));
            }
            let event = match req.session_event.as_deref() {
                None | Some("resume") => SessionEvent::Resume,
                Some("close") => SessionEvent::Close,
                Some(other) => {
                    return Err(ApiError::bad_request(format!(
                        "`session_event` is resume or close, not `{other}`"
                    )))
                }
            };
            original.reply(req.content.clone(), event)
        }
        None => {
            if channel.channel_type().is_ussd() {
                return Err(ApiError::new(
                    ErrorCode::NotAnSmsChannel,
                    format!(
                        "`{}` is a USSD channel: answer a session with `reply_to`",
                        req.channel
                    ),
                ));
            }
            let to = req
                .to
                .clone()
                .ok_or_else(|| ApiError::bad_request("missing field `to`"))?;
            if !seedgate_proto::msisdn::is_msisdn(&to) {
                return Err(ApiError::bad_request(format!(
                    "`to` must be an MSISDN (`+` and 5-15 digits), got `{to}`"
                )));
            }
            if let Some(c) = api.store.contact(&contacts::normalise(&to)).await? {
                if let Some(at) = c.opted_out_at {
                    return Err(ApiError::new(
                        ErrorCode::OptedOut,
                        format!(
                            "the recipient opted out on {}; nothing is sent to them until they opt in",
                            at.to_rfc3339()
                        ),
                    ));
                }
            }
            let mut m = Message::inbound(
                req.channel.clone(),
                TransportType::Sms,
                req.from.clone().unwrap_or_default(),
                to,
                req.content.clone(),
            );
            m.direction = Direction::Outbound;
            m
        }
    };
    msg.metadata.extend(req.metadata);
    crate::lifecycle::expiry(req.expires_at, &mut msg)?;
    // `metadata.priority = "bulk"` has always put a send in the channel's bulk lane.
    msg.lift_legacy_metadata();
    msg.metadata
        .insert("api_token".into(), caller.0.id.to_string().into());
    let idempotency = headers
        .get("idempotency-key")
        .map(|v| {
            let key = v
                .to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= 255)
                .ok_or_else(|| ApiError::bad_request("`Idempotency-Key` must be 1-255 visible characters"))?;
            Ok::<_, ApiError>(Idempotency {
                scope: caller.0.id.to_string(),
                key: key.to_string(),
                fingerprint: hex::encode(Sha256::digest(&body)),
                window: Duration::from_secs(api.config.api.idempotency_window_secs),
            })
        })
        .transpose()?;
    let id = match api.store.accept(&msg, idempotency.as_ref()).await? {
        Accepted::New => {
            api.outbox_wake.notify_one();
            metrics::counter!("seedgate_api_messages_accepted_total", "channel" => msg.channel.clone())
                .increment(1);
            let accepted = StoredMessage {
                message: msg,
                status: MessageStatus::Queued,
            };
            return Ok((StatusCode::ACCEPTED, Json(view(accepted))).into_response());
        }
        // A retry: answer with the first message as it stands now.
        Accepted::Repeat(first) => first,
        Accepted::Conflict(first) => {
            return Err(ApiError::new(
                ErrorCode::IdempotencyKeyReused,
                format!("this Idempotency-Key was used for a different request (message {first})"),
            ))
        }
    };
    let stored = api
        .store
        .stored_message(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("message {id} vanished")))?;
    Ok((StatusCode::ACCEPTED, Json(view(stored))).into_response())
}

/// One message with its status and events.
#[utoipa::path(get, path = "/api/v1/messages/{id}", params(("id" = Uuid, Path)),
    responses((status = 200, body = MessageView), (status = 404)), security(("bearer" = [])))]
pub async fn get_message(
    State(api): State<Api>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<MessageView>, ApiError> {
    caller.require("read")?;
    let id =
        Uuid::parse_str(&id).map_err(|_| ApiError::bad_request(format!("`{id}` is not a message id")))?;
    let stored = api
        .store
        .stored_message(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no message {id}")))?;
    let events = api.store.message_events(id).await?;
    let mut v = view(stored);
    v.events = Some(
        events
            .into_iter()
            .map(|e| EventView {
                id: e.id,
                kind: e.kind_name().into(),
                created_at: e.created_at,
                detail: serde_json::to_value(&e.kind).unwrap_or_default(),
            })
            .collect(),
    );
    Ok(Json(v))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageParams {
    channel: Option<String>,
    address: Option<String>,
    since: Option<String>,
    until: Option<String>,
    status: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

/// Search messages, newest first.
#[utoipa::path(get, path = "/api/v1/messages",
    params(("channel" = Option<String>, Query), ("address" = Option<String>, Query, description = "sender or recipient"),
           ("since" = Option<String>, Query, description = "RFC 3339"), ("until" = Option<String>, Query),
           ("status" = Option<String>, Query), ("cursor" = Option<String>, Query), ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "at most 500; 50 by default")),
    responses((status = 200, body = MessagePage), (status = 400)), security(("bearer" = [])))]
pub async fn list_messages(
    State(api): State<Api>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<MessagePage>, ApiError> {
    caller.require("read")?;
    let p: MessageParams = query(raw)?;
    let status = p
        .status
        .as_deref()
        .map(|s| {
            MessageStatus::parse(s).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "`status` is one of received, queued, submitted, delivered, failed, expired; not `{s}`"
                ))
            })
        })
        .transpose()?;
    let before = id_cursor(p.cursor.as_deref())?;
    let limit = limit(p.limit)?;
    let items = api
        .store
        .messages(&MessageQuery {
            channel: p.channel,
            // Any form of a number finds it: stored in one ([`seedgate_proto::msisdn::canonical`]).
            address: p.address.map(|a| seedgate_proto::msisdn::canonical(&a)),
            since: time("since", p.since.as_deref())?,
            until: time("until", p.until.as_deref())?,
            status,
            before,
            limit,
        })
        .await?;
    let next_cursor = next_cursor(&items, limit, |m| m.message.id.to_string());
    Ok(Json(MessagePage {
        items: items.into_iter().map(view).collect(),
        next_cursor,
    }))
}

// ---- sessions ----

/// A USSD session with its billing.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub id: String,
    pub channel: String,
    pub msisdn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<String>,
    pub started_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    pub live: bool,
    pub hops: u32,
    pub duration_ms: u64,
    /// Billed 20 s slices.
    pub slices: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<String>,
    /// The gateway's own end-of-session report, where it sends one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub carrier: Option<serde_json::Value>,
}

/// A page of sessions, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionPage {
    pub items: Vec<SessionView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

fn session_view(s: SessionRecord) -> SessionView {
    SessionView {
        live: s.ended_at.is_none(),
        id: s.id,
        channel: s.channel,
        msisdn: s.msisdn,
        flow: s.flow,
        started_at: s.started_at,
        ended_at: s.ended_at,
        hops: s.hops,
        duration_ms: s.duration_ms,
        slices: s.slices,
        end_reason: s.end_reason.map(|r| r.as_str().to_string()),
        carrier: s.carrier.and_then(|c| serde_json::to_value(c).ok()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionParams {
    channel: Option<String>,
    since: Option<String>,
    live: Option<bool>,
    cursor: Option<String>,
    limit: Option<u32>,
}

fn session_cursor(s: &SessionView) -> String {
    hex::encode(format!("{}|{}", s.started_at.to_rfc3339(), s.id))
}

fn parse_session_cursor(c: &str) -> Result<(DateTime<Utc>, String), ApiError> {
    let bad = || ApiError::bad_request(format!("bad `cursor` `{c}`"));
    let text = String::from_utf8(hex::decode(c).map_err(|_| bad())?).map_err(|_| bad())?;
    let (t, id) = text.split_once('|').ok_or_else(bad)?;
    let t = DateTime::parse_from_rfc3339(t).map_err(|_| bad())?;
    Ok((t.with_timezone(&Utc), id.to_string()))
}

/// Live and past USSD sessions with their billing, newest first.
#[utoipa::path(get, path = "/api/v1/sessions",
    params(("channel" = Option<String>, Query), ("since" = Option<String>, Query), ("live" = Option<bool>, Query),
           ("cursor" = Option<String>, Query), ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "at most 500; 50 by default")),
    responses((status = 200, body = SessionPage)), security(("bearer" = [])))]
pub async fn list_sessions(
    State(api): State<Api>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<SessionPage>, ApiError> {
    caller.require("read")?;
    let p: SessionParams = query(raw)?;
    let limit = limit(p.limit)?;
    let items = api
        .store
        .sessions(&SessionQuery {
            channel: p.channel,
            since: time("since", p.since.as_deref())?,
            live: p.live,
            before: p.cursor.as_deref().map(parse_session_cursor).transpose()?,
            limit,
        })
        .await?;
    let items: Vec<SessionView> = items.into_iter().map(session_view).collect();
    let next_cursor = next_cursor(&items, limit, session_cursor);
    Ok(Json(SessionPage { items, next_cursor }))
}

/// One session.
#[utoipa::path(get, path = "/api/v1/sessions/{id}", params(("id" = String, Path)),
    responses((status = 200, body = SessionView), (status = 404)), security(("bearer" = [])))]
pub async fn get_session(
    State(api): State<Api>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<SessionView>, ApiError> {
    caller.require("read")?;
    let s = api
        .store
        .session(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no session `{id}`")))?;
    Ok(Json(session_view(s)))
}

// ---- webhooks ----

/// A webhook call that ran out of attempts.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadWebhook {
    pub id: Uuid,
    pub channel: String,
    /// `inbound` or `event`.
    pub kind: String,
    pub source_id: Uuid,
    pub url: String,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// The dead-letter list (operator or admin).
#[utoipa::path(get, path = "/api/v1/webhooks/dead", responses((status = 200, body = [DeadWebhook])), security(("bearer" = [])))]
pub async fn dead_webhooks(
    State(api): State<Api>,
    actor: crate::staff::Actor,
) -> Result<Json<Vec<DeadWebhook>>, ApiError> {
    actor.require_operate()?;
    let jobs = api.store.webhooks_dead(MAX_PAGE).await?;
    Ok(Json(
        jobs.into_iter()
            .map(|j| DeadWebhook {
                id: j.id,
                channel: j.channel,
                kind: j.kind,
                source_id: j.source_id,
                url: j.url,
                attempts: j.attempts,
                last_error: j.last_error,
            })
            .collect(),
    ))
}

/// Put a dead webhook call back in the queue (operator or admin; audited).
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/replay", params(("id" = Uuid, Path)),
    responses((status = 202), (status = 404)), security(("bearer" = [])))]
pub async fn replay_webhook(
    State(api): State<Api>,
    actor: crate::staff::Actor,
    source: crate::audit::Source,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    actor.require_operate()?;
    let id =
        Uuid::parse_str(&id).map_err(|_| ApiError::bad_request(format!("`{id}` is not a webhook id")))?;
    if api.store.webhook_replay(id).await? {
        let target = id.to_string();
        crate::audit::record(
            &api,
            &actor.name,
            &source,
            "webhook.replay",
            &target,
            serde_json::json!({}),
        )
        .await;
        Ok((
            StatusCode::ACCEPTED,
            Json(serde_json::json!({"id": id, "state": "pending"})),
        )
            .into_response())
    } else {
        Err(ApiError::not_found(format!("no dead webhook {id}")))
    }
}
