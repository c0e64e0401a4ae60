//! Interop with SMPP peers nobody on the team wrote: PyPI `smpplib` (installed by `.ci/test`)
//! as an ESME binding to `seedgate up`'s SMPP server.

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)] // tests: panics are failures

mod common;

use std::time::Duration;

use common::{repo_root, temp_dir, Gateway};

/// A config with the demo account unthrottled, so 1,000 messages go at the client's pace.
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

#[tokio::test]
async fn an_smpplib_esme_submits_1000_messages_and_gets_every_receipt() {
    let dir = temp_dir("smpplib");
    let config = unthrottled_config(&dir);
    let env = vec![(
        "SEEDGATE_FLOWS__DIR".to_string(),
        repo_root().join("flows").display().to_string(),
    )];
    let mut gw = Gateway::spawn(&["--config", config.to_str().unwrap(), "up"], &dir, &env);
    gw.ready(Duration::from_secs(10)).await;

    let script = repo_root().join("tests/interop/smpplib_esme.py");
    let port = gw.smpp_port.to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg(script)
            .args(["127.0.0.1", &port, "1000"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "smpplib run failed\nstdout: {stdout}\nstderr: {stderr}"
    );
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    eprintln!("smpplib summary: {summary}");
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
    let mut cfg = seedgate_runtime::config::StoreConfig::default();
    cfg.url = format!("sqlite://{}/data/seedgate.db", dir.display());
    let store = seedgate_store::open(&cfg).unwrap();
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
