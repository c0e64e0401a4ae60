//! The engine's handlers: inbound from connectors, replies from the flow runner, the sweeper.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use seedgate_proto::{Message, RoutingKey, SessionEndReason, SessionEvent, SessionInfo, SessionRecord};
use seedgate_runtime::bus::Bus;
use seedgate_runtime::channels::Registry;
use seedgate_runtime::config::Config;
use seedgate_runtime::session_store::SessionStore;
use seedgate_runtime::telemetry::Masked;
use seedgate_runtime::worker::{decode, encode, HandleError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::state::SessionState;

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

    /// Handles one delivery from the `sessions` queue.
    pub async fn handle(&self, routing_key: &str, payload: &[u8]) -> Result<(), HandleError> {
        let msg: Message = decode(payload)?;
        match RoutingKey::parse(routing_key) {
            Some(RoutingKey::Inbound(_)) => self.on_inbound(msg).await,
            Some(RoutingKey::AppOutbound(_)) => self.on_reply(msg).await,
            _ => Err(HandleError::Drop(format!("unexpected routing key {routing_key}"))),
        }
    }

    async fn publish_record(&self, record: &SessionRecord) -> Result<(), HandleError> {
        self.bus
            .publish(&RoutingKey::Session(&record.channel).render(), &encode(record)?)
            .await?;
        Ok(())
    }

    async fn on_inbound(&self, mut msg: Message) -> Result<(), HandleError> {
        if msg.session.is_none() {
            // Not a session message (SMS): straight to the flow runner.
            return self.forward_to_app(&msg).await;
        }
        let Some(session) = msg.session.clone() else {
            return self.forward_to_app(&msg).await;
        };
        let k = key(&session.id);
        match session.event {
            SessionEvent::New => {
                let state = SessionState::start(&session.id, &msg, self.now());
                if self
                    .sessions
                    .create(&k, &state.encode(), self.budget(&msg.channel))
                    .await?
                {
                    self.live().insert(
                        session.id.clone(),
                        (Instant::now() + self.budget(&msg.channel), state.clone()),
                    );
                    self.publish_record(&state.record(Duration::ZERO, None, self.now()))
                        .await?;
                    metrics::counter!("seedgate_sessions_started_total", "channel" => msg.channel.clone())
                        .increment(1);
                    tracing::info!(session = %session.id, channel = %msg.channel, msisdn = %Masked(msg.msisdn()), "session started");
                }
                // A repeated start (redelivery, or the gateway sending it twice) is forwarded
                // again without a second session: the flow answers it with its first screen.
                self.forward_to_app(&msg).await
            }
            SessionEvent::Resume => {
                let Some(stored) = self.sessions.get(&k).await? else {
                    return self.budget_spent(&msg, &session.id).await;
                };
                let Some(mut state) = SessionState::decode(&stored.value) else {
                    return Err(HandleError::Drop(format!(
                        "corrupt state for session {}",
                        session.id
                    )));
                };
                // Some gateways leave the MSISDN out after the first hop.
                if msg.from.is_empty() {
                    msg.from.clone_from(&state.msisdn);
                }
                let mut next_page = None;
                if state.last_inbound != Some(msg.id) {
                    state.hops += 1;
                    state.last_inbound = Some(msg.id);
                    // A long screen is being paged: the "more" key shows the next page; any
                    // other answer goes to the flow and drops the rest.
                    let more = self
                        .screen(&msg.channel)
                        .is_some_and(|(_, key, _)| msg.content.trim() == key);
                    if more && !state.pending_pages.is_empty() {
                        next_page = Some(state.pending_pages.remove(0));
                    } else {
                        state.pending_pages.clear();
                    }
                    if !self.sessions.update(&k, &state.encode()).await? {
                        return self.budget_spent(&msg, &session.id).await;
                    }
                }
                let elapsed = self.budget(&msg.channel).saturating_sub(stored.remaining);
                self.track(&state, stored.remaining);
                self.publish_record(&state.record(elapsed, None, self.now()))
                    .await?;
                match next_page {
                    Some(page) => self.show_page(&msg, &state, page).await,
                    None => self.forward_to_app(&msg).await,
                }
            }
            SessionEvent::Close => {
                // The user or the network ended the session (or the connector gave up on a hop).
                let reason = msg
                    .metadata
                    .get("reason")
                    .and_then(|v| v.as_str())
                    .and_then(SessionEndReason::parse)
                    .unwrap_or(SessionEndReason::UserAbort);
                self.end(&session.id, reason).await?;
                self.forward_to_app(&msg).await
            }
        }
    }

    async fn on_reply(&self, mut msg: Message) -> Result<(), HandleError> {
        if let Some(session) = msg.session.clone() {
            let k = key(&session.id);
            let flow = msg
                .metadata
                .get("flow")
                .and_then(|v| v.as_str())
                .map(str::to_string);
            let screen = self
                .screen(&msg.channel)
                .filter(|(limit, _, _)| msg.content.chars().count() > *limit);
            if let (Some((limit, _, more)), seedgate_proto::TransportType::Ussd) = (screen, msg.transport) {
                // Too long for one screen: show the first page, keep the rest for "more".
                if let Some(stored) = self.sessions.get(&k).await? {
                    if let Some(mut state) = SessionState::decode(&stored.value) {
                        let mut pages = crate::pages::paginate(&msg.content, limit, &more);
                        let first = pages.remove(0);
                        state.pending_pages = pages;
                        state.pending_close = session.event == SessionEvent::Close;
                        state.flow = flow.or(state.flow);
                        self.sessions.update(&k, &state.encode()).await?;
                        self.track(&state, stored.remaining);
                        msg.content = format!("{first}\n{more}");
                        msg.session = Some(SessionInfo {
                            id: session.id,
                            event: SessionEvent::Resume,
                        });
                        return self.to_connector(&msg).await;
                    }
                }
            }
            if session.event == SessionEvent::Close {
                self.end(&session.id, SessionEndReason::Completed).await?;
            } else if let Some(flow) = flow {
                if let Some(stored) = self.sessions.get(&k).await? {
                    if let Some(mut state) = SessionState::decode(&stored.value) {
                        if state.flow.as_deref() != Some(flow.as_str()) {
                            state.flow = Some(flow);
                            self.sessions.update(&k, &state.encode()).await?;
                            self.track(&state, stored.remaining);
                        }
                    }
                }
            }
        }
        self.to_connector(&msg).await
    }

    /// Publishes a reply to its connector.
    async fn to_connector(&self, msg: &Message) -> Result<(), HandleError> {
        self.bus
            .publish(&RoutingKey::Outbound(&msg.channel).render(), &encode(msg)?)
            .await?;
        Ok(())
    }

    /// Shows the next page of a long screen; the last one carries the screen's own ending.
    async fn show_page(&self, msg: &Message, state: &SessionState, page: String) -> Result<(), HandleError> {
        let more = self
            .screen(&msg.channel)
            .map(|(_, _, more)| more)
            .unwrap_or_default();
        let (text, event) = if !state.pending_pages.is_empty() {
            (format!("{page}\n{more}"), SessionEvent::Resume)
        } else if state.pending_close {
            (page, SessionEvent::Close)
        } else {
            (page, SessionEvent::Resume)
        };
        let mut reply = msg.reply(text, event);
        if let Some(flow) = &state.flow {
            reply.metadata.insert("flow".into(), flow.clone().into());
        }
        if event == SessionEvent::Close {
            self.end(&state.id, SessionEndReason::Completed).await?;
        }
        self.to_connector(&reply).await
    }

    /// Ends a live session: removes its state and publishes its final record.
    async fn end(&self, session_id: &str, reason: SessionEndReason) -> Result<(), HandleError> {
        let k = key(session_id);
        let Some(stored) = self.sessions.get(&k).await? else {
            self.live().remove(session_id);
            return Ok(());
        };
        if let Some(state) = SessionState::decode(&stored.value) {
            let elapsed = self.budget(&state.channel).saturating_sub(stored.remaining);
            let record = state.record(elapsed, Some(reason), self.now());
            // Record first: if this fails the delivery is retried and the state is still there.
            self.publish_record(&record).await?;
            self.count_end(&record);
        }
        self.sessions.remove(&k).await?;
        self.live().remove(session_id);
        Ok(())
    }

    /// A resume for a session that no longer exists: its budget is spent (or it never was).
    async fn budget_spent(&self, msg: &Message, session_id: &str) -> Result<(), HandleError> {
        let tracked = self.live().remove(session_id);
        if let Some((_, state)) = tracked {
            let record = state.record(
                self.budget(&state.channel),
                Some(SessionEndReason::BudgetExhausted),
                self.now(),
            );
            self.publish_record(&record).await?;
            self.count_end(&record);
        }
        tracing::info!(session = %session_id, msisdn = %Masked(msg.msisdn()), "resume after the session budget; closing");
        let reply = msg.reply(self.closing_text.clone(), SessionEvent::Close);
        self.to_connector(&reply).await
    }

    async fn forward_to_app(&self, msg: &Message) -> Result<(), HandleError> {
        self.bus
            .publish(&RoutingKey::AppInbound(&msg.channel).render(), &encode(msg)?)
            .await?;
        Ok(())
    }

    fn track(&self, state: &SessionState, remaining: Duration) {
        self.live()
            .insert(state.id.clone(), (Instant::now() + remaining, state.clone()));
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
        let due: Vec<(String, SessionState)> = self
            .live()
            .iter()
            .filter(|(_, (deadline, _))| *deadline <= now)
            .map(|(id, (_, state))| (id.clone(), state.clone()))
            .collect();
        for (id, state) in due {
            match self.sessions.get(&key(&id)).await? {
                Some(stored) => self.track(&state, stored.remaining),
                None => {
                    let record = state.record(
                        self.budget(&state.channel),
                        Some(SessionEndReason::BudgetExhausted),
                        self.now(),
                    );
                    self.publish_record(&record).await?;
                    self.count_end(&record);
                    self.live().remove(&id);
                }
            }
        }
        Ok(())
    }
}
