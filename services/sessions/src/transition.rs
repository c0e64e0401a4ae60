//! The engine's decisions as a pure function: what one message (or a sweeper tick) does to a
//! session, given what the session store holds and the time, as a list of effects for the
//! engine to carry out. No IO, no clock read: wall-clock time comes in as `now`, elapsed
//! time as the session store's remaining TTL (monotonic), ids and send times are the engine's.
//!
//! The new state travels in the store writes among the effects ([`Effect::Create`],
//! [`Effect::SaveHop`], [`Effect::Save`], [`Effect::Remove`]) because their order matters:
//! a final record is published before the state is removed, so a failed publish is retried
//! with the state still there.

use std::time::Duration;

use chrono::{DateTime, Utc};
use seedgate_proto::{Message, SessionEndReason, SessionEvent, SessionInfo, SessionRecord, TransportType};

use crate::pages::paginate;
use crate::state::SessionState;

/// What the session store holds for a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// Live, with `remaining` of its budget.
    Live {
        state: SessionState,
        remaining: Duration,
    },
    /// Live but unreadable.
    Corrupt { remaining: Duration },
    /// Not stored: ended, past its budget, or never started.
    Gone,
}

/// What the engine knows of a session when a message arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub stored: Stored,
    /// This process's last copy, from the sweeper's list (the one record of a session whose
    /// state expired or was lost).
    pub tracked: Option<Tracked>,
}

/// This process's copy of a session, kept for the sweeper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    pub state: SessionState,
    /// What is left of its budget by this process's monotonic clock: zero once it is spent.
    /// A session gone from the store with budget left had its state lost (a Redis restart).
    pub remaining: Duration,
}

impl Known {
    /// A message outside any session (SMS).
    pub const NONE: Known = Known {
        stored: Stored::Gone,
        tracked: None,
    };
}

/// What arrives.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// From a connector, on `<channel>.inbound`.
    Inbound(Message),
    /// From the flow runner, on `<channel>.app.outbound`.
    Reply(Message),
    /// The sweeper: the tracked session's budget deadline has passed.
    Sweep,
}

/// The channel's rules the decisions follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// The session budget (the TTL of its state).
    pub budget: Duration,
    /// What a request after the budget gets.
    pub closing_text: String,
    /// The screen limit, if the channel is known.
    pub screen: Option<Screen>,
}

/// A channel's screen: its limit and its "more" option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    pub limit: usize,
    /// What the user sends for the next page (`99`).
    pub more_key: String,
    /// The line that offers it (`99. More`).
    pub more_line: String,
}

/// One thing for the engine to do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Store a new session (TTL `budget`) unless one with its id is stored already (a
    /// repeated start); only if it was created, count the start and carry out `then`.
    Create {
        state: SessionState,
        budget: Duration,
        then: Vec<Effect>,
    },
    /// Overwrite the stored state for a hop, keeping its TTL; if it is no longer stored (its
    /// budget ran out since it was read), carry out `otherwise` instead of what follows.
    SaveHop {
        state: SessionState,
        otherwise: Vec<Effect>,
    },
    /// Overwrite the stored state, keeping its TTL (if it is gone, nothing is stored).
    Save(SessionState),
    /// Remove the stored state.
    Remove,
    /// Keep `state` in this process's sweeper list, due when `remaining` has passed.
    Track {
        state: SessionState,
        remaining: Duration,
    },
    /// Take the session off the sweeper list.
    Untrack,
    /// Publish a billing record on `<channel>.session`; a final one is also counted.
    Record(SessionRecord),
    /// Forward to the flow runner on `<channel>.app.inbound`.
    ToApp(Message),
    /// Send to the connector on `<channel>.outbound`.
    ToConnector(Message),
    /// Answer `to` with `text` on `<channel>.outbound` (the engine gives the answer its id
    /// and time), tagged with the session's flow if it has one.
    Answer {
        to: Message,
        text: String,
        event: SessionEvent,
        flow: Option<String>,
    },
    /// Log `text` (info) with the session and the masked `msisdn`.
    Log { text: &'static str, msisdn: String },
    /// Refuse the delivery (it cannot succeed on retry).
    Drop(String),
}

impl Effect {
    /// Whether the publishes before this effect must be confirmed before it is carried out: a
    /// session-store operation (a final record is published before the state is removed, and
    /// what follows a `Create` or `SaveHop` depends on its outcome), or a refusal. Publishes
    /// in a row may go out together.
    pub fn waits_for_publishes(&self) -> bool {
        matches!(
            self,
            Effect::Create { .. }
                | Effect::SaveHop { .. }
                | Effect::Save(_)
                | Effect::Remove
                | Effect::Drop(_)
        )
    }
}

/// The decision for `input` on a session the engine knows as `known`, at wall-clock `now`.
pub fn step(known: &Known, input: &Input, now: DateTime<Utc>, rules: &Rules) -> Vec<Effect> {
    match input {
        Input::Inbound(msg) => inbound(known, msg, now, rules),
        Input::Reply(msg) => reply(known, msg, now, rules),
        Input::Sweep => sweep(known, now, rules),
    }
}

/// Why a connector closed a session. The one place the close reason is read: the message's
/// typed `close_reason` (which decoding also fills from an older connector's
/// `metadata["reason"]`); a missing reason counts as the user's.
pub fn close_reason(msg: &Message) -> SessionEndReason {
    msg.close_reason.unwrap_or(SessionEndReason::UserAbort)
}

fn inbound(known: &Known, msg: &Message, now: DateTime<Utc>, rules: &Rules) -> Vec<Effect> {
    let Some(session) = &msg.session else {
        // Not a session message (SMS): straight to the flow runner.
        return vec![Effect::ToApp(msg.clone())];
    };
    match session.event {
        SessionEvent::New => {
            let mut effects = Vec::new();
            if known.stored == Stored::Gone {
                let state = SessionState::start(&session.id, msg, now);
                let record = state.record(Duration::ZERO, None, now);
                effects.push(Effect::Create {
                    state: state.clone(),
                    budget: rules.budget,
                    then: vec![
                        Effect::Track {
                            state,
                            remaining: rules.budget,
                        },
                        Effect::Record(record),
                    ],
                });
            }
            // A repeated start (redelivery, or the gateway sending it twice) is forwarded
            // again without a second session: the flow answers it with its first screen.
            effects.push(Effect::ToApp(msg.clone()));
            effects
        }
        SessionEvent::Resume => match &known.stored {
            Stored::Gone => match &known.tracked {
                Some(t) if !t.remaining.is_zero() => lost(t, msg, now, rules),
                tracked => spent(tracked.as_ref().map(|t| &t.state), msg, now, rules),
            },
            Stored::Corrupt { .. } => vec![Effect::Drop(format!("corrupt state for session {}", session.id))],
            Stored::Live { state, remaining } => hop(known, state, *remaining, msg, now, rules),
        },
        SessionEvent::Close => {
            // The user or the network ended the session (or the connector gave up on a hop).
            let mut effects = end(known, close_reason(msg), now, rules);
            effects.push(Effect::ToApp(msg.clone()));
            effects
        }
    }
}

/// A request within the budget: counts the hop once, and answers "more" from the pages kept.
fn hop(
    known: &Known,
    stored: &SessionState,
    remaining: Duration,
    msg: &Message,
    now: DateTime<Utc>,
    rules: &Rules,
) -> Vec<Effect> {
    let mut msg = msg.clone();
    // Some gateways leave the MSISDN out after the first hop.
    if msg.from.is_empty() {
        msg.from.clone_from(&stored.msisdn);
    }
    let mut state = stored.clone();
    let mut effects = Vec::new();
    let mut next_page = None;
    let elapsed = rules.budget.saturating_sub(remaining);
    if state.last_inbound != Some(msg.id) {
        state.hops += 1;
        state.last_inbound = Some(msg.id);
        state.active(elapsed);
        // A long screen is being paged: the "more" key shows the next page; any other
        // answer goes to the flow and drops the rest.
        let more = rules
            .screen
            .as_ref()
            .is_some_and(|s| msg.content.trim() == s.more_key);
        if more && !state.pending_pages.is_empty() {
            next_page = Some(state.pending_pages.remove(0));
        } else {
            state.pending_pages.clear();
        }
        // Gone between the read and this write: its budget ran out meanwhile.
        effects.push(Effect::SaveHop {
            state: state.clone(),
            otherwise: spent(known.tracked.as_ref().map(|t| &t.state), &msg, now, rules),
        });
    }
    effects.push(Effect::Track {
        state: state.clone(),
        remaining,
    });
    effects.push(Effect::Record(state.record(elapsed, None, now)));
    match next_page {
        Some(page) => effects.extend(show_page(&msg, &state, page, elapsed, now, rules)),
        None => effects.push(Effect::ToApp(msg)),
    }
    effects
}

/// The next page of a long screen; the last one carries the screen's own ending.
fn show_page(
    msg: &Message,
    state: &SessionState,
    page: String,
    elapsed: Duration,
    now: DateTime<Utc>,
    rules: &Rules,
) -> Vec<Effect> {
    let more = rules
        .screen
        .as_ref()
        .map(|s| s.more_line.clone())
        .unwrap_or_default();
    let (text, event) = if !state.pending_pages.is_empty() {
        (format!("{page}\n{more}"), SessionEvent::Resume)
    } else if state.pending_close {
        (page, SessionEvent::Close)
    } else {
        (page, SessionEvent::Resume)
    };
    let mut effects = Vec::new();
    if event == SessionEvent::Close {
        effects.extend(end_live(state, elapsed, SessionEndReason::Completed, now));
    }
    effects.push(Effect::Answer {
        to: msg.clone(),
        text,
        event,
        flow: state.flow.clone(),
    });
    effects
}

/// A request for a session that is no longer stored: its budget is spent (or it never was).
/// Closes this process's record of it (`tracked`), the whole budget used, and answers with
/// the closing text.
fn spent(tracked: Option<&SessionState>, msg: &Message, now: DateTime<Utc>, rules: &Rules) -> Vec<Effect> {
    let mut effects = vec![Effect::Untrack];
    if let Some(state) = tracked {
        effects.push(Effect::Record(state.record(
            rules.budget,
            Some(SessionEndReason::BudgetExhausted),
            now,
        )));
    }
    effects.extend(closing(msg, "resume after the session budget; closing", rules));
    effects
}

/// A request for a session whose state was lost with budget left (the session store
/// restarted empty): the session cannot go on. Its record closes `abandoned` with what it
/// used, this request counted, and the user gets the closing text.
fn lost(tracked: &Tracked, msg: &Message, now: DateTime<Utc>, rules: &Rules) -> Vec<Effect> {
    let mut state = tracked.state.clone();
    if state.last_inbound != Some(msg.id) {
        state.hops += 1;
    }
    let elapsed = rules.budget.saturating_sub(tracked.remaining);
    let mut effects = vec![
        Effect::Untrack,
        Effect::Record(state.record(elapsed, Some(SessionEndReason::Abandoned), now)),
    ];
    effects.extend(closing(msg, "session state lost; closing", rules));
    effects
}

/// Logs `why` and answers `msg` with the closing text, ending the session.
fn closing(msg: &Message, why: &'static str, rules: &Rules) -> [Effect; 2] {
    [
        Effect::Log {
            text: why,
            msisdn: msg.msisdn().to_string(),
        },
        Effect::Answer {
            to: msg.clone(),
            text: rules.closing_text.clone(),
            event: SessionEvent::Close,
            flow: None,
        },
    ]
}

/// Ends a session for `reason`: its final record, then its state goes. A session no longer
/// stored ends on this process's copy, at this moment of its budget (its state was lost, or
/// its budget ran out a moment ago).
fn end(known: &Known, reason: SessionEndReason, now: DateTime<Utc>, rules: &Rules) -> Vec<Effect> {
    match (&known.stored, &known.tracked) {
        (Stored::Live { state, remaining }, _) => {
            end_live(state, rules.budget.saturating_sub(*remaining), reason, now)
        }
        (Stored::Corrupt { .. }, _) => vec![Effect::Remove, Effect::Untrack],
        (Stored::Gone, Some(t)) => vec![
            Effect::Record(
                t.state
                    .record(rules.budget.saturating_sub(t.remaining), Some(reason), now),
            ),
            Effect::Untrack,
        ],
        (Stored::Gone, None) => vec![Effect::Untrack],
    }
}

fn end_live(
    state: &SessionState,
    elapsed: Duration,
    reason: SessionEndReason,
    now: DateTime<Utc>,
) -> Vec<Effect> {
    // Record first: if its publish fails the delivery is retried and the state is still there.
    vec![
        Effect::Record(state.record(elapsed, Some(reason), now)),
        Effect::Remove,
        Effect::Untrack,
    ]
}

fn reply(known: &Known, msg: &Message, now: DateTime<Utc>, rules: &Rules) -> Vec<Effect> {
    let Some(session) = &msg.session else {
        return vec![Effect::ToConnector(msg.clone())];
    };
    let flow = msg
        .metadata
        .get("flow")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let long = rules
        .screen
        .as_ref()
        .filter(|s| msg.content.chars().count() > s.limit);
    if let (Some(screen), TransportType::Ussd, Stored::Live { state, remaining }) =
        (long, msg.transport, &known.stored)
    {
        // Too long for one screen: show the first page, keep the rest for "more".
        let mut pages = paginate(&msg.content, screen.limit, &screen.more_line);
        let first = pages.remove(0);
        let mut state = state.clone();
        state.pending_pages = pages;
        state.pending_close = session.event == SessionEvent::Close;
        state.flow = flow.or(state.flow);
        state.active(rules.budget.saturating_sub(*remaining));
        let mut out = msg.clone();
        out.content = format!("{first}\n{}", screen.more_line);
        out.session = Some(SessionInfo {
            id: session.id.clone(),
            event: SessionEvent::Resume,
        });
        return vec![
            Effect::Save(state.clone()),
            Effect::Track {
                state,
                remaining: *remaining,
            },
            Effect::ToConnector(out),
        ];
    }
    let mut effects = Vec::new();
    if session.event == SessionEvent::Close {
        effects = end(known, SessionEndReason::Completed, now, rules);
    } else if let Stored::Live { state, remaining } = &known.stored {
        let mut state = state.clone();
        if let Some(flow) = flow.filter(|f| state.flow.as_deref() != Some(f.as_str())) {
            state.flow = Some(flow);
            effects.push(Effect::Save(state.clone()));
        }
        // The reply is the session's latest activity: this process's copy keeps it (the
        // stored state keeps its hop's), for a record closed without another request.
        state.active(rules.budget.saturating_sub(*remaining));
        effects.push(Effect::Track {
            state,
            remaining: *remaining,
        });
    }
    effects.push(Effect::ToConnector(msg.clone()));
    effects
}

/// A tracked session past its deadline: still stored (the session store's TTL is the clock that
/// counts: look again when it runs out), or gone, when nobody asked again since its last
/// activity (or its state was lost): its record ends `abandoned` with what it used up to that
/// activity, not the budget it was given.
fn sweep(known: &Known, now: DateTime<Utc>, _rules: &Rules) -> Vec<Effect> {
    let Some(tracked) = &known.tracked else {
        return Vec::new();
    };
    match &known.stored {
        Stored::Live { remaining, .. } | Stored::Corrupt { remaining } => vec![Effect::Track {
            state: tracked.state.clone(),
            remaining: *remaining,
        }],
        Stored::Gone => vec![
            Effect::Record(tracked.state.record(
                tracked.state.last_active(),
                Some(SessionEndReason::Abandoned),
                now,
            )),
            Effect::Untrack,
        ],
    }
}
