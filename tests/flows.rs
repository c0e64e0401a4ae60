//! The registration flow of `seedgate up`, end to end: a mother registers over USSD (Africa's
//! Talking, channel `momconnect-at`), the registry webhook answers, and the contact, her
//! subscription and the welcome SMS are there through the API. And `seedgate dial` walks the
//! same flow in the terminal.

#![allow(clippy::unwrap_used)] // tests: panics are failures

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{env_for, eventually, free_port, repo_root, temp_dir, Client, Gateway, BIN};

const PHONE: &str = "+27820000901";

async fn at(base: &str, session: &str, text: &str) -> String {
    let resp = reqwest::Client::new()
        .post(format!("{base}/channels/momconnect-at/callback"))
        .form(&[
            ("sessionId", session),
            ("serviceCode", "*134*550*1#"),
            ("phoneNumber", PHONE),
            ("networkCode", "65501"),
            ("text", text),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}

/// The repository's flows, with the registry pointing at this gateway's own stand-in.
fn flows_for(dir: &std::path::Path, port: u16) -> std::path::PathBuf {
    let flows = dir.join("flows");
    std::fs::create_dir_all(&flows).unwrap();
    for name in ["demo.yaml", "registration.yaml"] {
        let text = std::fs::read_to_string(repo_root().join("flows").join(name))
            .unwrap()
            .replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"));
        std::fs::write(flows.join(name), text).unwrap();
    }
    flows
}

#[tokio::test]
async fn a_ussd_registration_creates_the_contact_and_the_subscription() {
    let dir = temp_dir("registration");
    let port = free_port();
    let flows = flows_for(&dir, port);
    let env = env_for("sqlite", &[("SEEDGATE_FLOWS__DIR", flows.display().to_string())]);
    let admin = common::create_token(&dir, &env, "admin,read");
    let mut gw = Gateway::spawn_on(port, &["up"], &dir, &env);
    gw.ready(Duration::from_secs(10)).await;
    let base = gw.base();
    assert!(at(&base, "R1", "").await.starts_with("CON Welcome to MomConnect"));
    assert!(at(&base, "R1", "1").await.contains("Are you pregnant?"));
    assert!(at(&base, "R1", "1*1").await.contains("How many weeks"));
    assert!(at(&base, "R1", "1*1*99")
        .await
        .contains("Sorry, please reply with a number from 4 to 42."));
    assert!(at(&base, "R1", "1*1*99*24").await.contains("Which language"));
    let end = at(&base, "R1", "1*1*99*24*2").await;
    assert!(
        end.starts_with("END Siyabonga. Ubhalisile"),
        "in the language she chose: {end}"
    );

    let c = Client {
        base: base.clone(),
        http: reqwest::Client::new(),
    };
    let (s, contact) = c
        .call(
            "GET",
            &format!("/api/v1/contacts/{PHONE}"),
            Some(&admin),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 200, "{contact}");
    let edd = (chrono::Utc::now().date_naive() + chrono::Duration::weeks(16)).to_string();
    assert_eq!(contact["fields"]["edd"], edd.as_str(), "{contact}");
    assert_eq!(contact["language"], "zul");
    assert!(
        contact["fields"]["registration_id"]
            .as_str()
            .unwrap()
            .starts_with("REG-"),
        "the registry answered: {contact}"
    );
    assert!(
        contact["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "registered"),
        "{contact}"
    );
    let subs = contact["subscriptions"].as_array().unwrap();
    assert_eq!(subs.len(), 1, "{contact}");
    assert_eq!(
        (subs[0]["message_set"].as_str(), subs[0]["state"].as_str()),
        (Some("pregnancy_weekly"), Some("active"))
    );
    // The welcome SMS is sent (and delivered by the simulated carrier), in isiZulu.
    eventually(
        "the welcome SMS is delivered",
        Duration::from_secs(15),
        || async {
            let (_, page) = c
                .call(
                    "GET",
                    "/api/v1/messages?address=%2B27820000901&channel=demo-sms",
                    Some(&admin),
                    None,
                    &[],
                )
                .await;
            page["items"].as_array().is_some_and(|items| {
                items.iter().any(|m| {
                    m["content"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("Siyakwamukela ku-MomConnect!"))
                        && m["status"] == "delivered"
                })
            })
        },
    )
    .await;
    assert!(gw.terminate().await.success(), "{:?}", gw.stderr());
    gw.assert_json_logs_without("27820000901");
}

#[tokio::test]
async fn seedgate_dial_walks_a_flow_file_in_the_terminal() {
    let dir = temp_dir("dial");
    let mut child = Command::new(BIN)
        .args(["dial", "*134*550*1#", "--flows"])
        .arg(repo_root().join("flows"))
        .args(["--flow", "registration"])
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"1\n1\n24\n1\n").unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "│ Welcome to MomConnect.",
        "│ 1. Yes",
        "│ How many weeks pregnant are you?",
        "│ Which language do you want your messages in?",
        "(subscribed to `pregnancy_weekly`)",
        "│ Thank you. You are registered",
        "END (session closed)",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}
