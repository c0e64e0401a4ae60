//! The handover commands (issue 16) against real processes: `seedgate backup` taken while the
//! gateway writes restores every acknowledged message (`seedgate restore`, refused while a
//! gateway holds the store and for a file that is not a backup); `seedgate doctor` passes a
//! default install and flags a missing flow, a default password and a skewed clock
//! (libfaketime); `seedgate init` writes a starter config that runs.

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)] // tests: panics are failures

mod common;

use std::process::Command;
use std::time::Duration;

use common::{cli, env_for, temp_dir, Client, Gateway, BIN};
use serde_json::json;

#[tokio::test]
async fn a_backup_taken_during_writes_restores_every_committed_message() {
    let dir = temp_dir("backup");
    let env = env_for("sqlite", &[("SEEDGATE_API__RATE_PER_SEC", "0".to_string())]);
    let admin = common::create_token(&dir, &env, "admin,send,read");
    let mut gw = Gateway::spawn(&["up"], &dir, &env);
    gw.ready(Duration::from_secs(10)).await;
    let c = std::sync::Arc::new(Client {
        base: gw.base(),
        http: reqwest::Client::new(),
    });

    // Four clients send until told to stop; each 202 is kept with when it came.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..4 {
        let (c, stop, admin) = (c.clone(), stop.clone(), admin.clone());
        writers.spawn(async move {
            let mut acked = Vec::new();
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let body = json!({"channel": "demo-sms", "to": format!("+2782{w}{n:06}"), "content": "Your clinic visit is on Monday."});
                let (s, b) = c.call("POST", "/api/v1/messages", Some(&admin), Some(body), &[]).await;
                assert_eq!(s, 202, "{b}");
                acked.push((b["id"].as_str().unwrap().to_string(), std::time::Instant::now()));
            }
            acked
        });
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (begun, backup) = (std::time::Instant::now(), dir.join("backup.db"));
    let (code, _, err) = cli(&dir, &env, &["backup", backup.to_str().unwrap()], "");
    let ended = std::time::Instant::now();
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("checked") && err.contains("messages"),
        "says what it holds: {err}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut acked = Vec::new();
    while let Some(r) = writers.join_next().await {
        acked.extend(r.unwrap());
    }
    let before: Vec<&String> = acked
        .iter()
        .filter(|(_, at)| *at < begun)
        .map(|(id, _)| id)
        .collect();
    assert!(
        !before.is_empty() && acked.iter().any(|(_, at)| *at > ended),
        "the writers ran on both sides of the backup"
    );

    // Refused, and nothing changed: a backup over a file, a restore while the gateway runs,
    // a restore of a file that is not a backup.
    let (code, _, err) = cli(&dir, &env, &["backup", backup.to_str().unwrap()], "");
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("exists"), "{err}");
    let (code, _, err) = cli(&dir, &env, &["restore", backup.to_str().unwrap()], "");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("stop it first"), "{err}");
    assert!(gw.terminate().await.success(), "{:?}", gw.stderr());
    let junk = dir.join("notes.txt");
    std::fs::write(&junk, "not a database").unwrap();
    let db = dir.join("data/seedgate.db");
    let size = std::fs::metadata(&db).unwrap().len();
    let (code, _, err) = cli(&dir, &env, &["restore", junk.to_str().unwrap()], "");
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("not a SQLite database"), "{err}");
    assert_eq!(
        std::fs::metadata(&db).unwrap().len(),
        size,
        "the store is untouched"
    );

    // Restored: every message acknowledged before the backup began is there.
    let (code, _, err) = cli(&dir, &env, &["restore", backup.to_str().unwrap()], "");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("is kept at"), "the replaced database is kept: {err}");
    let kept = std::fs::read_dir(dir.join("data"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("seedgate.db.before-restore-")
        })
        .count();
    assert!(kept >= 1, "the old database is moved aside, not deleted");
    let gw = Gateway::spawn(&["up"], &dir, &env);
    gw.ready(Duration::from_secs(10)).await;
    let c = Client {
        base: gw.base(),
        http: reqwest::Client::new(),
    };
    for id in &before {
        let (s, b) = c
            .call("GET", &format!("/api/v1/messages/{id}"), Some(&admin), None, &[])
            .await;
        assert_eq!(
            s, 200,
            "message {id}, acknowledged before the backup, is in it: {b}"
        );
    }
    let (_, audit) = c
        .call(
            "GET",
            "/api/v1/audit?action=store.restore",
            Some(&admin),
            None,
            &[],
        )
        .await;
    assert_eq!(
        audit["items"].as_array().unwrap().len(),
        1,
        "the restore is in the restored trail: {audit}"
    );
    eprintln!(
        "{} messages acknowledged before the backup, {} in all",
        before.len(),
        acked.len()
    );
}

#[tokio::test]
async fn doctor_passes_a_default_install_and_flags_a_missing_flow_a_default_password_and_a_skewed_clock() {
    // A default install, before and after its first start: no problem (the demo account's
    // known password is a warning while it only takes binds from this host).
    let dir = temp_dir("doctor");
    let (code, out, err) = cli(&dir, &[], &["doctor"], "");
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("warn  smpp account demo") && out.contains("0 problem(s)"),
        "{out}"
    );
    assert!(!dir.join("data").exists(), "doctor makes nothing");
    let mut gw = Gateway::spawn(&["up"], &dir, &[]);
    gw.ready(Duration::from_secs(10)).await;
    let (code, out, err) = cli(&dir, &[], &["doctor"], "");
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ok    store") && out.contains("intact"), "{out}");
    assert!(gw.terminate().await.success());

    // A channel whose flow does not exist, and the demo password open to every address.
    let config = dir.join("bad.toml");
    std::fs::write(
        &config,
        format!(
            "[channels.clinic-ussd]\ntype = \"africastalking-ussd\"\nflow = \"antenatal\"\n\n\
             [channels.demo-sms]\ntype = \"simulated-carrier\"\n\n\
             [[smpp_server.accounts]]\nsystem_id = \"partner\"\npassword_hash = \"{}\"\nallowed_ips = [\"0.0.0.0/0\"]\nroute = \"demo-sms\"\n",
            seedgate_runtime::config::DEMO_PASSWORD_HASH
        ),
    )
    .unwrap();
    let (code, out, err) = cli(&dir, &[], &["--config", config.to_str().unwrap(), "doctor"], "");
    assert_eq!(code, 1, "{out}{err}");
    let fail = |needle: &str| {
        out.lines()
            .position(|l| l.starts_with("FAIL") && l.contains(needle))
            .unwrap_or_else(|| panic!("no FAIL with {needle}: {out}"))
    };
    let at = fail("channel clinic-ussd");
    assert!(out.lines().nth(at).unwrap().contains("`antenatal`"), "{out}");
    assert!(
        out.lines()
            .nth(at + 1)
            .unwrap()
            .contains("channels.clinic-ussd.flow"),
        "says what to do: {out}"
    );
    let at = fail("smpp account partner");
    assert!(
        out.lines()
            .nth(at + 1)
            .unwrap()
            .contains("seedgate smpp hash-password"),
        "{out}"
    );
    assert!(out.contains("2 problem(s)"), "{out}");

    // This host's clock two minutes ahead of PostgreSQL's (libfaketime).
    let env = env_for("postgres", &[]);
    let faketime = Command::new("faketime")
        .args(["-f", "+120s", BIN, "doctor"])
        .current_dir(&dir)
        .envs(env.iter().cloned())
        .output()
        .expect("faketime (Debian `faketime`, installed by .ci/test)");
    let out = String::from_utf8_lossy(&faketime.stdout);
    assert_eq!(faketime.status.code(), Some(1), "{out}");
    let clock = out.lines().find(|l| l.contains("clock")).unwrap();
    assert!(clock.starts_with("FAIL") && clock.contains("+12"), "{out}");
    let (code, out, err) = cli(&dir, &env, &["doctor"], "");
    assert_eq!(code, 0, "the same host, on time: {out}{err}");
    assert!(out.contains("ok    clock"), "{out}");
}

#[tokio::test]
async fn init_writes_a_starter_config_that_keeps_the_demo_channels_and_passes_doctor() {
    let dir = temp_dir("init");
    let file = dir.join("seedgate.toml");
    let (code, _, err) = cli(&dir, &[], &["init", file.to_str().unwrap()], "");
    assert_eq!(code, 0, "{err}");
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(
        written.contains("# [channels.mtn-sms]") && written.contains("seedgate smpp hash-password"),
        "shows how to add one"
    );
    std::fs::write(&file, format!("{written}\n# mine\n")).unwrap();
    let (code, _, err) = cli(&dir, &[], &["init", file.to_str().unwrap()], "");
    assert_eq!(code, 64, "{err}");
    assert!(
        std::fs::read_to_string(&file).unwrap().ends_with("# mine\n"),
        "never overwritten"
    );

    let (code, out, err) = cli(&dir, &[], &["--config", file.to_str().unwrap(), "doctor"], "");
    assert_eq!(code, 0, "{out}{err}");
    let admin = common::create_token(
        &dir,
        &[("SEEDGATE_CONFIG".to_string(), file.display().to_string())],
        "read",
    );
    let mut gw = Gateway::spawn(&["--config", file.to_str().unwrap(), "up"], &dir, &[]);
    gw.ready(Duration::from_secs(10)).await;
    let c = Client {
        base: gw.base(),
        http: reqwest::Client::new(),
    };
    let (s, chans) = c.call("GET", "/api/v1/channels", Some(&admin), None, &[]).await;
    assert_eq!(s, 200, "{chans}");
    let mut names: Vec<&str> = chans
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["demo-at", "demo-sms", "momconnect-at"]);
    let (status, _, _) = common::at_post(&gw.base(), "init-1", "+27820000301", "").await;
    assert_eq!(status, 200, "the demo menu answers");
    assert!(gw.terminate().await.success(), "{:?}", gw.stderr());
}
