//! HTTP channel connectors: aggregators call `POST /channels/{channel}/callback` (and, for
//! Infobip-style gateways, paths below it).
//!
//! A closed registry: each aggregator protocol is one module implementing [`Aggregator`] and
//! one arm of [`ChannelType`](seedgate_runtime::config::ChannelType). To add one: write the
//! module (parse a request into a `Message`, render a screen as the aggregator wants it), add
//! the `ChannelType` and `ChannelKind` arms in the runtime's `config/channels/`, and let the
//! compiler point at the `match` in [`aggregator`].
//!
//! For USSD the reply rides on the aggregator's own HTTP request, so the connector holds the
//! request open: it publishes the inbound message, waits for the reply (matched by
//! `in_reply_to`) up to the channel's hop deadline, and otherwise answers with the channel's
//! fallback text and tells the session engine the session closed (`reason: hop_deadline`).
//! Every hop is answered, whether or not the rest of the system is up.
//!
//! Requests that only report a session's end (Hubtel `Release`/`Timeout`, Infobip `end`,
//! Africa's Talking's end-of-session notification) become a `Close` message with the reason
//! and, where the gateway sends one, its billing report (`metadata.carrier`), which the store
//! keeps with the session.

#[macro_use]
mod error;
mod africastalking;
mod arkesel;
pub mod dialogs;
mod generic;
mod health;
mod hubtel;
mod infobip;
mod nalo;
mod parse;
mod pending;
mod service;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use seedgate_proto::{
    Event, EventKind, Message, RoutingKey, SessionEndReason, SessionEvent, SessionInfo, TransportType,
};
use seedgate_runtime::bus::{Bus, BusError};
use seedgate_runtime::channels::{Live, Registry, Stop};
use seedgate_runtime::config::{ChannelConfig, ChannelType, Config, SessionKey};
use seedgate_runtime::monitor::Monitor;
use seedgate_runtime::session_store::SessionStore;
use seedgate_runtime::telemetry::Masked;
use seedgate_runtime::worker::{decode, encode, ErrorCode, HandleError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use error::{json_error, Malformed};
pub use parse::parse_callback;
use pending::Pending;
pub use service::Service;

/// Aggregator requests are small; refuse anything larger before reading it.
const BODY_LIMIT: usize = 16 * 1024;

/// Shared state of the HTTP channel connectors.
#[derive(Debug, Clone)]
pub struct Channels {
    config: Arc<Config>,
    registry: Registry,
    bus: Arc<dyn Bus>,
    /// Where channels keyed by MSISDN keep their open dialogs (see [`dialogs`]).
    sessions: Option<Arc<dyn SessionStore>>,
    pending: Arc<Pending>,
    monitor: Arc<Monitor>,
    health: Arc<health::Hops>,
}

impl Channels {
    /// `sessions` is needed by channels that key their sessions by MSISDN.
    pub fn new(
        config: Arc<Config>,
        registry: Registry,
        bus: Arc<dyn Bus>,
        sessions: Option<Arc<dyn SessionStore>>,
        monitor: Arc<Monitor>,
    ) -> Self {
        Self {
            config,
            registry,
            bus,
            sessions,
            pending: Arc::default(),
            monitor,
            health: Arc::default(),
        }
    }
}

/// One aggregator request as the connector sees it.
#[derive(Debug)]
pub(crate) struct Request<'a> {
    pub channel: &'a str,
    pub cfg: &'a ChannelConfig,
    /// The path below `/channels/{channel}/callback` (empty for the callback itself).
    pub path: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// What a request asks of the connector.
#[derive(Debug)]
pub(crate) enum Parsed {
    /// A hop: answer it with the next screen.
    Hop(Message),
    /// The gateway reports that the session ended (a `Close` message): acknowledge it.
    Ended(Message),
}

/// The screen to show: the flow's reply, or the fallback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Screen {
    pub text: String,
    /// The session ends with this screen.
    pub close: bool,
}

/// One aggregator protocol.
pub(crate) trait Aggregator: Sync {
    /// A short name for logs and metrics.
    fn name(&self) -> &'static str;
    /// Parses one request, or says precisely what is wrong with it (the caller answers 400).
    fn parse(&self, req: &Request<'_>) -> Result<Parsed, Malformed>;
    /// The answer to a hop: `msg` is the parsed request, for the fields the reply echoes.
    fn render(&self, cfg: &ChannelConfig, screen: &Screen, msg: &Message) -> Response;
    /// The answer to an end-of-session report.
    fn ack(&self, _msg: &Message) -> Response {
        StatusCode::OK.into_response()
    }
}

/// The protocol of a channel type; `None` for channels that take no HTTP callbacks.
fn aggregator(kind: ChannelType) -> Option<&'static dyn Aggregator> {
    match kind {
        ChannelType::AfricasTalkingUssd => Some(&africastalking::AfricasTalking),
        ChannelType::InfobipUssd => Some(&infobip::Infobip),
        ChannelType::HubtelUssd => Some(&hubtel::Hubtel),
        ChannelType::NaloUssd => Some(&nalo::Nalo),
        ChannelType::ArkeselUssd => Some(&arkesel::Arkesel),
        ChannelType::GenericUssd => Some(&generic::Generic),
        ChannelType::SimulatedCarrier | ChannelType::SmppEsme | ChannelType::SmppServerUssd => None,
    }
}

/// Whether this crate serves channels of `kind` (the closed registry's HTTP arms).
pub fn is_http(kind: ChannelType) -> bool {
    aggregator(kind).is_some()
}

/// The callback routes; merge into the process's HTTP app.
pub fn app(channels: Channels) -> Router {
    Router::new()
        .route("/channels/{channel}/callback", any(callback_root))
        .route("/channels/{channel}/callback/{*rest}", any(callback_below))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(channels)
}

async fn callback_root(
    State(ch): State<Channels>,
    Path(channel): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    callback(ch, channel, String::new(), method, headers, body).await
}

async fn callback_below(
    State(ch): State<Channels>,
    Path((channel, rest)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    callback(ch, channel, rest, method, headers, body).await
}

/// Handles one request and writes it to the channel's traffic log.
async fn callback(
    ch: Channels,
    channel: String,
    path: String,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let (response, note) = handle(&ch, &channel, &path, &method, &headers, &body).await;
    if ch.registry.get(&channel).is_some() {
        let path = if path.is_empty() {
            String::new()
        } else {
            format!("/{path}")
        };
        ch.monitor.log(
            &channel,
            "in",
            format!(
                "{method} /channels/{channel}/callback{path} ({} bytes) -> {} {note} in {} ms",
                body.len(),
                response.status().as_u16(),
                started.elapsed().as_millis()
            ),
        );
    }
    response
}

async fn handle(
    ch: &Channels,
    channel: &str,
    path: &str,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> (Response, String) {
    let Some(cfg) = ch.registry.get(channel) else {
        let e = json_error(
            ErrorCode::NoSuchChannel,
            format!("no channel named `{channel}` is configured"),
        );
        return (e, String::new());
    };
    let Some(agg) = aggregator(cfg.channel_type()) else {
        let e = json_error(
            ErrorCode::NotAnHttpChannel,
            format!("channel `{channel}` does not take HTTP callbacks"),
        );
        return (e, String::new());
    };
    if method != Method::POST && method != Method::PUT {
        let e = json_error(
            ErrorCode::MethodNotAllowed,
            format!("{method} is not accepted here; aggregators POST (or PUT) their requests"),
        );
        return (e, String::new());
    }
    let cfg = cfg.as_ref();
    let req = Request {
        channel,
        cfg,
        path,
        headers,
        body,
    };
    let started = Instant::now();
    let mut parsed = agg.parse(&req);
    if let (Ok(Parsed::Hop(msg) | Parsed::Ended(msg)), SessionKey::Msisdn) = (&mut parsed, cfg.session_key())
    {
        let budget = Duration::from_secs(cfg.budget_secs.unwrap_or(ch.config.sessions.budget_secs));
        let joined = match &ch.sessions {
            Some(sessions) => dialogs::join(sessions.as_ref(), msg, budget)
                .await
                .map_err(|e| e.to_string()),
            None => Err("no session store is configured for this connector".to_string()),
        };
        if let Err(e) = joined {
            tracing::error!(channel, error = %e, "cannot key the session by MSISDN");
            ch.health
                .note(&ch.monitor, channel, health::Outcome::Unavailable(e));
            let e = json_error(ErrorCode::Unavailable, "try again later");
            return (e, "session store unavailable".into());
        }
    }
    match parsed {
        Err(reason) => {
            count(channel, "bad_request");
            tracing::warn!(channel, aggregator = agg.name(), %reason, "refused a malformed request");
            let note = format!("malformed: {reason}");
            (json_error(ErrorCode::BadRequest, reason.0), note)
        }
        Ok(Parsed::Ended(msg)) => match publish(&ch.bus, &msg, false).await {
            Ok(()) => {
                count(channel, "session_end");
                tracing::info!(channel, session = msg.session_id().unwrap_or_default(), msisdn = %Masked(msg.msisdn()), "gateway reported the session's end");
                (
                    agg.ack(&msg),
                    format!("session end from {}", Masked(msg.msisdn())),
                )
            }
            Err(e) => {
                // The gateway retries a failed notification; nothing was acknowledged.
                tracing::error!(channel, error = %e, "cannot publish a session end report");
                ch.health
                    .note(&ch.monitor, channel, health::Outcome::Unavailable(e.to_string()));
                let e = json_error(ErrorCode::Unavailable, "try again later");
                (e, "bus unavailable".into())
            }
        },
        Ok(Parsed::Hop(msg)) => {
            let screen = exchange(ch, channel, cfg, &msg, started).await;
            if let (true, Some(sessions)) = (screen.close, &ch.sessions) {
                if cfg.session_key() == SessionKey::Msisdn {
                    if let Err(e) = dialogs::end(sessions.as_ref(), &msg).await {
                        tracing::warn!(channel, error = %e, "could not end the MSISDN's dialog; it expires with the budget");
                    }
                }
            }
            let note = format!(
                "hop {} from {}: {}",
                msg.session_id().unwrap_or_default(),
                Masked(msg.msisdn()),
                if screen.close { "end" } else { "continue" }
            );
            (agg.render(cfg, &screen, &msg), note)
        }
    }
}

fn count(channel: &str, outcome: &'static str) {
    metrics::counter!("seedgate_channel_requests_total", "channel" => channel.to_string(), "outcome" => outcome)
        .increment(1);
}

/// Publishes an inbound message; a `hop` (on its way to the session engine, its screen the
/// only answer) as [`Bus::publish_hop`].
async fn publish(bus: &Arc<dyn Bus>, msg: &Message, hop: bool) -> Result<(), BusError> {
    let payload = serde_json::to_vec(msg).map_err(|e| BusError::Unavailable(e.to_string()))?;
    let key = RoutingKey::Inbound(&msg.channel).render();
    if hop {
        bus.publish_hop(&key, &payload).await
    } else {
        bus.publish(&key, &payload).await
    }
}

/// Publishes a hop and waits for its reply until the hop deadline; the fallback otherwise.
async fn exchange(
    ch: &Channels,
    channel: &str,
    cfg: &ChannelConfig,
    msg: &Message,
    started: Instant,
) -> Screen {
    let deadline = started + Duration::from_millis(cfg.hop_deadline_ms);
    let (waiting, _registered) = ch.pending.register(msg.id);
    metrics::gauge!("seedgate_channel_pending_requests").set(ch.pending.len() as f64);
    let outcome = match publish(&ch.bus, msg, true).await {
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
    ch.health.note(
        &ch.monitor,
        channel,
        match outcome {
            Ok(_) => health::Outcome::Answered,
            Err("bus_error") => health::Outcome::Unavailable("cannot publish to the bus".into()),
            Err(_) => health::Outcome::Fallback,
        },
    );
    match outcome {
        Ok(reply) => {
            count(channel, "reply");
            tracing::info!(channel, session, msisdn = %Masked(&msg.from), latency_ms = latency.as_millis() as u64, "hop answered");
            Screen {
                text: reply.content.clone(),
                close: reply.session_event() == Some(SessionEvent::Close),
            }
        }
        Err(outcome) => {
            count(channel, outcome);
            tracing::warn!(channel, session, msisdn = %Masked(&msg.from), latency_ms = latency.as_millis() as u64, outcome, "hop not answered in time; sent the fallback text");
            // The user saw the end: tell the session engine the session is over.
            let close = closing(msg, SessionEndReason::HopDeadline);
            let bus = ch.bus.clone();
            tokio::spawn(async move {
                if let Err(e) = publish(&bus, &close, false).await {
                    tracing::warn!(error = %e, "could not publish the session close after a fallback");
                }
            });
            Screen {
                text: cfg.fallback_text.clone(),
                close: true,
            }
        }
    }
}

/// The `Close` message for the session of `msg`, ended for `reason`.
pub(crate) fn closing(msg: &Message, reason: SessionEndReason) -> Message {
    let mut close = msg.clone();
    close.id = uuid::Uuid::now_v7();
    close.content.clear();
    close.session = msg.session.clone().map(|s| SessionInfo {
        event: SessionEvent::Close,
        ..s
    });
    close.close_reason = Some(reason);
    close
}

/// The session id of gateways that send none: the session engine keys their sessions by
/// MSISDN and dialog. (Not the MSISDN itself: session ids are logged.)
pub(crate) const NO_SESSION_ID: &str = "by-msisdn";

/// A USSD message from `msisdn` in session `session_id` (namespaced by channel here).
/// Metadata key: how the aggregator wrote the number (`digits`, `00`), when not as E.164.
const MSISDN_FORM: &str = "msisdn_form";

/// The caller's number as the aggregator sent it (for a reply that echoes it): the stored
/// E.164 form, without its `+` (or with `00`) if that is how it came.
pub(crate) fn as_sent(msg: &Message) -> String {
    let digits = msg.from.trim_start_matches('+');
    match msg.metadata.get(MSISDN_FORM).and_then(|v| v.as_str()) {
        Some("digits") => digits.to_string(),
        Some("00") => format!("00{digits}"),
        _ => msg.from.clone(),
    }
}

pub(crate) fn ussd_inbound(
    channel: &str,
    msisdn: &str,
    service_code: &str,
    session_id: &str,
    event: SessionEvent,
    content: impl Into<String>,
) -> Message {
    let mut msg = Message::inbound(
        channel,
        TransportType::Ussd,
        msisdn.trim(),
        service_code.trim(),
        content,
    );
    msg.session = Some(SessionInfo {
        id: format!("{channel}:{}", session_id.trim()),
        event,
    });
    if !service_code.trim().is_empty() {
        msg.metadata
            .insert("service_code".into(), service_code.trim().into());
    }
    // The number is stored as E.164; an aggregator that echoes it gets it in its own form.
    let raw = msisdn.trim();
    if msg.from.starts_with('+') && !raw.starts_with('+') {
        let form = if raw.starts_with("00") { "00" } else { "digits" };
        msg.metadata.insert(MSISDN_FORM.into(), form.into());
    }
    msg
}

/// For gateways that send the dialled string on the first request and the input after: a
/// session start (`first`, with `data` as the service code) or an answer (`data` as input).
pub(crate) fn dial_or_answer(
    channel: &str,
    msisdn: &str,
    session_id: &str,
    first: bool,
    data: &str,
) -> Message {
    if first {
        ussd_inbound(channel, msisdn, data, session_id, SessionEvent::New, "")
    } else {
        ussd_inbound(channel, msisdn, "", session_id, SessionEvent::Resume, data)
    }
}

/// Checks the `Content-Type` of a form request.
pub(crate) fn expect_form(headers: &HeaderMap) -> Result<(), Malformed> {
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("application/x-www-form-urlencoded") {
        Ok(())
    } else {
        Err(malformed!(
            "expected Content-Type application/x-www-form-urlencoded, got `{content_type}`"
        ))
    }
}

/// Checks the `Content-Type` of a JSON request.
pub(crate) fn expect_json(headers: &HeaderMap) -> Result<(), Malformed> {
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("application/json") {
        Ok(())
    } else {
        Err(malformed!(
            "expected Content-Type application/json, got `{content_type}`"
        ))
    }
}

/// Parses a JSON request body into `T`, naming the field at fault.
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, Malformed> {
    expect_json(headers)?;
    Ok(seedgate_runtime::json::from_slice_named(body)?)
}

/// Fails with "field `name` is empty" for a blank required field.
pub(crate) fn required(name: &str, value: &str) -> Result<(), Malformed> {
    if value.trim().is_empty() {
        Err(malformed!("field `{name}` is empty"))
    } else {
        Ok(())
    }
}

/// Fails for a blank required field, or one that is not an MSISDN (`+` and 5 to 15 digits,
/// spaces and dashes allowed). The value is not echoed: it may be a phone number.
pub(crate) fn msisdn(name: &str, value: &str) -> Result<(), Malformed> {
    required(name, value)?;
    if seedgate_proto::msisdn::is_msisdn(&seedgate_proto::msisdn::normalise(value.trim())) {
        Ok(())
    } else {
        Err(malformed!(
            "field `{name}` is not an MSISDN (`+` and 5 to 15 digits)"
        ))
    }
}

/// A JSON response.
pub(crate) fn json_reply(value: serde_json::Value) -> Response {
    (StatusCode::OK, axum::Json(value)).into_response()
}

/// A plain-text response.
pub(crate) fn plain(text: String) -> Response {
    (
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

/// Consumes the outbound queue of every HTTP channel until `shutdown`, following the live
/// channel set: each reply is handed to the request waiting for it, and an event says whether
/// it reached the phone.
pub async fn run(channels: Channels, shutdown: CancellationToken) -> Result<(), BusError> {
    let start = |live: Live, stop: Stop| {
        let ch = channels.clone();
        async move {
            let name = live.name.clone();
            let handler = {
                let ch = ch.clone();
                move |key: String, payload: Vec<u8>| {
                    let ch = ch.clone();
                    async move { ch.deliver(&key, &payload).await }
                }
            };
            ch.health.reset(&ch.monitor, &name);
            let bus = ch.bus.clone();
            let prefetch = ch.config.bus.prefetch;
            let result = seedgate_runtime::worker::consume_channel(
                "http-channels",
                bus,
                &name,
                prefetch,
                stop,
                handler,
            )
            .await;
            ch.monitor.forget(&name);
            result
        }
    };
    seedgate_runtime::channels::supervise(
        "http-channels",
        channels.registry.clone(),
        |c| is_http(c.channel_type()),
        start,
        shutdown,
    )
    .await
}

impl Channels {
    async fn deliver(&self, routing_key: &str, payload: &[u8]) -> Result<(), HandleError> {
        let msg: Message = decode(payload)?;
        if !matches!(
            RoutingKey::parse(routing_key),
            Some(RoutingKey::Outbound(_) | RoutingKey::Bulk(_))
        ) {
            return Err(HandleError::new(
                ErrorCode::BadRequest,
                format!("unexpected routing key {routing_key}"),
            ));
        }
        let kind = match msg.in_reply_to.and_then(|id| self.pending.take(id)) {
            Some(waiting) => match waiting.send(msg.clone()) {
                Ok(()) => EventKind::Ack { carrier_id: None },
                Err(_) => EventKind::Nack {
                    reason: "reply arrived after the hop deadline".into(),
                },
            },
            None => EventKind::Nack {
                reason:
                    "no request is waiting for this reply (hop deadline passed, or another replica holds it)"
                        .into(),
            },
        };
        let event = Event::new(msg.channel.clone(), msg.id, kind);
        self.bus
            .publish(&RoutingKey::Event(&msg.channel).render(), &encode(&event)?)
            .await?;
        Ok(())
    }
}
