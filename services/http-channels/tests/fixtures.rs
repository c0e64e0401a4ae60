//! Fixture-driven tests, one file per aggregator under `tests/fixtures/`: each hop's request
//! goes through the router, the inbound message published on the bus must match the fixture,
//! the fixture's reply is sent back as the flow would, and the HTTP answer must match. End
//! reports must publish the expected `Close`; malformed requests must get the fixture's 4xx
//! with a JSON error naming the problem, and publish nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: panics are failures

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use seedgate_proto::{Message, SessionEvent};
use seedgate_runtime::bus::memory::MemoryBus;
use seedgate_runtime::bus::Bus;
use seedgate_runtime::config::Config;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

fn fixtures() -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, serde_json::from_str(&text).unwrap())
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// A config with the fixture's channel as `ch` (written out and loaded as a user would).
fn config(channel: &Value) -> Config {
    let mut root = toml::Table::new();
    let mut channels = toml::Table::new();
    channels.insert("ch".into(), toml::Value::try_from(channel).unwrap());
    root.insert("channels".into(), toml::Value::Table(channels));
    // The SMPP server's demo account routes to the demo channels, which this config leaves out.
    let mut smpp = toml::Table::new();
    smpp.insert("enabled".into(), toml::Value::Boolean(false));
    root.insert("smpp_server".into(), toml::Value::Table(smpp));
    let path = std::env::temp_dir().join(format!("seedgate-fixture-{}.toml", uuid::Uuid::now_v7()));
    std::fs::write(&path, toml::to_string(&root).unwrap()).unwrap();
    let cfg = Config::load(Some(&path), std::iter::empty()).expect("the fixture's channel is valid config");
    let _ = std::fs::remove_file(&path);
    cfg
}

fn request(spec: &Value) -> Request<Body> {
    let method = spec["method"].as_str().unwrap_or("POST");
    let path = match spec["path"].as_str() {
        Some(p) if !p.is_empty() => format!("/channels/ch/callback/{p}"),
        _ => "/channels/ch/callback".to_string(),
    };
    let body = match &spec["body"] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", spec["content_type"].as_str().unwrap())
        .body(Body::from(body))
        .unwrap()
}

/// Every key of `want` is in `got` with the same value (objects compared the same way).
fn assert_subset(want: &Value, got: &Value, ctx: &str) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, v) in w {
                let gv = g
                    .get(k)
                    .unwrap_or_else(|| panic!("{ctx}: `{k}` missing in {got}"));
                assert_subset(v, gv, &format!("{ctx}.{k}"));
            }
        }
        _ => assert_eq!(want, got, "{ctx}"),
    }
}

fn check_message(want: &Value, msg: &Message, ctx: &str) {
    let event = match msg.session_event() {
        Some(SessionEvent::New) => "new",
        Some(SessionEvent::Resume) => "resume",
        Some(SessionEvent::Close) => "close",
        None => "none",
    };
    let got = serde_json::json!({
        "event": event,
        "session_id": msg.session_id(),
        "from": msg.from,
        "to": msg.to,
        "content": msg.content,
        "close_reason": msg.close_reason,
        "metadata": msg.metadata,
    });
    let mut want = want.clone();
    // Sessions keyed by MSISDN get a fresh id per dialog: the fixture gives its prefix.
    if let Some(prefix) = want.as_object_mut().and_then(|w| w.remove("session_id_prefix")) {
        let id = msg.session_id().unwrap_or_default();
        assert!(id.starts_with(prefix.as_str().unwrap()), "{ctx}: session id {id}");
    }
    assert_subset(&want, &got, ctx);
}

async fn response(resp: axum::response::Response) -> (StatusCode, Option<String>, Vec<u8>) {
    let status = resp.status();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 16).await.unwrap();
    (status, ct, bytes.to_vec())
}

async fn run_fixture(name: &str, fx: &Value) {
    let config = Arc::new(config(&fx["channel"]));
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
    seedgate_runtime::topology::declare(bus.as_ref(), &config)
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
    let app = seedgate_http_channels::app(channels);
    let mut inbound = bus
        .consume(seedgate_runtime::topology::SESSIONS_QUEUE, 10)
        .await
        .unwrap();

    for hop in fx["hops"].as_array().unwrap() {
        let ctx = format!("{name}: {}", hop["name"].as_str().unwrap());
        let call = tokio::spawn(app.clone().oneshot(request(&hop["request"])));
        let d = tokio::time::timeout(Duration::from_secs(5), inbound.next())
            .await
            .unwrap_or_else(|_| panic!("{ctx}: nothing published"))
            .unwrap();
        let msg: Message = serde_json::from_slice(&d.payload).unwrap();
        d.ack().await.unwrap();
        check_message(&hop["message"], &msg, &ctx);
        if let Some(reply) = hop.get("reply") {
            let event = if reply["close"].as_bool().unwrap() {
                SessionEvent::Close
            } else {
                SessionEvent::Resume
            };
            let out = msg.reply(reply["text"].as_str().unwrap(), event);
            bus.publish("ch.outbound", &serde_json::to_vec(&out).unwrap())
                .await
                .unwrap();
        }
        let (status, ct, body) = response(call.await.unwrap().unwrap()).await;
        let want = &hop["response"];
        assert_eq!(status.as_u16(), want["status"].as_u64().unwrap() as u16, "{ctx}");
        if let Some(text) = want.get("text") {
            assert_eq!(String::from_utf8(body).unwrap(), text.as_str().unwrap(), "{ctx}");
        } else {
            assert_eq!(ct.as_deref(), Some("application/json"), "{ctx}");
            let got: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(&got, &want["json"], "{ctx}");
        }
    }

    for bad in fx["malformed"].as_array().unwrap() {
        let ctx = format!("{name}: {}", bad["name"].as_str().unwrap());
        let (status, _, body) = response(app.clone().oneshot(request(&bad["request"])).await.unwrap()).await;
        assert_eq!(status.as_u16(), bad["status"].as_u64().unwrap() as u16, "{ctx}");
        let json: Value = serde_json::from_slice(&body).unwrap_or_else(|_| panic!("{ctx}: JSON error body"));
        let message = json["error"]["message"].as_str().unwrap();
        let needle = bad["error"].as_str().unwrap();
        assert!(
            message.contains(needle),
            "{ctx}: `{message}` should contain `{needle}`"
        );
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(100), inbound.next())
            .await
            .is_err(),
        "{name}: a malformed request published something"
    );
    shutdown.cancel();
}

#[tokio::test]
async fn every_aggregator_fixture_passes() {
    let all = fixtures();
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "africastalking",
        "arkesel",
        "generic_form",
        "generic_json",
        "hubtel",
        "infobip",
        "nalo",
    ] {
        assert!(names.contains(&expected), "fixture {expected}.json is missing");
    }
    for (name, fx) in &all {
        run_fixture(name, fx).await;
    }
}
