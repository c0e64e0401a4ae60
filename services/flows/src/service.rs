//! The flow-runner service: `<channel>.app.inbound` → interpreter → `<channel>.app.outbound`.
//!
//! Run state lives in the session store under `flow:<session id>`, next to the id of the last
//! inbound message and the reply to it, so a redelivered message gets the same reply again
//! instead of advancing the flow twice.

use std::sync::Arc;
use std::time::Duration;

use seedgate_proto::{Message, RoutingKey, SessionEvent};
use seedgate_runtime::bus::{Bus, BusError};
use seedgate_runtime::config::Config;
use seedgate_runtime::session_store::SessionStore;
use seedgate_runtime::telemetry::Masked;
use seedgate_runtime::topology::FLOWS_QUEUE;
use seedgate_runtime::worker::{decode, encode, HandleError};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::interp::{step, Input, RunState, Screen};
use crate::load::Flows;

/// Run state outlives the session budget by this much, then Redis or the sweep drops it.
const STATE_GRACE: Duration = Duration::from_secs(60);

#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    run: Option<RunState>,
    last_inbound: Uuid,
    last_screen: Screen,
}

#[derive(Debug)]
struct Runner {
    config: Arc<Config>,
    flows: Flows,
    bus: Arc<dyn Bus>,
    sessions: Arc<dyn SessionStore>,
}

/// Runs the flow runner until `shutdown`, then drains the messages in flight.
pub async fn run(
    config: Arc<Config>,
    flows: Flows,
    bus: Arc<dyn Bus>,
    sessions: Arc<dyn SessionStore>,
    shutdown: CancellationToken,
) -> Result<(), BusError> {
    let runner = Arc::new(Runner {
        config: config.clone(),
        flows,
        bus: bus.clone(),
        sessions,
    });
    let handler = move |key: String, payload: Vec<u8>| {
        let runner = runner.clone();
        async move { runner.handle(&key, &payload).await }
    };
    seedgate_runtime::worker::consume("flows", bus, FLOWS_QUEUE, config.bus.prefetch, shutdown, handler).await
}

impl Runner {
    async fn handle(&self, routing_key: &str, payload: &[u8]) -> Result<(), HandleError> {
        if !matches!(RoutingKey::parse(routing_key), Some(RoutingKey::AppInbound(_))) {
            return Err(HandleError::Drop(format!("unexpected routing key {routing_key}")));
        }
        let msg: Message = decode(payload)?;
        let channel = self
            .config
            .channels
            .get(&msg.channel)
            .ok_or_else(|| HandleError::Drop(format!("unknown channel `{}`", msg.channel)))?;
        let flow = channel
            .flow
            .as_deref()
            .ok_or_else(|| HandleError::Drop(format!("channel `{}` has no flow", msg.channel)))?;
        let Some(session) = msg.session.clone() else {
            // SMS conversations arrive with the full flow language (a later issue).
            tracing::info!(channel = %msg.channel, msisdn = %Masked(msg.msisdn()), "message outside a session ignored by the flow runner");
            return Ok(());
        };
        let key = format!("flow:{}", session.id);
        if session.event == SessionEvent::Close {
            self.sessions.remove(&key).await?;
            return Ok(());
        }
        let stored: Option<Stored> = self
            .sessions
            .get(&key)
            .await?
            .and_then(|s| serde_json::from_slice(&s.value).ok());
        let screen = match stored {
            // A redelivery: answer the same again.
            Some(s) if s.last_inbound == msg.id => s.last_screen,
            stored => {
                let input = match session.event {
                    SessionEvent::New => Input::Start,
                    _ => Input::Reply(&msg.content),
                };
                let run = stored.and_then(|s| s.run);
                let lang = self.flows.base_language(flow).to_string();
                let (screen, next) = step(&self.flows, flow, run.as_ref(), input, &lang)
                    .map_err(|e| HandleError::Drop(e.to_string()))?;
                let record = Stored {
                    run: next,
                    last_inbound: msg.id,
                    last_screen: screen.clone(),
                };
                let budget = channel.budget_secs.unwrap_or(self.config.sessions.budget_secs);
                let ttl = Duration::from_secs(budget) + STATE_GRACE;
                self.sessions.put(&key, &encode(&record)?, ttl).await?;
                screen
            }
        };
        let event = if screen.end {
            SessionEvent::Close
        } else {
            SessionEvent::Resume
        };
        let mut reply = msg.reply(screen.text, event);
        reply.metadata.insert("flow".into(), flow.into());
        self.bus
            .publish(&RoutingKey::AppOutbound(&msg.channel).render(), &encode(&reply)?)
            .await?;
        metrics::counter!("seedgate_flows_steps_total", "flow" => flow.to_string()).increment(1);
        Ok(())
    }
}
