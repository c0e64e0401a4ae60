//! Channels and contacts through the API of a live `seedgate up`, on SQLite and PostgreSQL:
//! channels created, changed, restarted and deleted without a process restart, with their live
//! status, their traffic log and signed status webhooks; contacts with fields, groups and
//! opt-out, which sends respect.

#![allow(clippy::unwrap_used)] // tests: panics are failures

mod common;

use std::time::Duration;

use common::{env_for, error_of, eventually, temp_dir, Client, Gateway, HookSink};
use serde_json::{json, Value};

async fn status_of(c: &Client, token: &str, channel: &str) -> Value {
    c.call(
        "GET",
        &format!("/api/v1/channels/{channel}"),
        Some(token),
        None,
        &[],
    )
    .await
    .1
}

/// Waits until `channel` reports `status` with a reason containing `because`; returns its view.
async fn wait_status(c: &Client, token: &str, channel: &str, status: &str, because: &str) -> Value {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Value::Null));
    eventually(&format!("{channel} is {status}"), Duration::from_secs(20), || {
        let seen = seen.clone();
        async move {
            let v = status_of(c, token, channel).await;
            let ok = v["status"] == status && v["reasons"].to_string().contains(because);
            *seen.lock().unwrap() = v;
            ok
        }
    })
    .await;
    let v = seen.lock().unwrap().clone();
    v
}

/// Sends an SMS and waits for its final status.
async fn send_and_settle(c: &Client, token: &str, channel: &str, to: &str) -> Value {
    let (s, sent) = c
        .call(
            "POST",
            "/api/v1/messages",
            Some(token),
            Some(json!({"channel": channel, "to": to, "content": "Week 24: your baby can hear you."})),
            &[],
        )
        .await;
    assert_eq!(s, 202, "{sent}");
    let id = sent["id"].as_str().unwrap().to_string();
    let last = std::sync::Arc::new(std::sync::Mutex::new(Value::Null));
    eventually(
        &format!("message on {channel} settles"),
        Duration::from_secs(20),
        || {
            let (id, last) = (id.clone(), last.clone());
            async move {
                let (_, m) = c
                    .call("GET", &format!("/api/v1/messages/{id}"), Some(token), None, &[])
                    .await;
                let done = matches!(m["status"].as_str(), Some("delivered" | "failed"));
                *last.lock().unwrap() = m;
                done
            }
        },
    )
    .await;
    let m = last.lock().unwrap().clone();
    m
}

async fn channels_live(backend: &str) {
    let hooks = HookSink::start("status-secret").await;
    let dir = temp_dir(&format!("channels-{backend}"));
    let env = env_for(backend, &[]);
    let admin = common::create_token(&dir, &env, "admin");
    let reader = common::create_token(&dir, &env, "read");
    let mut gw = Gateway::spawn(&["up"], &dir, &env);
    gw.ready(Duration::from_secs(10)).await;
    let c = Client {
        base: gw.base(),
        http: reqwest::Client::new(),
    };

    // The config file's channels report their status.
    let demo = wait_status(&c, &reader, "demo-sms", "ok", "simulated carrier").await;
    assert_eq!(
        (demo["origin"].as_str(), demo["generation"].as_i64()),
        (Some("config"), Some(0))
    );
    assert!(demo.get("definition").is_none(), "{demo}");
    wait_status(&c, &reader, "demo-at", "ok", "").await;

    // Bad definitions are refused, naming the key; nothing is stored.
    let bad = [
        (json!({"type": "simulated-carrier"}), 400, "missing field `name`"),
        (
            json!({"name": "x y", "type": "simulated-carrier"}),
            400,
            "channel names use ASCII letters",
        ),
        (
            json!({"name": "b1", "type": "carrier-pigeon"}),
            400,
            "channels.b1.type",
        ),
        (
            json!({"name": "b2", "type": "simulated-carrier", "colour": "red"}),
            400,
            "unknown field `colour`",
        ),
        (
            json!({"name": "b3", "type": "smpp-esme"}),
            400,
            "channels.b3.smpp",
        ),
        (
            json!({"name": "b4", "type": "smpp-esme", "smpp": {"address": "nowhere", "system_id": "x"}}),
            400,
            "channels.b4.smpp.address",
        ),
        (
            json!({"name": "b6", "type": "africastalking-ussd", "flow": "antenatal"}),
            422,
            "no flow named `antenatal` is published (flows: demo, registration)",
        ),
        (
            json!({"name": "b5", "type": "smpp-server-ussd", "flow": "demo"}),
            422,
            "SMPP server account",
        ),
        (
            json!({"name": "demo-sms", "type": "simulated-carrier"}),
            409,
            "exists",
        ),
    ];
    for (body, status, needle) in bad {
        let (s, b) = c
            .call("POST", "/api/v1/channels", Some(&admin), Some(body.clone()), &[])
            .await;
        assert_eq!(s, status, "{body} → {b}");
        assert!(error_of(&b).1.contains(needle), "{body} → {b}");
    }
    let (s, _) = c
        .call(
            "POST",
            "/api/v1/channels",
            Some(&reader),
            Some(json!({"name": "r", "type": "simulated-carrier"})),
            &[],
        )
        .await;
    assert_eq!(s, 403);
    // The config file's channels are changed in the file, not here.
    let (s, b) = c
        .call(
            "PUT",
            "/api/v1/channels/demo-sms",
            Some(&admin),
            Some(json!({"type": "simulated-carrier"})),
            &[],
        )
        .await;
    assert_eq!((s, error_of(&b).0), (409, "defined_in_config"));
    let (s, _) = c
        .call("DELETE", "/api/v1/channels/demo-sms", Some(&admin), None, &[])
        .await;
    assert_eq!(s, 409);

    // A channel created through the API carries messages at once: no restart.
    let (s, created) = c
        .call(
            "POST",
            "/api/v1/channels",
            Some(&admin),
            Some(
                json!({"name": "partner-sms", "type": "simulated-carrier", "sim_dlr_delay_ms": 50,
                        "webhooks": {"status": hooks.url, "secret": "status-secret"}}),
            ),
            &[],
        )
        .await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["origin"], "api");
    // Its own answer does not call it down: its connector is on its way.
    match created["status"].as_str() {
        Some("starting") => assert!(
            created["reasons"][0]
                .as_str()
                .unwrap()
                .contains("has not reported yet"),
            "{created}"
        ),
        Some("ok") => {}
        other => panic!("a new channel is starting (or ok already), not {other:?}: {created}"),
    }
    assert_eq!(
        created["definition"]["webhooks"]["secret"], "********",
        "secrets are not shown"
    );
    let m = send_and_settle(&c, &admin, "partner-sms", "+27820000401").await;
    assert_eq!(m["status"], "delivered", "{m}");
    let ok = wait_status(&c, &reader, "partner-sms", "ok", "").await;
    let generation = ok["generation"].as_i64().unwrap();

    // Its traffic log shows the submit, number masked.
    let (s, log) = c
        .call(
            "GET",
            "/api/v1/channels/partner-sms/logs",
            Some(&reader),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 200);
    let lines: Vec<&str> = log["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["summary"].as_str().unwrap())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains(m["id"].as_str().unwrap()) && l.contains("+278******01")),
        "{log}"
    );
    assert!(!log.to_string().contains("27820000401"), "{log}");

    // A change takes effect live: every message now fails at the (simulated) carrier.
    let (s, changed) = c
        .call(
            "PUT",
            "/api/v1/channels/partner-sms",
            Some(&admin),
            Some(
                json!({"type": "simulated-carrier", "sim_dlr_delay_ms": 50, "sim_failure_rate": 1.0,
                        "webhooks": {"status": hooks.url, "secret": "status-secret"}}),
            ),
            &[],
        )
        .await;
    assert_eq!(s, 200, "{changed}");
    assert!(changed["generation"].as_i64().unwrap() > generation);
    let m = send_and_settle(&c, &admin, "partner-sms", "+27820000402").await;
    assert_eq!(m["status"], "failed", "{m}");

    // Restart: the generation goes up, the channel comes back.
    let (s, restarted) = c
        .call(
            "POST",
            "/api/v1/channels/partner-sms/restart",
            Some(&admin),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 202, "{restarted}");
    assert!(restarted["generation"].as_i64() > changed["generation"].as_i64());
    let (s, _) = c
        .call(
            "POST",
            "/api/v1/channels/demo-sms/restart",
            Some(&admin),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 202, "config channels restart too");
    wait_status(&c, &reader, "demo-sms", "ok", "simulated carrier").await;
    assert_eq!(
        send_and_settle(&c, &admin, "demo-sms", "+27820000403").await["status"],
        "delivered"
    );

    // Status webhooks: signed, one per change, with the reasons.
    eventually("a status webhook saying ok", Duration::from_secs(20), || {
        let ok = hooks.of("status").iter().any(|s| s["status"] == "ok");
        async move { ok }
    })
    .await;
    let status = hooks.of("status");
    assert!(status.iter().all(|s| s["channel"] == "partner-sms"), "{status:?}");
    assert!(status
        .iter()
        .any(|s| s["status"] == "ok" && s["reasons"].as_array().is_some_and(|r| !r.is_empty())));
    let ids: std::collections::HashSet<String> = status.iter().map(|s| s["change_id"].to_string()).collect();
    assert_eq!(ids.len(), status.len(), "each change once: {status:?}");
    assert_eq!(*hooks.bad_signatures.lock().unwrap(), 0);

    // Deleted: gone from the list, sends refused, its connector stopped, and no health gauge
    // left behind for an alert to fire on.
    let gauge = "seedgate_channel_health{channel=\"partner-sms\"} 2";
    let metrics = || async {
        c.http
            .get(format!("{}/metrics", c.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    assert!(metrics().await.contains(gauge), "a running channel has its gauge");
    let (s, _) = c
        .call("DELETE", "/api/v1/channels/partner-sms", Some(&admin), None, &[])
        .await;
    assert_eq!(s, 204);
    eventually(
        "the deleted channel's gauge is gone",
        Duration::from_secs(10),
        || async {
            !metrics()
                .await
                .contains("seedgate_channel_health{channel=\"partner-sms\"}")
        },
    )
    .await;
    assert!(
        metrics()
            .await
            .contains("seedgate_channel_health{channel=\"demo-sms\"} 2"),
        "the others stay"
    );
    let (s, _) = c
        .call("GET", "/api/v1/channels/partner-sms", Some(&reader), None, &[])
        .await;
    assert_eq!(s, 404);
    let (s, b) = c
        .call(
            "POST",
            "/api/v1/messages",
            Some(&admin),
            Some(json!({"channel": "partner-sms", "to": "+27820000404", "content": "x"})),
            &[],
        )
        .await;
    assert_eq!((s, error_of(&b).0), (422, "unknown_channel"));
    let (s, _) = c
        .call("DELETE", "/api/v1/channels/partner-sms", Some(&admin), None, &[])
        .await;
    assert_eq!(s, 404);

    // A channel made through the API survives a restart of the process.
    let (s, _) = c
        .call(
            "PUT",
            "/api/v1/channels/kept-sms",
            Some(&admin),
            Some(json!({"type": "simulated-carrier", "sim_dlr_delay_ms": 10})),
            &[],
        )
        .await;
    assert_eq!(s, 201);
    assert!(gw.terminate().await.success(), "{:?}", gw.stderr());
    let mut gw = Gateway::spawn(&["up"], &dir, &env);
    gw.ready(Duration::from_secs(10)).await;
    let c = Client {
        base: gw.base(),
        http: reqwest::Client::new(),
    };
    assert_eq!(
        send_and_settle(&c, &admin, "kept-sms", "+27820000405").await["status"],
        "delivered"
    );
    assert!(gw.terminate().await.success(), "{:?}", gw.stderr());
    gw.assert_json_logs_without("27820000401");
}

#[tokio::test]
async fn channels_are_managed_live_on_sqlite() {
    channels_live("sqlite").await;
}

#[tokio::test]
async fn channels_are_managed_live_on_postgres() {
    channels_live("postgres").await;
}

/// An ESME channel made through the API binds to this gateway's own SMPP server: a wrong
/// password reads as `down` with the SMSC's answer, a corrected definition binds and carries
/// messages with their receipts, and the status webhook tells both changes.
#[tokio::test]
async fn an_esme_channel_made_through_the_api_reports_its_binds() {
    let hooks = HookSink::start("s").await;
    let dir = temp_dir("esme-live");
    let env = env_for("sqlite", &[]);
    let admin = common::create_token(&dir, &env, "admin");
    let mut gw = Gateway::spawn(&["up"], &dir, &env);
    gw.ready(Duration::from_secs(10)).await;
    let c = Client {
        base: gw.base(),
        http: reqwest::Client::new(),
    };
    let esme = |password: &str| {
        json!({"type": "smpp-esme",
               "smpp": {"address": format!("127.0.0.1:{}", gw.smpp_port), "system_id": "demo", "password": password},
               "webhooks": {"status": hooks.url, "secret": "s"}})
    };
    let (s, b) = c
        .call(
            "PUT",
            "/api/v1/channels/loop",
            Some(&admin),
            Some(esme("wrong")),
            &[],
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let down = wait_status(&c, &admin, "loop", "down", "ESME_RINVPASWD").await;
    let reasons = down["reasons"].to_string();
    assert!(
        reasons.contains("0 of 1 binds up") && reasons.contains("ESME_RINVPASWD"),
        "{down}"
    );
    let (s, _) = c
        .call(
            "PUT",
            "/api/v1/channels/loop",
            Some(&admin),
            Some(esme("demo")),
            &[],
        )
        .await;
    assert_eq!(s, 200);
    let up = wait_status(&c, &admin, "loop", "ok", "1 of 1 binds up").await;
    assert!(up["reasons"].to_string().contains("1 of 1 binds up"), "{up}");
    // Through our own SMPP server to the simulated carrier, and the receipt back.
    let m = send_and_settle(&c, &admin, "loop", "+27820000501").await;
    assert_eq!(m["status"], "delivered", "{m}");
    // The traffic log (written within a second or so) shows the PDUs, and the refused bind
    // from before the change.
    eventually("the PDUs in the log", Duration::from_secs(10), || async {
        let (_, log) = c
            .call("GET", "/api/v1/channels/loop/logs", Some(&admin), None, &[])
            .await;
        let log = log.to_string();
        log.contains("submit_sm to=+278******01")
            && log.contains("deliver_sm")
            && log.contains("ESME_RINVPASWD")
    })
    .await;
    eventually("status webhooks for down and ok", Duration::from_secs(20), || {
        let statuses: Vec<String> = hooks
            .of("status")
            .iter()
            .map(|s| s["status"].to_string())
            .collect();
        async move { statuses.contains(&"\"down\"".to_string()) && statuses.contains(&"\"ok\"".to_string()) }
    })
    .await;
    assert!(gw.terminate().await.success(), "{:?}", gw.stderr());
    gw.assert_json_logs_without("27820000501");
}

#[tokio::test]
async fn contacts_keep_fields_groups_and_opt_out_and_sends_respect_it() {
    for (backend, sealed) in [("sqlite", false), ("postgres", false), ("sqlite", true)] {
        let dir = temp_dir(&format!("contacts-{backend}"));
        let mut extra = Vec::new();
        if sealed {
            // Encryption at rest changes nothing the API shows.
            let key = dir.join("store.key");
            std::fs::write(&key, "3c".repeat(32)).unwrap();
            extra.push(("SEEDGATE_STORE__ENCRYPTION_KEY_FILE", key.display().to_string()));
        }
        let env = env_for(backend, &extra);
        let admin = common::create_token(&dir, &env, "admin");
        let sender = common::create_token(&dir, &env, "send,read");
        let mut gw = Gateway::spawn(&["up"], &dir, &env);
        gw.ready(Duration::from_secs(10)).await;
        let c = Client {
            base: gw.base(),
            http: reqwest::Client::new(),
        };
        let (s, made) = c
            .call(
                "PUT",
                "/api/v1/contacts/27820000601",
                Some(&sender),
                Some(json!({"name": "Thandi", "language": "zul", "fields": {"edd": "2027-03-01"}, "groups": ["pregnant"]})),
                &[],
            )
            .await;
        assert_eq!(s, 201, "{made}");
        assert_eq!(
            (made["msisdn"].as_str(), made["version"].as_i64()),
            (Some("+27820000601"), Some(1))
        );
        // The same person however the number is written.
        let (s, got) = c
            .call(
                "GET",
                "/api/v1/contacts/+27%2082%20000%200601",
                Some(&sender),
                None,
                &[],
            )
            .await;
        assert_eq!((s, got["name"].as_str()), (200, Some("Thandi")), "{got}");
        // A patch merges; `null` removes a field.
        let (s, patched) = c
            .call(
                "PATCH",
                "/api/v1/contacts/+27820000601",
                Some(&sender),
                Some(json!({"fields": {"edd": null, "clinic": "Soweto"}, "add_groups": ["registered"], "remove_groups": ["pregnant"]})),
                &[],
            )
            .await;
        assert_eq!(s, 200, "{patched}");
        assert_eq!(patched["fields"], json!({"clinic": "Soweto"}));
        assert_eq!(patched["groups"], json!(["registered"]));
        assert_eq!(patched["version"], 2);
        // A write based on an old read is refused.
        let (s, b) = c
            .call(
                "PUT",
                "/api/v1/contacts/+27820000601",
                Some(&sender),
                Some(json!({"version": 1})),
                &[],
            )
            .await;
        assert_eq!((s, error_of(&b).0), (409, "version_conflict"));
        // Bad input, precisely.
        for (path, body, needle) in [
            ("/api/v1/contacts/not-a-number", json!({}), "is not an MSISDN"),
            (
                "/api/v1/contacts/+27820000601",
                json!({"language": "English"}),
                "ISO 639-3",
            ),
            (
                "/api/v1/contacts/+27820000601",
                json!({"groups": ["a b"]}),
                "group `a b`",
            ),
            (
                "/api/v1/contacts/+27820000601",
                json!({"nickname": "T"}),
                "unknown field `nickname`",
            ),
        ] {
            let (s, b) = c.call("PUT", path, Some(&sender), Some(body), &[]).await;
            assert_eq!(s, 400, "{path} {b}");
            assert!(error_of(&b).1.contains(needle), "{b}");
        }
        // Groups and opt-out are searchable.
        c.call(
            "PUT",
            "/api/v1/contacts/+27820000602",
            Some(&sender),
            Some(json!({"groups": ["registered"]})),
            &[],
        )
        .await;
        let (_, page) = c
            .call(
                "GET",
                "/api/v1/contacts?group=registered",
                Some(&sender),
                None,
                &[],
            )
            .await;
        assert_eq!(page["items"].as_array().unwrap().len(), 2, "{page}");
        // Opted out: sends are refused until they opt in again.
        let (s, _) = c
            .call(
                "PATCH",
                "/api/v1/contacts/+27820000601",
                Some(&sender),
                Some(json!({"opted_out": true})),
                &[],
            )
            .await;
        assert_eq!(s, 200);
        let (_, out) = c
            .call("GET", "/api/v1/contacts?opted_out=true", Some(&sender), None, &[])
            .await;
        assert_eq!(out["items"][0]["msisdn"], "+27820000601", "{out}");
        let sms = json!({"channel": "demo-sms", "to": "27820000601", "content": "Hello"});
        let (s, b) = c
            .call("POST", "/api/v1/messages", Some(&sender), Some(sms.clone()), &[])
            .await;
        assert_eq!((s, error_of(&b).0), (422, "opted_out"), "{b}");
        c.call(
            "PATCH",
            "/api/v1/contacts/+27820000601",
            Some(&sender),
            Some(json!({"opted_out": false})),
            &[],
        )
        .await;
        let (s, _) = c
            .call("POST", "/api/v1/messages", Some(&sender), Some(sms), &[])
            .await;
        assert_eq!(s, 202);
        // Erasure is for admins.
        let (s, _) = c
            .call(
                "DELETE",
                "/api/v1/contacts/+27820000601",
                Some(&sender),
                None,
                &[],
            )
            .await;
        assert_eq!(s, 403);
        let (s, _) = c
            .call("DELETE", "/api/v1/contacts/+27820000601", Some(&admin), None, &[])
            .await;
        assert_eq!(s, 204);
        let (s, _) = c
            .call("GET", "/api/v1/contacts/+27820000601", Some(&sender), None, &[])
            .await;
        assert_eq!(s, 404);
        assert!(gw.terminate().await.success(), "{:?}", gw.stderr());
        gw.assert_json_logs_without("27820000601");
    }
}
