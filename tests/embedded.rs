//! `seedgate up` on the embedded defaults: in-process bus and sessions, SQLite under ./data.

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)] // tests: panics are failures

mod common;

use std::time::Duration;

use common::{at_post, repo_root, temp_dir, walk_demo_menu, Gateway};
use seedgate_proto::{Direction, EventKind, SessionEndReason};
use seedgate_runtime::config::StoreConfig;

fn flows_env() -> Vec<(String, String)> {
    vec![(
        "SEEDGATE_FLOWS__DIR".into(),
        repo_root().join("flows").display().to_string(),
    )]
}

fn sqlite_in(dir: &std::path::Path) -> std::sync::Arc<dyn seedgate_runtime::store::Store> {
    let mut cfg = StoreConfig::default();
    cfg.url = format!("sqlite://{}/data/seedgate.db", dir.display());
    seedgate_store::open(&cfg).unwrap()
}

#[tokio::test]
async fn walks_the_demo_menu_and_stores_messages_and_session_in_sqlite() {
    let dir = temp_dir("up");
    let mut gw = Gateway::spawn(&["up"], &dir, &flows_env());
    gw.ready(Duration::from_secs(10)).await;
    let health = reqwest::get(format!("{}/healthz", gw.base())).await.unwrap();
    assert_eq!(health.status(), 200);

    walk_demo_menu(&gw.base(), "ATUid_walk", "+27820000001").await;
    let metrics = reqwest::get(format!("{}/metrics", gw.base()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("seedgate_channel_requests_total{channel=\"demo-at\",outcome=\"reply\"} 4"),
        "{metrics}"
    );
    assert!(
        metrics.contains("seedgate_sessions_ended_total{channel=\"demo-at\",reason=\"completed\"} 1"),
        "{metrics}"
    );

    let status = gw.terminate().await;
    assert!(
        status.success(),
        "SIGTERM drains and exits 0: {status:?} {:?}",
        gw.stderr()
    );
    gw.assert_json_logs_without("+27820000001");
    assert!(
        gw.stdout().iter().any(|l| l.contains("+278******01")),
        "the masked number is logged"
    );

    // After exit, everything is in the SQLite file.
    let store = sqlite_in(&dir);
    let messages = store.session_messages("demo-at:ATUid_walk").await.unwrap();
    let directions: Vec<_> = messages.iter().map(|m| m.direction).collect();
    assert_eq!(
        directions.iter().filter(|d| **d == Direction::Inbound).count(),
        4,
        "{messages:#?}"
    );
    assert_eq!(
        directions.iter().filter(|d| **d == Direction::Outbound).count(),
        4,
        "{messages:#?}"
    );
    let last = messages
        .iter()
        .rev()
        .find(|m| m.direction == Direction::Outbound)
        .unwrap();
    assert!(last.content.starts_with("Thank you"), "{last:?}");
    let events = store.message_events(last.id).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::Ack { carrier_id: None });
    let session = store
        .session("demo-at:ATUid_walk")
        .await
        .unwrap()
        .expect("session stored");
    assert_eq!(session.end_reason, Some(SessionEndReason::Completed));
    assert_eq!(
        (session.hops, session.slices, session.flow.as_deref()),
        (4, 1, Some("demo"))
    );
    assert_eq!(session.msisdn, "+27820000001");

    // The billing report reads the same store.
    let mut report = Gateway::spawn(&["sessions", "report", "--days", "2"], &dir, &[]);
    assert!(
        report.wait(Duration::from_secs(10)).await.success(),
        "{:?}",
        report.stderr()
    );
    let out = report.stdout().join("\n");
    assert!(
        out.lines().any(|l| l.contains("demo-at")
            && l.contains("demo")
            && l.split_whitespace().rev().take(3).collect::<Vec<_>>() == ["1", "4", "1"]),
        "{out}"
    );
}

async fn nalo(base: &str, first: bool, data: &str) -> serde_json::Value {
    let resp = reqwest::Client::new()
        .post(format!("{base}/channels/nalo/callback"))
        .json(&serde_json::json!({
            "USERID": "NALOTest", "MSISDN": "233200000001", "USERDATA": data, "MSGTYPE": first, "NETWORK": "MTN"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn other_aggregators_redial_resume_and_the_gateway_end_report_work_end_to_end() {
    let dir = temp_dir("aggregators");
    let mut env = flows_env();
    env.push(("SEEDGATE_CHANNELS__NALO__TYPE".into(), "\"nalo-ussd\"".into()));
    env.push(("SEEDGATE_CHANNELS__NALO__FLOW".into(), "\"demo\"".into()));
    let mut gw = Gateway::spawn(&["up"], &dir, &env);
    gw.ready(Duration::from_secs(10)).await;
    let base = gw.base();

    // Nalo sends no session id: the session is keyed by MSISDN and dialog.
    let r = nalo(&base, true, "*920*55#").await;
    assert!(r["MSG"].as_str().unwrap().starts_with("Welcome"), "{r}");
    assert_eq!(
        (r["MSGTYPE"].as_bool(), r["USERID"].as_str()),
        (Some(true), Some("NALOTest"))
    );
    for input in ["1", "1"] {
        assert_eq!(nalo(&base, false, input).await["MSGTYPE"], true);
    }
    let r = nalo(&base, false, "2").await;
    assert_eq!(r["MSGTYPE"], false, "{r}");
    assert!(r["MSG"].as_str().unwrap().contains("You are registered"), "{r}");

    // Redial-resume over Africa's Talking: dropped after one answer, back within the window.
    at_post(&base, "ATUid_r1", "+27820000031", "").await;
    let (_, body, _) = at_post(&base, "ATUid_r1", "+27820000031", "1").await;
    assert!(body.starts_with("CON Are you pregnant?"), "{body}");
    let (_, body, _) = at_post(&base, "ATUid_r2", "+27820000031", "").await;
    assert!(body.contains("Continue where you left off"), "{body}");
    let (_, body, _) = at_post(&base, "ATUid_r2", "+27820000031", "1").await;
    assert!(body.starts_with("CON Are you pregnant?"), "{body}");

    // Africa's Talking's end-of-session notification is kept with the session.
    walk_demo_menu(&base, "ATUid_billed", "+27820000032").await;
    let resp = reqwest::Client::new()
        .post(format!("{base}/channels/demo-at/callback"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("sessionId=ATUid_billed&serviceCode=%2A134%2A550%23&phoneNumber=%2B27820000032&networkCode=65501&status=Success&cost=KES+0.4000&durationInMillis=18250&hopsCount=4&input=2&lastAppResponse=END&errorMessage=")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let status = gw.terminate().await;
    assert!(status.success(), "{status:?} {:?}", gw.stderr());
    gw.assert_json_logs_without("233200000001");

    let store = sqlite_in(&dir);
    let nalo_msgs = store.address_messages("233200000001").await.unwrap();
    assert_eq!(nalo_msgs.len(), 8, "4 hops and 4 replies: {nalo_msgs:#?}");
    let id = nalo_msgs[0].session_id().unwrap().to_string();
    assert!(id.starts_with("nalo:by-msisdn~"), "{id}");
    assert!(nalo_msgs.iter().all(|m| m.session_id().is_some()));
    let session = store
        .session(&id)
        .await
        .unwrap()
        .expect("the Nalo session is recorded");
    assert_eq!(
        (session.hops, session.end_reason),
        (4, Some(SessionEndReason::Completed))
    );
    let billed = store.session("demo-at:ATUid_billed").await.unwrap().unwrap();
    let carrier = billed.carrier.expect("the gateway's report is kept");
    assert_eq!(
        (
            carrier.status.as_str(),
            carrier.cost.as_deref(),
            carrier.duration_ms
        ),
        ("Success", Some("KES 0.4000"), Some(18_250))
    );
    assert_eq!(billed.end_reason, Some(SessionEndReason::Completed));
}

#[tokio::test]
async fn api_sends_accepted_before_a_kill_9_are_sent_after_the_restart() {
    let dir = temp_dir("kill9");
    let smsc = common::free_port();
    let mut env = flows_env();
    for (k, v) in [
        ("SEEDGATE_CHANNELS__SMS__TYPE", "smpp-esme".to_string()),
        (
            "SEEDGATE_CHANNELS__SMS__SMPP__ADDRESS",
            format!("127.0.0.1:{smsc}"),
        ),
        ("SEEDGATE_CHANNELS__SMS__SMPP__SYSTEM_ID", "demo".into()),
        ("SEEDGATE_CHANNELS__SMS__SMPP__PASSWORD", "demo".into()),
    ] {
        env.push((k.into(), v));
    }
    let token = common::create_token(&dir, &env, "send,read");

    // The carrier's SMSC is down: accepted messages wait in the in-process bus.
    let mut gw = Gateway::spawn(&["up"], &dir, &env);
    gw.ready(Duration::from_secs(10)).await;
    let http = reqwest::Client::new();
    let mut ids = Vec::new();
    for n in 0..5 {
        let r = http
            .post(format!("{}/api/v1/messages", gw.base()))
            .bearer_auth(&token)
            .json(&serde_json::json!({"channel": "sms", "to": format!("+2782000040{n}"), "content": "Your results are ready."}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let body: serde_json::Value = r.json().await.unwrap();
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    gw.child.kill().unwrap(); // kill -9: the in-process bus is gone
    gw.child.wait().unwrap();

    // The SMSC comes up, and so does seedgate: every accepted message goes out.
    let mut sim = Gateway::spawn(
        &[
            "smsc-sim",
            "--listen",
            &format!("127.0.0.1:{smsc}"),
            "--dlr-delay-ms",
            "50",
        ],
        &dir,
        &[],
    );
    let mut gw = Gateway::spawn(&["up"], &dir, &env);
    gw.ready(Duration::from_secs(10)).await;
    let base = gw.base();
    common::eventually(
        "every accepted message is delivered",
        Duration::from_secs(30),
        || {
            let (http, base, token, ids) = (http.clone(), base.clone(), token.clone(), ids.clone());
            async move {
                for id in &ids {
                    let r = http
                        .get(format!("{base}/api/v1/messages/{id}"))
                        .bearer_auth(&token)
                        .send()
                        .await;
                    let Ok(r) = r else { return false };
                    let m: serde_json::Value = r.json().await.unwrap_or_default();
                    if m["status"] != "delivered" {
                        return false;
                    }
                }
                true
            }
        },
    )
    .await;
    assert!(gw.terminate().await.success(), "{:?}", gw.stderr());
    sim.terminate().await;
}

/// A config whose `demo` SMPP account (password `demo`, no TPS limit) routes to `sms`, an
/// `smpp-esme` channel bound to the SMSC on `smsc`.
fn partner_config(dir: &std::path::Path, smsc: u16) -> std::path::PathBuf {
    let path = dir.join("seedgate.toml");
    let text = format!(
        "[channels.demo-at]\ntype = \"africastalking-ussd\"\nflow = \"demo\"\n\n\
         [channels.sms]\ntype = \"smpp-esme\"\n[channels.sms.smpp]\naddress = \"127.0.0.1:{smsc}\"\n\
         system_id = \"demo\"\npassword = \"demo\"\nwindow = 50\n\n\
         [[smpp_server.accounts]]\nsystem_id = \"demo\"\npassword_hash = \"{}\"\ntps = 0\nroute = \"sms\"\n",
        seedgate_runtime::config::DEMO_PASSWORD_HASH
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// `seedgate up` on [`partner_config`] with `seedgate smsc-sim` as the carrier, ready.
async fn partner_gateway(tag: &str) -> (std::path::PathBuf, std::path::PathBuf, Gateway, Gateway) {
    let dir = temp_dir(tag);
    let smsc = common::free_port();
    let config = partner_config(&dir, smsc);
    let sim = Gateway::spawn(
        &[
            "smsc-sim",
            "--listen",
            &format!("127.0.0.1:{smsc}"),
            "--dlr-delay-ms",
            "50",
        ],
        &dir,
        &[],
    );
    let gw = Gateway::spawn(&["--config", config.to_str().unwrap(), "up"], &dir, &flows_env());
    gw.ready(Duration::from_secs(10)).await;
    (dir, config, sim, gw)
}

#[tokio::test]
async fn partner_submits_acked_before_a_kill_9_are_all_sent_after_the_restart() {
    use seedgate_loadtests::ledger::{lost_after, smpp_client, Ledger};
    let (dir, config, mut sim, mut gw) = partner_gateway("kill9-smpp").await;
    let config = config.to_str().unwrap();

    // A partner submits as fast as a window of 50 allows; seedgate is killed mid-stream.
    let ledger = std::sync::Arc::new(Ledger::default());
    let until = std::time::Instant::now() + Duration::from_secs(20);
    let client = tokio::spawn(smpp_client(
        format!("127.0.0.1:{}", gw.smpp_port),
        ("demo".into(), "demo".into()),
        50,
        1_500,
        until,
        ledger.clone(),
    ));
    common::eventually("300 submits acknowledged", Duration::from_secs(20), || {
        let n = ledger.acked().len();
        async move { n >= 300 }
    })
    .await;
    gw.child.kill().unwrap(); // kill -9, mid-stream
    gw.child.wait().unwrap();
    client.abort();
    let acked = ledger.acked();
    assert!(acked.len() >= 300);

    // Everything acknowledged is sent to the carrier by the next process.
    let mut gw = Gateway::spawn(&["--config", config, "up"], &dir, &flows_env());
    gw.ready(Duration::from_secs(10)).await;
    let lost = lost_after(sqlite_in(&dir).as_ref(), &acked, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged submits lost after a kill -9",
        lost.len(),
        acked.len()
    );
    assert!(gw.terminate().await.success(), "{:?}", gw.stderr());
    sim.terminate().await;
}

/// A partner's bind of `mode` on `port`: the link and the requests it is sent.
async fn partner_bind(
    port: u16,
    mode: &str,
) -> (
    seedgate_smpp::link::Link,
    seedgate_smpp::link::Incoming,
    seedgate_smpp::CommandStatus,
) {
    use seedgate_smpp::pdu::{Bind, Pdu};
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (link, incoming) =
        seedgate_smpp::link::Link::spawn(stream, seedgate_smpp::link::LinkConfig::default());
    let bind = Bind {
        system_id: "demo".into(),
        password: "demo".into(),
        interface_version: 0x34,
        ..Bind::default()
    };
    let pdu = match mode {
        "transmitter" => Pdu::BindTransmitter(bind),
        _ => Pdu::BindTransceiver(bind),
    };
    let resp = tokio::time::timeout(Duration::from_secs(5), link.request(pdu))
        .await
        .expect("a bind is answered")
        .expect("a bind response");
    (link, incoming, resp.status)
}

#[tokio::test]
async fn sigterm_with_a_partner_bound_exits_0_and_its_receipts_owed_come_after_the_restart() {
    use seedgate_smpp::pdu::{Address, Frame, Pdu, Sm, SmResp};
    let (dir, config, mut sim, mut gw) = partner_gateway("sigterm-owed").await;
    let config = config.to_str().unwrap();

    // A transmitter-only bind: the receipts the carrier sends back have nowhere to go yet.
    let (tx, _incoming, status) = partner_bind(gw.smpp_port, "transmitter").await;
    assert!(status.is_ok(), "{status}");
    let mut ids = Vec::new();
    for n in 0..20 {
        let sm = Sm {
            source: Address::new(5, 0, "Clinic"),
            dest: Address::new(1, 1, format!("2782000{n:04}")),
            registered_delivery: 1,
            short_message: bytes::Bytes::from(format!("owed {n}").into_bytes()),
            ..Sm::default()
        };
        let resp = tx.request(Pdu::SubmitSm(sm)).await.unwrap();
        assert!(resp.status.is_ok(), "{}", resp.status);
        let Pdu::SubmitSmResp(r) = resp.pdu else {
            panic!("{:?}", resp.pdu)
        };
        ids.push(r.message_id);
    }
    common::eventually(
        "every message reached the carrier",
        Duration::from_secs(15),
        || {
            let (store, ids) = (sqlite_in(&dir), ids.clone());
            async move {
                seedgate_loadtests::ledger::not_yet_sent(store.as_ref(), &ids)
                    .await
                    .is_ok_and(|left| left.is_empty())
            }
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await; // the carrier's receipts come in

    // SIGTERM with the partner bound: exit 0 within the drain deadline; a bind tried during
    // the drain is answered, not left waiting.
    let started = std::time::Instant::now();
    gw.signal("TERM");
    // Once the process says it is draining (`/readyz` 503), a new bind is refused.
    let http = reqwest::Client::new();
    common::eventually("/readyz says draining", Duration::from_secs(5), || {
        let (http, url) = (http.clone(), format!("{}/readyz", gw.base()));
        async move { http.get(url).send().await.map_or(true, |r| r.status() == 503) }
    })
    .await;
    let during =
        tokio::time::timeout(Duration::from_secs(5), partner_bind(gw.smpp_port, "transceiver")).await;
    let exit = gw.wait(Duration::from_secs(12)).await;
    assert!(exit.success(), "{exit:?} {:?}", gw.stderr());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "drained in {:?}",
        started.elapsed()
    );
    let (_, _, status) = during.expect("a bind during the drain is answered");
    assert_eq!(
        status,
        seedgate_smpp::CommandStatus::ESME_RBINDFAIL,
        "a bind during the drain is refused"
    );
    drop(tx);

    // The next process hands the partner every receipt it was owed.
    let mut gw = Gateway::spawn(&["--config", config, "up"], &dir, &flows_env());
    gw.ready(Duration::from_secs(10)).await;
    let (rx, mut incoming, status) = partner_bind(gw.smpp_port, "transceiver").await;
    assert!(status.is_ok(), "{status}");
    let mut got = std::collections::BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while got.len() < ids.len() {
        let f = tokio::time::timeout_at(deadline, incoming.requests.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of {} receipts after the restart", got.len(), ids.len()))
            .unwrap();
        if let Pdu::DeliverSm(sm) = &f.pdu {
            if let Some(id) = sm.tlvs.receipted_message_id() {
                got.insert(id);
            }
            let ok = Frame::response(
                f.sequence,
                seedgate_smpp::CommandStatus::ESME_ROK,
                Pdu::DeliverSmResp(SmResp::default()),
            );
            rx.respond(ok).await.unwrap();
        }
    }
    assert_eq!(got, ids.iter().cloned().collect());
    assert!(gw.terminate().await.success(), "{:?}", gw.stderr());
    sim.terminate().await;
}

#[tokio::test]
async fn a_malformed_request_gets_a_400_and_nothing_is_stored() {
    let dir = temp_dir("bad");
    let mut gw = Gateway::spawn(&["up"], &dir, &flows_env());
    gw.ready(Duration::from_secs(10)).await;
    let client = reqwest::Client::new();
    let url = format!("{}/channels/demo-at/callback", gw.base());
    let cases = [
        (
            "serviceCode=%2A134%23&phoneNumber=%2B27829999999&text=",
            400,
            "missing field `sessionId`",
        ),
        (
            "sessionId=x&serviceCode=%2A134%23&phoneNumber=&text=",
            400,
            "`phoneNumber` is empty",
        ),
        (
            "sessionId=x&phoneNumber=%2B27829999999&text=",
            400,
            "missing field `serviceCode`",
        ),
    ];
    for (body, status, needle) in cases {
        let resp = client
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), status);
        let json: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(json["error"]["code"], "bad_request");
        assert!(
            json["error"]["message"].as_str().unwrap().contains(needle),
            "{json}"
        );
    }
    let resp = client
        .post(format!("{}/channels/nope/callback", gw.base()))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "unknown_channel"
    );
    // A good request afterwards still works.
    let (status, body, _) = at_post(&gw.base(), "ATUid_ok", "+27820000002", "").await;
    assert_eq!((status, body.starts_with("CON ")), (200, true));
    assert!(gw.terminate().await.success());

    let store = sqlite_in(&dir);
    assert!(
        store.address_messages("+27829999999").await.unwrap().is_empty(),
        "nothing of the bad requests was stored"
    );
    assert_eq!(store.address_messages("+27820000002").await.unwrap().len(), 2);
}

#[tokio::test]
async fn bad_config_exits_64_naming_the_key_before_binding() {
    let dir = temp_dir("cfg");
    let cases: Vec<(Vec<(String, String)>, &str)> = vec![
        (vec![("SEEDGATE_BUS__KIND".into(), "kafka".into())], "bus.kind"),
        (
            vec![("SEEDGATE_SESSIONS__BUDGET_SECS".into(), "0".into())],
            "sessions.budget_secs",
        ),
        (
            vec![("SEEDGATE_FLOWS__DIR".into(), "/nonexistent/flows".into())],
            "flows.dir",
        ),
        (
            [
                flows_env(),
                vec![("SEEDGATE_CHANNELS__DEMO_AT__FLOW".into(), "missing".into())],
            ]
            .concat(),
            "channels.demo-at.flow",
        ),
    ];
    for (env, key) in cases {
        let mut gw = Gateway::spawn(&["up"], &dir, &env);
        let status = gw.wait(Duration::from_secs(10)).await;
        assert_eq!(status.code(), Some(64), "{key}: {:?}", gw.stderr());
        assert!(gw.stderr().join("\n").contains(key), "{key}: {:?}", gw.stderr());
    }
    let config = dir.join("bad.toml");
    std::fs::write(&config, "[bus]\nprefetch = \"lots\"\n").unwrap();
    let mut gw = Gateway::spawn(&["--config", config.to_str().unwrap(), "up"], &dir, &[]);
    assert_eq!(gw.wait(Duration::from_secs(10)).await.code(), Some(64));
    assert!(
        gw.stderr().join("\n").contains("bus.prefetch"),
        "{:?}",
        gw.stderr()
    );
}

#[tokio::test]
async fn flow_commands_test_transcripts_and_reject_broken_gotos_with_their_line() {
    let dir = temp_dir("flowcmd");
    let mut ok = Gateway::spawn(
        &["flow", "test", repo_root().join("flows").to_str().unwrap()],
        &dir,
        &[],
    );
    assert!(
        ok.wait(Duration::from_secs(10)).await.success(),
        "{:?}",
        ok.stdout()
    );
    assert!(
        ok.stdout().iter().any(|l| l.ends_with(" passed, 0 failed")),
        "{:?}",
        ok.stdout()
    );

    let demo = std::fs::read_to_string(repo_root().join("flows/demo.yaml")).unwrap();
    let wrong = dir.join("wrong.yaml");
    std::fs::write(
        &wrong,
        demo.replace("contains: \"Are you pregnant?\"", "contains: \"Are you well?\""),
    )
    .unwrap();
    let mut bad = Gateway::spawn(&["flow", "test", wrong.to_str().unwrap()], &dir, &[]);
    assert!(!bad.wait(Duration::from_secs(10)).await.success());
    let out = bad.stdout().join("\n");
    assert!(
        out.contains("expected the screen to contain \"Are you well?\"")
            && out.contains("| CON Are you pregnant?"),
        "{out}"
    );

    let broken = dir.join("broken.yaml");
    std::fs::write(&broken, demo.replace("goto: about}", "goto: abuot}")).unwrap();
    let mut v = Gateway::spawn(&["flow", "validate", broken.to_str().unwrap()], &dir, &[]);
    assert!(!v.wait(Duration::from_secs(10)).await.success());
    let line = demo.lines().position(|l| l.contains("goto: about}")).unwrap() + 1;
    let out = v.stdout().join("\n");
    assert!(
        out.contains(&format!("broken.yaml:{line}: ")) && out.contains("`abuot`"),
        "{out}"
    );
}
