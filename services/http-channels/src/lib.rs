//! HTTP channel connectors: aggregators call `POST /channels/{channel}/callback`.
//!
//! A closed registry: each aggregator protocol is one module and one arm of
//! [`ChannelType`](seedgate_runtime::config::ChannelType). To add one: write the module
//! (parse the request into a `Message`, render the reply), add the enum arm in the runtime's
//! config, and let the compiler point at the `match` in [`callback`].
//!
//! For USSD the reply rides on the aggregator's own HTTP request, so the connector holds the
//! request open: it publishes the inbound message, waits for the reply (matched by
//! `in_reply_to`) up to the channel's hop deadline, and otherwise answers with the channel's
//! fallback text and tells the session engine the session closed (`reason: hop_deadline`).
//! Every hop is answered, whether or not the rest of the system is up.

mod africastalking;
mod error;
mod pending;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use seedgate_proto::{Event, EventKind, Message, RoutingKey};
use seedgate_runtime::bus::{Bus, BusError};
use seedgate_runtime::config::{ChannelType, Config};
use seedgate_runtime::topology::channel_outbound_queue;
use seedgate_runtime::worker::{decode, encode, HandleError};
use tokio_util::sync::CancellationToken;

pub use error::json_error;
use pending::Pending;

/// Aggregator requests are small forms; refuse anything larger before reading it.
const BODY_LIMIT: usize = 16 * 1024;

/// Shared state of the HTTP channel connectors.
#[derive(Debug, Clone)]
pub struct Channels {
    config: Arc<Config>,
    bus: Arc<dyn Bus>,
    pending: Arc<Pending>,
}

impl Channels {
    pub fn new(config: Arc<Config>, bus: Arc<dyn Bus>) -> Self {
        Self {
            config,
            bus,
            pending: Arc::default(),
        }
    }
}

/// The callback routes; merge into the process's HTTP app.
pub fn app(channels: Channels) -> Router {
    Router::new()
        .route("/channels/{channel}/callback", post(callback))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(channels)
}

async fn callback(
    State(ch): State<Channels>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(cfg) = ch.config.channels.get(&channel) else {
        return json_error(
            axum::http::StatusCode::NOT_FOUND,
            "unknown_channel",
            format!("no channel named `{channel}` is configured"),
        );
    };
    match cfg.kind {
        ChannelType::AfricasTalkingUssd => {
            africastalking::callback(&ch, &channel, cfg, &headers, &body).await
        }
        ChannelType::SimulatedCarrier | ChannelType::SmppEsme | ChannelType::SmppServerUssd => json_error(
            axum::http::StatusCode::NOT_FOUND,
            "not_an_http_channel",
            format!("channel `{channel}` does not take HTTP callbacks"),
        ),
    }
}

/// Consumes the outbound queue of every HTTP channel until `shutdown`: each reply is
/// handed to the request waiting for it, and an event says whether it reached the phone.
pub async fn run(channels: Channels, shutdown: CancellationToken) -> Result<(), BusError> {
    let mut tasks = tokio::task::JoinSet::new();
    let http_channels = channels
        .config
        .channels
        .iter()
        .filter(|(_, c)| is_http(c.kind))
        .map(|(n, _)| n);
    for name in http_channels {
        let queue = channel_outbound_queue(name);
        let ch = channels.clone();
        let handler = move |key: String, payload: Vec<u8>| {
            let ch = ch.clone();
            async move { ch.deliver(&key, &payload).await }
        };
        let bus = channels.bus.clone();
        let prefetch = channels.config.bus.prefetch;
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            seedgate_runtime::worker::consume("http-channels", bus, &queue, prefetch, shutdown, handler).await
        });
    }
    seedgate_runtime::worker::join_all(tasks, shutdown).await
}

/// Whether this crate serves channels of `kind` (the closed registry's HTTP arms).
pub fn is_http(kind: ChannelType) -> bool {
    match kind {
        ChannelType::AfricasTalkingUssd => true,
        ChannelType::SimulatedCarrier | ChannelType::SmppEsme | ChannelType::SmppServerUssd => false,
    }
}

impl Channels {
    async fn deliver(&self, routing_key: &str, payload: &[u8]) -> Result<(), HandleError> {
        let msg: Message = decode(payload)?;
        if !matches!(RoutingKey::parse(routing_key), Some(RoutingKey::Outbound(_))) {
            return Err(HandleError::Drop(format!("unexpected routing key {routing_key}")));
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
