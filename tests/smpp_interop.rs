//! Interop with SMPP peers nobody on the team wrote, installed by `.ci/test`: PyPI `smpplib`
//! 2.2.4 and npm `smpp` 0.5.1, each as an ESME binding to `seedgate up`'s SMPP server.

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)] // tests: panics are failures

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{repo_root, temp_dir, Gateway};

/// A config with the demo account unthrottled, so messages go at the client's pace.
fn unthrottled_config(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("seedgate.toml");
    let text = format!(
        "[channels.demo-at]\ntype = \"africastalking-ussd\"\nflow = \"demo\"\n\n\
         [channels.demo-sms]\ntype = \"simulated-carrier\"\nsim_dlr_delay_ms = 20\n\n\
         [[smpp_server.accounts]]\nsystem_id = \"demo\"\npassword_hash = \"{}\"\ntps = 0\nroute = \"demo-sms\"\n",
        seedgate_runtime::config::DEMO_PASSWORD_HASH
    );
    std::fs::write(&path, text).unwrap();
    path
}

async fn gateway(tag: &str) -> (Gateway, std::path::PathBuf) {
    let dir = temp_dir(tag);
    let config = unthrottled_config(&dir);
    let env = vec![(
        "SEEDGATE_FLOWS__DIR".to_string(),
        repo_root().join("flows").display().to_string(),
    )];
    let gw = Gateway::spawn(&["--config", config.to_str().unwrap(), "up"], &dir, &env);
    gw.ready(Duration::from_secs(10)).await;
    (gw, dir)
}

fn store_in(dir: &std::path::Path) -> Arc<dyn seedgate_runtime::store::Store> {
    let mut cfg = seedgate_runtime::config::StoreConfig::default();
    cfg.url = format!("sqlite://{}/data/seedgate.db", dir.display());
    seedgate_store::open(&cfg).unwrap()
}

/// Runs a peer script from `tests/interop` against the gateway; returns its JSON summary.
async fn run_peer(program: &str, script: &str, port: u16, count: u32) -> serde_json::Value {
    let dir = repo_root().join("tests/interop");
    let (program, script) = (program.to_string(), dir.join(script));
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&program)
            .arg(&script)
            .args(["127.0.0.1", &port.to_string(), &count.to_string()])
            .current_dir(dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "peer run failed\nstdout: {stdout}\nstderr: {stderr}"
    );
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap();
    eprintln!("peer summary: {summary}");
    summary
}

#[tokio::test]
async fn an_smpplib_esme_submits_1000_messages_and_gets_every_receipt() {
    let (mut gw, dir) = gateway("smpplib").await;
    let summary = run_peer("python3", "smpplib_esme.py", gw.smpp_port, 1000).await;
    assert_eq!(
        summary["kinds"],
        serde_json::json!({"gsm7": 334, "ucs2": 333, "concatenated": 333})
    );
    let pdus = summary["submit_pdus"].as_u64().unwrap();
    assert!(pdus >= 334 + 333 + 333 * 3, "{summary}");
    assert_eq!(
        summary["accepted"].as_u64(),
        Some(pdus),
        "every submit_sm got ESME_ROK and an id"
    );
    assert_eq!(
        summary["receipts_matching_ids"].as_u64(),
        Some(pdus),
        "every part got its receipt"
    );
    assert_eq!(summary["delivered"].as_u64(), Some(pdus));

    assert!(gw.terminate().await.success(), "{:?}", gw.stderr());
    gw.assert_json_logs_without("27820000001");

    // Every submit is in the store, decoded: UCS2 and the 3 parts of the long one included.
    let store = store_in(&dir);
    let ucs2 = store.address_messages("27820000001").await.unwrap();
    assert_eq!(ucs2.len(), 1);
    assert_eq!(ucs2[0].content, "Ngiyabonga 👶🏽 — umntwana wakho uyakhula kahle.");
    let long = store.address_messages("27820000002").await.unwrap();
    assert_eq!(long.len(), 3, "three parts");
    assert!(long.iter().all(|m| m.metadata["concat"]["total"] == 3));
    let events = store.message_events(long[0].id).await.unwrap();
    assert!(
        events.iter().any(|e| e.kind_name() == "delivery_report"),
        "{events:?}"
    );
}

#[tokio::test]
async fn an_npm_smpp_esme_submits_and_gets_every_receipt() {
    let (mut gw, dir) = gateway("npm-esme").await;
    let summary = run_peer("node", "npm_esme.js", gw.smpp_port, 300).await;
    assert_eq!(summary["accepted"], 300, "{summary}");
    assert_eq!(summary["receipts_matching_ids"], 300, "{summary}");
    assert_eq!(summary["delivered"], 300, "{summary}");
    assert!(gw.terminate().await.success(), "{:?}", gw.stderr());

    let store = store_in(&dir);
    let ucs2 = store.address_messages("27830000001").await.unwrap();
    assert_eq!(
        ucs2[0].content, "Ngiyabonga 👶🏽 umntwana wakho uyakhula kahle.",
        "UCS2 with a surrogate pair"
    );
    let long = store.address_messages("27830000002").await.unwrap();
    assert!(
        long[0].content.starts_with("Week 30: Count your baby's kicks") && long[0].content.len() > 400,
        "the long text travelled in message_payload: {:?}",
        long[0].content
    );
}
