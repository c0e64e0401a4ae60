//! The Africa's Talking endpoint through its router (no socket), on tokio's paused clock and
//! the in-process bus: replies come back as `CON`/`END`, and a hop nobody answers gets the
//! fallback within the hop deadline.

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)] // tests: panics are failures

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use seedgate_proto::{EventKind, Message, SessionEndReason, SessionEvent};
use seedgate_runtime::bus::memory::MemoryBus;
use seedgate_runtime::bus::{Bus, QueueSpec};
use seedgate_runtime::config::Config;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

async fn setup() -> (Arc<dyn Bus>, axum::Router, CancellationToken) {
    let config = Arc::new(Config::default());
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
    seedgate_runtime::topology::declare(bus.as_ref(), &config)
        .await
        .unwrap();
    bus.declare(&QueueSpec::new("test.events", ["*.event"]))
        .await
        .unwrap();
    let channels = seedgate_http_channels::Channels::new(
        config.clone(),
        seedgate_runtime::channels::Registry::new(&config),
        bus.clone(),
        Some(Arc::new(
            seedgate_runtime::session_store::memory::MemorySessionStore::new(),
        )),
        seedgate_runtime::monitor::Monitor::new(),
    );
    let shutdown = CancellationToken::new();
    tokio::spawn(seedgate_http_channels::run(channels.clone(), shutdown.clone()));
    (bus, seedgate_http_channels::app(channels), shutdown)
}

fn at_request(channel: &str, body: &str) -> Request<Body> {
    Request::post(format!("/channels/{channel}/callback"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body.to_string()))
        .unwrap()
}

async fn text(resp: axum::response::Response) -> (StatusCode, String) {
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 16).await.unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test(start_paused = true)]
async fn a_reply_in_time_is_answered_with_con_or_end() {
    let (bus, app, _shutdown) = setup().await;
    let mut sessions = bus.consume("sessions", 10).await.unwrap();
    let mut events = bus.consume("test.events", 10).await.unwrap();
    let responder = tokio::spawn({
        let bus = bus.clone();
        async move {
            let d = sessions.next().await.unwrap();
            let inbound: Message = serde_json::from_slice(&d.payload).unwrap();
            d.ack().await.unwrap();
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let reply = inbound.reply("Welcome\n1. Register", SessionEvent::Resume);
            bus.publish("demo-at.outbound", &serde_json::to_vec(&reply).unwrap())
                .await
                .unwrap();
            reply.id
        }
    });
    let resp = app
        .oneshot(at_request(
            "demo-at",
            "sessionId=s1&serviceCode=*134*550%23&phoneNumber=%2B27820000001&networkCode=65501&text=",
        ))
        .await
        .unwrap();
    assert_eq!(
        text(resp).await,
        (StatusCode::OK, "CON Welcome\n1. Register".to_string())
    );
    let reply_id = responder.await.unwrap();
    let d = events.next().await.unwrap();
    let ev: seedgate_proto::Event = serde_json::from_slice(&d.payload).unwrap();
    assert_eq!(
        (ev.message_id, ev.kind),
        (reply_id, EventKind::Ack { carrier_id: None })
    );
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_hop_gets_the_fallback_at_the_deadline_and_closes_the_session() {
    let (bus, app, _shutdown) = setup().await;
    let mut sessions = bus.consume("sessions", 10).await.unwrap();
    let started = tokio::time::Instant::now();
    let resp = app
        .oneshot(at_request(
            "demo-at",
            "sessionId=s2&serviceCode=*134*550%23&phoneNumber=%2B27820000001&networkCode=65501&text=1",
        ))
        .await
        .unwrap();
    let waited = started.elapsed();
    let (status, body) = text(resp).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        format!("END {}", Config::default().channels["demo-at"].fallback_text)
    );
    assert_eq!(
        waited,
        Duration::from_millis(4000),
        "answered exactly at the default 4 s hop deadline"
    );

    let hop: Message = serde_json::from_slice(&sessions.next().await.unwrap().payload).unwrap();
    assert_eq!(hop.session_event(), Some(SessionEvent::Resume));
    let close: Message = serde_json::from_slice(&sessions.next().await.unwrap().payload).unwrap();
    assert_eq!(close.session_event(), Some(SessionEvent::Close));
    assert_eq!(close.session_id(), hop.session_id());
    assert_eq!(close.close_reason, Some(SessionEndReason::HopDeadline));
}

#[tokio::test(start_paused = true)]
async fn a_late_reply_is_nacked_not_lost_silently() {
    let (bus, app, _shutdown) = setup().await;
    let mut sessions = bus.consume("sessions", 10).await.unwrap();
    let mut events = bus.consume("test.events", 10).await.unwrap();
    let resp = app
        .oneshot(at_request(
            "demo-at",
            "sessionId=s3&serviceCode=x&phoneNumber=%2B27820000001&text=",
        ))
        .await
        .unwrap();
    assert!(text(resp).await.1.starts_with("END "));
    let inbound: Message = serde_json::from_slice(&sessions.next().await.unwrap().payload).unwrap();
    let late = inbound.reply("too late", SessionEvent::Resume);
    bus.publish("demo-at.outbound", &serde_json::to_vec(&late).unwrap())
        .await
        .unwrap();
    let ev: seedgate_proto::Event = serde_json::from_slice(&events.next().await.unwrap().payload).unwrap();
    assert_eq!(ev.message_id, late.id);
    assert!(matches!(ev.kind, EventKind::Nack { .. }), "{ev:?}");
}

#[tokio::test]
async fn bad_requests_get_precise_json_errors_and_publish_nothing() {
    let (bus, app, _shutdown) = setup().await;
    let mut sessions = bus.consume("sessions", 10).await.unwrap();
    let cases = [
        (
            at_request("demo-at", "serviceCode=x&phoneNumber=1&text="),
            StatusCode::BAD_REQUEST,
            "missing field `sessionId`",
        ),
        (
            at_request("nope", "sessionId=a&serviceCode=x&phoneNumber=1&text="),
            StatusCode::NOT_FOUND,
            "no channel named `nope`",
        ),
        (
            Request::post("/channels/demo-at/callback")
                .header("content-type", "application/json")
                .body(Body::from("{}"))
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "application/x-www-form-urlencoded",
        ),
    ];
    for (req, status, needle) in cases {
        let (got, body) = text(app.clone().oneshot(req).await.unwrap()).await;
        assert_eq!(got, status, "{body}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(
            json["error"]["message"].as_str().unwrap().contains(needle),
            "{body}"
        );
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(200), sessions.next())
            .await
            .is_err(),
        "nothing was published"
    );
}
