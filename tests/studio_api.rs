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

/// A POST without a body → (status, JSON body).
async fn post(c: &Client, token: &str, path: &str) -> (u16, Value) {
    c.call("POST", path, Some(token), None, &[]).await
}

/// A call with a JSON body → (status, JSON body).
async fn send(c: &Client, token: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    c.call(method, path, Some(token), Some(body), &[]).await
}

async fn get(c: &Client, token: &str, path: &str) -> (u16, Value) {
    c.call("GET", path, Some(token), None, &[]).await
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
    let (s, list) = get(&c, &admin, "/api/v1/flows").await;
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
    let (s, b) = post(&c, &admin, "/api/v1/flows/demo.yaml/publish").await;
    assert_eq!((s, error_of(&b).0), (409, "invalid_flow"), "{b}");
    assert!(error_of(&b).1.contains("abuot"), "{b}");

    // Two authors from the same revision: the second is told who saved first.
    let v2 = v1
        .replace(DEMO_WELCOME, "Sawubona! Welcome to MomConnect.")
        .replace(
            "MomConnect sends free health messages",
            "MomConnect (v2) sends free health messages",
        );
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
    let (s, b) = send(
        &c,
        &admin,
        "POST",
        "/api/v1/flows/demo.yaml/publish",
        json!({"base_revision": 3}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["version"]["number"], 2);
    let (_, after, _) = at_post(&base, "studio-new", "+27820000302", "").await;
    assert!(after.starts_with("CON Sawubona!"), "{after}");
    let (_, next, _) = at_post(&base, "studio-old", "+27820000301", "2").await;
    assert!(
        next.starts_with("END MomConnect sends free"),
        "a session started before the publish finishes on its version: {next}"
    );
    let (_, newer, _) = at_post(&base, "studio-new", "+27820000302", "2").await;
    assert!(newer.starts_with("END MomConnect (v2) sends free"), "{newer}");
    let (s, b) = send(
        &c,
        &admin,
        "POST",
        "/api/v1/flows/demo.yaml/publish",
        json!({"base_revision": 2}),
    )
    .await;
    assert_eq!(
        (s, error_of(&b).0),
        (409, "version_conflict"),
        "a stale publish: {b}"
    );

    // Restore makes an old version the draft; roll back publishes the previous version again.
    let (s, b) = post(&c, &admin, "/api/v1/flows/demo.yaml/versions/1/restore").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        (b["revision"].as_i64(), b["published"].as_i64()),
        (Some(4), Some(2))
    );
    assert!(b["text"].as_str().unwrap().contains(DEMO_WELCOME));
    let (s, b) = post(&c, &admin, "/api/v1/flows/demo.yaml/versions/9/restore").await;
    assert_eq!(s, 404, "{b}");
    let (s, b) = post(&c, &admin, "/api/v1/flows/demo.yaml/rollback").await;
    assert_eq!((s, b["version"]["number"].as_i64()), (200, Some(3)), "{b}");
    let (_, rolled, _) = at_post(&base, "studio-rolled", "+27820000303", "").await;
    assert!(rolled.starts_with(&format!("CON {DEMO_WELCOME}")), "{rolled}");
    let (s, b) = get(&c, &reader, "/api/v1/flows/demo.yaml/versions").await;
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
    let (s, b) = get(&c, &reader, "/api/v1/flows/demo.yaml/versions/2").await;
    assert_eq!(s, 200);
    assert!(b["text"].as_str().unwrap().contains("Sawubona"));
    let (s, _) = post(&c, &reader, "/api/v1/flows/demo.yaml/rollback").await;
    assert_eq!(s, 403, "a read token cannot roll back");

    // A new file as JSON, checked against the live files: a flow the API's channel can name.
    let doc = json!({"languages": ["eng", "zul"], "flows": {"clinic": {"start": "hi", "nodes": {
        "hi": {"menu": {"text": {"eng": "Clinic times", "zul": "Izikhathi zomtholampilo"},
            "options": [{"key": "1", "label": {"eng": "Today", "zul": "Namuhla"}, "goto": "today"}]}},
        "today": {"end": {"text": {"eng": "Open 8 to 4.", "zul": "Kuvulwa ngo-8 kuya ku-4."}}}}}}});
    let (s, b) = send(
        &c,
        &admin,
        "PUT",
        "/api/v1/flows/clinic.yaml",
        json!({"doc": doc, "base_revision": 0}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["report"]["errors"], json!([]));
    let screens = b["report"]["screens"].as_array().unwrap();
    assert!(
        screens
            .iter()
            .any(|s| s["node"] == "hi" && s["language"] == "zul" && s["limit"] == 182),
        "{b}"
    );
    assert_eq!(b["report"]["paths"]["clinic"][0]["end"], "today");
    let (s, b) = send(
        &c,
        &admin,
        "PUT",
        "/api/v1/flows/clinic.yaml",
        json!({"doc": doc, "base_revision": 0}),
    )
    .await;
    assert_eq!((s, error_of(&b).0), (409, "version_conflict"), "{b}");
    // A rename that breaks a goto from another file is that file's error, and blocks publish.
    let (_, reg) = get_yaml(&base, &admin, "registration.yaml").await;
    let cross = reg.replace(
        "flows:\n",
        "flows:\n  to_clinic:\n    start: go\n    nodes:\n      go: {goto: \"flow:clinic\"}\n",
    );
    assert_ne!(cross, reg, "registration.yaml has a `flows:` key");
    let (s, b) = put_yaml(&base, &admin, "registration.yaml", &cross, None).await;
    assert_eq!(s, 200, "{b}");
    assert!(
        b["report"]["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("flow `clinic`, which does not exist"),
        "drafts are checked against what is live, and clinic.yaml is not published yet: {b}"
    );
    let (s, b) = post(&c, &admin, "/api/v1/flows/clinic.yaml/publish").await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = send(
        &c,
        &admin,
        "POST",
        "/api/v1/flows/registration.yaml/check",
        json!({"text": cross}),
    )
    .await;
    assert_eq!(
        (s, b["report"]["errors"].as_array().map(Vec::len)),
        (200, Some(0)),
        "{b}"
    );
    let (s, b) = post(&c, &admin, "/api/v1/flows/registration.yaml/publish").await;
    assert_eq!(s, 200, "{b}");
    let renamed = serde_yaml_ng::to_string(&doc)
        .unwrap()
        .replace("clinic:", "clinics:");
    let (s, b) = put_yaml(&base, &admin, "clinic.yaml", &renamed, None).await;
    assert_eq!(s, 200, "{b}");
    let errors = b["report"]["errors"].as_array().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e["file"] == "registration.yaml" && e["message"].as_str().unwrap().contains("clinic")),
        "the broken goto is reported: {b}"
    );
    let (s, b) = post(&c, &admin, "/api/v1/flows/clinic.yaml/publish").await;
    assert_eq!((s, error_of(&b).0), (409, "invalid_flow"), "{b}");

    // A channel made through the API may name a flow that is only in the store.
    let (s, b) = send(
        &c,
        &admin,
        "POST",
        "/api/v1/channels",
        json!({"name": "clinic-at", "type": "africastalking-ussd", "flow": "clinic"}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    eventually(
        "the new channel answers with the store's flow",
        Duration::from_secs(10),
        || {
            let base = base.clone();
            async move {
                let resp = reqwest::Client::new()
                    .post(format!("{base}/channels/clinic-at/callback"))
                    .form(&[
                        ("sessionId", "clinic1"),
                        ("serviceCode", "*134*551#"),
                        ("phoneNumber", "+27820000304"),
                        ("text", ""),
                    ])
                    .send()
                    .await
                    .unwrap();
                resp.text().await.unwrap().starts_with("CON Clinic times")
            }
        },
    )
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
    let (s, body) = post(&c, &admin, "/api/v1/flows/demo.yaml/publish").await;
    assert_eq!(s, 200, "{body}");
    let mut n = 0;
    loop {
        n += 1;
        let (_, menu, _) = at_post(
            &b.base(),
            &format!("live-poll-{n}"),
            &format!("+2782000{:04}", 400 + n),
            "",
        )
        .await;
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

/// One simulator call → its JSON (200 expected).
async fn sim(c: &Client, token: &str, body: Value) -> Value {
    let (s, b) = c
        .call("POST", "/api/v1/simulate", Some(token), Some(body.clone()), &[])
        .await;
    assert_eq!(s, 200, "{body} → {b}");
    b
}

/// The simulator runs the real interpreter on a draft or the published flows, for a simulated
/// contact; transcript tests report a failure as a diff; a message set's preview lists the
/// days; the drop-off counts follow the sessions people had.
#[tokio::test]
async fn the_simulator_tests_preview_and_drop_off_work_on_the_store() {
    let dir = temp_dir("studio-sim");
    let env = env_for("sqlite", &[]);
    let admin = common::create_token(&dir, &env, "admin");
    let gw = Gateway::spawn(&["up"], &dir, &env);
    gw.ready(Duration::from_secs(10)).await;
    let base = gw.base();
    let c = Client {
        base: base.clone(),
        http: reqwest::Client::new(),
    };

    // A draft with an over-long isiZulu screen: flagged on its node, and still simulated,
    // paged as the channel pages it.
    let long_zul = "Sawubona. ".repeat(22);
    let doc = json!({"languages": ["eng", "zul"], "flows": {"visit": {"start": "menu", "nodes": {
        "menu": {"menu": {"text": {"eng": "Clinic visit", "zul": long_zul},
            "options": [{"key": "1", "label": {"eng": "Book", "zul": "Bhuka"}, "goto": "done"}]}},
        "done": {"end": {"text": {"eng": "Booked.", "zul": "Kubhukhiwe."}}}}}}});
    let (s, b) = send(&c, &admin, "PUT", "/api/v1/flows/visit.yaml", json!({"doc": doc})).await;
    assert_eq!(s, 201, "{b}");
    let flagged = b["report"]["errors"].as_array().unwrap();
    assert!(
        flagged.iter().any(|e| e["node"] == "menu"
            && e["message"].as_str().unwrap().contains("`zul`")
            && e["message"].as_str().unwrap().contains("182")),
        "{b}"
    );
    let zul = b["report"]["screens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["node"] == "menu" && s["language"] == "zul")
        .unwrap()
        .clone();
    assert!(zul["chars"].as_u64().unwrap() > 182, "{zul}");
    let first = sim(
        &c,
        &admin,
        json!({"file": "visit.yaml", "flow": "visit", "contact": {"language": "zul"}}),
    )
    .await;
    let pages = first["screen"]["pages"].as_array().unwrap();
    assert!(pages.len() >= 2, "a long screen is paged: {first}");
    assert!(pages[0].as_str().unwrap().ends_with("\n99. More"), "{first}");
    assert!(
        pages.iter().all(|p| p.as_str().unwrap().chars().count() <= 182),
        "{first}"
    );
    assert_eq!(
        (first["node"].as_str(), first["screen"]["continue"].as_bool()),
        (Some("menu"), Some(true))
    );
    let next = sim(
        &c,
        &admin,
        json!({"file": "visit.yaml", "flow": "visit", "state": first["state"], "input": "1"}),
    )
    .await;
    assert_eq!(next["screen"]["text"], "Kubhukhiwe.");
    assert_eq!(next["screen"]["continue"], false);
    assert_eq!(next["entered"], json!([{"flow": "visit", "node": "done"}]));
    // The published flows answer too (the registration webhook stubbed both ways).
    let mut state = Value::Null;
    for input in [None, Some("1"), Some("1"), Some("20")] {
        let mut body = json!({"file": "registration.yaml", "source": "published", "flow": "registration", "webhooks": "stub"});
        if let Some(i) = input {
            body["input"] = json!(i);
            body["state"] = state.clone();
        }
        state = sim(&c, &admin, body).await["state"].clone();
    }
    for (status, end) in [(200, "Thank you. You are registered"), (503, "")] {
        let out = sim(
            &c,
            &admin,
            json!({"file": "registration.yaml", "source": "published", "flow": "registration", "state": state,
                   "input": "1", "webhooks": "stub", "stub": {"status": status, "body": {"id": "R1"}}}),
        )
        .await;
        assert_eq!(out["webhooks"][0]["stubbed"], true, "{out}");
        assert_eq!(out["webhooks"][0]["status"], status, "{out}");
        let entered: Vec<&str> = out["entered"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"].as_str().unwrap())
            .collect();
        let want = if status == 200 {
            "registered"
        } else {
            "registry_down"
        };
        assert!(entered.contains(&want), "{status} → {entered:?}");
        if !end.is_empty() {
            assert!(out["screen"]["text"].as_str().unwrap().starts_with(end), "{out}");
        }
        assert!(
            out["effects"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e.to_string().contains("subscribe"))
                || status != 200,
            "{out}"
        );
    }
    // Nothing of the simulation reached the store's contacts.
    let (s, _) = get(&c, &admin, "/api/v1/contacts/+000000000000").await;
    assert_eq!(s, 404, "the simulated contact is not stored");
    let (s, b) = send(
        &c,
        &admin,
        "POST",
        "/api/v1/simulate",
        json!({"file": "visit.yaml", "flow": "nope"}),
    )
    .await;
    assert_eq!(s, 400, "{b}");

    // Transcript tests of a draft: pass, then a changed expectation fails with a diff.
    let (s, b) = post(&c, &admin, "/api/v1/flows/demo.yaml/tests").await;
    assert_eq!((s, b["failed"].as_u64()), (200, Some(0)), "{b}");
    assert!(b["passed"].as_u64().unwrap() >= 1, "{b}");
    let (_, demo) = get_yaml(&base, &admin, "demo.yaml").await;
    let wrong = demo.replacen(
        "contains: \"Are you pregnant?\"",
        "contains: \"Are you expecting?\"",
        1,
    );
    assert_ne!(wrong, demo);
    let (s, _) = put_yaml(&base, &admin, "demo.yaml", &wrong, Some("\"r1\"")).await;
    assert_eq!(s, 200);
    let (_, b) = post(&c, &admin, "/api/v1/flows/demo.yaml/tests").await;
    assert_eq!(b["failed"], 1, "{b}");
    let failed = b["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["passed"] == false)
        .unwrap();
    assert!(
        failed["diff"].as_str().unwrap().contains("Are you expecting?"),
        "{failed}"
    );
    assert_eq!(failed["step"], 2, "{failed}");

    // Message-set preview: a mother due on this date gets these messages on these days.
    let (s, b) = send(
        &c,
        &admin,
        "POST",
        "/api/v1/flows/registration.yaml/preview",
        json!({"set": "pregnancy_weekly", "start_date": "2027-06-30"}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["time_zone"], "Africa/Johannesburg");
    assert_eq!(
        b["messages"][0]["date"], "2026-10-21",
        "36 weeks before the due date: {b}"
    );
    assert!(
        b["messages"][0]["texts"]["zul"]
            .as_str()
            .unwrap()
            .contains("isonto 4"),
        "{b}"
    );

    // Drop-off: two walks of the demo menu (one registers, one hangs up at the first screen).
    common::walk_demo_menu(&base, "drop-1", "+27820000501").await;
    let (_, _, _) = at_post(&base, "drop-2", "+27820000502", "").await;
    let end = reqwest::Client::new()
        .post(format!("{base}/channels/demo-at/callback/events"))
        .form(&[
            ("sessionId", "drop-2"),
            ("serviceCode", "*134*550#"),
            ("networkCode", "65501"),
            ("phoneNumber", "+27820000502"),
            ("status", "Failed"),
            ("durationInMillis", "9000"),
            ("cost", "0"),
        ])
        .send()
        .await
        .unwrap();
    assert!(end.status().is_success(), "{:?}", end.text().await);
    let (c2, admin2) = (&c, admin.as_str());
    eventually(
        "the drop-off counts reach the store",
        Duration::from_secs(10),
        || async move {
            let (_, b) = c2
                .call(
                    "GET",
                    "/api/v1/flows/demo.yaml/stats?flow=demo&days=1",
                    Some(admin2),
                    None,
                    &[],
                )
                .await;
            b["runs"] == 2 && b["completed"] == 1
        },
    )
    .await;
    let (_, b) = get(&c, &admin, "/api/v1/flows/demo.yaml/stats?flow=demo&days=7").await;
    let edge = |from: &str, to: &str| {
        b["edges"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["from"] == from && e["to"] == to)
            .map_or(0, |e| e["count"].as_i64().unwrap())
    };
    assert_eq!(
        (
            edge("welcome", "pregnant"),
            edge("pregnant", "language"),
            edge("language", "registered")
        ),
        (1, 1, 1),
        "{b}"
    );
    assert_eq!(b["completion_rate"], 0.5, "{b}");
    let ended = |node: &str| {
        b["ends"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["node"] == node)
            .map_or(0, |e| e["count"].as_i64().unwrap())
    };
    assert_eq!((ended("registered"), ended("welcome")), (1, 1), "{b}");
    let (s, _) = get(&c, &admin, "/api/v1/flows/demo.yaml/stats?flow=demo&days=3").await;
    assert_eq!(s, 400);
    drop(gw);
}

fn seedgate(dir: &std::path::Path, env: &[(String, String)], args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(common::BIN)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().cloned())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Waits for a process that must stop by itself; its exit code.
async fn exit_code(gw: &mut Gateway, within: Duration) -> Option<i32> {
    let started = Instant::now();
    loop {
        if let Some(status) = gw.child.try_wait().unwrap() {
            return status.code();
        }
        assert!(started.elapsed() < within, "still running after {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `seedgate flow export` and `import` move flow files between the store and a folder (a bad
/// folder changes nothing); a config file's channel may name a flow that is only in the store,
/// and one naming no flow at all stops the process with exit 64 before a port is bound.
#[tokio::test]
async fn flow_files_move_between_a_folder_and_the_store() {
    let dir = temp_dir("studio-export");
    let env = env_for("sqlite", &[]);
    let admin = common::create_token(&dir, &env, "admin");
    let first = Gateway::spawn(&["up"], &dir, &env);
    first.ready(Duration::from_secs(10)).await;
    drop(first);

    let out = dir.join("exported");
    let (ok, text) = seedgate(&dir, &env, &["flow", "export", out.to_str().unwrap()]);
    assert!(ok, "{text}");
    let repo_demo = std::fs::read_to_string(common::repo_root().join("flows/demo.yaml")).unwrap();
    assert_eq!(
        std::fs::read_to_string(out.join("demo.yaml")).unwrap(),
        repo_demo,
        "{text}"
    );
    assert!(out.join("registration.yaml").exists(), "{text}");

    // A folder with an error imports nothing.
    std::fs::write(
        out.join("demo.yaml"),
        repo_demo.replace(DEMO_WELCOME, "Imported menu."),
    )
    .unwrap();
    std::fs::write(
        out.join("broken.yaml"),
        "flows:\n  b:\n    start: nowhere\n    nodes: {}\n",
    )
    .unwrap();
    let (ok, text) = seedgate(&dir, &env, &["flow", "import", out.to_str().unwrap()]);
    assert!(!ok && text.contains("nothing was imported"), "{text}");
    std::fs::remove_file(out.join("broken.yaml")).unwrap();
    let clinic = "languages: [eng]\nflows:\n  clinic:\n    start: hi\n    nodes:\n      hi:\n        end: {text: \"The clinic opens at 8.\"}\n";
    std::fs::write(out.join("clinic.yaml"), clinic).unwrap();
    let (ok, text) = seedgate(&dir, &env, &["flow", "import", out.to_str().unwrap()]);
    assert!(ok, "{text}");
    assert!(text.contains("demo.yaml: published as version 2"), "{text}");
    assert!(text.contains("clinic.yaml: published as version 1"), "{text}");
    assert!(text.contains("registration.yaml: unchanged"), "{text}");

    // A config file's channel naming the store's flow runs it; naming no flow stops the start.
    let config = dir.join("seedgate.toml");
    std::fs::write(&config, "[channels.clinic-at]\ntype = \"africastalking-ussd\"\nflow = \"clinic\"\n\n[channels.demo-sms]\ntype = \"simulated-carrier\"\n").unwrap();
    let mut with_config = env.clone();
    with_config.push(("SEEDGATE_CONFIG".into(), config.display().to_string()));
    let gw = Gateway::spawn(&["up"], &dir, &with_config);
    gw.ready(Duration::from_secs(10)).await;
    let resp = reqwest::Client::new()
        .post(format!("{}/channels/clinic-at/callback", gw.base()))
        .form(&[
            ("sessionId", "c1"),
            ("serviceCode", "*1#"),
            ("phoneNumber", "+27820000601"),
            ("text", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "END The clinic opens at 8.");
    let c = Client {
        base: gw.base(),
        http: reqwest::Client::new(),
    };
    let (_, b) = get(&c, &admin, "/api/v1/flows/demo.yaml/versions").await;
    assert_eq!(b["versions"][0]["published_by"], "cli", "{b}");
    drop(gw);
    std::fs::write(&config, "[channels.clinic-at]\ntype = \"africastalking-ussd\"\nflow = \"clinics\"\n\n[channels.demo-sms]\ntype = \"simulated-carrier\"\n").unwrap();
    let mut gw = Gateway::spawn(&["up"], &dir, &with_config);
    assert_eq!(exit_code(&mut gw, Duration::from_secs(15)).await, Some(64));
    let said = format!("{:?}{:?}", gw.stdout(), gw.stderr());
    assert!(
        said.contains("channels.clinic-at.flow") && said.contains("clinics"),
        "{said}"
    );
}
