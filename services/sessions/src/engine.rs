//! The engine: loads what is known of a session, asks [`transition::step`] what to do with an
//! inbound message, a flow reply or a sweeper tick, and carries it out (bus, session store,
//! the sweeper's list, metrics and logs).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use seedgate_proto::{Message, RoutingKey, SessionEndReason, SessionRecord};
use seedgate_runtime::bus::Bus;
use seedgate_runtime::channels::Registry;
use seedgate_runtime::config::Config;
use seedgate_runtime::session_store::SessionStore;
use seedgate_runtime::telemetry::Masked;
use seedgate_runtime::worker::{decode, encode, ErrorCode, HandleError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::state::SessionState;
use crate::transition::{self, Effect, Input, Known, Rules, Screen, Stored, Tracked};

/// Wall-clock time, for the start and end times shown in records. Durations and slices never
/// come from it (VM clocks jump); tests hand in a clock that does.
pub type WallClock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// How often the sweeper looks for sessions past their budget.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// The session engine. Cheap to share; all state lives in the session store, except the
/// sweeper's list of sessions this process started (lost on restart: see ARCHITECTURE.md).
pub struct Engine {
    bus: Arc<dyn Bus>,
    sessions: Arc<dyn SessionStore>,
    /// The live channels: budgets and screen limits per channel.
    registry: Registry,
    default_budget: Duration,
    closing_text: String,
    /// session id → (budget deadline on the monotonic clock, last known state)
    live: Mutex<HashMap<String, (Instant, SessionState)>>,
    wall: WallClock,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("default_budget", &self.default_budget)
            .finish_non_exhaustive()
    }
}

/// Publishes held back by [`Engine::carry_out`], and the final records among them.
#[derive(Default)]
struct Outgoing {
    batch: Vec<(String, Vec<u8>)>,
    /// Which of `batch` are a live session's hop ([`Bus::publish_hop`]); final records are not.
    hop: Vec<bool>,
    ended: Vec<SessionRecord>,
}

impl Outgoing {
    /// A message: a hop if it belongs to a session (an SMS is published as any other).
    fn push_message(&mut self, routing_key: String, msg: &Message) -> Result<(), HandleError> {
        self.batch.push((routing_key, encode(msg)?));
        self.hop.push(msg.session.is_some());
        Ok(())
    }
}

fn key(session_id: &str) -> String {
    format!("session:{session_id}")
}

impl Engine {
    pub fn new(
        config: &Config,
        registry: Registry,
        bus: Arc<dyn Bus>,
        sessions: Arc<dyn SessionStore>,
    ) -> Self {
        Self::with_wall_clock(config, registry, bus, sessions, Arc::new(Utc::now))
    }

    /// An engine that reads wall-clock time from `wall`.
    pub fn with_wall_clock(
        config: &Config,
        registry: Registry,
        bus: Arc<dyn Bus>,
        sessions: Arc<dyn SessionStore>,
        wall: WallClock,
    ) -> Self {
        Self {
            bus,
            sessions,
            registry,
            default_budget: Duration::from_secs(config.sessions.budget_secs),
            closing_text: config.sessions.closing_text.clone(),
            live: Mutex::new(HashMap::new()),
            wall,
        }
    }

    /// The screen limit of `channel`, its "more" key and its "more" line.
    fn screen(&self, channel: &str) -> Option<(usize, String, String)> {
        self.registry.get(channel).map(|c| {
            (
                c.max_screen_chars,
                c.more_key.clone(),
                format!("{}. {}", c.more_key, c.more_label),
            )
        })
    }

    fn now(&self) -> DateTime<Utc> {
        (self.wall)()
    }

    /// The session budget of `channel`.
    fn budget(&self, channel: &str) -> Duration {
        self.registry
            .get(channel)
            .and_then(|c| c.budget_secs)
            .map_or(self.default_budget, Duration::from_secs)
    }

    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, SessionState)>> {
        self.live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The rules `channel` follows: its budget, the closing text and its screen.
    fn rules(&self, channel: &str) -> Rules {
        Rules {
            budget: self.budget(channel),
            closing_text: self.closing_text.clone(),
            screen: self.screen(channel).map(|(limit, more_key, more_line)| Screen {
                limit,
                more_key,
                more_line,
            }),
        }
    }

    /// Handles one delivery from the `sessions` queue: loads what is known of its session,
    /// decides ([`transition::step`]) and carries out the decision.
    pub async fn handle(&self, routing_key: &str, payload: &[u8]) -> Result<(), HandleError> {
        let msg: Message = decode(payload)?;
        let inbound = match RoutingKey::parse(routing_key) {
            Some(RoutingKey::Inbound(_)) => true,
            Some(RoutingKey::AppOutbound(_)) => false,
            _ => {
                return Err(HandleError::new(
                    ErrorCode::BadRequest,
                    format!("unexpected routing key {routing_key}"),
                ))
            }
        };
        let (id, known) = match &msg.session {
            Some(session) => (session.id.clone(), self.load(&session.id).await?),
            None => (String::new(), Known::NONE),
        };
        let rules = self.rules(&msg.channel);
        let input = if inbound {
            Input::Inbound(msg)
        } else {
            Input::Reply(msg)
        };
        let effects = transition::step(&known, &input, self.now(), &rules);
        self.carry_out(&id, effects).await
    }

    /// What the session store and the sweeper's list hold for `session_id`.
    async fn load(&self, session_id: &str) -> Result<Known, HandleError> {
        let stored = match self.sessions.get(&key(session_id)).await? {
            None => Stored::Gone,
            Some(stored) => match SessionState::decode(&stored.value) {
                Some(state) => Stored::Live {
                    state,
                    remaining: stored.remaining,
                },
                None => Stored::Corrupt {
                    remaining: stored.remaining,
                },
            },
        };
        let now = Instant::now();
        let tracked = self.live().get(session_id).map(|(deadline, state)| Tracked {
            state: state.clone(),
            remaining: deadline.saturating_duration_since(now),
        });
        Ok(Known { stored, tracked })
    }

    /// Carries out `effects` for session `session_id`, in order. Publishes are held back and
    /// sent together ([`Bus::publish_all`]: one wait for the broker's confirms) up to the next
    /// session-store operation or the end, so a store write that follows a publish still
    /// happens only after the broker confirmed it (a final record before its state goes).
    async fn carry_out(&self, session_id: &str, effects: Vec<Effect>) -> Result<(), HandleError> {
        let k = key(session_id);
        let mut out = Outgoing::default();
        let mut todo = VecDeque::from(effects);
        while let Some(effect) = todo.pop_front() {
            if effect.waits_for_publishes() {
                self.flush(&mut out).await?;
            }
            match effect {
                Effect::Create { state, budget, then } => {
                    if self.sessions.create(&k, &state.encode(), budget).await? {
                        metrics::counter!("seedgate_sessions_started_total", "channel" => state.channel.clone())
                            .increment(1);
                        tracing::info!(session = %session_id, channel = %state.channel, msisdn = %Masked(&state.msisdn), "session started");
                        for e in then.into_iter().rev() {
                            todo.push_front(e);
                        }
                    }
                }
                Effect::SaveHop { state, otherwise } => {
                    if !self.sessions.update(&k, &state.encode()).await? {
                        todo = VecDeque::from(otherwise);
                    }
                }
                Effect::Save(state) => {
                    self.sessions.update(&k, &state.encode()).await?;
                }
                Effect::Remove => {
                    self.sessions.remove(&k).await?;
                }
                Effect::Track { state, remaining } => {
                    self.live()
                        .insert(session_id.to_string(), (Instant::now() + remaining, state));
                }
                Effect::Untrack => {
                    self.live().remove(session_id);
                }
                Effect::Record(record) => {
                    // A live session's record is progress (the store keeps the highest
                    // counters); its final one is what is billed, and the state goes only
                    // after it is durable.
                    out.batch
                        .push((RoutingKey::Session(&record.channel).render(), encode(&record)?));
                    out.hop.push(record.end_reason.is_none());
                    if record.end_reason.is_some() {
                        out.ended.push(record);
                    }
                }
                Effect::ToApp(msg) => {
                    out.push_message(RoutingKey::AppInbound(&msg.channel).render(), &msg)?
                }
                Effect::ToConnector(msg) => {
                    out.push_message(RoutingKey::Outbound(&msg.channel).render(), &msg)?
                }
                Effect::Answer {
                    to,
                    text,
                    event,
                    flow,
                } => {
                    let mut reply = to.reply(text, event);
                    if let Some(flow) = flow {
                        reply.metadata.insert("flow".into(), flow.into());
                    }
                    out.push_message(RoutingKey::Outbound(&reply.channel).render(), &reply)?;
                }
                Effect::Log { text, msisdn } => {
                    tracing::info!(session = %session_id, msisdn = %Masked(&msisdn), "{text}");
                }
                Effect::Drop(reason) => return Err(HandleError::new(ErrorCode::BadRequest, reason)),
            }
        }
        self.flush(&mut out).await
    }

    /// Publishes what `out` holds, and counts the sessions it ends once the broker has them.
    async fn flush(&self, out: &mut Outgoing) -> Result<(), HandleError> {
        if out.batch.is_empty() {
            return Ok(());
        }
        self.bus.publish_all_hops(&out.batch, &out.hop).await?;
        out.batch.clear();
        out.hop.clear();
        for record in std::mem::take(&mut out.ended) {
            self.count_end(&record);
        }
        Ok(())
    }

    fn count_end(&self, record: &SessionRecord) {
        let reason = record.end_reason.map_or("unknown", SessionEndReason::as_str);
        let flow = record.flow.clone().unwrap_or_default();
        metrics::counter!("seedgate_sessions_ended_total", "channel" => record.channel.clone(), "reason" => reason).increment(1);
        metrics::counter!("seedgate_sessions_slices_total", "channel" => record.channel.clone(), "flow" => flow)
            .increment(u64::from(record.slices));
        metrics::histogram!("seedgate_sessions_duration_seconds", "channel" => record.channel.clone())
            .record(record.duration_ms as f64 / 1000.0);
        tracing::info!(
            session = %record.id, channel = %record.channel, msisdn = %Masked(&record.msisdn),
            reason, hops = record.hops, duration_ms = record.duration_ms, slices = record.slices,
            "session ended"
        );
    }

    /// Closes the records of sessions that reached their budget without a final request.
    pub async fn sweep_until(self: Arc<Self>, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = shutdown.cancelled() => return,
            }
            if let Err(e) = self.sweep().await {
                tracing::warn!(error = %e, "session sweep failed; retrying next tick");
            }
        }
    }

    async fn sweep(&self) -> Result<(), HandleError> {
        let now = Instant::now();
        let due: Vec<(String, String)> = self
            .live()
            .iter()
            .filter(|(_, (deadline, _))| *deadline <= now)
            .map(|(id, (_, state))| (id.clone(), state.channel.clone()))
            .collect();
        for (id, channel) in due {
            let known = self.load(&id).await?;
            let effects = transition::step(&known, &Input::Sweep, self.now(), &self.rules(&channel));
            self.carry_out(&id, effects).await?;
        }
        Ok(())
    }
}
