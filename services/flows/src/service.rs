//! The flow-runner service: `<channel>.app.inbound` → interpreter → replies and effects.
//!
//! **USSD sessions.** Run state lives in the session store under `flow:<session id>`, next to
//! the id of the last inbound message and the reply to it, so a redelivered message gets the
//! same reply again instead of advancing the flow twice. Redial-resume: after every answered
//! hop that leaves the flow waiting, the run is also kept under `resume:<channel>:<msisdn>` for
//! the channel's `resume_window_secs`; a new session of that MSISDN is offered the channel's
//! `resume_prompt` (`1` continues, `2` starts again). The contact is loaded from the store when
//! a session starts.
//!
//! **SMS conversations.** A message on a channel with a `flow` and no session either answers
//! the contact's waiting conversation or starts the flow. The conversation's state is in the
//! store (`flow_runs`, durable: waits last days), replies go out through the outbox, and a
//! question's `timeout` is fired by a timer loop here.
//!
//! Effects (contact changes, subscriptions, SMS) are carried out before the run's new state is
//! kept, and are idempotent, so a crash in between repeats them harmlessly. The outbox relay
//! and the campaign scheduler ([`crate::campaigns`]) run beside the consumer.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use seedgate_flowlang::interp::{step, Input, Output, RunContact, RunState};
use seedgate_proto::{Message, RoutingKey, SessionEvent};
use seedgate_runtime::bus::{Bus, BusError};
use seedgate_runtime::catalog::{Catalog, Live};
use seedgate_runtime::channels::Registry;
use seedgate_runtime::config::{ChannelConfig, Config};
use seedgate_runtime::session_store::{SessionStore, Write};
use seedgate_runtime::store::Store;
use seedgate_runtime::telemetry::Masked;
use seedgate_runtime::topology::FLOWS_QUEUE;
use seedgate_runtime::worker::{decode, encode, ErrorCode, HandleError};
use seedgate_runtime::Runtime;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::effects::{Executor, RunError};
use crate::stats::Stats;

/// Run state outlives the session budget by this much, then Redis or the sweep drops it.
const STATE_GRACE: Duration = Duration::from_secs(60);
/// How often timed-out SMS questions are looked for, at most.
const TIMERS_EVERY: Duration = Duration::from_secs(5);

/// Wall-clock time: for schedules, expiries and timeouts; tests move it.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// What a USSD screen shows; `end` closes the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Screen {
    pub text: String,
    pub end: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    run: Option<RunState>,
    /// The live flows the run started on (`catalog::Live::seq`): it finishes on them.
    #[serde(default)]
    seq: i64,
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
    #[serde(default)]
    seq: i64,
    screen: Screen,
}

/// Inbound ids an SMS conversation remembers, so a late redelivery is not taken as an answer.
const HANDLED: usize = 16;

/// An SMS conversation, kept in the store under its key.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Conversation {
    key: String,
    channel: String,
    msisdn: String,
    run: RunState,
    #[serde(default)]
    seq: i64,
    /// The inbound messages already answered, newest last.
    handled: Vec<Uuid>,
}

/// The answer to the resume offer that continues the broken-off run.
const RESUME_CONTINUE: &str = "1";
/// The answer that starts the flow again.
const RESUME_RESTART: &str = "2";

struct Runner {
    config: Arc<Config>,
    registry: Registry,
    bus: Arc<dyn Bus>,
    sessions: Arc<dyn SessionStore>,
    exec: Executor,
    clock: Clock,
    stats: Stats,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner").finish_non_exhaustive()
    }
}

/// The stores and bus the runner works with.
#[derive(Debug, Clone)]
pub struct Backends {
    pub bus: Arc<dyn Bus>,
    pub sessions: Arc<dyn SessionStore>,
    pub store: Arc<dyn Store>,
}

/// Runs the flow runner on `rt` until `shutdown`, then drains the messages in flight.
pub async fn run(rt: &Runtime, shutdown: CancellationToken) -> Result<(), BusError> {
    let backends = Backends {
        bus: rt.bus.clone(),
        sessions: rt.sessions.clone(),
        store: rt.store.clone(),
    };
    run_with_clock(
        rt.config.clone(),
        rt.registry.clone(),
        rt.catalog.clone(),
        backends,
        rt.clock.clone(),
        shutdown,
    )
    .await
}

/// [`run`], reading wall-clock time from `clock`.
pub async fn run_with_clock(
    config: Arc<Config>,
    registry: Registry,
    catalog: Catalog,
    backends: Backends,
    clock: Clock,
    shutdown: CancellationToken,
) -> Result<(), BusError> {
    let Backends { bus, sessions, store } = backends;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| BusError::Protocol(format!("cannot build the webhook client: {e}")))?;
    let exec = Executor {
        catalog,
        store: store.clone(),
        http,
        outbox: Arc::new(Notify::new()),
        scheduler: Arc::new(Notify::new()),
        sms_channel: config.flows.sms_channel.clone(),
        registry: registry.clone(),
    };
    let runner = Arc::new(Runner {
        config: config.clone(),
        registry,
        bus: bus.clone(),
        sessions,
        exec: exec.clone(),
        clock: clock.clone(),
        stats: Stats::default(),
    });
    let mut helpers = tokio::task::JoinSet::new();
    helpers.spawn(runner.stats.clone().run(store.clone(), shutdown.clone()));
    helpers.spawn(seedgate_runtime::outbox::relay(
        store.clone(),
        bus.clone(),
        exec.outbox.clone(),
        false,
        shutdown.clone(),
    ));
    helpers.spawn(crate::campaigns::run(
        exec.clone(),
        clock.clone(),
        Duration::from_secs(config.flows.scheduler_every_secs.max(1)),
        shutdown.clone(),
    ));
    helpers.spawn(runner.clone().timers(shutdown.clone()));
    let handler = move |key: String, payload: Vec<u8>| {
        let runner = runner.clone();
        async move { runner.handle(&key, &payload).await }
    };
    let result = seedgate_runtime::worker::consume(
        "flows",
        bus,
        FLOWS_QUEUE,
        config.bus.prefetch,
        shutdown.clone(),
        handler,
    )
    .await;
    shutdown.cancel();
    while helpers.join_next().await.is_some() {}
    result
}

/// A step that cannot run is dropped; a store failure of any kind is retried (the message waits
/// until the store takes the run's writes).
fn retry(e: RunError) -> HandleError {
    match e {
        RunError::Step(s) => HandleError::new(ErrorCode::Internal, s),
        RunError::Store(s) => HandleError::Retry(s.to_string()),
    }
}

impl Runner {
    fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    async fn handle(&self, routing_key: &str, payload: &[u8]) -> Result<(), HandleError> {
        if !matches!(RoutingKey::parse(routing_key), Some(RoutingKey::AppInbound(_))) {
            return Err(HandleError::new(
                ErrorCode::BadRequest,
                format!("unexpected routing key {routing_key}"),
            ));
        }
        let msg: Message = decode(payload)?;
        let channel = self.registry.get(&msg.channel).ok_or_else(|| {
            HandleError::new(
                ErrorCode::UnknownChannel,
                format!("unknown channel `{}`", msg.channel),
            )
        })?;
        let Some(flow) = channel.flow.clone() else {
            tracing::info!(channel = %msg.channel, msisdn = %Masked(msg.msisdn()), "message on a channel without a flow; left for the API and webhooks");
            return Ok(());
        };
        if !self.exec.catalog.current().flows.has(&flow) {
            return Err(HandleError::new(
                ErrorCode::NotFound,
                format!(
                    "channel `{}` names flow `{flow}`, which is not loaded",
                    msg.channel
                ),
            ));
        }
        match msg.session.clone() {
            Some(session) => self.ussd(&msg, session.id, session.event, &channel, &flow).await,
            None => self.sms(&msg, &flow).await,
        }
    }

    /// Steps a run and carries out what it asks (webhooks, effects) for `msisdn`.
    #[allow(clippy::too_many_arguments)]
    async fn advance(
        &self,
        live: &Live,
        flow: &str,
        state: Option<RunState>,
        contact: &RunContact,
        input: Input<'_>,
        sms_channel: &str,
        source: &str,
    ) -> Result<Output, RunError> {
        let now = self.now();
        let from = state.as_ref().map(|s| (s.flow.clone(), s.node.clone()));
        let first = step(&live.flows, flow, state, contact, input, now)?;
        let out = self.exec.drive(&live.flows, flow, first, contact, now).await?;
        self.stats.step(
            now,
            from.as_ref().map(|(f, n)| (f.as_str(), n.as_str())),
            &out.entered,
            out.end || out.state.is_none(),
        );
        self.exec
            .apply(
                &contact.msisdn,
                &out.contact,
                &out.effects,
                sms_channel,
                source,
                now,
            )
            .await?;
        metrics::counter!("seedgate_flows_steps_total", "flow" => flow.to_string())
            .increment(out.steps as u64);
        Ok(out)
    }

    /// A new run of `flow` for the contact `msisdn`: its first screen.
    async fn start(
        &self,
        flow: &str,
        msisdn: &str,
        sms_channel: &str,
        source: &str,
    ) -> Result<(Screen, Option<RunState>, i64), HandleError> {
        let live = self.exec.catalog.current();
        let contact = self.contact(msisdn).await?;
        let out = self
            .advance(&live, flow, None, &contact, Input::Start, sms_channel, source)
            .await
            .map_err(retry)?;
        let (screen, state) = screen_of(out);
        Ok((screen, state, live.seq))
    }

    async fn contact(&self, msisdn: &str) -> Result<RunContact, HandleError> {
        crate::people::load(
            self.exec.store.as_ref(),
            &seedgate_proto::msisdn::normalise(msisdn),
        )
        .await
        .map_err(|e| HandleError::Retry(e.to_string()))
    }

    async fn ussd(
        &self,
        msg: &Message,
        session_id: String,
        event: SessionEvent,
        channel: &ChannelConfig,
        flow: &str,
    ) -> Result<(), HandleError> {
        let key = format!("flow:{session_id}");
        if event == SessionEvent::Close {
            let left: Option<Stored> = self
                .sessions
                .remove(&key)
                .await?
                .and_then(|v| serde_json::from_slice(&v).ok());
            if let Some(run) = left.and_then(|s| s.run) {
                self.stats.dropped(self.now(), &run.flow, &run.node);
            }
            return Ok(());
        }
        let msisdn = seedgate_proto::msisdn::normalise(msg.msisdn());
        let resume_key = format!("resume:{}:{}", msg.channel, msisdn);
        let window = Duration::from_secs(channel.resume_window_secs);
        // The run, and for a new session the broken-off run it could continue: one read.
        let mut keys = vec![key.as_str()];
        if event == SessionEvent::New && !window.is_zero() {
            keys.push(resume_key.as_str());
        }
        let mut found = self.sessions.get_many(&keys).await?.into_iter();
        let stored: Option<Stored> = found
            .next()
            .flatten()
            .and_then(|s| serde_json::from_slice(&s.value).ok());
        let resumable: Option<Resumable> = found
            .next()
            .flatten()
            .and_then(|s| serde_json::from_slice::<Resumable>(&s.value).ok())
            .filter(|r| r.session != session_id);
        let sms_channel = self.exec.sms_channel.clone();
        let source = msg.id.to_string();
        let screen = match stored {
            // A redelivery: answer the same again.
            Some(s) if s.last_inbound == msg.id => s.last_screen,
            stored => {
                let (stored_run, stored_seq, offer) = match stored {
                    Some(s) => (s.run, s.seq, s.offer),
                    None => (None, 0, None),
                };
                let mut offer_open = None;
                let mut fresh = event == SessionEvent::New;
                // The session-store writes of this hop, made together at the end.
                let mut writes = Vec::new();
                let (screen, next, seq) = match (event, offer) {
                    (SessionEvent::New, _) => match resumable {
                        Some(broken) => {
                            offer_open = Some(broken);
                            (prompt(channel), None, 0)
                        }
                        None => self.start(flow, &msisdn, &sms_channel, &source).await?,
                    },
                    (_, Some(broken)) => match msg.content.trim() {
                        RESUME_CONTINUE => {
                            tracing::info!(session = %session_id, resumed = %broken.session, "redial resumed a broken-off run");
                            metrics::counter!("seedgate_flows_resumed_total", "flow" => flow.to_string())
                                .increment(1);
                            (broken.screen, Some(broken.run), broken.seq)
                        }
                        RESUME_RESTART => {
                            writes.push(Write::Remove(&resume_key));
                            fresh = true;
                            self.start(flow, &msisdn, &sms_channel, &source).await?
                        }
                        _ => {
                            offer_open = Some(broken);
                            (prompt(channel), None, 0)
                        }
                    },
                    (_, None) => {
                        let contact = match &stored_run {
                            Some(r) => r.contact.clone(),
                            None => self.contact(&msisdn).await?,
                        };
                        let live = self.live(stored_seq).await?;
                        let out = self
                            .advance(
                                &live,
                                flow,
                                stored_run,
                                &contact,
                                Input::Reply(&msg.content),
                                &sms_channel,
                                &source,
                            )
                            .await
                            .map_err(retry)?;
                        let (screen, state) = screen_of(out);
                        (screen, state, live.seq)
                    }
                };
                // Keep what a redial could continue; an ended flow leaves nothing to continue.
                let keep = match (&next, screen.end) {
                    (Some(run), false) if !fresh && !window.is_zero() => Some(encode(&Resumable {
                        session: session_id.clone(),
                        run: run.clone(),
                        seq,
                        screen: screen.clone(),
                    })?),
                    (_, true) => {
                        writes.push(Write::Remove(&resume_key));
                        None
                    }
                    _ => None,
                };
                if let Some(keep) = &keep {
                    writes.push(Write::Put {
                        key: &resume_key,
                        value: keep,
                        ttl: window,
                    });
                }
                let record = Stored {
                    run: next,
                    seq,
                    last_inbound: msg.id,
                    last_screen: screen.clone(),
                    offer: offer_open,
                };
                let budget = channel.budget_secs.unwrap_or(self.config.sessions.budget_secs);
                let ttl = Duration::from_secs(budget) + STATE_GRACE;
                let record = encode(&record)?;
                writes.push(Write::Put {
                    key: &key,
                    value: &record,
                    ttl,
                });
                self.sessions.write_all(&writes).await?;
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
        // The screen of a live session: its hop's request is its only reader.
        self.bus
            .publish_hop(&RoutingKey::AppOutbound(&msg.channel).render(), &encode(&reply)?)
            .await?;
        Ok(())
    }

    /// The flows a run started on (`seq`), for its next step.
    async fn live(&self, seq: i64) -> Result<Arc<Live>, HandleError> {
        self.exec
            .catalog
            .at(self.exec.store.as_ref(), seq)
            .await
            .map_err(|e| HandleError::Retry(e.to_string()))
    }

    async fn sms(&self, msg: &Message, flow: &str) -> Result<(), HandleError> {
        let msisdn = seedgate_proto::msisdn::normalise(msg.msisdn());
        let key = format!("sms:{}:{msisdn}", msg.channel);
        let store = self.exec.store.clone();
        let now = self.now();
        let conv: Option<Conversation> = store
            .run_get(&key)
            .await
            .map_err(|e| HandleError::Retry(e.to_string()))?
            .and_then(|b| serde_json::from_str(&b).ok());
        if conv.as_ref().is_some_and(|c| c.handled.contains(&msg.id)) {
            return Ok(()); // a redelivery of what was already answered
        }
        let mut handled = conv.as_ref().map(|c| c.handled.clone()).unwrap_or_default();
        handled.push(msg.id);
        if handled.len() > HANDLED {
            handled.remove(0);
        }
        let waiting = conv.filter(|c| c.run.expires_at.is_none_or(|t| t > now));
        let source = msg.id.to_string();
        let (out, seq) = match waiting {
            Some(c) => {
                let contact = c.run.contact.clone();
                let flow = c.run.flow.clone();
                let live = self.live(c.seq).await?;
                let out = self
                    .advance(
                        &live,
                        &flow,
                        Some(c.run),
                        &contact,
                        Input::Reply(&msg.content),
                        &msg.channel,
                        &source,
                    )
                    .await;
                (out, live.seq)
            }
            None => {
                let live = self.exec.catalog.current();
                let contact = self.contact(&msisdn).await?;
                let out = self
                    .advance(&live, flow, None, &contact, Input::Start, &msg.channel, &source)
                    .await;
                (out, live.seq)
            }
        };
        let out = out.map_err(retry)?;
        self.settle_conversation(
            &key,
            seq,
            &msg.channel,
            &msisdn,
            out,
            handled,
            &format!("{source}:reply"),
        )
        .await
        .map_err(|e| HandleError::Retry(e.to_string()))
    }

    /// Sends an SMS conversation's reply and keeps (or ends) its state.
    #[allow(clippy::too_many_arguments)]
    async fn settle_conversation(
        &self,
        key: &str,
        seq: i64,
        channel: &str,
        msisdn: &str,
        out: Output,
        handled: Vec<Uuid>,
        reply_key: &str,
    ) -> Result<(), seedgate_runtime::store::StoreError> {
        if let Some(text) = &out.text {
            self.exec.send(channel, msisdn, text, reply_key).await?;
        }
        let store = self.exec.store.clone();
        match out.state {
            Some(run) => {
                let wait_until = run.wait_until;
                let conv = Conversation {
                    key: key.to_string(),
                    channel: channel.to_string(),
                    msisdn: msisdn.to_string(),
                    run,
                    seq,
                    handled,
                };
                let body = serde_json::to_string(&conv).unwrap_or_default();
                store.run_put(key, &body, wait_until).await
            }
            None => store.run_delete(key).await,
        }
    }

    /// Fires the timeouts of SMS questions, until `shutdown`.
    async fn timers(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(TIMERS_EVERY.min(Duration::from_secs(self.config.flows.scheduler_every_secs.max(1)))) => {}
                () = shutdown.cancelled() => return,
            }
            let now = self.now();
            let due = match self.exec.store.runs_due(now, 100).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read timed-out conversations; retrying");
                    continue;
                }
            };
            for (_, body) in due {
                let Ok(c) = serde_json::from_str::<Conversation>(&body) else {
                    tracing::error!("a stored conversation does not decode; left alone");
                    continue;
                };
                let timer = format!(
                    "timeout:{}:{}",
                    c.key,
                    c.run.wait_until.map(|t| t.timestamp()).unwrap_or_default()
                );
                let contact = c.run.contact.clone();
                let flow = c.run.flow.clone();
                let live = match self.exec.catalog.at(self.exec.store.as_ref(), c.seq).await {
                    Ok(live) => live,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot load the flows a conversation started on; retrying");
                        continue;
                    }
                };
                let out = match self
                    .advance(
                        &live,
                        &flow,
                        Some(c.run.clone()),
                        &contact,
                        Input::Timeout,
                        &c.channel,
                        &timer,
                    )
                    .await
                {
                    Ok(out) => out,
                    Err(e) => {
                        tracing::warn!(error = %e, "a conversation's timeout failed; retrying");
                        continue;
                    }
                };
                if let Err(e) = self
                    .settle_conversation(
                        &c.key,
                        live.seq,
                        &c.channel,
                        &c.msisdn,
                        out,
                        c.handled.clone(),
                        &format!("{timer}:reply"),
                    )
                    .await
                {
                    tracing::warn!(error = %e, "cannot keep a conversation after its timeout; retrying");
                }
            }
        }
    }
}

fn prompt(channel: &ChannelConfig) -> Screen {
    Screen {
        text: channel.resume_prompt.clone(),
        end: false,
    }
}

fn screen_of(out: Output) -> (Screen, Option<RunState>) {
    let end = out.end || out.state.is_none();
    (
        Screen {
            text: out.text.unwrap_or_default(),
            end,
        },
        out.state,
    )
}
