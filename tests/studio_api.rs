//! Flow files in the store through the API, against a live `seedgate up`, on SQLite and on
//! PostgreSQL: the folder imported as version 1, drafts saved with optimistic revisions and the
//! validator's report, bad files refused with nothing saved, publish (live at once on the
//! callback), restore, roll back, audit rows, roles; and a publish live on a second process
//! within 2 s.

#![allow(clippy::unwrap_used)] // tests: panics are failures

mod common;

use std::time::{Duration, Instant};

use common::{at_post, env_for, error_of, eventually, temp_dir, Client, Gateway};
use serde_json::{json, Value};

/// A PUT of YAML text → (status, JSON body).
async fn put_yaml(base: &str, token: &str, file: &str, text: &str, if_match: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .put(format!("{base}/api/v1/flows/{file}"))
        .bearer_auth(token)
        .header("content-type", "application/yaml")
        .body(text.to_string());
    if let Some(m) = if_match {
        req = req.header("if-match", m);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn get_yaml(base: &str, token: &str, file: &str) -> (String, String) {
    let resp = reqwest::Client::new()
        .get(format!("{base}/api/v1/flows/{file}"))
        .bearer_auth(token)
        .header("accept", "application/yaml")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    (etag, resp.text().await.unwrap())
}

const DEMO_WELCOME: &str = "Welcome to MomConnect (demo).";

async fn flow_files(backend: &str) {
    let dir = temp_dir(&format!("studio-api-{backend}"));
    let env = env_for(backend, &[]);
    let admin = common::create_token(&dir, &env, "admin");
    let reader = common::create_token(&dir, &env, "read");
    let gw = Gateway::spawn(&["up"], &dir, &env);
    gw.ready(Duration::from_secs(10)).await;
    let base = gw.base();
    let c = Client {
        base: base.clone(),
        http: reqwest::Client::new(),
    };

    // The flows folder is imported once, as version 1 of each file.
    let (s, list) = c.call("GET", "/api/v1/flows", Some(&admin), None, &[]).await;
    assert_eq!(s, 200, "{list}");
    let files: Vec<&str> = list["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["demo.yaml", "registration.yaml"], "{list}");
    assert_eq!(list["files"][0]["published"], 1);
    assert_eq!(list["files"][0]["errors"], 0);
    let (etag, v1) = get_yaml(&base, &admin, "demo.yaml").await;
    assert_eq!(etag, "\"r1\"");
    assert!(v1.contains(DEMO_WELCOME));

    // Bad input: a clear error, and nothing saved.
    let bad = [
        ("flows: [unclosed", 422, "invalid_yaml"),
        (
            "flows:\n  demo:\n    start: a\n    nodes:\n      a:\n        teleport: {to: b}\n",
            422,
            "invalid_yaml",
        ),
    ];
    for (text, status, code) in bad {
        let (s, b) = put_yaml(&base, &admin, "demo.yaml", text, Some("\"r1\"")).await;
        assert_eq!((s, error_of(&b).0), (status, code), "{text} → {b}");
        assert!(error_of(&b).1.contains("nothing was saved"), "{b}");
    }
    let (s, b) = put_yaml(&base, &admin, "demo.yaml", &"#".repeat(300 * 1024), None).await;
    assert_eq!((s, error_of(&b).0), (413, "too_large"), "{b}");
    let (s, b) = put_yaml(&base, &admin, "..%2Fetc.yaml", &v1, None).await;
    assert_eq!(s, 400, "{b}");
    let (s, b) = put_yaml(&base, &reader, "demo.yaml", &v1, None).await;
    assert_eq!(s, 403, "a read token cannot save: {b}");
    let (etag, unchanged) = get_yaml(&base, &admin, "demo.yaml").await;
    assert_eq!((etag.as_str(), unchanged.as_str()), ("\"r1\"", v1.as_str()));

    // A draft with a broken goto is saved with its report, and cannot be published.
    let broken = v1.replace("goto: about}", "goto: abuot}");
    assert_ne!(broken, v1);
    let (s, b) = put_yaml(&base, &admin, "demo.yaml", &broken, Some("\"r1\"")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["revision"], 2);
    let errors = b["report"]["errors"].as_array().unwrap();
    assert!(
        errors.iter().any(|e| e["node"] == "welcome"
            && e["flow"] == "demo"
            && e["message"].as_str().unwrap().contains("`abuot`")
            && e["line"].as_u64().is_some()),
        "the error sits on its node: {b}"
    );
    let (s, b) = c
        .call("POST", "/api/v1/flows/demo.yaml/publish", Some(&admin), None, &[])
        .await;
    assert_eq!((s, error_of(&b).0), (409, "invalid_flow"), "{b}");
    assert!(error_of(&b).1.contains("abuot"), "{b}");

    // Two authors from the same revision: the second is told who saved first.
    let v2 = v1.replace(DEMO_WELCOME, "Sawubona! Welcome to MomConnect.");
    let (s, b) = put_yaml(&base, &admin, "demo.yaml", &v2, Some("\"r2\"")).await;
    assert_eq!((s, b["revision"].as_i64()), (200, Some(3)), "{b}");
    let (s, b) = put_yaml(&base, &admin, "demo.yaml", &broken, Some("\"r2\"")).await;
    assert_eq!((s, error_of(&b).0), (409, "version_conflict"), "{b}");
    assert!(error_of(&b).1.contains("saved this draft first"), "{b}");
    assert_eq!(b["current"]["revision"], 3);
    assert!(b["current"]["text"].as_str().unwrap().contains("Sawubona"));

    // A publish is live on the callback at once; the running session stays on its version.
    let (_, before, _) = at_post(&base, "studio-old", "+27820000301", "").await;
    assert!(before.starts_with(&format!("CON {DEMO_WELCOME}")), "{before}");
    let (s, b) = c
        .call(
            "POST",
            "/api/v1/flows/demo.yaml/publish",
            Some(&admin),
            Some(json!({"base_revision": 3})),
            &[],
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["version"]["number"], 2);
    let (_, after, _) = at_post(&base, "studio-new", "+27820000302", "").await;
    assert!(after.starts_with("CON Sawubona!"), "{after}");
    let (_, next, _) = at_post(&base, "studio-old", "+27820000301", "2").await;
    assert!(next.starts_with("END MomConnect sends free"), "{next}");
    let (s, b) = c
        .call(
            "POST",
            "/api/v1/flows/demo.yaml/publish",
            Some(&admin),
            Some(json!({"base_revision": 2})),
            &[],
        )
        .await;
    assert_eq!((s, error_of(&b).0), (409, "version_conflict"), "a stale publish: {b}");

    // Restore makes an old version the draft; roll back publishes the previous version again.
    let (s, b) = c
        .call("POST", "/api/v1/flows/demo.yaml/versions/1/restore", Some(&admin), None, &[])
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!((b["revision"].as_i64(), b["published"].as_i64()), (Some(4), Some(2)));
    assert!(b["text"].as_str().unwrap().contains(DEMO_WELCOME));
    let (s, b) = c
        .call("POST", "/api/v1/flows/demo.yaml/versions/9/restore", Some(&admin), None, &[])
        .await;
    assert_eq!(s, 404, "{b}");
    let (s, b) = c
        .call("POST", "/api/v1/flows/demo.yaml/rollback", Some(&admin), None, &[])
        .await;
    assert_eq!((s, b["version"]["number"].as_i64()), (200, Some(3)), "{b}");
    let (_, rolled, _) = at_post(&base, "studio-rolled", "+27820000303", "").await;
    assert!(rolled.starts_with(&format!("CON {DEMO_WELCOME}")), "{rolled}");
    let (s, b) = c
        .call("GET", "/api/v1/flows/demo.yaml/versions", Some(&reader), None, &[])
        .await;
    assert_eq!(s, 200, "{b}");
    let numbers: Vec<i64> = b["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [3, 2, 1]);
    assert_eq!(b["versions"][0]["live"], true);
    let actions: Vec<&str> = b["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions.last().copied(),
        Some("import"),
        "the import is the first audit row: {actions:?}"
    );
    for want in ["save", "publish", "restore"] {
        assert!(actions.contains(&want), "{want} in {actions:?}");
    }
    assert!(b["audit"][0]["actor"].as_str().unwrap().starts_with("token:"));
    let (s, b) = c
        .call("GET", "/api/v1/flows/demo.yaml/versions/2", Some(&reader), None, &[])
        .await;
    assert_eq!(s, 200);
    assert!(b["text"].as_str().unwrap().contains("Sawubona"));
    let (s, _) = c
        .call("POST", "/api/v1/flows/demo.yaml/rollback", Some(&reader), None, &[])
        .await;
    assert_eq!(s, 403, "a read token cannot roll back");

    // A new file as JSON, checked against the live files: a flow the API's channel can name.
    let doc = json!({"languages": ["eng", "zul"], "flows": {"clinic": {"start": "hi", "nodes": {
        "hi": {"menu": {"text": {"eng": "Clinic times", "zul": "Izikhathi zomtholampilo"},
            "options": [{"key": "1", "label": {"eng": "Today", "zul": "Namuhla"}, "goto": "today"}]}},
        "today": {"end": {"text": {"eng": "Open 8 to 4.", "zul": "Kuvulwa ngo-8 kuya ku-4."}}}}}}});
    let (s, b) = c
        .call("PUT", "/api/v1/flows/clinic.yaml", Some(&admin), Some(json!({"doc": doc, "base_revision": 0})), &[])
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["report"]["errors"], json!([]));
    let screens = b["report"]["screens"].as_array().unwrap();
    assert!(
        screens.iter().any(|s| s["node"] == "hi" && s["language"] == "zul" && s["limit"] == 182),
        "{b}"
    );
    assert_eq!(b["report"]["paths"]["clinic"][0]["end"], "today");
    let (s, b) = c
        .call("PUT", "/api/v1/flows/clinic.yaml", Some(&admin), Some(json!({"doc": doc, "base_revision": 0})), &[])
        .await;
    assert_eq!((s, error_of(&b).0), (409, "version_conflict"), "{b}");
    // A rename that breaks a goto from another file is that file's error, and blocks publish.
    let (_, reg) = get_yaml(&base, &admin, "registration.yaml").await;
    let cross = reg.replace("flows:\n", "flows:\n  to_clinic:\n    start: go\n    nodes:\n      go: {goto: \"flow:clinic\"}\n");
    assert_ne!(cross, reg, "registration.yaml has a `flows:` key");
    let (s, b) = put_yaml(&base, &admin, "registration.yaml", &cross, None).await;
    assert_eq!(s, 200, "{b}");
    assert!(
        b["report"]["errors"][0]["message"].as_str().unwrap().contains("flow `clinic`, which does not exist"),
        "drafts are checked against what is live, and clinic.yaml is not published yet: {b}"
    );
    let (s, b) = c
        .call("POST", "/api/v1/flows/clinic.yaml/publish", Some(&admin), None, &[])
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = c
        .call("POST", "/api/v1/flows/registration.yaml/check", Some(&admin), Some(json!({"text": cross})), &[])
        .await;
    assert_eq!((s, b["report"]["errors"].as_array().map(Vec::len)), (200, Some(0)), "{b}");
    let (s, b) = c
        .call("POST", "/api/v1/flows/registration.yaml/publish", Some(&admin), None, &[])
        .await;
    assert_eq!(s, 200, "{b}");
    let renamed = serde_yaml_ng::to_string(&doc).unwrap().replace("clinic:", "clinics:");
    let (s, b) = put_yaml(&base, &admin, "clinic.yaml", &renamed, None).await;
    assert_eq!(s, 200, "{b}");
    let errors = b["report"]["errors"].as_array().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e["file"] == "registration.yaml" && e["message"].as_str().unwrap().contains("clinic")),
        "the broken goto is reported: {b}"
    );
    let (s, b) = c
        .call("POST", "/api/v1/flows/clinic.yaml/publish", Some(&admin), None, &[])
        .await;
    assert_eq!((s, error_of(&b).0), (409, "invalid_flow"), "{b}");

    // A channel made through the API may name a flow that is only in the store.
    let (s, b) = c
        .call(
            "POST",
            "/api/v1/channels",
            Some(&admin),
            Some(json!({"name": "clinic-at", "type": "africastalking-ussd", "flow": "clinic"})),
            &[],
        )
        .await;
    assert_eq!(s, 201, "{b}");
    eventually("the new channel answers with the store's flow", Duration::from_secs(10), || {
        let base = base.clone();
        async move {
            let resp = reqwest::Client::new()
                .post(format!("{base}/channels/clinic-at/callback"))
                .form(&[("sessionId", "clinic1"), ("serviceCode", "*134*551#"), ("phoneNumber", "+27820000304"), ("text", "")])
                .send()
                .await
                .unwrap();
            resp.text().await.unwrap().starts_with("CON Clinic times")
        }
    })
    .await;
    drop(gw);
}

#[tokio::test]
async fn flow_files_have_drafts_versions_and_an_audit_on_sqlite() {
    flow_files("sqlite").await;
}

#[tokio::test]
async fn flow_files_have_drafts_versions_and_an_audit_on_postgres() {
    flow_files("postgres").await;
}

/// Two processes on one PostgreSQL store: a publish through one is answered by the other's
/// callback within 2 s, with no restart.
#[tokio::test]
async fn a_publish_is_live_on_another_process_within_two_seconds() {
    let dir_a = temp_dir("studio-live-a");
    let dir_b = temp_dir("studio-live-b");
    let env = env_for("postgres", &[]);
    let admin = common::create_token(&dir_a, &env, "admin");
    let a = Gateway::spawn(&["up"], &dir_a, &env);
    a.ready(Duration::from_secs(10)).await;
    let b = Gateway::spawn(&["up"], &dir_b, &env);
    b.ready(Duration::from_secs(10)).await;
    let (_, first, _) = at_post(&b.base(), "live-1", "+27820000311", "").await;
    assert!(first.starts_with(&format!("CON {DEMO_WELCOME}")), "{first}");
    let (_, v1) = get_yaml(&a.base(), &admin, "demo.yaml").await;
    let v2 = v1.replace(DEMO_WELCOME, "Version two of the menu.");
    let (s, body) = put_yaml(&a.base(), &admin, "demo.yaml", &v2, Some("\"r1\"")).await;
    assert_eq!(s, 200, "{body}");
    let published = Instant::now();
    let c = Client {
        base: a.base(),
        http: reqwest::Client::new(),
    };
    let (s, body) = c
        .call("POST", "/api/v1/flows/demo.yaml/publish", Some(&admin), None, &[])
        .await;
    assert_eq!(s, 200, "{body}");
    let mut n = 0;
    loop {
        n += 1;
        let (_, menu, _) = at_post(&b.base(), &format!("live-poll-{n}"), &format!("+2782000{:04}", 400 + n), "").await;
        if menu.starts_with("CON Version two") {
            break;
        }
        assert!(
            published.elapsed() < Duration::from_secs(2),
            "the other process still answers the old menu after {:?}: {menu}",
            published.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "{{\"figure\": \"publish_to_live_other_process\", \"ms\": {}}}",
        published.elapsed().as_millis()
    );
    drop(a);
    drop(b);
}
