//! The HTTP API against a live `seedgate up`, on SQLite and on PostgreSQL: the contract (auth,
//! errors, sending, following, searching, idempotency, tokens, OpenAPI), signed webhooks with
//! retries and a dead-letter list, and per-token rate limits.

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)] // tests: panics are failures

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{at_post, env_for, error_of, eventually, free_port, temp_dir, Client, Gateway};
use serde_json::{json, Value};

fn token(dir: &std::path::Path, env: &[(String, String)], scopes: &str) -> String {
    common::create_token(dir, env, scopes)
}

async fn contract(backend: &str) {
    let dir = temp_dir(&format!("api-{backend}"));
    let env = env_for(backend, &[]);
    let admin = token(&dir, &env, "admin");
    let reader = token(&dir, &env, "read");
    let mut gw = Gateway::spawn(&["up"], &dir, &env);
    gw.ready(Duration::from_secs(10)).await;
    let c = Client {
        base: gw.base(),
        http: reqwest::Client::new(),
    };

    // The OpenAPI document is served without a token and names the routes.
    let (s, doc) = c.call("GET", "/api/v1/openapi.json", None, None, &[]).await;
    assert_eq!(s, 200);
    assert!(doc["paths"]["/api/v1/messages"]["post"].is_object(), "{doc}");
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());

    // Auth: missing, unknown, lacking a scope.
    let sms =
        json!({"channel": "demo-sms", "to": "+27820000101", "content": "Your clinic visit is on Monday."});
    let (s, b) = c
        .call("POST", "/api/v1/messages", None, Some(sms.clone()), &[])
        .await;
    assert_eq!((s, error_of(&b).0), (401, "unauthorized"));
    let (s, b) = c
        .call(
            "POST",
            "/api/v1/messages",
            Some("sg_nope"),
            Some(sms.clone()),
            &[],
        )
        .await;
    assert_eq!(
        (s, error_of(&b)),
        (401, ("unauthorized", "unknown or revoked token"))
    );
    let (s, b) = c
        .call("POST", "/api/v1/messages", Some(&reader), Some(sms.clone()), &[])
        .await;
    assert_eq!(s, 403);
    assert!(error_of(&b).1.contains("`send`"), "{b}");

    // Bad bodies and unknown channels get precise 4xx.
    let cases = [
        (
            json!({"channel": "demo-sms", "to": "+27820000101"}),
            400,
            "missing field `content`",
        ),
        (
            json!({"channel": "demo-sms", "to": "+27820000101", "content": 5}),
            400,
            "at `content`",
        ),
        (
            json!({"channel": "demo-sms", "to": "0800 CALL ME", "content": "x"}),
            400,
            "`to` must be an MSISDN",
        ),
        (
            json!({"channel": "demo-sms", "content": "x"}),
            400,
            "missing field `to`",
        ),
        (
            json!({"channel": "demo-sms", "to": "+27820000101", "content": "x", "colour": 1}),
            400,
            "unknown field `colour`",
        ),
        (
            json!({"channel": "nope", "to": "+27820000101", "content": "x"}),
            422,
            "no channel named `nope`",
        ),
        (
            json!({"channel": "demo-at", "to": "+27820000101", "content": "x"}),
            422,
            "USSD channel",
        ),
    ];
    for (body, status, needle) in cases {
        let (s, b) = c
            .call("POST", "/api/v1/messages", Some(&admin), Some(body.clone()), &[])
            .await;
        assert_eq!(s, status, "{body} -> {b}");
        assert!(error_of(&b).1.contains(needle), "{body} -> {b}");
    }
    // A body over the limit (64 KiB) is refused unread, in the same JSON shape.
    let huge = json!({"channel": "demo-sms", "to": "+27820000101", "content": "x".repeat(100 * 1024)});
    let (s, b) = c
        .call("POST", "/api/v1/messages", Some(&admin), Some(huge), &[])
        .await;
    assert_eq!((s, error_of(&b).0), (413, "too_large"), "{b}");
    let resp = c
        .http
        .post(format!("{}/api/v1/messages", c.base))
        .bearer_auth(&admin)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    let (s, b) = c
        .call("GET", "/api/v1/nothing-here", Some(&admin), None, &[])
        .await;
    assert_eq!((s, error_of(&b).0), (404, "not_found"));

    // Send: 202 once stored, then the simulated carrier acks and delivers it.
    let (s, sent) = c
        .call("POST", "/api/v1/messages", Some(&admin), Some(sms.clone()), &[])
        .await;
    assert_eq!(s, 202, "{sent}");
    assert_eq!(sent["status"], "queued");
    let id = sent["id"].as_str().unwrap().to_string();
    eventually("the message is delivered", Duration::from_secs(10), || {
        let c = &c;
        let (id, reader) = (id.clone(), reader.clone());
        async move {
            let (_, m) = c
                .call("GET", &format!("/api/v1/messages/{id}"), Some(&reader), None, &[])
                .await;
            m["status"] == "delivered"
        }
    })
    .await;
    let (_, m) = c
        .call("GET", &format!("/api/v1/messages/{id}"), Some(&reader), None, &[])
        .await;
    let kinds: Vec<&str> = m["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["ack", "delivery_report"], "{m}");
    assert_eq!(m["to"], "+27820000101");

    // Idempotency: the same request with the same key is one message; another body conflicts.
    let key = [("idempotency-key", "visit-reminder-42")];
    let (s1, a) = c
        .call("POST", "/api/v1/messages", Some(&admin), Some(sms.clone()), &key)
        .await;
    let (s2, b) = c
        .call("POST", "/api/v1/messages", Some(&admin), Some(sms.clone()), &key)
        .await;
    assert_eq!((s1, s2), (202, 202));
    assert_eq!(a["id"], b["id"], "a retry gets the first message back");
    let mut other = sms.clone();
    other["content"] = json!("something else");
    let (s, b) = c
        .call("POST", "/api/v1/messages", Some(&admin), Some(other), &key)
        .await;
    assert_eq!((s, error_of(&b).0), (409, "idempotency_key_reused"));

    // Search with a cursor, newest first.
    for n in 0..3 {
        let body = json!({"channel": "demo-sms", "to": "+27820000102", "content": format!("page {n}")});
        assert_eq!(
            c.call("POST", "/api/v1/messages", Some(&admin), Some(body), &[])
                .await
                .0,
            202
        );
    }
    let (s, page1) = c
        .call(
            "GET",
            "/api/v1/messages?address=%2B27820000102&limit=2",
            Some(&reader),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 200, "{page1}");
    let contents: Vec<&str> = page1["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["page 2", "page 1"]);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let (_, page2) = c
        .call(
            "GET",
            &format!("/api/v1/messages?address=%2B27820000102&limit=2&cursor={cursor}"),
            Some(&reader),
            None,
            &[],
        )
        .await;
    let contents: Vec<&str> = page2["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["page 0"]);
    assert!(page2.get("next_cursor").is_none());
    let (s, b) = c
        .call("GET", "/api/v1/messages?status=lost", Some(&reader), None, &[])
        .await;
    assert_eq!(s, 400);
    assert!(error_of(&b).1.contains("`status`"), "{b}");
    let (s, b) = c
        .call(
            "GET",
            "/api/v1/messages?since=yesterday",
            Some(&reader),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 400);
    assert!(error_of(&b).1.contains("RFC 3339"), "{b}");

    // Sessions with their billing, and a USSD reply through the API (session continue).
    at_post(&gw.base(), "ATUid_api", "+27820000103", "").await;
    at_post(&gw.base(), "ATUid_api", "+27820000103", "2").await;
    eventually("the session is listed", Duration::from_secs(10), || {
        let c = &c;
        let reader = reader.clone();
        async move {
            let (_, p) = c
                .call(
                    "GET",
                    "/api/v1/sessions?channel=demo-at",
                    Some(&reader),
                    None,
                    &[],
                )
                .await;
            p["items"].as_array().is_some_and(|i| {
                i.iter()
                    .any(|s| s["id"] == "demo-at:ATUid_api" && s["live"] == false)
            })
        }
    })
    .await;
    let (s, sess) = c
        .call(
            "GET",
            "/api/v1/sessions/demo-at:ATUid_api",
            Some(&reader),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        (
            sess["hops"].as_u64(),
            sess["slices"].as_u64(),
            sess["end_reason"].as_str()
        ),
        (Some(2), Some(1), Some("completed"))
    );

    // Channels.
    let (_, chans) = c.call("GET", "/api/v1/channels", Some(&reader), None, &[]).await;
    let names: Vec<&str> = chans
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"demo-at") && names.contains(&"demo-sms"),
        "{chans}"
    );
    let (s, _) = c
        .call("GET", "/api/v1/channels/nope", Some(&reader), None, &[])
        .await;
    assert_eq!(s, 404);

    // Tokens through the API: admin only; the new token works at once.
    let (s, _) = c
        .call(
            "POST",
            "/api/v1/tokens",
            Some(&reader),
            Some(json!({"name": "x", "scopes": ["read"]})),
            &[],
        )
        .await;
    assert_eq!(s, 403);
    let (s, b) = c
        .call(
            "POST",
            "/api/v1/tokens",
            Some(&admin),
            Some(json!({"name": "x", "scopes": ["root"]})),
            &[],
        )
        .await;
    assert_eq!(s, 400);
    assert!(error_of(&b).1.contains("unknown scope `root`"));
    let (s, created) = c
        .call(
            "POST",
            "/api/v1/tokens",
            Some(&admin),
            Some(json!({"name": "registry", "scopes": ["send"]})),
            &[],
        )
        .await;
    assert_eq!(s, 201, "{created}");
    let (s, _) = c
        .call(
            "POST",
            "/api/v1/messages",
            created["token"].as_str(),
            Some(sms),
            &[],
        )
        .await;
    assert_eq!(s, 202);

    assert!(gw.terminate().await.success(), "{:?}", gw.stderr());
    gw.assert_json_logs_without("+27820000101");
    gw.assert_json_logs_without(&admin);
}

#[tokio::test]
async fn the_api_contract_holds_on_sqlite() {
    contract("sqlite").await;
}

#[tokio::test]
async fn the_api_contract_holds_on_postgres() {
    contract("postgres").await;
}

/// A receiver that fails the first three attempts of each delivery, then takes it.
#[derive(Default)]
struct Receiver {
    attempts: Mutex<std::collections::HashMap<String, u32>>,
    accepted: Mutex<Vec<(String, Value)>>,
    bad_signatures: Mutex<u32>,
}

async fn receive(
    axum::extract::State(r): axum::extract::State<Arc<Receiver>>,
    headers: axum::http::HeaderMap,
    body: String,
) -> axum::http::StatusCode {
    let h = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let ts: i64 = h("x-seedgate-timestamp").parse().unwrap_or(0);
    let want = seedgate_api::webhooks::signature("hook-secret", ts, &body);
    if h("x-seedgate-signature") != want || (chrono::Utc::now().timestamp() - ts).abs() > 300 {
        *r.bad_signatures.lock().unwrap() += 1;
        return axum::http::StatusCode::UNAUTHORIZED;
    }
    let delivery = h("x-seedgate-delivery");
    let n = {
        let mut a = r.attempts.lock().unwrap();
        let n = a.entry(delivery.clone()).or_default();
        *n += 1;
        *n
    };
    if n <= 3 {
        return axum::http::StatusCode::SERVICE_UNAVAILABLE;
    }
    r.accepted
        .lock()
        .unwrap()
        .push((delivery, serde_json::from_str(&body).unwrap()));
    axum::http::StatusCode::OK
}

#[tokio::test]
async fn webhooks_are_signed_retried_until_taken_and_dead_lettered() {
    let receiver = Arc::new(Receiver::default());
    let port = free_port();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let dead_port = free_port(); // nothing listens here

    let dir = temp_dir("webhooks");
    let env = env_for(
        "sqlite",
        &[
            (
                "SEEDGATE_CHANNELS__DEMO_SMS__WEBHOOKS__EVENTS",
                format!("http://127.0.0.1:{port}/hook"),
            ),
            (
                "SEEDGATE_CHANNELS__DEMO_SMS__WEBHOOKS__SECRET",
                "hook-secret".into(),
            ),
            (
                "SEEDGATE_CHANNELS__DEMO_AT__WEBHOOKS__INBOUND",
                format!("http://127.0.0.1:{dead_port}/gone"),
            ),
            ("SEEDGATE_CHANNELS__DEMO_AT__WEBHOOKS__SECRET", "other".into()),
            ("SEEDGATE_API__WEBHOOK_BACKOFF_MS", "100".into()),
            ("SEEDGATE_API__WEBHOOK_MAX_ATTEMPTS", "5".into()),
        ],
    );
    let admin = token(&dir, &env, "admin");
    let mut gw = Gateway::spawn(&["up"], &dir, &env);
    gw.ready(Duration::from_secs(10)).await;
    let c = Client {
        base: gw.base(),
        http: reqwest::Client::new(),
    };
    let (s, sent) = c
        .call(
            "POST",
            "/api/v1/messages",
            Some(&admin),
            Some(json!({"channel": "demo-sms", "to": "+27820000201", "content": "hi"})),
            &[],
        )
        .await;
    assert_eq!(s, 202);
    let id = sent["id"].as_str().unwrap().to_string();
    // The ack and the delivery report: each taken once, on its fourth attempt.
    eventually("both events delivered", Duration::from_secs(20), || {
        let r = receiver.clone();
        async move { r.accepted.lock().unwrap().len() >= 2 }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await; // nothing more may come
    let accepted = receiver.accepted.lock().unwrap().clone();
    assert_eq!(accepted.len(), 2, "{accepted:#?}");
    let kinds: Vec<&str> = accepted
        .iter()
        .map(|(_, e)| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["ack", "delivery_report"]);
    assert!(accepted.iter().all(|(_, e)| e["message_id"] == id.as_str()));
    let event_ids: std::collections::HashSet<&str> =
        accepted.iter().map(|(_, e)| e["id"].as_str().unwrap()).collect();
    assert_eq!(event_ids.len(), 2, "each event once");
    assert!(receiver.attempts.lock().unwrap().values().all(|n| *n == 4));
    assert_eq!(*receiver.bad_signatures.lock().unwrap(), 0);

    // An inbound webhook to a dead URL ends on the dead-letter list, and can be replayed.
    at_post(&gw.base(), "ATUid_hook", "+27820000202", "").await;
    let dead = Arc::new(Mutex::new(Value::Null));
    eventually("the job is dead-lettered", Duration::from_secs(20), || {
        let (c, admin, dead) = (&c, admin.clone(), dead.clone());
        async move {
            let (_, d) = c
                .call("GET", "/api/v1/webhooks/dead", Some(&admin), None, &[])
                .await;
            let ok = d.as_array().is_some_and(|a| !a.is_empty());
            *dead.lock().unwrap() = d;
            ok
        }
    })
    .await;
    let d = dead.lock().unwrap().clone();
    assert_eq!(d[0]["attempts"], 5);
    assert_eq!(d[0]["kind"], "inbound");
    assert!(d[0]["last_error"].as_str().unwrap().contains("refused"), "{d}");
    let job = d[0]["id"].as_str().unwrap();
    let (s, _) = c
        .call(
            "POST",
            &format!("/api/v1/webhooks/{job}/replay"),
            Some(&admin),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 202);
    let (s, _) = c
        .call(
            "POST",
            &format!("/api/v1/webhooks/{}/replay", uuid::Uuid::now_v7()),
            Some(&admin),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 404);
    assert!(gw.terminate().await.success());
}

#[tokio::test]
async fn each_token_is_rate_limited_with_a_429() {
    let dir = temp_dir("ratelimit");
    let env = env_for(
        "sqlite",
        &[
            ("SEEDGATE_API__RATE_PER_SEC", "1".into()),
            ("SEEDGATE_API__BURST", "3".into()),
        ],
    );
    let a = token(&dir, &env, "read");
    let b = token(&dir, &env, "read");
    let mut gw = Gateway::spawn(&["up"], &dir, &env);
    gw.ready(Duration::from_secs(10)).await;
    let c = Client {
        base: gw.base(),
        http: reqwest::Client::new(),
    };
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(c.call("GET", "/api/v1/channels", Some(&a), None, &[]).await.0);
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    let resp = c
        .http
        .get(format!("{}/api/v1/channels", c.base))
        .bearer_auth(&a)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["retry-after"], "1");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(error_of(&body).0, "rate_limited");
    assert_eq!(
        c.call("GET", "/api/v1/channels", Some(&b), None, &[]).await.0,
        200,
        "another token has its own bucket"
    );
    assert!(gw.terminate().await.success());
}
