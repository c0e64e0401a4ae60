//! The session engine's decisions as data: what the session store holds, what arrives, and the
//! effects [`step`] decides, one row each, through one `check` helper. Effects are written in a
//! short form (see `show`); the time is fixed and ids are numbers.

#![allow(clippy::unwrap_used)] // tests: panics are failures

use std::time::Duration;

use chrono::{DateTime, Utc};
use seedgate_proto::{Message, SessionEndReason, SessionEvent, SessionInfo, SessionRecord, TransportType};
use seedgate_sessions::transition::{step, Effect, Input, Known, Rules, Screen, Stored, Tracked};
use seedgate_sessions::SessionState;
use uuid::Uuid;

const CLOSING: &str = "Your session timed out.";

fn now() -> DateTime<Utc> {
    "2026-12-02T06:00:00Z".parse().unwrap()
}

fn started() -> DateTime<Utc> {
    "2026-12-02T05:59:00Z".parse().unwrap()
}

fn rules() -> Rules {
    Rules {
        budget: Duration::from_secs(180),
        closing_text: CLOSING.into(),
        screen: Some(Screen {
            limit: 30,
            more_key: "99".into(),
            more_line: "99. More".into(),
        }),
    }
}

/// A stored session `s1` after `hops` hops, the last one message `last`.
fn state(hops: u32, last: u128) -> SessionState {
    SessionState {
        id: "s1".into(),
        channel: "demo-at".into(),
        msisdn: "+27820000001".into(),
        started_at: started(),
        hops,
        flow: None,
        last_inbound: Some(Uuid::from_u128(last)),
        pending_pages: Vec::new(),
        pending_close: false,
        active_ms: 0,
    }
}

/// `s` last active `secs` into its budget.
fn active(mut s: SessionState, secs: f64) -> SessionState {
    s.active_ms = (secs * 1000.0).round() as u64;
    s
}

fn secs(s: f64) -> Duration {
    Duration::from_millis((s * 1000.0).round() as u64)
}

fn with_flow(mut s: SessionState) -> SessionState {
    s.flow = Some("demo".into());
    s
}

/// `s` paging a long screen: `pages` still to show, ending the session after them if `close`.
fn paging(mut s: SessionState, pages: &[&str], close: bool) -> SessionState {
    s.pending_pages = pages.iter().map(|p| p.to_string()).collect();
    s.pending_close = close;
    with_flow(s)
}

/// Stored with `remaining` seconds of budget, and tracked by this process.
fn live(s: SessionState, remaining: f64) -> Known {
    Known {
        stored: Stored::Live {
            state: s.clone(),
            remaining: secs(remaining),
        },
        tracked: Some(Tracked {
            state: s,
            remaining: secs(remaining),
        }),
    }
}

fn corrupt(remaining: u64) -> Known {
    Known {
        stored: Stored::Corrupt {
            remaining: Duration::from_secs(remaining),
        },
        tracked: Some(Tracked {
            state: state(1, 1),
            remaining: Duration::from_secs(remaining),
        }),
    }
}

/// No longer stored, and not tracked by this process (ended, or another process's).
fn gone() -> Known {
    Known {
        stored: Stored::Gone,
        tracked: None,
    }
}

/// No longer stored, its budget spent; this process tracks `s`.
fn spent(s: SessionState) -> Known {
    lost(s, 0.0)
}

/// No longer stored with `remaining` seconds of budget left (the store restarted empty);
/// this process tracks `s`.
fn lost(s: SessionState, remaining: f64) -> Known {
    Known {
        stored: Stored::Gone,
        tracked: Some(Tracked {
            state: s,
            remaining: secs(remaining),
        }),
    }
}

/// Message `id` from the phone in session `s1` (no session if `event` is `None`).
fn from_phone(id: u128, event: Option<SessionEvent>, content: &str) -> Message {
    let mut m = Message::inbound(
        "demo-at",
        TransportType::Ussd,
        "+27820000001",
        "*134*550#",
        content,
    );
    m.id = Uuid::from_u128(id);
    m.session = event.map(|event| SessionInfo {
        id: "s1".into(),
        event,
    });
    m
}

fn inbound(id: u128, event: SessionEvent, content: &str) -> Input {
    Input::Inbound(from_phone(id, Some(event), content))
}

/// A close from a connector giving `reason`: a known word is its typed `close_reason`; any
/// other arrives as none (decoding a message leaves an unknown word in metadata only).
fn closed_by(reason: Option<&str>) -> Input {
    let mut m = from_phone(9, Some(SessionEvent::Close), "");
    m.close_reason = reason.and_then(SessionEndReason::parse);
    Input::Inbound(m)
}

/// The flow runner's reply `text` in session `s1` (outside any if `event` is `None`).
fn reply(event: Option<SessionEvent>, text: &str) -> Input {
    let mut r = from_phone(2, event.or(Some(SessionEvent::Resume)), "").reply(text, SessionEvent::Resume);
    r.session = event.map(|event| SessionInfo {
        id: "s1".into(),
        event,
    });
    r.metadata.insert("flow".into(), "demo".into());
    Input::Reply(r)
}

fn show_state(s: &SessionState) -> String {
    let mut out = format!("hops={}", s.hops);
    if let Some(f) = &s.flow {
        out += &format!(" flow={f}");
    }
    if !s.pending_pages.is_empty() {
        out += &format!(" pages={:?}", s.pending_pages);
    }
    if s.pending_close {
        out += " closing";
    }
    if s.active_ms > 0 {
        out += &format!(" active={:?}", Duration::from_millis(s.active_ms));
    }
    out
}

fn show_record(r: &SessionRecord) -> String {
    let end = r.end_reason.map_or("open", |e| e.as_str());
    format!(
        "record hops={} {}ms {} slices {end}",
        r.hops, r.duration_ms, r.slices
    )
}

fn show_message(m: &Message) -> String {
    let event = match m.session_event() {
        Some(SessionEvent::New) => "new",
        Some(SessionEvent::Resume) => "resume",
        Some(SessionEvent::Close) => "close",
        None => "no-session",
    };
    let from = if m.from.is_empty() { " from=\"\"" } else { "" };
    format!("{event} {:?}{from}", m.content)
}

fn show_all(effects: &[Effect]) -> String {
    effects.iter().map(show).collect::<Vec<_>>().join("; ")
}

/// The short form of an effect.
fn show(e: &Effect) -> String {
    match e {
        Effect::Create { state, budget, then } => format!(
            "create {} ttl={}s then [{}]",
            show_state(state),
            budget.as_secs(),
            show_all(then)
        ),
        Effect::SaveHop { state, otherwise } => {
            format!("save-hop {} else [{}]", show_state(state), show_all(otherwise))
        }
        Effect::Save(state) => format!("save {}", show_state(state)),
        Effect::Remove => "remove".into(),
        Effect::Track { state, remaining } => {
            format!("track {remaining:?} {}", show_state(state))
        }
        Effect::Untrack => "untrack".into(),
        Effect::Record(r) => show_record(r),
        Effect::ToApp(m) => format!("to-app {}", show_message(m)),
        Effect::ToConnector(m) => format!("to-connector {}", show_message(m)),
        Effect::Answer {
            to,
            text,
            event,
            flow,
        } => {
            let mut out = format!("answer {event:?} {text:?}");
            if to.from.is_empty() {
                out += " to=\"\"";
            }
            if let Some(f) = flow {
                out += &format!(" flow={f}");
            }
            out
        }
        Effect::Log { text, .. } => format!("log {text:?}"),
        Effect::Drop(reason) => format!("drop {reason:?}"),
    }
}

/// What every decision keeps, whatever the row: records show the session's start, and an end
/// time exactly when they end it; answers answer the message that arrived.
fn invariants(input: &Input, effects: &[Effect]) {
    for e in effects {
        match e {
            Effect::Record(r) => {
                assert!(r.started_at == started() || r.started_at == now(), "{r:?}");
                assert_eq!(r.ended_at, r.end_reason.map(|_| now()), "{r:?}");
            }
            Effect::Answer { to, .. } => {
                if let Input::Inbound(m) = input {
                    assert_eq!(to.id, m.id);
                }
            }
            Effect::Create { then: inner, .. } | Effect::SaveHop { otherwise: inner, .. } => {
                invariants(input, inner)
            }
            _ => {}
        }
    }
}

fn check(row: &str, known: Known, input: Input, expect: &[&str]) {
    let effects = step(&known, &input, now(), &rules());
    invariants(&input, &effects);
    let got: Vec<String> = effects.iter().map(show).collect();
    assert_eq!(got, expect, "row: {row}");
}

const SPENT_AFTER_1: &str = "else [untrack; record hops=1 180000ms 9 slices budget_exhausted; \
     log \"resume after the session budget; closing\"; answer Close \"Your session timed out.\"]";

#[test]
fn connector_messages() {
    let hop_2 = |active: &str| format!("save-hop hops=2 active={active} {SPENT_AFTER_1}");
    for (row, known, input, expect) in [
        (
            "an SMS goes straight to the flow runner",
            Known::NONE,
            Input::Inbound(from_phone(1, None, "hi")),
            vec!["to-app no-session \"hi\"".to_string()],
        ),
        (
            "a dial starts a session: stored, tracked, its opening record, then the flow",
            gone(),
            inbound(1, SessionEvent::New, ""),
            vec![
                "create hops=1 ttl=180s then [track 180s hops=1; record hops=1 0ms 1 slices open]".into(),
                "to-app new \"\"".into(),
            ],
        ),
        (
            "a repeated dial starts nothing, and the flow answers it again",
            live(state(1, 1), 179.0),
            inbound(1, SessionEvent::New, ""),
            vec!["to-app new \"\"".into()],
        ),
        (
            "a repeated dial of an unreadable session likewise",
            corrupt(179),
            inbound(1, SessionEvent::New, ""),
            vec!["to-app new \"\"".into()],
        ),
        (
            "a hop 12 s in: counted, tracked for the rest of its budget, recorded, forwarded",
            live(state(1, 1), 168.0),
            inbound(2, SessionEvent::Resume, "1"),
            vec![
                hop_2("12s"),
                "track 168s hops=2 active=12s".into(),
                "record hops=2 12000ms 1 slices open".into(),
                "to-app resume \"1\"".into(),
            ],
        ),
        (
            "a redelivered hop is forwarded again but not counted again",
            live(state(2, 2), 168.0),
            inbound(2, SessionEvent::Resume, "1"),
            vec![
                "track 168s hops=2".into(),
                "record hops=2 12000ms 1 slices open".into(),
                "to-app resume \"1\"".into(),
            ],
        ),
        (
            "20 s is one slice",
            live(state(1, 1), 160.0),
            inbound(2, SessionEvent::Resume, "1"),
            vec![
                hop_2("20s"),
                "track 160s hops=2 active=20s".into(),
                "record hops=2 20000ms 1 slices open".into(),
                "to-app resume \"1\"".into(),
            ],
        ),
        (
            "a millisecond more is two",
            live(state(1, 1), 159.999),
            inbound(2, SessionEvent::Resume, "1"),
            vec![
                hop_2("20.001s"),
                "track 159.999s hops=2 active=20.001s".into(),
                "record hops=2 20001ms 2 slices open".into(),
                "to-app resume \"1\"".into(),
            ],
        ),
        (
            "a hop without an MSISDN gets the session's",
            live(state(1, 1), 168.0),
            Input::Inbound({
                let mut m = from_phone(2, Some(SessionEvent::Resume), "1");
                m.from.clear();
                m
            }),
            vec![
                hop_2("12s"),
                "track 168s hops=2 active=12s".into(),
                "record hops=2 12000ms 1 slices open".into(),
                "to-app resume \"1\"".into(),
            ],
        ),
        (
            "a hop after the budget: the tracked record ends spent, the user gets the closing text",
            spent(state(1, 1)),
            inbound(2, SessionEvent::Resume, "1"),
            vec![
                "untrack".into(),
                "record hops=1 180000ms 9 slices budget_exhausted".into(),
                "log \"resume after the session budget; closing\"".into(),
                format!("answer Close {CLOSING:?}"),
            ],
        ),
        (
            "a hop with budget left for a session no longer stored: its state was lost; the \
             record ends abandoned at this hop (counted), the user gets the closing text",
            lost(active(state(2, 2), 30.0), 140.0),
            inbound(3, SessionEvent::Resume, "1"),
            vec![
                "untrack".into(),
                "record hops=3 40000ms 2 slices abandoned".into(),
                "log \"session state lost; closing\"".into(),
                format!("answer Close {CLOSING:?}"),
            ],
        ),
        (
            "a redelivered hop after the state was lost is not counted again",
            lost(active(state(2, 2), 30.0), 140.0),
            inbound(2, SessionEvent::Resume, "1"),
            vec![
                "untrack".into(),
                "record hops=2 40000ms 2 slices abandoned".into(),
                "log \"session state lost; closing\"".into(),
                format!("answer Close {CLOSING:?}"),
            ],
        ),
        (
            "a hop after the budget of a session this process does not track: only the closing text",
            gone(),
            inbound(2, SessionEvent::Resume, "1"),
            vec![
                "untrack".into(),
                "log \"resume after the session budget; closing\"".into(),
                format!("answer Close {CLOSING:?}"),
            ],
        ),
        (
            "an unreadable session refuses the hop",
            corrupt(100),
            inbound(2, SessionEvent::Resume, "1"),
            vec!["drop \"corrupt state for session s1\"".into()],
        ),
        (
            "\"more\" while paging shows the next page and keeps the rest",
            live(paging(state(1, 1), &["Page two", "Page three"], false), 170.0),
            inbound(2, SessionEvent::Resume, " 99 "),
            vec![
                format!("save-hop hops=2 flow=demo pages=[\"Page three\"] active=10s {SPENT_AFTER_1}"),
                "track 170s hops=2 flow=demo pages=[\"Page three\"] active=10s".into(),
                "record hops=2 10000ms 1 slices open".into(),
                "answer Resume \"Page two\\n99. More\" flow=demo".into(),
            ],
        ),
        (
            "the last page of a closing screen ends the session, recorded before the answer",
            live(paging(state(2, 2), &["Page three"], true), 150.0),
            inbound(3, SessionEvent::Resume, "99"),
            vec![
                format!(
                    "save-hop hops=3 flow=demo closing active=30s {}",
                    SPENT_AFTER_1.replace("hops=1", "hops=2")
                ),
                "track 150s hops=3 flow=demo closing active=30s".into(),
                "record hops=3 30000ms 2 slices open".into(),
                "record hops=3 30000ms 2 slices completed".into(),
                "remove".into(),
                "untrack".into(),
                "answer Close \"Page three\" flow=demo".into(),
            ],
        ),
        (
            "the last page of a menu waits for the answer",
            live(paging(state(2, 2), &["Page three"], false), 150.0),
            inbound(3, SessionEvent::Resume, "99"),
            vec![
                format!(
                    "save-hop hops=3 flow=demo active=30s {}",
                    SPENT_AFTER_1.replace("hops=1", "hops=2")
                ),
                "track 150s hops=3 flow=demo active=30s".into(),
                "record hops=3 30000ms 2 slices open".into(),
                "answer Resume \"Page three\" flow=demo".into(),
            ],
        ),
        (
            "an answer while paging goes to the flow and drops the pages",
            live(paging(state(1, 1), &["Page two"], true), 170.0),
            inbound(2, SessionEvent::Resume, "1"),
            vec![
                format!("save-hop hops=2 flow=demo closing active=10s {SPENT_AFTER_1}"),
                "track 170s hops=2 flow=demo closing active=10s".into(),
                "record hops=2 10000ms 1 slices open".into(),
                "to-app resume \"1\"".into(),
            ],
        ),
        (
            "\"more\" with nothing paged is an answer for the flow",
            live(state(1, 1), 170.0),
            inbound(2, SessionEvent::Resume, "99"),
            vec![
                hop_2("10s"),
                "track 170s hops=2 active=10s".into(),
                "record hops=2 10000ms 1 slices open".into(),
                "to-app resume \"99\"".into(),
            ],
        ),
        (
            "a connector's close ends the session with its reason, then the flow hears of it",
            live(state(1, 1), 176.0),
            closed_by(Some("hop_deadline")),
            vec![
                "record hops=1 4000ms 1 slices hop_deadline".into(),
                "remove".into(),
                "untrack".into(),
                "to-app close \"\"".into(),
            ],
        ),
        (
            "a network timeout",
            live(state(1, 1), 176.0),
            closed_by(Some("network_timeout")),
            vec![
                "record hops=1 4000ms 1 slices network_timeout".into(),
                "remove".into(),
                "untrack".into(),
                "to-app close \"\"".into(),
            ],
        ),
        (
            "a close without a reason is the user's",
            live(state(1, 1), 176.0),
            closed_by(None),
            vec![
                "record hops=1 4000ms 1 slices user_abort".into(),
                "remove".into(),
                "untrack".into(),
                "to-app close \"\"".into(),
            ],
        ),
        (
            "so is one with a reason we do not know",
            live(state(1, 1), 176.0),
            closed_by(Some("something new")),
            vec![
                "record hops=1 4000ms 1 slices user_abort".into(),
                "remove".into(),
                "untrack".into(),
                "to-app close \"\"".into(),
            ],
        ),
        (
            "a close of a session whose state was lost ends this process's copy with its reason",
            lost(active(state(2, 2), 6.0), 170.0),
            closed_by(Some("hop_deadline")),
            vec![
                "record hops=2 10000ms 1 slices hop_deadline".into(),
                "untrack".into(),
                "to-app close \"\"".into(),
            ],
        ),
        (
            "a close of a session this process does not know only reaches the flow",
            gone(),
            closed_by(Some("hop_deadline")),
            vec!["untrack".into(), "to-app close \"\"".into()],
        ),
        (
            "a close of an unreadable session removes it without a record",
            corrupt(100),
            closed_by(None),
            vec!["remove".into(), "untrack".into(), "to-app close \"\"".into()],
        ),
    ] {
        check(
            row,
            known,
            input,
            &expect.iter().map(String::as_str).collect::<Vec<_>>(),
        );
    }
}

#[test]
fn flow_replies() {
    const LONG: &str = "Line one\nLine two\nLine three\nLine four";
    for (row, known, input, expect) in [
        (
            "an SMS reply goes straight to the connector",
            Known::NONE,
            reply(None, "Thanks"),
            &["to-connector no-session \"Thanks\""][..],
        ),
        (
            "the first reply of a flow names the session's flow",
            live(state(1, 1), 180.0),
            reply(Some(SessionEvent::Resume), "Welcome"),
            &[
                "save hops=1 flow=demo",
                "track 180s hops=1 flow=demo",
                "to-connector resume \"Welcome\"",
            ],
        ),
        (
            "later replies of the same flow write nothing; this process's copy notes the activity",
            live(with_flow(state(2, 2)), 170.0),
            reply(Some(SessionEvent::Resume), "Next"),
            &[
                "track 170s hops=2 flow=demo active=10s",
                "to-connector resume \"Next\"",
            ],
        ),
        (
            "a closing reply ends the session as completed, recorded before the reply goes",
            live(with_flow(state(2, 2)), 154.7),
            reply(Some(SessionEvent::Close), "Thank you"),
            &[
                "record hops=2 25300ms 2 slices completed",
                "remove",
                "untrack",
                "to-connector close \"Thank you\"",
            ],
        ),
        (
            "a closing reply for a session whose state was lost ends this process's copy",
            lost(with_flow(active(state(2, 2), 12.0)), 150.0),
            reply(Some(SessionEvent::Close), "Thank you"),
            &[
                "record hops=2 30000ms 2 slices completed",
                "untrack",
                "to-connector close \"Thank you\"",
            ],
        ),
        (
            "a closing reply for a session this process does not know is still sent",
            gone(),
            reply(Some(SessionEvent::Close), "Thank you"),
            &["untrack", "to-connector close \"Thank you\""],
        ),
        (
            "a reply over the screen limit shows its first page with \"more\" and keeps the rest",
            live(state(1, 1), 175.0),
            reply(Some(SessionEvent::Resume), LONG),
            &[
                "save hops=1 flow=demo pages=[\"Line three\\nLine four\"] active=5s",
                "track 175s hops=1 flow=demo pages=[\"Line three\\nLine four\"] active=5s",
                "to-connector resume \"Line one\\nLine two\\n99. More\"",
            ],
        ),
        (
            "a closing one likewise, and remembers to close after its last page",
            live(state(1, 1), 175.0),
            reply(Some(SessionEvent::Close), LONG),
            &[
                "save hops=1 flow=demo pages=[\"Line three\\nLine four\"] closing active=5s",
                "track 175s hops=1 flow=demo pages=[\"Line three\\nLine four\"] closing active=5s",
                "to-connector resume \"Line one\\nLine two\\n99. More\"",
            ],
        ),
        (
            "a long reply for a session already gone goes out whole",
            gone(),
            reply(Some(SessionEvent::Resume), LONG),
            &["to-connector resume \"Line one\\nLine two\\nLine three\\nLine four\""],
        ),
        (
            "a reply to an unreadable session goes out whole and writes nothing",
            corrupt(100),
            reply(Some(SessionEvent::Resume), LONG),
            &["to-connector resume \"Line one\\nLine two\\nLine three\\nLine four\""],
        ),
    ] {
        check(row, known, input, expect);
    }
}

#[test]
fn sweeper_ticks() {
    for (row, known, expect) in [
        (
            "a tracked session gone from the store when its budget ran out: nobody asked again, \
             so it ends abandoned with what it used up to its last activity, not the budget",
            spent(with_flow(active(state(2, 2), 42.5))),
            &["record hops=2 42500ms 3 slices abandoned", "untrack"][..],
        ),
        (
            "likewise one whose state was lost early on",
            spent(active(state(1, 1), 3.0)),
            &["record hops=1 3000ms 1 slices abandoned", "untrack"],
        ),
        (
            "one still stored is looked at again when the store says it runs out",
            live(state(2, 2), 5.0),
            &["track 5s hops=2"],
        ),
        (
            "an unreadable one likewise, with the copy this process has",
            corrupt(5),
            &["track 5s hops=1"],
        ),
        (
            "one this process no longer tracks was ended by someone else",
            gone(),
            &[],
        ),
    ] {
        check(row, known, Input::Sweep, expect);
    }
}

#[test]
fn a_long_reply_on_a_channel_without_a_screen_limit_is_not_paged() {
    let rules = Rules {
        screen: None,
        ..rules()
    };
    let long = "x".repeat(500);
    let effects = step(
        &live(with_flow(state(1, 1)), 170.0),
        &reply(Some(SessionEvent::Resume), &long),
        now(),
        &rules,
    );
    assert_eq!(
        effects.iter().map(show).collect::<Vec<_>>(),
        [
            "track 170s hops=1 flow=demo active=10s".to_string(),
            format!("to-connector resume {long:?}")
        ]
    );
}
