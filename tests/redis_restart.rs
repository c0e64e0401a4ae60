//! A Redis restart (without persistence: every session key is lost) under live USSD sessions
//! of the split deployment over real RabbitMQ, Redis and PostgreSQL: hops during the outage get
//! the fallback text in time; within 5 s of Redis being back the flow answers again and every
//! process is ready; the sessions cut short are recorded with the time they used, not the
//! 180 s budget. Its own test binary, because it restarts the machine's Redis (cargo runs test
//! binaries one at a time, so no other test sees the restart).

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)] // tests: panics are failures

mod common;

use std::time::{Duration, Instant};

use common::{at_post, eventually, repo_root, temp_dir, Gateway};
use seedgate_proto::{SessionEndReason, SessionRecord};
use seedgate_runtime::config::{StoreConfig, StoreKind};

const REDIS_PORT: &str = "6379";

fn amqp_url() -> String {
    std::env::var("SEEDGATE_TEST_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

fn redis_cli(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", REDIS_PORT])
        .args(args)
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn redis_answers() -> bool {
    redis_cli(&["ping"]).is_some_and(|r| r == "PONG")
}

/// Starts the machine's Redis as it is normally started.
fn start_redis() -> bool {
    std::process::Command::new("redis-server")
        .args([
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            REDIS_PORT,
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .status()
        .is_ok_and(|s| s.success())
}

/// Starts Redis again whatever happens in the test, so the suites after it have one.
struct EnsureRedisUp;

impl Drop for EnsureRedisUp {
    // A drop cannot await; this one runs as the test ends, with nothing else left to stall.
    #[allow(clippy::disallowed_methods)]
    fn drop(&mut self) {
        if !redis_answers() {
            start_redis();
            let started = Instant::now();
            while !redis_answers() && started.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

async fn wait_for(what: &str, within: Duration, check: impl Fn() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const HOP_DEADLINE: Duration = Duration::from_millis(2000);
const USERS: usize = 12;

fn user(i: usize) -> (String, String) {
    (format!("ATUid_blip{i}"), format!("+278200001{i:02}"))
}

#[tokio::test]
async fn sessions_survive_a_redis_restart_and_are_billed_what_they_used() {
    assert!(
        redis_answers(),
        "this test restarts the local Redis on 127.0.0.1:{REDIS_PORT}; none answers"
    );
    let id = format!("e2e{}", uuid::Uuid::now_v7().simple());
    let dir = temp_dir("redis-restart");
    let env: Vec<(String, String)> = [
        ("SEEDGATE_BUS__KIND", "rabbitmq".to_string()),
        ("SEEDGATE_BUS__URL", amqp_url()),
        ("SEEDGATE_BUS__EXCHANGE", id.clone()),
        ("SEEDGATE_BUS__QUEUE_PREFIX", format!("{id}.")),
        ("SEEDGATE_BUS__QUEUE_EXPIRES_MS", "120000".to_string()),
        ("SEEDGATE_SESSION_STORE__KIND", "redis".to_string()),
        (
            "SEEDGATE_SESSION_STORE__URL",
            format!("redis://127.0.0.1:{REDIS_PORT}"),
        ),
        ("SEEDGATE_SESSION_STORE__KEY_PREFIX", format!("{id}:")),
        ("SEEDGATE_STORE__KIND", "postgres".to_string()),
        ("SEEDGATE_STORE__URL", common::pg_url()),
        ("SEEDGATE_STORE__SCHEMA", id.clone()),
        (
            "SEEDGATE_FLOWS__DIR",
            repo_root().join("flows").display().to_string(),
        ),
        (
            "SEEDGATE_CHANNELS__DEMO_AT__HOP_DEADLINE_MS",
            HOP_DEADLINE.as_millis().to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let services = ["store", "sessions", "flows", "http-channels", "api"];
    let mut procs: Vec<Gateway> = services
        .iter()
        .map(|s| Gateway::spawn(&["run", s], &dir, &env))
        .collect();
    for p in &procs {
        p.ready(Duration::from_secs(20)).await;
    }
    let edge = procs[3].base();

    // Live sessions, two hops in.
    for i in 0..USERS {
        let (session, phone) = user(i);
        let (_, body, _) = at_post(&edge, &session, &phone, "").await;
        assert!(body.starts_with("CON Welcome"), "{body}");
        let (_, body, _) = at_post(&edge, &session, &phone, "1").await;
        assert!(body.starts_with("CON Are you pregnant?"), "{body}");
    }

    // Redis goes away for 2 s and comes back empty.
    let _guard = EnsureRedisUp;
    redis_cli(&["shutdown", "nosave"]);
    wait_for("Redis stops", Duration::from_secs(10), || !redis_answers()).await;
    let down = Instant::now();

    // A hop meanwhile gets the fallback text within its deadline.
    let (session, phone) = user(0);
    let (status, body, took) = at_post(&edge, &session, &phone, "1*1").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("END Sorry, the service is busy"), "{body}");
    assert!(
        took < HOP_DEADLINE + Duration::from_millis(1000),
        "answered after {took:?}"
    );

    tokio::time::sleep(Duration::from_secs(2).saturating_sub(down.elapsed())).await;
    assert!(start_redis(), "redis-server starts");
    wait_for("Redis is back", Duration::from_secs(10), redis_answers).await;
    let back = Instant::now();
    eprintln!("Redis was away for {:?}", back - down);

    // Within 5 s the flow answers new sessions again (not the fallback)...
    let mut n = 0;
    loop {
        n += 1;
        let (_, body, _) = at_post(&edge, &format!("ATUid_after{n}"), "+27820000199", "").await;
        if body.starts_with("CON Welcome") {
            break;
        }
        assert!(
            body.starts_with("END Sorry, the service is busy"),
            "the fallback while it recovers: {body}"
        );
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "still the fallback {:?} after Redis came back",
            back.elapsed()
        );
    }
    let answered = back.elapsed();
    // ...and every process is ready.
    let http = reqwest::Client::new();
    for (p, name) in procs.iter().zip(services) {
        loop {
            let ok = http
                .get(format!("{}/readyz", p.base()))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ok {
                break;
            }
            assert!(
                back.elapsed() < Duration::from_secs(5),
                "{name} not ready {:?} after Redis came back",
                back.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    eprintln!(
        "the flow answered {answered:?} after Redis came back (attempt {n}); all ready after {:?}",
        back.elapsed()
    );
    assert!(answered < Duration::from_secs(5));

    // The sessions whose state Redis lost end at their users' next hop, with the closing text.
    for i in 1..USERS {
        let (session, phone) = user(i);
        let (_, body, took) = at_post(&edge, &session, &phone, "1*1").await;
        assert!(body.starts_with("END Your session has timed out"), "{body}");
        assert!(took < HOP_DEADLINE, "answered by the engine at once: {took:?}");
    }

    // Their records are closed with what they used: seconds, not the 180 s budget.
    let mut cfg = StoreConfig::default();
    cfg.kind = StoreKind::Postgres;
    cfg.url = common::pg_url();
    cfg.schema = Some(id.clone());
    let store = seedgate_store::open(&cfg).unwrap();
    let records = std::sync::Arc::new(std::sync::Mutex::new(Vec::<SessionRecord>::new()));
    eventually(
        "every session cut short is recorded as ended",
        Duration::from_secs(15),
        || {
            let (store, records) = (store.clone(), records.clone());
            async move {
                let mut got = Vec::new();
                for i in 0..USERS {
                    match store.session(&format!("demo-at:{}", user(i).0)).await {
                        Ok(Some(r)) if r.end_reason.is_some() => got.push(r),
                        _ => return false,
                    }
                }
                *records.lock().unwrap() = got;
                true
            }
        },
    )
    .await;
    let records = records.lock().unwrap().clone();
    let budget_ms = 180_000;
    for (i, r) in records.iter().enumerate() {
        let reason = r.end_reason.unwrap();
        assert!(
            r.duration_ms < budget_ms / 3,
            "{}: {} ms is what it used, not the budget",
            r.id,
            r.duration_ms
        );
        assert_eq!(r.slices, SessionRecord::slices_for(r.duration_ms), "{}", r.id);
        assert!(r.ended_at.is_some(), "{}", r.id);
        if i == 0 {
            // The user who hopped during the outage: the connector's close (the fallback) or
            // the engine's (state lost), whichever the engine handled first.
            assert!(
                matches!(
                    reason,
                    SessionEndReason::HopDeadline | SessionEndReason::Abandoned
                ),
                "{r:?}"
            );
            assert!((2..=3).contains(&r.hops), "{r:?}");
        } else {
            assert_eq!((reason, r.hops), (SessionEndReason::Abandoned, 3), "{r:?}");
        }
    }
    eprintln!(
        "records: {:?}",
        records
            .iter()
            .map(|r| (r.end_reason.unwrap().as_str(), r.duration_ms, r.slices, r.hops))
            .collect::<Vec<_>>()
    );

    for p in &mut procs {
        assert!(p.terminate().await.success(), "{:?}", p.stderr());
        for line in p.stderr() {
            assert!(!line.contains("panicked"), "panic: {line}");
        }
    }
    // Leave nothing behind on the broker and in PostgreSQL.
    if let Ok(conn) = lapin::Connection::connect(&amqp_url(), Default::default()).await {
        if let Ok(ch) = conn.create_channel().await {
            let _ = ch.exchange_delete(&id, Default::default()).await;
        }
        let _ = conn.close(200, "bye").await;
    }
    if let Ok(mut pg) = <sqlx::PgConnection as sqlx::Connection>::connect(&common::pg_url()).await {
        let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{id}\" CASCADE"))
            .execute(&mut pg)
            .await;
    }
}
