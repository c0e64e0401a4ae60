//! The services as separate processes (`seedgate run …`) over this machine's real RabbitMQ,
//! Redis and PostgreSQL. Each test gets its own exchange, queue prefix, Redis key prefix and
//! PostgreSQL schema, so tests run side by side and leave nothing behind on the broker.

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)] // tests: panics are failures

mod common;

use std::time::{Duration, Instant};

use common::{at_post, eventually, repo_root, temp_dir, walk_demo_menu, Gateway};
use seedgate_proto::{Direction, SessionEndReason};
use seedgate_runtime::config::{StoreConfig, StoreKind};

fn amqp_url() -> String {
    std::env::var("SEEDGATE_TEST_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}
fn redis_url() -> String {
    std::env::var("SEEDGATE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}
/// One isolated split deployment's shared settings.
struct Deployment {
    id: String,
    dir: std::path::PathBuf,
    env: Vec<(String, String)>,
}

impl Deployment {
    fn new(hop_deadline_ms: u64) -> Self {
        let id = format!("e2e{}", uuid::Uuid::now_v7().simple());
        let env = vec![
            ("SEEDGATE_BUS__KIND", "rabbitmq".to_string()),
            ("SEEDGATE_BUS__URL", amqp_url()),
            ("SEEDGATE_BUS__EXCHANGE", id.clone()),
            ("SEEDGATE_BUS__QUEUE_PREFIX", format!("{id}.")),
            ("SEEDGATE_BUS__QUEUE_EXPIRES_MS", "120000".to_string()),
            ("SEEDGATE_SESSION_STORE__KIND", "redis".to_string()),
            ("SEEDGATE_SESSION_STORE__URL", redis_url()),
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
                hop_deadline_ms.to_string(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Self {
            dir: temp_dir(&id),
            id,
            env,
        }
    }

    fn run(&self, service: &str) -> Gateway {
        Gateway::spawn(&["run", service], &self.dir, &self.env)
    }

    fn store(&self) -> std::sync::Arc<dyn seedgate_runtime::store::Store> {
        let mut cfg = StoreConfig::default();
        cfg.kind = StoreKind::Postgres;
        cfg.url = common::pg_url();
        cfg.schema = Some(self.id.clone());
        seedgate_store::open(&cfg).unwrap()
    }

    /// Removes the test's exchange (queues expire by themselves) and schema.
    async fn cleanup(&self) {
        if let Ok(conn) = lapin::Connection::connect(&amqp_url(), Default::default()).await {
            if let Ok(ch) = conn.create_channel().await {
                let _ = ch.exchange_delete(&self.id, Default::default()).await;
            }
            let _ = conn.close(200, "bye").await;
        }
        if let Ok(mut pg) = <sqlx::PgConnection as sqlx::Connection>::connect(&common::pg_url()).await {
            let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.id))
                .execute(&mut pg)
                .await;
        }
    }
}

const SERVICES: [&str; 4] = ["store", "sessions", "flows", "http-channels"];

#[tokio::test]
async fn split_services_walk_the_demo_menu_over_rabbitmq_redis_and_postgres() {
    let d = Deployment::new(4000);
    let mut procs: Vec<Gateway> = SERVICES.iter().map(|s| d.run(s)).collect();
    for p in &procs {
        p.ready(Duration::from_secs(20)).await;
    }
    let edge = procs[3].base();
    walk_demo_menu(&edge, "ATUid_split", "+27820000011").await;

    let store = d.store();
    eventually(
        "the session and its 8 messages are in PostgreSQL",
        Duration::from_secs(10),
        || {
            let store = store.clone();
            async move {
                let done = store
                    .session("demo-at:ATUid_split")
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|s| s.end_reason.is_some());
                done && store
                    .session_messages("demo-at:ATUid_split")
                    .await
                    .map(|m| m.len())
                    .unwrap_or(0)
                    == 8
            }
        },
    )
    .await;
    let session = store.session("demo-at:ATUid_split").await.unwrap().unwrap();
    assert_eq!(session.end_reason, Some(SessionEndReason::Completed));
    assert_eq!(
        (session.hops, session.slices, session.flow.as_deref()),
        (4, 1, Some("demo"))
    );
    let msgs = store.session_messages("demo-at:ATUid_split").await.unwrap();
    assert_eq!(
        msgs.iter().filter(|m| m.direction == Direction::Inbound).count(),
        4
    );

    for p in &mut procs {
        let status = p.terminate().await;
        assert!(
            status.success(),
            "SIGTERM drains and exits 0: {status:?} {:?}",
            p.stderr()
        );
        p.assert_json_logs_without("+27820000011");
    }
    d.cleanup().await;
}

#[tokio::test]
async fn killing_the_flow_runner_mid_session_gives_the_fallback_in_time_and_recovers() {
    let deadline = Duration::from_millis(2500);
    let d = Deployment::new(deadline.as_millis() as u64);
    let mut procs: Vec<Gateway> = SERVICES.iter().map(|s| d.run(s)).collect();
    for p in &procs {
        p.ready(Duration::from_secs(20)).await;
    }
    let edge = procs[3].base();
    let (_, body, _) = at_post(&edge, "ATUid_kill", "+27820000012", "").await;
    assert!(body.starts_with("CON Welcome"), "{body}");

    procs[2].signal("KILL");
    procs[2].wait(Duration::from_secs(5)).await;

    let started = Instant::now();
    let (status, body, _) = at_post(&edge, "ATUid_kill", "+27820000012", "1").await;
    let waited = started.elapsed();
    assert_eq!(status, 200);
    assert!(body.starts_with("END Sorry, the service is busy"), "{body}");
    assert!(
        waited >= deadline && waited < deadline + Duration::from_millis(1500),
        "answered after {waited:?}"
    );

    // The session is closed with the reason the user saw.
    let store = d.store();
    eventually(
        "the dropped session is recorded as ended by the hop deadline",
        Duration::from_secs(10),
        || {
            let store = store.clone();
            async move {
                store
                    .session("demo-at:ATUid_kill")
                    .await
                    .ok()
                    .flatten()
                    .and_then(|s| s.end_reason)
                    == Some(SessionEndReason::HopDeadline)
            }
        },
    )
    .await;

    // The flow runner comes back; new sessions work.
    procs[2] = d.run("flows");
    procs[2].ready(Duration::from_secs(20)).await;
    let (_, body, _) = at_post(&edge, "ATUid_after", "+27820000013", "").await;
    assert!(body.starts_with("CON Welcome"), "{body}");
    let (_, body, _) = at_post(&edge, "ATUid_after", "+27820000013", "2").await;
    assert!(
        body.starts_with("END MomConnect sends free health messages"),
        "{body}"
    );

    for p in &mut procs {
        assert!(p.terminate().await.success(), "{:?}", p.stderr());
        p.assert_json_logs_without("+27820000012");
    }
    d.cleanup().await;
}

/// Forwards connections from `listen` to `target` once started (a backend coming back).
async fn forward(listen: u16, target: &'static str) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", listen))
        .await
        .unwrap();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    })
}

#[tokio::test]
async fn readyz_is_not_ready_until_the_bus_and_store_are_reachable() {
    let d = Deployment::new(4000);
    let (bus_port, pg_port) = (common::free_port(), common::free_port());
    let mut env = d.env.clone();
    env.retain(|(k, _)| k != "SEEDGATE_BUS__URL" && k != "SEEDGATE_STORE__URL");
    env.push((
        "SEEDGATE_BUS__URL".into(),
        format!("amqp://guest:guest@127.0.0.1:{bus_port}/%2f"),
    ));
    env.push((
        "SEEDGATE_STORE__URL".into(),
        format!("postgres://postgres@127.0.0.1:{pg_port}/test"),
    ));
    let mut gw = Gateway::spawn(&["run", "store"], &d.dir, &env);

    let client = reqwest::Client::new();
    let readyz = || async {
        let r = client.get(format!("{}/readyz", gw.base())).send().await.ok()?;
        Some((r.status().as_u16(), r.json::<serde_json::Value>().await.ok()?))
    };
    eventually("the process answers", Duration::from_secs(10), || async {
        readyz().await.is_some()
    })
    .await;
    let (status, body) = readyz().await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert_ne!(body["checks"]["bus"], "ok", "{body}");
    assert_ne!(body["checks"]["store"], "ok", "{body}");
    assert_eq!(
        client
            .get(format!("{}/healthz", gw.base()))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let _bus = forward(bus_port, "127.0.0.1:5672").await;
    eventually(
        "bus reachable, store still not",
        Duration::from_secs(20),
        || async {
            readyz()
                .await
                .is_some_and(|(s, b)| s == 503 && b["checks"]["bus"] == "ok")
        },
    )
    .await;
    let _pg = forward(pg_port, "127.0.0.1:5432").await;
    eventually(
        "ready once both are reachable",
        Duration::from_secs(20),
        || async { readyz().await.is_some_and(|(s, _)| s == 200) },
    )
    .await;
    assert!(gw.terminate().await.success(), "{:?}", gw.stderr());
    d.cleanup().await;
}

/// A channel made through the API of one process is carried by the `smpp` process (it reads
/// the store), its status comes back through Redis, and a send is delivered: no restart.
#[tokio::test]
async fn a_channel_made_through_the_api_is_run_by_another_process() {
    let d = Deployment::new(4000);
    let admin = common::create_token(&d.dir, &d.env, "admin");
    let mut procs: Vec<Gateway> = ["store", "smpp", "api"].iter().map(|s| d.run(s)).collect();
    for p in &procs {
        p.ready(Duration::from_secs(20)).await;
    }
    let c = common::Client {
        base: procs[2].base(),
        http: reqwest::Client::new(),
    };
    let (s, b) = c
        .call(
            "PUT",
            "/api/v1/channels/partner-sms",
            Some(&admin),
            Some(serde_json::json!({"type": "simulated-carrier", "sim_dlr_delay_ms": 20})),
            &[],
        )
        .await;
    assert_eq!(s, 201, "{b}");
    eventually(
        "the smpp process reports the new channel",
        Duration::from_secs(20),
        || async {
            let (_, v) = c
                .call("GET", "/api/v1/channels/partner-sms", Some(&admin), None, &[])
                .await;
            v["status"] == "ok"
        },
    )
    .await;
    let (s, sent) = c
        .call(
            "POST",
            "/api/v1/messages",
            Some(&admin),
            Some(serde_json::json!({"channel": "partner-sms", "to": "+27820000031", "content": "hi"})),
            &[],
        )
        .await;
    assert_eq!(s, 202, "{sent}");
    let path = format!("/api/v1/messages/{}", sent["id"].as_str().unwrap());
    eventually("the message is delivered", Duration::from_secs(20), || async {
        c.call("GET", &path, Some(&admin), None, &[]).await.1["status"] == "delivered"
    })
    .await;
    for p in &mut procs {
        assert!(p.terminate().await.success(), "{:?}", p.stderr());
    }
    d.cleanup().await;
}
