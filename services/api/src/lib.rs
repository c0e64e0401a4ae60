//! seedgate's HTTP API, under `/api/v1` on the process's HTTP port.
//!
//! - [`routes`]: send a message (`202` only once it is committed with its outbox row), follow
//!   it (status derived from its events, with the events), search messages and sessions with
//!   cursors, see and replay dead webhooks. The OpenAPI document is generated
//!   from the handlers ([`openapi`]) and served at `/api/v1/openapi.json`.
//! - [`channels`]: list channels with their live status; create, replace, delete and restart
//!   them without a process restart; their recent PDU/HTTP traffic.
//! - [`flowfiles`]: flow files in the store: drafts with optimistic revisions, the
//!   validator's report on every save, publish, roll back, versions and restore (the studio's
//!   and scripts' API).
//! - [`simulate`]: the studio's phone simulator (the real interpreter on a draft or a
//!   published version, a simulated contact), transcript tests, message-set previews and the
//!   drop-off counts.
//! - [`contacts`]: fields, groups, language and opt-out per MSISDN.
//! - [`staff`]: staff accounts, cookie sessions and roles ([`staff::Actor`]), the sign-in
//!   pages and the studio app under `/studio/`.
//! - [`tokens`]: create, list and revoke API tokens; [`audit`]: the trail of changes made
//!   through the API (who, what, when, from where), `GET /api/v1/audit`.
//! - [`auth`]: bearer tokens with scopes (`admin`, `send`, `read`), stored as SHA-256 hashes;
//!   a token bucket per token (`429`).
//! - the outbox relay (`runtime::outbox`) hands committed messages to their connectors on the
//!   bus, at least once (connectors drop a message id they have already sent).
//! - [`webhooks`]: inbound messages, events and channel status changes become signed webhook
//!   jobs in the store, delivered with retries and backoff, dead-lettered after
//!   `api.webhook_max_attempts`.
//!
//! Errors are JSON: `{"error": {"code": "...", "message": "..."}}`.

pub mod audit;
pub mod auth;
pub mod channels;
pub mod contacts;
mod error;
pub mod flowfiles;
pub mod lifecycle;
pub mod openapi;
pub mod routes;
pub mod simulate;
pub mod staff;
pub mod tokens;
pub mod webhooks;

use std::sync::Arc;

use seedgate_runtime::bus::{Bus, BusError};
use seedgate_runtime::channels::Registry;
use seedgate_runtime::config::Config;
use seedgate_runtime::service::{BoxFuture, Needs, Running, ServiceError};
use seedgate_runtime::session_store::SessionStore;
use seedgate_runtime::store::Store;
use seedgate_runtime::Runtime;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use auth::{create_token, hash_token};
pub use error::{ApiError, ErrorCode};

/// Shared state of the API and its background tasks.
#[derive(Debug, Clone)]
pub struct Api {
    pub(crate) config: Arc<Config>,
    pub(crate) registry: Registry,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) bus: Arc<dyn Bus>,
    /// Where connectors report channel status (see `runtime::monitor`).
    pub(crate) sessions: Option<Arc<dyn SessionStore>>,
    pub(crate) limiter: Arc<auth::Limiter>,
    /// Tokens read lately (see `auth::KnownTokens`).
    pub(crate) known: Arc<auth::KnownTokens>,
    /// Wakes the outbox relay when a message is accepted.
    pub(crate) outbox_wake: Arc<Notify>,
    /// The live flows, drafts are checked against.
    pub(crate) catalog: seedgate_runtime::catalog::Catalog,
    /// Staff accounts and sessions; handlers take [`staff::Actor`].
    pub(crate) staff: staff::StaffAuth,
}

impl Api {
    pub fn new(
        config: Arc<Config>,
        registry: Registry,
        store: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        sessions: Option<Arc<dyn SessionStore>>,
    ) -> Self {
        let limiter = Arc::new(auth::Limiter::new(config.api.rate_per_sec, config.api.burst));
        let whole = Arc::new(staff::backend::Whole(store.clone()));
        Self {
            staff: staff::StaffAuth::new(whole.clone(), whole.clone(), limiter.clone())
                .with_audit(whole)
                .with_cookies(staff::session::CookiePolicy {
                    tls: config.http.behind_tls_proxy,
                    trust_forwarded_proto: false,
                }),
            config,
            registry,
            store,
            bus,
            sessions,
            limiter,
            known: Arc::default(),
            outbox_wake: Arc::new(Notify::new()),
            catalog: seedgate_runtime::catalog::Catalog::default(),
        }
    }

    /// The same API checking drafts against `catalog`'s live flows.
    #[must_use]
    pub fn with_catalog(mut self, catalog: seedgate_runtime::catalog::Catalog) -> Self {
        self.catalog = catalog;
        self
    }
}

/// The API as a service of the process (`seedgate run api`); with `api.enabled = false` it
/// serves nothing and runs nothing.
#[derive(Debug, Default)]
pub struct Service;

impl seedgate_runtime::Service for Service {
    fn name(&self) -> &'static str {
        "api"
    }

    /// The store too, when the API is on.
    fn needs(&self, config: &Config) -> Needs {
        Needs {
            sessions: true,
            store: config.api.enabled,
        }
    }

    fn start(
        self: Box<Self>,
        rt: &Runtime,
        shutdown: CancellationToken,
    ) -> BoxFuture<'static, Result<Running, ServiceError>> {
        let mut running = Running::default();
        if rt.config.api.enabled {
            let api = Api::new(
                rt.config.clone(),
                rt.registry.clone(),
                rt.store.clone(),
                rt.bus.clone(),
                Some(rt.sessions.clone()),
            )
            .with_catalog(rt.catalog.clone());
            // Drafts are checked against this deployment's smallest USSD screen.
            rt.catalog
                .set_limits(seedgate_runtime::catalog::limits_for(&rt.config));
            tokio::spawn(rt.catalog.clone().follow(rt.store.clone(), shutdown.clone()));
            running = running
                .routes(routes::router(api.clone()))
                .task("api", run(api, shutdown));
        }
        Box::pin(std::future::ready(Ok(running)))
    }
}

/// Runs the outbox relay and the webhook tasks until `shutdown`.
pub async fn run(api: Api, shutdown: CancellationToken) -> Result<(), BusError> {
    let relay = tokio::spawn(seedgate_runtime::outbox::relay(
        api.store.clone(),
        api.bus.clone(),
        api.outbox_wake.clone(),
        true,
        shutdown.clone(),
    ));
    let sender = tokio::spawn(webhooks::send(api.clone(), shutdown.clone()));
    let status = tokio::spawn(webhooks::watch_status(api.clone(), shutdown.clone()));
    let result = webhooks::collect(api, shutdown.clone()).await;
    shutdown.cancel();
    let _ = relay.await;
    let _ = sender.await;
    let _ = status.await;
    result
}
