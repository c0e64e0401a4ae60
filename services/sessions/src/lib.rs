//! The USSD session engine: sits between connectors and the flow runner.
//!
//! - Consumes `<channel>.inbound` from connectors: starts, resumes and closes sessions in the
//!   [`SessionStore`](seedgate_runtime::session_store::SessionStore) (TTL = the session budget,
//!   so the budget runs on Redis' or tokio's monotonic clock), and forwards each message to the
//!   flow runner on `<channel>.app.inbound`. A resume for a session whose budget is spent gets
//!   the configured closing text instead.
//! - Consumes `<channel>.app.outbound` from the flow runner, closes the session when the reply
//!   ends it, and forwards the reply to the connector on `<channel>.outbound`.
//! - Publishes the session's billing record (`SessionRecord`: hops, duration, 20 s slices, end
//!   reason) on `<channel>.session` at start, every hop and at the end; the store writes it.
//! - Sweeps sessions that reach their budget without a final request, closing their record as
//!   `abandoned` with the time used up to their last activity (a hop, or a reply shown), not
//!   the budget. A session whose state the store lost (Redis restarted empty) ends the same way
//!   on this process's copy: at the next request (which gets the closing text), a connector's
//!   close (with its reason), or the sweeper.
//! - Pages USSD screens longer than the channel's `max_screen_chars` ([`pages`]): the first page
//!   ends with the "more" option, the engine answers the "more" key itself from the session
//!   state, and a closing screen ends the session on its last page.
//! - Decides all of this in [`transition::step`], a pure function of (what the session store
//!   holds, the message, the time); the engine only loads, calls it and carries out its effects.
//! - Takes durations only from the session store's TTL (monotonic); wall-clock time appears
//!   only as the start and end times shown in records.

mod engine;
pub mod pages;
mod state;
pub mod transition;

pub use engine::{Engine, WallClock};
pub use state::SessionState;

use std::sync::Arc;

use seedgate_runtime::bus::{Bus, BusError};
use seedgate_runtime::channels::Registry;
use seedgate_runtime::config::Config;
use seedgate_runtime::service::{BoxFuture, Running, ServiceError};
use seedgate_runtime::session_store::SessionStore;
use seedgate_runtime::topology::SESSIONS_QUEUE;
use seedgate_runtime::Runtime;
use tokio_util::sync::CancellationToken;

/// The session engine as a service of the process (`seedgate run sessions`).
#[derive(Debug, Default)]
pub struct Service;

impl seedgate_runtime::Service for Service {
    fn name(&self) -> &'static str {
        "sessions"
    }

    fn start(
        self: Box<Self>,
        rt: &Runtime,
        shutdown: CancellationToken,
    ) -> BoxFuture<'static, Result<Running, ServiceError>> {
        let rt = rt.clone();
        let task = async move { run(&rt, shutdown).await };
        Box::pin(async move { Ok(Running::default().task("sessions", task)) })
    }
}

/// Runs the session engine on `rt` until `shutdown`, then drains the hops in flight.
pub async fn run(rt: &Runtime, shutdown: CancellationToken) -> Result<(), BusError> {
    run_with_clock(
        rt.config.clone(),
        rt.registry.clone(),
        rt.bus.clone(),
        rt.sessions.clone(),
        shutdown,
        rt.clock.clone(),
    )
    .await
}

/// [`run`], reading wall-clock time (for the times shown in records) from `wall`.
pub async fn run_with_clock(
    config: Arc<Config>,
    registry: Registry,
    bus: Arc<dyn Bus>,
    sessions: Arc<dyn SessionStore>,
    shutdown: CancellationToken,
    wall: WallClock,
) -> Result<(), BusError> {
    let engine = Arc::new(Engine::with_wall_clock(
        &config,
        registry,
        bus.clone(),
        sessions,
        wall,
    ));
    let sweeper = tokio::spawn(engine.clone().sweep_until(shutdown.clone()));
    let handler = {
        let engine = engine.clone();
        move |key: String, payload: Vec<u8>| {
            let engine = engine.clone();
            async move { engine.handle(&key, &payload).await }
        }
    };
    let result = seedgate_runtime::worker::consume(
        "sessions",
        bus,
        SESSIONS_QUEUE,
        config.bus.prefetch,
        shutdown.clone(),
        handler,
    )
    .await;
    shutdown.cancel();
    let _ = sweeper.await;
    result
}
