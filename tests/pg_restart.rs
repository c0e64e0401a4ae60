//! A PostgreSQL restart in the middle of a stream of API sends loses nothing that got a 202:
//! every accepted message is in the database and reaches its carrier afterwards. Its own test
//! binary, because it restarts the machine's PostgreSQL (cargo runs test binaries one at a
//! time, so no other test sees the restart).

#![allow(clippy::unwrap_used)] // tests: panics are failures

mod common;

use std::time::Duration;

use common::{temp_dir, Gateway};
use seedgate_runtime::config::{StoreConfig, StoreKind};
use serde_json::json;

fn pg_ctl(action: &str) -> bool {
    let version = std::fs::read_dir("/etc/postgresql")
        .ok()
        .and_then(|mut d| d.next())
        .and_then(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned());
    let Some(version) = version else { return false };
    std::process::Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &version, "main", action])
        .status()
        .is_ok_and(|s| s.success())
}

/// Starts PostgreSQL again whatever happens in the test, so the suite after it has a database.
struct EnsureUp;

impl Drop for EnsureUp {
    fn drop(&mut self) {
        if std::net::TcpStream::connect("127.0.0.1:5432").is_err() {
            pg_ctl("start");
        }
    }
}

#[tokio::test]
async fn a_postgres_restart_during_sends_loses_nothing_that_got_a_202() {
    if !std::path::Path::new("/etc/postgresql").exists() {
        panic!("this test restarts the local PostgreSQL cluster (pg_ctlcluster); none found");
    }
    let _guard = EnsureUp;
    let schema = format!("e2e{}", uuid::Uuid::now_v7().simple());
    let dir = temp_dir("pg-restart");
    let env: Vec<(String, String)> = vec![
        (
            "SEEDGATE_FLOWS__DIR".into(),
            common::repo_root().join("flows").display().to_string(),
        ),
        ("SEEDGATE_STORE__KIND".into(), "postgres".into()),
        ("SEEDGATE_STORE__URL".into(), common::pg_url()),
        ("SEEDGATE_STORE__SCHEMA".into(), schema.clone()),
        (
            "SEEDGATE_CHANNELS__DEMO_SMS__SIM_DLR_DELAY_MS".into(),
            "50".into(),
        ),
        ("SEEDGATE_API__RATE_PER_SEC".into(), "0".into()),
    ];
    let token = common::create_token(&dir, &env, "send,read");
    let mut gw = Gateway::spawn(&["up"], &dir, &env);
    gw.ready(Duration::from_secs(10)).await;

    let base = gw.base();
    let progress = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let sender = tokio::spawn({
        let (base, token, progress) = (base.clone(), token.clone(), progress.clone());
        async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap();
            let mut results = Vec::new();
            for n in 0..600 {
                let resp = http
                    .post(format!("{base}/api/v1/messages"))
                    .bearer_auth(&token)
                    .json(&json!({"channel": "demo-sms", "to": format!("+2782{n:07}"), "content": format!("message {n}")}))
                    .send()
                    .await;
                let r = match resp {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let body: serde_json::Value = r.json().await.unwrap_or_default();
                        (status, body["id"].as_str().map(str::to_string))
                    }
                    Err(_) => (0, None),
                };
                results.push(r);
                progress.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            results
        }
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = progress.load(std::sync::atomic::Ordering::SeqCst);
    let restarted = tokio::task::spawn_blocking(|| pg_ctl("restart")).await.unwrap();
    assert!(restarted, "pg_ctlcluster restart failed");
    let after = progress.load(std::sync::atomic::Ordering::SeqCst);
    let results = sender.await.unwrap();
    assert!(
        before > 0 && after < results.len(),
        "the restart ({before}..{after}) fell inside the stream of {}",
        results.len()
    );

    let accepted: Vec<String> = results
        .iter()
        .filter(|(s, _)| *s == 202)
        .filter_map(|(_, id)| id.clone())
        .collect();
    let refused = results.iter().filter(|(s, _)| *s != 202).count();
    eprintln!(
        "{} accepted, {refused} refused; PostgreSQL restarted between sends {before} and {after}",
        accepted.len()
    );
    assert!(
        results.iter().all(|(s, _)| *s == 202 || *s == 503),
        "only 202 or a clear 503: {:?}",
        results.iter().filter(|(s, _)| *s != 202).collect::<Vec<_>>()
    );
    assert!(
        accepted.len() > 300,
        "the gateway kept accepting after the restart"
    );
    assert!(
        results.last().is_some_and(|(s, _)| *s == 202),
        "and accepts again at the end"
    );

    // Every accepted message is in PostgreSQL and reached its carrier (acked, then delivered).
    let cfg = StoreConfig {
        kind: StoreKind::Postgres,
        url: common::pg_url(),
        schema: Some(schema),
        ..Default::default()
    };
    let store = seedgate_store::open(&cfg).unwrap();
    // A claim whose answer was lost in the restart waits out its lease (60 s) before the relay
    // takes the message again.
    let deadline = std::time::Instant::now() + Duration::from_secs(150);
    loop {
        let mut pending = Vec::new();
        for id in &accepted {
            let id = uuid::Uuid::parse_str(id).unwrap();
            match store.stored_message(id).await {
                Ok(Some(m)) if m.status == seedgate_runtime::store::MessageStatus::Delivered => {}
                other => pending.push((id, other.map(|m| m.map(|m| m.status)))),
            }
        }
        if pending.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} accepted messages not delivered: {:?}",
            pending.len(),
            &pending[..pending.len().min(5)]
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(gw.terminate().await.success(), "{:?}", gw.stderr());
}
