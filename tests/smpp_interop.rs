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

/// A child process killed when the test ends, pass or fail.
struct KillOnDrop(Option<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts the npm `smpp` SMSC on a free port and waits until it listens.
fn npm_smsc() -> (KillOnDrop, u16) {
    let port = common::free_port();
    (npm_smsc_on(port, &[]), port)
}

/// The npm `smpp` SMSC on `port`, with `npm_smsc.js` options.
fn npm_smsc_on(port: u16, options: &[&str]) -> KillOnDrop {
    use std::io::BufRead;
    let mut child = std::process::Command::new("node")
        .arg(repo_root().join("tests/interop/npm_smsc.js"))
        .arg(port.to_string())
        .args(options)
        .current_dir(repo_root().join("tests/interop"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("node runs the npm smpp SMSC");
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first.trim(), format!("listening {port}"));
    KillOnDrop(Some(child))
}

/// Sends `n` messages through the API to `channel`; their ids.
async fn api_sends(c: &common::Client, token: &str, channel: &str, n: usize) -> Vec<uuid::Uuid> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let body = serde_json::json!({"channel": channel, "to": format!("+2782{:07}", i), "content": format!("m{i}")});
        let (s, b) = c
            .call("POST", "/api/v1/messages", Some(token), Some(body), &[])
            .await;
        assert_eq!(s, 202, "{b}");
        ids.push(b["id"].as_str().unwrap().parse().unwrap());
    }
    ids
}

/// Waits until every message of `ids` has its delivery receipt; each must have exactly one.
async fn every_one_delivered_once(
    store: &Arc<dyn seedgate_runtime::store::Store>,
    ids: &[uuid::Uuid],
    what: &str,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let mut waiting = 0;
        let mut twice = Vec::new();
        for id in ids {
            let reports = store
                .message_events(*id)
                .await
                .unwrap()
                .into_iter()
                .filter(|e| matches!(e.kind, seedgate_proto::EventKind::DeliveryReport { .. }))
                .count();
            match reports {
                0 => waiting += 1,
                1 => {}
                _ => twice.push(*id),
            }
        }
        assert!(
            twice.is_empty(),
            "{what}: {} messages got another message's receipt too",
            twice.len()
        );
        if waiting == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: {waiting} of {} messages never got their receipt",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn an_smsc_restart_that_reuses_ids_and_sends_receipts_first_misroutes_no_receipt() {
    // npm `smpp` as the SMSC: ids from 1,000,000 again after its restart, and each receipt
    // sent before the submit_sm_resp it belongs to.
    let smsc_port = common::free_port();
    let options = ["--start-id", "1000000", "--receipt-first"];
    let smsc = npm_smsc_on(smsc_port, &options);
    let dir = temp_dir("id-reuse");
    let config = dir.join("seedgate.toml");
    std::fs::write(
        &config,
        format!(
            "[channels.demo-at]\ntype = \"africastalking-ussd\"\nflow = \"demo\"\n\n\
             [channels.carrier]\ntype = \"smpp-esme\"\n[channels.carrier.smpp]\naddress = \"127.0.0.1:{smsc_port}\"\n\
             system_id = \"seedgate\"\npassword = \"x\"\nbinds = 1\nwindow = 20\n\n\
             [channels.demo-sms]\ntype = \"simulated-carrier\"\n\n[api]\nrate_per_sec = 0\n"
        ),
    )
    .unwrap();
    let env = vec![(
        "SEEDGATE_FLOWS__DIR".to_string(),
        repo_root().join("flows").display().to_string(),
    )];
    let token = common::create_token(&dir, &env, "send,read");
    let mut gw = Gateway::spawn(&["--config", config.to_str().unwrap(), "up"], &dir, &env);
    gw.ready(Duration::from_secs(10)).await;
    let c = common::Client {
        base: gw.base(),
        http: reqwest::Client::new(),
    };
    let store = store_in(&dir);

    let before = api_sends(&c, &token, "carrier", 300).await;
    every_one_delivered_once(&store, &before, "before the SMSC restart").await;
    drop(smsc); // the SMSC goes away, and comes back counting from the same id
    let _smsc = npm_smsc_on(smsc_port, &options);
    let after = api_sends(&c, &token, "carrier", 300).await;
    every_one_delivered_once(&store, &after, "after the SMSC restart").await;
    every_one_delivered_once(&store, &before, "the messages from before, again").await;
    let (s, held) = c
        .call("GET", "/api/v1/receipts/held", Some(&token), None, &[])
        .await;
    assert_eq!(
        (s, held.clone()),
        (200, serde_json::json!([])),
        "every receipt found its message"
    );
    assert!(gw.terminate().await.success(), "{:?}", gw.stderr());
}

#[tokio::test]
async fn smpplib_to_seedgate_to_an_npm_smpp_smsc_and_every_receipt_back() {
    let (mut smsc, smsc_port) = npm_smsc();
    let dir = temp_dir("npm-smsc");
    let config = dir.join("seedgate.toml");
    std::fs::write(
        &config,
        format!(
            "[channels.demo-at]\ntype = \"africastalking-ussd\"\nflow = \"demo\"\n\n\
             [channels.carrier]\ntype = \"smpp-esme\"\n[channels.carrier.smpp]\naddress = \"127.0.0.1:{smsc_port}\"\n\
             system_id = \"seedgate\"\npassword = \"x\"\nbinds = 2\nwindow = 20\n\n\
             [[smpp_server.accounts]]\nsystem_id = \"demo\"\npassword_hash = \"{}\"\ntps = 0\nroute = \"carrier\"\n",
            seedgate_runtime::config::DEMO_PASSWORD_HASH
        ),
    )
    .unwrap();
    let env = vec![(
        "SEEDGATE_FLOWS__DIR".to_string(),
        repo_root().join("flows").display().to_string(),
    )];
    let mut gw = Gateway::spawn(&["--config", config.to_str().unwrap(), "up"], &dir, &env);
    gw.ready(Duration::from_secs(10)).await;

    // 1,000 messages from smpplib, through seedgate's ESME client to the npm SMSC; every
    // receipt (hex ids for decimal ones) correlated by seedgate and sent back to smpplib.
    let summary = run_peer("python3", "smpplib_esme.py", gw.smpp_port, 1000).await;
    let pdus = summary["submit_pdus"].as_u64().unwrap();
    assert_eq!(summary["accepted"].as_u64(), Some(pdus), "{summary}");
    assert_eq!(summary["receipts_matching_ids"].as_u64(), Some(pdus), "{summary}");
    assert_eq!(summary["delivered"].as_u64(), Some(pdus), "{summary}");
    assert!(gw.terminate().await.success(), "{:?}", gw.stderr());

    let child = smsc.0.take().unwrap();
    let _ = std::process::Command::new("kill")
        .arg(child.id().to_string())
        .status();
    let out = child.wait_with_output().unwrap();
    let stats: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or_default(),
    )
    .unwrap();
    assert_eq!(
        stats["submits"].as_u64(),
        Some(pdus),
        "the npm SMSC got every part: {stats}"
    );
    assert_eq!(
        stats["receipts_acked"].as_u64(),
        Some(pdus),
        "seedgate answered every receipt: {stats}"
    );
}

#[tokio::test]
async fn an_smpplib_ussd_gateway_runs_a_4_hop_dialog_through_the_demo_flow() {
    let dir = temp_dir("smpplib-ussd");
    let config = dir.join("seedgate.toml");
    std::fs::write(
        &config,
        format!(
            "[channels.gw-ussd]\ntype = \"smpp-server-ussd\"\nflow = \"demo\"\n\n\
             [channels.demo-sms]\ntype = \"simulated-carrier\"\n\n\
             [[smpp_server.accounts]]\nsystem_id = \"demo\"\npassword_hash = \"{}\"\nroute = \"demo-sms\"\nussd_channel = \"gw-ussd\"\n",
            seedgate_runtime::config::DEMO_PASSWORD_HASH
        ),
    )
    .unwrap();
    let env = vec![(
        "SEEDGATE_FLOWS__DIR".to_string(),
        repo_root().join("flows").display().to_string(),
    )];
    let mut gw = Gateway::spawn(&["--config", config.to_str().unwrap(), "up"], &dir, &env);
    gw.ready(Duration::from_secs(10)).await;

    let port = gw.smpp_port.to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg(repo_root().join("tests/interop/smpplib_ussd_gateway.py"))
            .args(["127.0.0.1", &port])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(
        result["ops"],
        serde_json::json!([2, 2, 2, 17]),
        "USSR request to continue, PSSR response to end"
    );
    let screens: Vec<&str> = result["screens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(
        screens[0].starts_with("Welcome to MomConnect (demo).\n1. Register"),
        "{screens:?}"
    );
    assert!(screens[1].starts_with("Are you pregnant?"), "{screens:?}");
    assert!(screens[2].starts_with("Which language"), "{screens:?}");
    assert!(
        screens[3].starts_with("Thank you. You are registered"),
        "{screens:?}"
    );
    assert!(gw.terminate().await.success(), "{:?}", gw.stderr());

    let session = store_in(&dir)
        .session("gw-ussd:27820000001/7")
        .await
        .unwrap()
        .expect("recorded");
    assert_eq!(
        (session.hops, session.end_reason),
        (4, Some(seedgate_proto::SessionEndReason::Completed))
    );
}

#[tokio::test]
async fn messages_that_cannot_go_fail_or_expire_with_their_reason_and_can_be_replayed() {
    // One SMSC answers every submit with ESME_RSYSERR; the other channel's SMSC is away.
    let smsc_port = common::free_port();
    let _smsc = npm_smsc_on(smsc_port, &["--fail-status", "8"]);
    let away = common::free_port();
    let dir = temp_dir("lifecycle");
    let config = dir.join("seedgate.toml");
    std::fs::write(
        &config,
        format!(
            "[api]\nrate_per_sec = 0\n\n[channels.demo-at]\ntype = \"africastalking-ussd\"\nflow = \"demo\"\n\n\
             [channels.demo-sms]\ntype = \"simulated-carrier\"\n\n\
             [channels.sick]\ntype = \"smpp-esme\"\n[channels.sick.smpp]\naddress = \"127.0.0.1:{smsc_port}\"\n\
             system_id = \"seedgate\"\npassword = \"x\"\nmax_attempts = 3\n\n\
             [channels.away]\ntype = \"smpp-esme\"\n[channels.away.smpp]\naddress = \"127.0.0.1:{away}\"\n\
             system_id = \"seedgate\"\npassword = \"x\"\n"
        ),
    )
    .unwrap();
    let env = vec![(
        "SEEDGATE_FLOWS__DIR".to_string(),
        repo_root().join("flows").display().to_string(),
    )];
    let token = common::create_token(&dir, &env, "send,read");
    let mut gw = Gateway::spawn(&["--config", config.to_str().unwrap(), "up"], &dir, &env);
    gw.ready(Duration::from_secs(10)).await;
    let c = common::Client {
        base: gw.base(),
        http: reqwest::Client::new(),
    };
    let send = |channel: &str, expires_at: Option<String>| {
        let mut body = serde_json::json!({"channel": channel, "to": "+27820001234", "content": "Your results are ready."});
        if let Some(at) = expires_at {
            body["expires_at"] = at.into();
        }
        body
    };
    let in_secs = |s: i64| (chrono::Utc::now() + chrono::Duration::seconds(s)).to_rfc3339();

    // An expiry in the past is refused, and nothing is stored.
    let (s, b) = c
        .call(
            "POST",
            "/api/v1/messages",
            Some(&token),
            Some(send("sick", Some(in_secs(-5)))),
            &[],
        )
        .await;
    assert_eq!((s, common::error_of(&b).0), (400, "bad_request"), "{b}");

    let (s, failing) = c
        .call(
            "POST",
            "/api/v1/messages",
            Some(&token),
            Some(send("sick", None)),
            &[],
        )
        .await;
    assert_eq!(s, 202, "{failing}");
    let (s, late) = c
        .call(
            "POST",
            "/api/v1/messages",
            Some(&token),
            Some(send("away", Some(in_secs(2)))),
            &[],
        )
        .await;
    assert_eq!(s, 202, "{late}");
    let (failing, late) = (
        failing["id"].as_str().unwrap().to_string(),
        late["id"].as_str().unwrap().to_string(),
    );
    for (id, want) in [(&failing, "failed"), (&late, "expired")] {
        let (c, token) = (&c, &token);
        common::eventually(&format!("{id} is {want}"), Duration::from_secs(30), || {
            let path = format!("/api/v1/messages/{id}");
            async move {
                let (_, m) = c.call("GET", &path, Some(token), None, &[]).await;
                m["status"] == want
            }
        })
        .await;
    }
    let (s, dead) = c
        .call("GET", "/api/v1/messages/dead", Some(&token), None, &[])
        .await;
    assert_eq!(s, 200, "{dead}");
    let reason_of = |id: &str| {
        dead.as_array()
            .unwrap()
            .iter()
            .find(|d| d["message"]["id"] == id)
            .map(|d| d["reason"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("{id} is not on the dead-letter list: {dead}"))
    };
    let r = reason_of(&failing);
    assert!(
        r.contains("gave up after 3 tries") && r.contains("ESME_RSYSERR"),
        "{r}"
    );
    assert!(reason_of(&late).contains("expired at"), "{dead}");

    // Replayed: a new message that names the old one; a message still on its way cannot be.
    let (s, again) = c
        .call(
            "POST",
            &format!("/api/v1/messages/{failing}/replay"),
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 202, "{again}");
    assert_ne!(again["id"], failing.as_str());
    assert_eq!(again["metadata"]["replay_of"], failing.as_str());
    let (s, live) = c
        .call(
            "POST",
            "/api/v1/messages",
            Some(&token),
            Some(send("demo-sms", None)),
            &[],
        )
        .await;
    assert_eq!(s, 202);
    let (s, b) = c
        .call(
            "POST",
            &format!("/api/v1/messages/{}/replay", live["id"].as_str().unwrap()),
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!((s, common::error_of(&b).0), (422, "refused"), "{b}");
    assert!(gw.terminate().await.success(), "{:?}", gw.stderr());
}
