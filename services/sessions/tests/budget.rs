//! The session engine on tokio's paused clock, with the in-process bus and session store:
//! budgets, 20 s slices, end reasons and the closing text, with time driven by the test.

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)] // tests: panics are failures

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::hop;
use seedgate_proto::{Message, SessionEndReason, SessionEvent, SessionRecord};
use seedgate_runtime::bus::memory::MemoryBus;
use seedgate_runtime::bus::{Bus, QueueSpec, Subscription};
use seedgate_runtime::config::Config;
use seedgate_runtime::session_store::memory::MemorySessionStore;
use tokio_util::sync::CancellationToken;

struct Harness {
    bus: Arc<dyn Bus>,
    /// The session store the engine uses: a test empties keys as a Redis restart would.
    store: Arc<MemorySessionStore>,
    app: Subscription,
    out: Subscription,
    records: Subscription,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), seedgate_runtime::bus::BusError>>,
}

async fn start() -> Harness {
    start_with(Config::default()).await
}

async fn start_with(config: Config) -> Harness {
    start_with_clock(config, Arc::new(chrono::Utc::now)).await
}

async fn start_with_clock(config: Config, wall: seedgate_sessions::WallClock) -> Harness {
    let config = Arc::new(config);
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
    seedgate_runtime::topology::declare(bus.as_ref(), &config)
        .await
        .unwrap();
    bus.declare(&QueueSpec::new("test.records", ["*.session"]))
        .await
        .unwrap();
    let app = bus
        .consume(seedgate_runtime::topology::FLOWS_QUEUE, 100)
        .await
        .unwrap();
    let out = bus
        .consume(
            &seedgate_runtime::topology::channel_outbound_queue("demo-at"),
            100,
        )
        .await
        .unwrap();
    let records = bus.consume("test.records", 100).await.unwrap();
    let shutdown = CancellationToken::new();
    let store = Arc::new(MemorySessionStore::new());
    let task = tokio::spawn(seedgate_sessions::run_with_clock(
        config.clone(),
        seedgate_runtime::channels::Registry::new(&config),
        bus.clone(),
        store.clone(),
        shutdown.clone(),
        wall,
    ));
    Harness {
        bus,
        store,
        app,
        out,
        records,
        shutdown,
        task,
    }
}

async fn next(sub: &mut Subscription) -> Message {
    let d = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("a delivery")
        .unwrap();
    let m = serde_json::from_slice(&d.payload).unwrap();
    d.ack().await.unwrap();
    m
}

async fn next_record(h: &mut Harness) -> SessionRecord {
    let d = tokio::time::timeout(Duration::from_secs(5), h.records.next())
        .await
        .expect("a record")
        .unwrap();
    let r = serde_json::from_slice(&d.payload).unwrap();
    d.ack().await.unwrap();
    r
}

async fn send(h: &Harness, m: &Message) {
    h.bus
        .publish("demo-at.inbound", &serde_json::to_vec(m).unwrap())
        .await
        .unwrap();
}

async fn reply(h: &Harness, to: &Message, text: &str, event: SessionEvent) {
    let mut r = to.reply(text, event);
    r.metadata.insert("flow".into(), "demo".into());
    h.bus
        .publish("demo-at.app.outbound", &serde_json::to_vec(&r).unwrap())
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_completed_session_records_hops_duration_and_slices() {
    let mut h = start().await;
    let dial = hop("s1", SessionEvent::New, "");
    send(&h, &dial).await;
    assert_eq!(next(&mut h.app).await.id, dial.id, "forwarded to the flow runner");
    let r = next_record(&mut h).await;
    assert_eq!((r.hops, r.end_reason, r.slices), (1, None, 1));
    reply(&h, &dial, "Welcome", SessionEvent::Resume).await;
    assert_eq!(next(&mut h.out).await.content, "Welcome");

    tokio::time::sleep(Duration::from_secs(12)).await;
    let second = hop("s1", SessionEvent::Resume, "1");
    send(&h, &second).await;
    next(&mut h.app).await;
    let r = next_record(&mut h).await;
    assert_eq!((r.hops, r.duration_ms), (2, 12_000));

    tokio::time::sleep(Duration::from_millis(13_300)).await;
    reply(&h, &second, "Thank you", SessionEvent::Close).await;
    let out = next(&mut h.out).await;
    assert_eq!(
        (out.content.as_str(), out.session_event()),
        ("Thank you", Some(SessionEvent::Close))
    );
    let r = next_record(&mut h).await;
    assert_eq!(r.end_reason, Some(SessionEndReason::Completed));
    assert_eq!((r.hops, r.duration_ms, r.slices), (2, 25_300, 2));
    assert_eq!(r.flow.as_deref(), Some("demo"));
    assert!(r.ended_at.is_some());
    h.shutdown.cancel();
    h.task.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn no_session_outlives_its_budget() {
    let mut h = start().await;
    let dial = hop("s2", SessionEvent::New, "");
    send(&h, &dial).await;
    next(&mut h.app).await;
    next_record(&mut h).await;
    tokio::time::sleep(Duration::from_secs(170)).await;
    send(&h, &hop("s2", SessionEvent::Resume, "1")).await;
    next(&mut h.app).await;
    assert_eq!(
        next_record(&mut h).await.end_reason,
        None,
        "still within budget at 170 s"
    );

    // The user goes quiet; the sweeper closes the record once 180 s are spent, billed to the
    // last hop: nobody asked again.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let r = next_record(&mut h).await;
    assert_eq!(r.end_reason, Some(SessionEndReason::Abandoned));
    assert_eq!((r.duration_ms, r.slices, r.hops), (170_000, 9, 2));

    // A late request gets the closing text and a close, never the flow.
    let late = hop("s2", SessionEvent::Resume, "2");
    send(&h, &late).await;
    let out = next(&mut h.out).await;
    assert_eq!(out.session_event(), Some(SessionEvent::Close));
    assert_eq!(out.in_reply_to, Some(late.id));
    assert!(out.content.contains("timed out"), "{}", out.content);
    assert!(
        tokio::time::timeout(Duration::from_secs(2), h.app.next())
            .await
            .is_err(),
        "the flow runner never sees it"
    );
    h.shutdown.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_connector_close_ends_the_session_with_its_reason() {
    let mut h = start().await;
    let dial = hop("s3", SessionEvent::New, "");
    send(&h, &dial).await;
    next(&mut h.app).await;
    next_record(&mut h).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut close = hop("s3", SessionEvent::Close, "");
    close.close_reason = Some(SessionEndReason::HopDeadline);
    send(&h, &close).await;
    assert_eq!(
        next(&mut h.app).await.session_event(),
        Some(SessionEvent::Close),
        "the flow runner hears of it"
    );
    let r = next_record(&mut h).await;
    assert_eq!(
        (r.end_reason, r.duration_ms, r.slices),
        (Some(SessionEndReason::HopDeadline), 4_000, 1)
    );
    h.shutdown.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_repeated_start_or_redelivered_hop_counts_once() {
    let mut h = start().await;
    let dial = hop("s4", SessionEvent::New, "");
    send(&h, &dial).await;
    send(&h, &dial).await;
    next(&mut h.app).await;
    next(&mut h.app).await;
    assert_eq!(next_record(&mut h).await.hops, 1);
    let second = hop("s4", SessionEvent::Resume, "1");
    send(&h, &second).await;
    send(&h, &second).await;
    next(&mut h.app).await;
    next(&mut h.app).await;
    assert_eq!(next_record(&mut h).await.hops, 2);
    assert_eq!(
        next_record(&mut h).await.hops,
        2,
        "the redelivered hop is not counted again"
    );
    h.shutdown.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_screen_over_the_limit_is_paged_with_more_and_ends_on_its_last_page() {
    let mut h = start().await;
    let dial = hop("s5", SessionEvent::New, "");
    send(&h, &dial).await;
    next(&mut h.app).await;
    next_record(&mut h).await;
    let long: String = (1..=12)
        .map(|i| format!("Week {i}: visit the clinic and take your iron tablets."))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(long.chars().count() > 500);
    reply(&h, &dial, &long, SessionEvent::Close).await;

    let mut shown = Vec::new();
    loop {
        let out = next(&mut h.out).await;
        assert!(
            out.content.chars().count() <= 182,
            "{} chars",
            out.content.chars().count()
        );
        let last = out.session_event() == Some(SessionEvent::Close);
        shown.push(out.content.trim_end_matches("\n99. More").to_string());
        if last {
            break;
        }
        assert!(out.content.ends_with("\n99. More"), "{:?}", out.content);
        send(&h, &hop("s5", SessionEvent::Resume, "99")).await;
        let r = next_record(&mut h).await;
        assert_eq!(r.end_reason, None, "not ended before its last page");
    }
    assert!(shown.len() >= 3, "{} pages", shown.len());
    assert_eq!(shown.join("\n"), long, "every line shown once, in order");
    assert!(
        tokio::time::timeout(Duration::from_secs(1), h.app.next())
            .await
            .is_err(),
        "the flow never saw the 99s"
    );
    let r = next_record(&mut h).await;
    assert_eq!(r.end_reason, Some(SessionEndReason::Completed));
    assert_eq!(r.hops as usize, shown.len());
    h.shutdown.cancel();
}

#[tokio::test(start_paused = true)]
async fn an_answer_while_paging_goes_to_the_flow() {
    let mut h = start().await;
    let dial = hop("s6", SessionEvent::New, "");
    send(&h, &dial).await;
    next(&mut h.app).await;
    next_record(&mut h).await;
    let menu = format!("{}\n1. Yes\n2. No", "Are you pregnant? ".repeat(12));
    reply(&h, &dial, &menu, SessionEvent::Resume).await;
    assert!(next(&mut h.out).await.content.ends_with("99. More"));
    let answer = hop("s6", SessionEvent::Resume, "1");
    send(&h, &answer).await;
    assert_eq!(
        next(&mut h.app).await.content,
        "1",
        "an answer, not a page request, reaches the flow"
    );
    h.shutdown.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_channel_can_have_its_own_budget() {
    let mut config = Config::default();
    config.channels.get_mut("demo-at").unwrap().budget_secs = Some(60);
    let mut h = start_with(config).await;
    send(&h, &hop("s7", SessionEvent::New, "")).await;
    next(&mut h.app).await;
    next_record(&mut h).await; // the session's opening record
    tokio::time::sleep(Duration::from_secs(62)).await;
    let r = next_record(&mut h).await;
    assert_eq!(
        (r.end_reason, r.duration_ms, r.slices),
        (Some(SessionEndReason::Abandoned), 0, 1),
        "closed at 60 s, not 180 s, billed to the dial"
    );
    // A late request is past the channel's budget.
    let late = hop("s7", SessionEvent::Resume, "1");
    send(&h, &late).await;
    assert_eq!(next(&mut h.out).await.session_event(), Some(SessionEvent::Close));
    h.shutdown.cancel();
}

/// A 50 s session with three hops, on a wall clock that jumps by `jump` seconds 10 s in.
async fn session_with_wall_clock_jump(jump: i64) -> SessionRecord {
    let offset = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let base = chrono::Utc::now();
    let origin = tokio::time::Instant::now();
    let wall: seedgate_sessions::WallClock = {
        let offset = offset.clone();
        Arc::new(move || {
            let ran = chrono::Duration::from_std(origin.elapsed()).unwrap();
            base + ran + chrono::Duration::seconds(offset.load(std::sync::atomic::Ordering::SeqCst))
        })
    };
    let mut h = start_with_clock(Config::default(), wall).await;
    let dial = hop("jump", SessionEvent::New, "");
    send(&h, &dial).await;
    next(&mut h.app).await;
    let first = next_record(&mut h).await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    offset.store(jump, std::sync::atomic::Ordering::SeqCst); // NTP, or a VM resumed
    let second = hop("jump", SessionEvent::Resume, "1");
    send(&h, &second).await;
    next(&mut h.app).await;
    next_record(&mut h).await;
    tokio::time::sleep(Duration::from_secs(40)).await;
    reply(&h, &second, "Bye", SessionEvent::Close).await;
    next(&mut h.out).await;
    let last = next_record(&mut h).await;
    assert_eq!(last.started_at, first.started_at);
    h.shutdown.cancel();
    last
}

#[tokio::test(start_paused = true)]
async fn a_wall_clock_jump_of_an_hour_changes_no_budget_or_slice() {
    for jump in [3600, -3600] {
        let r = session_with_wall_clock_jump(jump).await;
        assert_eq!(
            (r.duration_ms, r.slices, r.hops, r.end_reason),
            (50_000, 3, 2, Some(SessionEndReason::Completed)),
            "jump {jump} s"
        );
        // The wall clock did jump: the shown end is an hour off the start plus 50 s.
        let shown = (r.ended_at.unwrap() - r.started_at).num_seconds();
        assert_eq!(shown, 50 + jump, "jump {jump} s");
    }
    // And the budget still runs out at 180 s of monotonic time, jump or not.
    let offset = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let wall: seedgate_sessions::WallClock = {
        let offset = offset.clone();
        Arc::new(move || {
            chrono::Utc::now() + chrono::Duration::seconds(offset.load(std::sync::atomic::Ordering::SeqCst))
        })
    };
    let mut h = start_with_clock(Config::default(), wall).await;
    send(&h, &hop("jump2", SessionEvent::New, "")).await;
    next(&mut h.app).await;
    next_record(&mut h).await;
    offset.store(-3600, std::sync::atomic::Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(30)).await;
    send(&h, &hop("jump2", SessionEvent::Resume, "1")).await;
    next(&mut h.app).await;
    next_record(&mut h).await;
    tokio::time::sleep(Duration::from_secs(149)).await;
    assert!(
        tokio::time::timeout(Duration::ZERO, h.records.next())
            .await
            .is_err(),
        "still open at 179 s"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let r = next_record(&mut h).await;
    assert_eq!(
        (r.end_reason, r.duration_ms, r.slices),
        (Some(SessionEndReason::Abandoned), 30_000, 2)
    );
    h.shutdown.cancel();
}

#[tokio::test(start_paused = true)]
async fn gateway_close_reasons_are_recorded() {
    let mut h = start().await;
    for (i, reason, want) in [
        (0, "network_timeout", SessionEndReason::NetworkTimeout),
        (1, "gateway_error", SessionEndReason::GatewayError),
        (2, "something new", SessionEndReason::UserAbort),
    ] {
        let id = format!("gw{i}");
        send(&h, &hop(&id, SessionEvent::New, "")).await;
        next(&mut h.app).await;
        next_record(&mut h).await;
        let mut close = hop(&id, SessionEvent::Close, "");
        // As a connector before the typed `close_reason` wrote it: still understood.
        close.metadata.insert("reason".into(), reason.into());
        send(&h, &close).await;
        next(&mut h.app).await;
        assert_eq!(next_record(&mut h).await.end_reason, Some(want), "{reason}");
    }
    h.shutdown.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_resume_without_an_msisdn_gets_it_from_the_session() {
    let mut h = start().await;
    send(&h, &hop("nomsisdn", SessionEvent::New, "")).await;
    next(&mut h.app).await;
    next_record(&mut h).await;
    let mut second = hop("nomsisdn", SessionEvent::Resume, "1");
    second.from.clear();
    send(&h, &second).await;
    assert_eq!(next(&mut h.app).await.from, "+27820000001");
    h.shutdown.cancel();
}

/// Dials session `id`, shows the flow's first screen and answers it `secs_in` later with its
/// screen: a session two hops in, last active at `secs_in`.
async fn two_hops_in(h: &mut Harness, id: &str, secs_in: u64) -> Message {
    let dial = hop(id, SessionEvent::New, "");
    send(h, &dial).await;
    next(&mut h.app).await;
    next_record(h).await;
    reply(h, &dial, "Welcome", SessionEvent::Resume).await;
    next(&mut h.out).await;
    tokio::time::sleep(Duration::from_secs(secs_in)).await;
    let second = hop(id, SessionEvent::Resume, "1");
    send(h, &second).await;
    next(&mut h.app).await;
    assert_eq!(next_record(h).await.end_reason, None);
    second
}

/// The session store loses `id`'s state, as Redis restarted without persistence does.
async fn lose_state(h: &Harness, id: &str) {
    use seedgate_runtime::session_store::SessionStore;
    assert!(h.store.remove(&format!("session:{id}")).await.unwrap().is_some());
}

#[tokio::test(start_paused = true)]
async fn a_session_that_goes_quiet_is_billed_to_its_last_activity_not_its_budget() {
    let mut h = start().await;
    let second = two_hops_in(&mut h, "quiet", 50).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    reply(&h, &second, "Are you pregnant?", SessionEvent::Resume).await;
    next(&mut h.out).await;
    // Nobody asks again: at the budget the record closes, at the last screen shown (51 s).
    tokio::time::sleep(Duration::from_secs(131)).await;
    let r = next_record(&mut h).await;
    assert_eq!(
        (r.end_reason, r.duration_ms, r.slices, r.hops),
        (Some(SessionEndReason::Abandoned), 51_000, 3, 2)
    );
    h.shutdown.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_session_whose_state_is_lost_closes_with_its_real_duration_when_the_user_returns() {
    let mut h = start().await;
    let second = two_hops_in(&mut h, "lost1", 12).await;
    reply(&h, &second, "Are you pregnant?", SessionEvent::Resume).await;
    next(&mut h.out).await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    lose_state(&h, "lost1").await;

    tokio::time::sleep(Duration::from_secs(10)).await;
    let third = hop("lost1", SessionEvent::Resume, "1");
    send(&h, &third).await;
    let out = next(&mut h.out).await;
    assert_eq!(
        (out.in_reply_to, out.session_event()),
        (Some(third.id), Some(SessionEvent::Close)),
        "the user gets the closing text at once"
    );
    let r = next_record(&mut h).await;
    assert_eq!(
        (r.end_reason, r.duration_ms, r.slices, r.hops),
        (Some(SessionEndReason::Abandoned), 30_000, 2, 3),
        "not the 180 s budget"
    );
    assert!(r.ended_at.is_some());
    assert!(
        tokio::time::timeout(Duration::from_secs(200), h.records.next())
            .await
            .is_err(),
        "closed once: the sweeper has nothing left to close"
    );
    h.shutdown.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_session_whose_state_is_lost_and_never_asked_again_closes_at_its_last_activity() {
    let mut h = start().await;
    let second = two_hops_in(&mut h, "lost2", 25).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    reply(&h, &second, "Are you pregnant?", SessionEvent::Resume).await;
    next(&mut h.out).await;
    lose_state(&h, "lost2").await;
    let started = tokio::time::Instant::now();
    let d = tokio::time::timeout(Duration::from_secs(200), h.records.next())
        .await
        .expect("the sweeper closes it")
        .unwrap();
    let r: SessionRecord = serde_json::from_slice(&d.payload).unwrap();
    assert_eq!(
        (r.end_reason, r.duration_ms, r.slices, r.hops),
        (Some(SessionEndReason::Abandoned), 26_000, 2, 2)
    );
    assert!(
        started.elapsed() <= Duration::from_secs(156),
        "closed by the budget's end: {:?} after the loss",
        started.elapsed()
    );
    h.shutdown.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_connector_close_after_the_state_was_lost_still_closes_the_record() {
    let mut h = start().await;
    two_hops_in(&mut h, "lost3", 8).await;
    lose_state(&h, "lost3").await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut close = hop("lost3", SessionEvent::Close, "");
    close.close_reason = Some(SessionEndReason::HopDeadline);
    send(&h, &close).await;
    next(&mut h.app).await;
    let r = next_record(&mut h).await;
    assert_eq!(
        (r.end_reason, r.duration_ms, r.slices, r.hops),
        (Some(SessionEndReason::HopDeadline), 12_000, 1, 2)
    );
    h.shutdown.cancel();
}
