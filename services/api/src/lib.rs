//! seedgate's HTTP API, under `/api/v1` on the process's HTTP port.
//!
//! - [`routes`]: send a message (`202` only once it is committed with its outbox row), follow
//!   it (status derived from its events, with the events), search messages and sessions with
//!   cursors, list channels, create tokens, see and replay dead webhooks. The OpenAPI document
//!   is generated from the handlers ([`openapi`]) and served at `/api/v1/openapi.json`.
//! - [`auth`]: bearer tokens with scopes (`admin`, `send`, `read`), stored as SHA-256 hashes;
//!   a token bucket per token (`429`).
//! - [`outbox`]: the relay that hands committed messages to their connectors on the bus,
//!   at least once (connectors drop a message id they have already sent).
//! - [`webhooks`]: inbound messages and events become signed webhook jobs in the store,
//!   delivered with retries and backoff, dead-lettered after `api.webhook_max_attempts`.
//!
//! Errors are JSON: `{"error": {"code": "...", "message": "..."}}`.

pub mod auth;
mod error;
pub mod openapi;
pub mod outbox;
pub mod routes;
pub mod webhooks;

use std::sync::Arc;

use seedgate_runtime::bus::{Bus, BusError};
use seedgate_runtime::config::Config;
use seedgate_runtime::store::Store;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use auth::{create_token, hash_token};
pub use error::ApiError;

/// Shared state of the API and its background tasks.
#[derive(Debug, Clone)]
pub struct Api {
    pub(crate) config: Arc<Config>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) bus: Arc<dyn Bus>,
    pub(crate) limiter: Arc<auth::Limiter>,
    /// Wakes the outbox relay when a message is accepted.
    pub(crate) outbox_wake: Arc<Notify>,
}

impl Api {
    pub fn new(config: Arc<Config>, store: Arc<dyn Store>, bus: Arc<dyn Bus>) -> Self {
        let limiter = auth::Limiter::new(config.api.rate_per_sec, config.api.burst);
        Self {
            config,
            store,
            bus,
            limiter: Arc::new(limiter),
            outbox_wake: Arc::new(Notify::new()),
        }
    }
}

/// Runs the outbox relay and the webhook tasks until `shutdown`.
pub async fn run(api: Api, shutdown: CancellationToken) -> Result<(), BusError> {
    let relay = tokio::spawn(outbox::relay(api.clone(), shutdown.clone()));
    let sender = tokio::spawn(webhooks::send(api.clone(), shutdown.clone()));
    let result = webhooks::collect(api, shutdown.clone()).await;
    shutdown.cancel();
    let _ = relay.await;
    let _ = sender.await;
    result
}
