//! One way to be a service: the [`Runtime`] every service is given, and the [`Service`] trait
//! the binary loops over (`seedgate up` runs them all, `seedgate run <name>` one).
//!
//! A service goes through three steps, in this order for every service of the process:
//!
//! 1. [`Service::check`]: everything in the config it could refuse (a USSD profile, a flow,
//!    a TLS file), before any port is bound, so bad config exits 64 having touched nothing.
//! 2. [`Service::start`]: on the process's [`Runtime`], it binds the ports it listens on
//!    itself (the SMPP server) and builds what it serves on the process's HTTP port; it
//!    returns that and its tasks ([`Running`]), not yet running.
//! 3. The tasks run until their shutdown token is cancelled, then finish what they hold. The
//!    process cancels the tasks of [`Stage::Work`] first (after the HTTP port has answered its
//!    requests in flight) and those of [`Stage::Store`] last, so the store writes everything
//!    the others produced.
//!
//! Tests that need one part of a service call the crate's own entry points (`run_with_clock`,
//! `Channels::new` + `app`, `server::run`), which the `start` of each service calls too.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use chrono::{DateTime, Utc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::bus::memory::MemoryBus;
use crate::bus::rabbitmq::RabbitBus;
use crate::bus::{Bus, BusError};
use crate::channels::Registry;
use crate::config::{BusKind, Config, SessionStoreKind};
use crate::monitor::Monitor;
use crate::ops::Readiness;
use crate::session_store::memory::MemorySessionStore;
use crate::session_store::redis::RedisSessionStore;
use crate::session_store::SessionStore;
use crate::store::Store;

/// A future a service hands back (no `async fn` in a `dyn` trait).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Wall-clock time, for the times shown in records and the dates of campaigns. Durations
/// never come from it (they come from tokio's clock or the session store's TTLs).
pub type WallClock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// How often a process reads the channels made through the API (its own API changes are
/// seen at once).
const CHANNELS_EVERY: Duration = Duration::from_secs(2);

/// What every service of a process shares; cheap to clone.
#[derive(Clone)]
#[non_exhaustive]
pub struct Runtime {
    pub config: Arc<Config>,
    /// The live channel set (config file and API).
    pub registry: Registry,
    pub bus: Arc<dyn Bus>,
    /// Session state, dialogs, run state, leases and channel status.
    pub sessions: Arc<dyn SessionStore>,
    pub store: Arc<dyn Store>,
    /// The live flows (the store's published versions), followed by the services that run
    /// or edit flows.
    pub catalog: crate::catalog::Catalog,
    /// Channel status and traffic logs, written to the session store by [`Runtime::follow`].
    pub monitor: Arc<Monitor>,
    pub clock: WallClock,
    /// Cancelled when the process starts draining (SIGTERM), before any stage stops: what
    /// should refuse new work at once (the SMPP server's binds) watches it.
    pub draining: CancellationToken,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("bus", &self.bus)
            .field("sessions", &self.sessions)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// A runtime on these backends, with the config file's channels and the system clock.
    pub fn new(
        config: Arc<Config>,
        bus: Arc<dyn Bus>,
        sessions: Arc<dyn SessionStore>,
        store: Arc<dyn Store>,
    ) -> Self {
        Self {
            registry: Registry::new(&config),
            config,
            bus,
            sessions,
            store,
            catalog: crate::catalog::Catalog::default(),
            monitor: Monitor::new(),
            clock: Arc::new(Utc::now),
            draining: CancellationToken::new(),
        }
    }

    /// The same runtime reading wall-clock time from `clock`.
    #[must_use]
    pub fn with_clock(mut self, clock: WallClock) -> Self {
        self.clock = clock;
        self
    }

    /// Gets the process ready for its services: reads the channels made through the API (if
    /// the store answers within 3 s) and declares the queue topology. Neither failure stops
    /// the process: [`Runtime::follow`] keeps the channels up to date, and the bus declares
    /// the topology on connecting.
    pub async fn prepare(&self) {
        match tokio::time::timeout(Duration::from_secs(3), self.registry.refresh(self.store.as_ref())).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot read the channels made through the API yet; will retry")
            }
            Err(_) => tracing::warn!(
                "the store did not answer within 3 s; channels made through the API start when it does"
            ),
        }
        if let Err(e) =
            crate::topology::declare_for(self.bus.as_ref(), &self.config, &self.registry.current()).await
        {
            tracing::warn!(error = %e, "bus not reachable at start; will retry in the background");
        }
    }

    /// The runtime's own tasks, until `shutdown`: the channel set follows the store, the
    /// topology follows the channel set, and the monitor writes channel status.
    pub fn follow(&self, shutdown: &CancellationToken) -> JoinSet<()> {
        let mut tasks = JoinSet::new();
        tasks.spawn(crate::channels::follow(
            self.registry.clone(),
            self.store.clone(),
            CHANNELS_EVERY,
            shutdown.clone(),
        ));
        tasks.spawn(crate::topology::follow(
            self.bus.clone(),
            self.config.clone(),
            self.registry.clone(),
            shutdown.clone(),
        ));
        tasks.spawn(self.monitor.clone().run(self.sessions.clone(), shutdown.clone()));
        tasks
    }

    /// The `/readyz` checks of a process whose services need `needs`, not ready once
    /// `draining` is cancelled. The bus is always checked.
    pub fn readiness(&self, needs: Needs, draining: CancellationToken) -> Readiness {
        let mut readiness = Readiness::default()
            .bus(self.bus.clone())
            .draining_on(draining)
            .monitor(self.monitor.clone());
        if needs.sessions {
            readiness = readiness.session_store(self.sessions.clone());
        }
        if needs.store {
            readiness = readiness.store(self.store.clone());
        }
        readiness
    }
}

/// The bus `config` names: RabbitMQ (connected lazily), or the in-process one journaled in
/// `store`, so what it accepted outlives the process.
pub fn bus_for(config: &Config, store: &Arc<dyn Store>) -> Arc<dyn Bus> {
    match config.bus.kind {
        // The store service's queue is written with the journal (one commit, not three).
        BusKind::InProcess => {
            Arc::new(MemoryBus::journaled(store.clone()).write_through(crate::topology::STORE_QUEUE))
        }
        BusKind::Rabbitmq => Arc::new(RabbitBus::new(config.bus.clone())),
    }
}

/// The session store `config` names (in-process, or Redis, connected lazily).
pub fn session_store_for(config: &Config) -> Result<Arc<dyn SessionStore>, ServiceError> {
    Ok(match config.session_store.kind {
        SessionStoreKind::InProcess => Arc::new(MemorySessionStore::new()),
        SessionStoreKind::Redis => Arc::new(
            RedisSessionStore::new(&config.session_store)
                .map_err(|e| ServiceError::Config(format!("invalid config at `session_store.url`: {e}")))?,
        ),
    })
}

/// Why a service cannot start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Configuration the service cannot run with, naming the key: the process exits 64.
    #[error("{0}")]
    Config(String),
    /// Anything else (a port already taken, a consumer that failed for good).
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Bus(#[from] BusError),
}

/// What a service needs before its process is ready (`/readyz`), besides the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    pub sessions: bool,
    pub store: bool,
}

impl Needs {
    /// Session state or channel status: what most services need.
    pub const SESSIONS: Self = Self {
        sessions: true,
        store: false,
    };

    /// Both: what a process needs when any of its services needs it.
    #[must_use]
    pub fn and(self, other: Self) -> Self {
        Self {
            sessions: self.sessions || other.sessions,
            store: self.store || other.store,
        }
    }
}

/// When a service stops on shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Consumers and connectors: stopped once the HTTP port has answered what it holds.
    Work,
    /// The store writer: stopped last, once the others can produce nothing more.
    Store,
}

/// A task of a running service: ends when its shutdown token is cancelled and it has
/// finished what it holds, or earlier if it fails for good (which stops the process).
pub type Task = BoxFuture<'static, Result<(), ServiceError>>;

/// A started service: what it serves on the process's HTTP port and its tasks (named for
/// the logs).
#[derive(Default)]
pub struct Running {
    pub routes: Option<Router>,
    pub tasks: Vec<(&'static str, Task)>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tasks: Vec<_> = self.tasks.iter().map(|(n, _)| *n).collect();
        f.debug_struct("Running")
            .field("routes", &self.routes.is_some())
            .field("tasks", &tasks)
            .finish()
    }
}

impl Running {
    /// Adds routes served on the process's HTTP port.
    #[must_use]
    pub fn routes(mut self, routes: Router) -> Self {
        self.routes = Some(routes);
        self
    }

    /// Adds a task named `name` in the logs.
    #[must_use]
    pub fn task<E>(
        mut self,
        name: &'static str,
        task: impl Future<Output = Result<(), E>> + Send + 'static,
    ) -> Self
    where
        ServiceError: From<E>,
    {
        self.tasks.push((
            name,
            Box::pin(async move { task.await.map_err(ServiceError::from) }),
        ));
        self
    }
}

/// One way to be a service. Each service crate has one implementation, named `Service`.
pub trait Service: Send {
    /// Its name in `seedgate run <name>` and in logs.
    fn name(&self) -> &'static str;

    /// Refuses what `config` gets wrong for this service; nothing is bound yet. It may keep
    /// what it read (the flow runner keeps the flows it checked). By default nothing beyond
    /// what the config checks itself.
    fn check(&mut self, _config: &Config) -> Result<(), ServiceError> {
        Ok(())
    }

    /// What its process needs to be ready, besides the bus.
    fn needs(&self, _config: &Config) -> Needs {
        Needs::SESSIONS
    }

    /// When it stops on shutdown.
    fn stage(&self) -> Stage {
        Stage::Work
    }

    /// Builds the service on `rt` and binds its own ports; its tasks run once the process
    /// spawns them, until `shutdown`. Called after [`Service::check`], before the process
    /// binds its HTTP port.
    fn start(
        self: Box<Self>,
        rt: &Runtime,
        shutdown: CancellationToken,
    ) -> BoxFuture<'static, Result<Running, ServiceError>>;
}
