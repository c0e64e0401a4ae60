//! The flow-runner service: `<channel>.app.inbound` → interpreter → `<channel>.app.outbound`.
//!
//! Run state lives in the session store under `flow:<session id>`, next to the id of the last
//! inbound message and the reply to it, so a redelivered message gets the same reply again
//! instead of advancing the flow twice.
//!
//! Redial-resume: after every answered hop that leaves the flow waiting, the run is also kept
//! under `resume:<channel>:<msisdn>` for the channel's `resume_window_secs`. A session that
//! reaches an end screen drops it. A user who dials again while it is there (their session
//! broke off: abort, network timeout, hop deadline or budget) is offered the channel's
//! `resume_prompt`: `1` shows the screen they were on again and goes on from there, `2`
//! starts the flow afresh.

use std::sync::Arc;
use std::time::Duration;

use seedgate_proto::{Message, RoutingKey, SessionEvent};
use seedgate_runtime::bus::{Bus, BusError};
use seedgate_runtime::channels::Registry;
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
    /// The broken-off run this session was offered to continue, while the offer is open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    offer: Option<Resumable>,
}

/// A run that broke off, kept under `resume:<channel>:<msisdn>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Resumable {
    session: String,
    run: RunState,
    screen: Screen,
}

/// The answer to the resume offer that continues the broken-off run.
const RESUME_CONTINUE: &str = "1";
/// The answer that starts the flow again.
const RESUME_RESTART: &str = "2";

#[derive(Debug)]
struct Runner {
    config: Arc<Config>,
    registry: Registry,
    flows: Flows,
    bus: Arc<dyn Bus>,
    sessions: Arc<dyn SessionStore>,
}

/// Runs the flow runner until `shutdown`, then drains the messages in flight.
pub async fn run(
    config: Arc<Config>,
    registry: Registry,
    flows: Flows,
    bus: Arc<dyn Bus>,
    sessions: Arc<dyn SessionStore>,
    shutdown: CancellationToken,
) -> Result<(), BusError> {
    let runner = Arc::new(Runner {
        config: config.clone(),
        registry,
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
            .registry
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
        let resume_key = format!("resume:{}:{}", msg.channel, msg.msisdn());
        let window = Duration::from_secs(channel.resume_window_secs);
        let screen = match stored {
            // A redelivery: answer the same again.
            Some(s) if s.last_inbound == msg.id => s.last_screen,
            stored => {
                let lang = self.flows.base_language(flow).to_string();
                let (stored_run, offer) = match stored {
                    Some(s) => (s.run, s.offer),
                    None => (None, None),
                };
                let mut offer_open = None;
                let mut fresh = session.event == SessionEvent::New;
                let (screen, next) = match (session.event, offer) {
                    (SessionEvent::New, _) => match self.resumable(&resume_key, &session.id, window).await? {
                        Some(broken) => {
                            offer_open = Some(broken);
                            (
                                Screen {
                                    text: channel.resume_prompt.clone(),
                                    end: false,
                                },
                                None,
                            )
                        }
                        None => self.step(flow, None, Input::Start, &lang)?,
                    },
                    (_, Some(broken)) => match msg.content.trim() {
                        RESUME_CONTINUE => {
                            tracing::info!(session = %session.id, resumed = %broken.session, "redial resumed a broken-off run");
                            metrics::counter!("seedgate_flows_resumed_total", "flow" => flow.to_string())
                                .increment(1);
                            (broken.screen, Some(broken.run))
                        }
                        RESUME_RESTART => {
                            self.sessions.remove(&resume_key).await?;
                            fresh = true;
                            self.step(flow, None, Input::Start, &lang)?
                        }
                        _ => {
                            let text = channel.resume_prompt.clone();
                            offer_open = Some(broken);
                            (Screen { text, end: false }, None)
                        }
                    },
                    (_, None) => self.step(flow, stored_run.as_ref(), Input::Reply(&msg.content), &lang)?,
                };
                // Keep what a redial could continue; an ended flow leaves nothing to continue.
                match (&next, screen.end) {
                    (Some(run), false) if !fresh && !window.is_zero() => {
                        let keep = Resumable {
                            session: session.id.clone(),
                            run: run.clone(),
                            screen: screen.clone(),
                        };
                        self.sessions.put(&resume_key, &encode(&keep)?, window).await?;
                    }
                    (_, true) => {
                        self.sessions.remove(&resume_key).await?;
                    }
                    _ => {}
                }
                let record = Stored {
                    run: next,
                    last_inbound: msg.id,
                    last_screen: screen.clone(),
                    offer: offer_open,
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

    fn step(
        &self,
        flow: &str,
        run: Option<&RunState>,
        input: Input<'_>,
        lang: &str,
    ) -> Result<(Screen, Option<RunState>), HandleError> {
        step(&self.flows, flow, run, input, lang).map_err(|e| HandleError::Drop(e.to_string()))
    }

    /// The broken-off run a new session `session` of this MSISDN could continue, if any.
    async fn resumable(
        &self,
        resume_key: &str,
        session: &str,
        window: Duration,
    ) -> Result<Option<Resumable>, HandleError> {
        if window.is_zero() {
            return Ok(None);
        }
        let Some(stored) = self.sessions.get(resume_key).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_slice::<Resumable>(&stored.value)
            .ok()
            .filter(|r| r.session != session))
    }
}
