//! USSD over SMPP end to end: seedgate binds as an ESME to an SMSC (the simulator) that
//! carries a USSD gateway's dialogs; a 4-hop dialog runs through the session engine to the
//! demo flow and back, replies on the dialog's bind with the profile's `ussd_service_op`.

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)] // tests: panics are failures

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{repo_root, temp_dir, Gateway};
use seedgate_smpp::pdu::Sm;
use seedgate_smpp::smsc_sim::{SimConfig, SmscSim};
use seedgate_smpp::tlv::{tag, Tlvs};

fn ussd_mo(op: u8, session: u8, text: &str) -> Sm {
    Sm {
        service_type: "USSD".into(),
        short_message: Bytes::from(text.as_bytes().to_vec()),
        tlvs: Tlvs::default()
            .with(tag::USSD_SERVICE_OP, vec![op])
            .with(tag::ITS_SESSION_INFO, vec![session, 0]),
        ..Sm::default()
    }
}

async fn start(hop_deadline_ms: u64) -> (Gateway, SmscSim, tokio_util::sync::DropGuard, std::path::PathBuf) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let sim = SmscSim::start(listener, SimConfig::default(), stop.clone()).unwrap();
    let dir = temp_dir("ussd-smpp");
    let config = dir.join("seedgate.toml");
    std::fs::write(
        &config,
        format!(
            "[channels.ussd-gw]\ntype = \"smpp-esme\"\nflow = \"demo\"\nhop_deadline_ms = {hop_deadline_ms}\n\
             [channels.ussd-gw.smpp]\naddress = \"{}\"\nsystem_id = \"seedgate\"\npassword = \"x\"\nussd_profile = \"tata\"\n\
             [smpp_server]\nenabled = false\n",
            sim.addr
        ),
    )
    .unwrap();
    let env = vec![(
        "SEEDGATE_FLOWS__DIR".to_string(),
        repo_root().join("flows").display().to_string(),
    )];
    let gw = Gateway::spawn(&["--config", config.to_str().unwrap(), "up"], &dir, &env);
    gw.ready(Duration::from_secs(10)).await;
    for _ in 0..200 {
        if sim.stats().binds.load(std::sync::atomic::Ordering::Relaxed) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    (gw, sim, stop.drop_guard(), dir)
}

async fn reply(submits: &mut tokio::sync::broadcast::Receiver<Sm>) -> (u8, Option<(u8, bool)>, String) {
    let sm = tokio::time::timeout(Duration::from_secs(10), submits.recv())
        .await
        .expect("a reply in time")
        .unwrap();
    assert_eq!(sm.service_type, "USSD");
    assert_eq!(sm.dest.addr, "27820000001", "the reply goes to the phone");
    let text = seedgate_smpp::text::decode(sm.data_coding, sm.payload());
    (
        sm.tlvs.ussd_service_op().unwrap(),
        sm.tlvs.its_session_info(),
        text,
    )
}

#[tokio::test]
async fn a_four_hop_ussd_dialog_runs_through_the_demo_flow_and_back() {
    let (mut gw, sim, _stop, dir) = start(4000).await;
    let mut submits = sim.submits();
    let send = |op: u8, text: &str| sim.send_mo("seedgate", "27820000001", "550", ussd_mo(op, 9, text));

    assert!(send(1, "*134*550#").await.unwrap().is_ok());
    let (op, info, text) = reply(&mut submits).await;
    assert_eq!(
        (op, info),
        (2, Some((9, false))),
        "USSR request, session number echoed"
    );
    assert!(
        text.starts_with("Welcome to MomConnect (demo).\n1. Register"),
        "{text}"
    );

    assert!(send(18, "1").await.unwrap().is_ok());
    assert!(reply(&mut submits).await.2.starts_with("Are you pregnant?"));
    assert!(send(18, "1").await.unwrap().is_ok());
    assert!(reply(&mut submits).await.2.starts_with("Which language"));
    assert!(send(18, "2").await.unwrap().is_ok());
    let (op, info, text) = reply(&mut submits).await;
    assert_eq!((op, info), (17, Some((9, true))), "PSSR response ends the dialog");
    assert!(text.starts_with("Thank you. You are registered"), "{text}");

    assert!(gw.terminate().await.success(), "{:?}", gw.stderr());
    let mut cfg = seedgate_runtime::config::StoreConfig::default();
    cfg.url = format!("sqlite://{}/data/seedgate.db", dir.display());
    let store = seedgate_store::open(&cfg).unwrap();
    let session = store
        .session("ussd-gw:27820000001/9")
        .await
        .unwrap()
        .expect("the session is recorded");
    assert_eq!(
        session.end_reason,
        Some(seedgate_proto::SessionEndReason::Completed)
    );
    assert_eq!(session.hops, 4);
}

#[tokio::test]
async fn a_user_abort_closes_the_session_with_its_reason() {
    let (mut gw, sim, _stop, dir) = start(4000).await;
    let mut submits = sim.submits();
    assert!(sim
        .send_mo("seedgate", "27820000001", "550", ussd_mo(1, 3, "*134*550#"))
        .await
        .unwrap()
        .is_ok());
    reply(&mut submits).await;
    // The user hangs up: its_session_info with the end flag.
    let mut abort = ussd_mo(18, 3, "");
    abort.tlvs.set(tag::ITS_SESSION_INFO, vec![3, 1]);
    assert!(sim
        .send_mo("seedgate", "27820000001", "550", abort)
        .await
        .unwrap()
        .is_ok());
    assert!(gw.terminate().await.success(), "{:?}", gw.stderr());
    let mut cfg = seedgate_runtime::config::StoreConfig::default();
    cfg.url = format!("sqlite://{}/data/seedgate.db", dir.display());
    let store = seedgate_store::open(&cfg).unwrap();
    let session = store.session("ussd-gw:27820000001/3").await.unwrap().unwrap();
    assert_eq!(
        session.end_reason,
        Some(seedgate_proto::SessionEndReason::UserAbort)
    );
}
