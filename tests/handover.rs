//! Handover (issue 16) against a live `seedgate up`, on SQLite and on PostgreSQL: API tokens
//! listed, used and revoked (through the API, and by the CLI while the server runs: its next
//! request answers 401), every change in the audit trail with who, what and from where;
//! `seedgate smpp hash-password` makes a hash an ESME (PyPI `smpplib`) binds with; one E.164
//! form for a person's number. Backups, doctor and init: `operations.rs`.

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)] // tests: panics are failures

mod common;

use std::process::Command;
use std::time::Duration;

use common::{cli, env_for, error_of, eventually, temp_dir, Client, Gateway};
use serde_json::{json, Value};

/// The listed token named `name`.
fn listed<'a>(tokens: &'a Value, name: &str) -> &'a Value {
    tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no token {name} in {tokens}"))
}

async fn tokens_and_audit(backend: &str) {
    let dir = temp_dir(&format!("handover-{backend}"));
    let env = env_for(backend, &[]);
    let admin = common::create_token(&dir, &env, "admin");
    let reader = common::create_token(&dir, &env, "read");
    let mut gw = Gateway::spawn(&["up"], &dir, &env);
    gw.ready(Duration::from_secs(10)).await;
    let c = Client {
        base: gw.base(),
        http: reqwest::Client::new(),
    };
    let sms =
        json!({"channel": "demo-sms", "to": "+27820000201", "content": "Your clinic visit is on Monday."});

    // A token made through the API works at once and is listed, used, never with its secret.
    let (s, made) = c
        .call(
            "POST",
            "/api/v1/tokens",
            Some(&admin),
            Some(json!({"name": "registry", "scopes": ["send"]})),
            &[],
        )
        .await;
    assert_eq!(s, 201, "{made}");
    let registry = made["token"].as_str().unwrap().to_string();
    let registry_id = made["id"].as_str().unwrap().to_string();
    let (s, _) = c
        .call(
            "POST",
            "/api/v1/messages",
            Some(&registry),
            Some(sms.clone()),
            &[],
        )
        .await;
    assert_eq!(s, 202);
    let (s, tokens) = c.call("GET", "/api/v1/tokens", Some(&admin), None, &[]).await;
    assert_eq!(s, 200, "{tokens}");
    let t = listed(&tokens, "registry");
    assert_eq!(
        (t["status"].as_str(), t["scopes"].clone()),
        (Some("live"), json!(["send"])),
        "{t}"
    );
    assert!(t["last_used_at"].is_string(), "a used token says when: {t}");
    assert!(
        t.get("revoked_at").is_none() && t.get("hash").is_none() && t.get("token").is_none(),
        "{t}"
    );
    assert!(
        !tokens.to_string().contains(&registry[3..]),
        "no secret is listed"
    );
    assert_eq!(
        tokens.as_array().unwrap().len(),
        3,
        "the CLI's two and the API's one: {tokens}"
    );

    // Listing and revoking are an admin's.
    for (method, path) in [
        ("GET", "/api/v1/tokens".to_string()),
        ("DELETE", format!("/api/v1/tokens/{registry_id}")),
    ] {
        let (s, b) = c.call(method, &path, Some(&reader), None, &[]).await;
        assert_eq!(s, 403, "{method} {path} by a read token: {b}");
    }
    let (s, b) = c
        .call("DELETE", "/api/v1/tokens/not-an-id", Some(&admin), None, &[])
        .await;
    assert_eq!((s, error_of(&b).0), (400, "bad_request"), "{b}");
    let (s, _) = c
        .call(
            "DELETE",
            &format!("/api/v1/tokens/{}", uuid::Uuid::now_v7()),
            Some(&admin),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 404);

    // Revoked through the API: its very next request is refused; it stays listed as revoked.
    let (s, _) = c
        .call(
            "DELETE",
            &format!("/api/v1/tokens/{registry_id}"),
            Some(&admin),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 204);
    let (s, b) = c
        .call(
            "POST",
            "/api/v1/messages",
            Some(&registry),
            Some(sms.clone()),
            &[],
        )
        .await;
    assert_eq!(
        (s, error_of(&b)),
        (401, ("unauthorized", "unknown or revoked token"))
    );
    let (s, _) = c
        .call(
            "DELETE",
            &format!("/api/v1/tokens/{registry_id}"),
            Some(&admin),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 404, "a token is revoked once");
    let (_, tokens) = c.call("GET", "/api/v1/tokens", Some(&admin), None, &[]).await;
    let t = listed(&tokens, "registry");
    assert_eq!(t["status"], "revoked", "{t}");
    assert!(t["revoked_at"].is_string(), "{t}");

    // Revoked by the CLI, another process, while the server runs and has the token cached.
    let (code, secret, err) = cli(
        &dir,
        &env,
        &["token", "create", "--scopes", "send", "--name", "clinic-app"],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let clinic = secret.trim().to_string();
    let (s, _) = c
        .call("POST", "/api/v1/messages", Some(&clinic), Some(sms.clone()), &[])
        .await;
    assert_eq!(s, 202);
    let (code, list, err) = cli(&dir, &env, &["token", "list"], "");
    assert_eq!(code, 0, "{err}");
    let row = list
        .lines()
        .find(|l| l.contains("clinic-app"))
        .unwrap_or_else(|| panic!("{list}"));
    let clinic_id = row.split_whitespace().next().unwrap().to_string();
    assert!(row.contains("send"), "{row}");
    let (code, _, err) = cli(&dir, &env, &["token", "revoke", &clinic_id], "");
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = cli(&dir, &env, &["token", "revoke", &clinic_id], "");
    assert_eq!(code, 1, "revoking twice fails: {err}");
    assert!(err.contains("no live token"), "{err}");
    let (code, _, err) = cli(&dir, &env, &["token", "revoke", "clinic-app"], "");
    assert_eq!(code, 64, "a name is not an id: {err}");
    eventually(
        "the server refuses the token the CLI revoked",
        Duration::from_secs(3),
        || {
            let c = &c;
            let (clinic, sms) = (clinic.clone(), sms.clone());
            async move {
                c.call("POST", "/api/v1/messages", Some(&clinic), Some(sms), &[])
                    .await
                    .0
                    == 401
            }
        },
    )
    .await;
    let (_, list, _) = cli(&dir, &env, &["token", "list"], "");
    let row = list.lines().find(|l| l.contains("clinic-app")).unwrap();
    assert_eq!(
        row.split_whitespace().count(),
        9,
        "id, name, scopes, then created, last used and revoked as a day and a time each: {row}"
    );

    // A channel made through the API is audited too, its secrets left out.
    let (s, b) = c
        .call(
            "POST",
            "/api/v1/channels",
            Some(&admin),
            Some(json!({"name": "audited-sms", "type": "simulated-carrier"})),
            &[],
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, _) = c
        .call("DELETE", "/api/v1/channels/audited-sms", Some(&admin), None, &[])
        .await;
    assert_eq!(s, 204);

    // The audit trail: newest first, who, what, to what, from where.
    let (s, page) = c.call("GET", "/api/v1/audit", Some(&admin), None, &[]).await;
    assert_eq!(s, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    let seen: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["actor"].as_str().unwrap(),
                e["source"].as_str().unwrap(),
            )
        })
        .take(6)
        .collect();
    assert_eq!(
        seen,
        [
            ("channel.delete", "token:e2e", "127.0.0.1"),
            ("channel.create", "token:e2e", "127.0.0.1"),
            ("token.revoke", "cli:partner", "cli"),
            ("token.create", "cli:partner", "cli"),
            ("token.revoke", "token:e2e", "127.0.0.1"),
            ("token.create", "token:e2e", "127.0.0.1"),
        ],
        "{page}"
    );
    // The two made before the server started (`common::create_token`: `cli:<$USER>`).
    for e in &items[6..] {
        assert_eq!(
            (e["action"].as_str(), e["source"].as_str()),
            (Some("token.create"), Some("cli")),
            "{e}"
        );
        assert!(e["actor"].as_str().unwrap().starts_with("cli:"), "{e}");
    }
    assert_eq!(items.len(), 8, "{page}");
    assert_eq!(items[4]["target"], registry_id.as_str());
    assert_eq!(items[4]["detail"]["name"], "registry");
    assert_eq!(
        items[5]["detail"],
        json!({"name": "registry", "scopes": ["send"]})
    );
    assert_eq!(items[1]["target"], "audited-sms");
    let (_, revokes) = c
        .call(
            "GET",
            "/api/v1/audit?action=token.revoke",
            Some(&admin),
            None,
            &[],
        )
        .await;
    assert_eq!(revokes["items"].as_array().unwrap().len(), 2, "{revokes}");
    let (_, tokens_only) = c
        .call("GET", "/api/v1/audit?action=token.", Some(&admin), None, &[])
        .await;
    assert_eq!(tokens_only["items"].as_array().unwrap().len(), 6, "{tokens_only}");
    let (_, by_cli) = c
        .call("GET", "/api/v1/audit?actor=cli:partner", Some(&admin), None, &[])
        .await;
    assert_eq!(by_cli["items"].as_array().unwrap().len(), 2, "{by_cli}");
    let (_, first) = c
        .call("GET", "/api/v1/audit?limit=3", Some(&admin), None, &[])
        .await;
    assert_eq!(first["items"].as_array().unwrap().len(), 3, "{first}");
    let cursor = first["next_cursor"].as_str().unwrap();
    assert_eq!(cursor, items[2]["id"].as_str().unwrap());
    let (_, older) = c
        .call(
            "GET",
            &format!("/api/v1/audit?limit=3&cursor={cursor}"),
            Some(&admin),
            None,
            &[],
        )
        .await;
    assert_eq!(
        older["items"].as_array().unwrap()[..],
        items[3..6],
        "the page after the cursor"
    );
    let (s, _) = c.call("GET", "/api/v1/audit", Some(&reader), None, &[]).await;
    assert_eq!(s, 403, "a read token does not see the audit trail");
    let (s, b) = c
        .call("GET", "/api/v1/audit?limit=0", Some(&admin), None, &[])
        .await;
    assert_eq!(s, 400, "{b}");

    assert!(gw.terminate().await.success(), "{:?}", gw.stderr());
    gw.assert_json_logs_without(&admin);
    gw.assert_json_logs_without(&clinic);
}

#[tokio::test]
async fn tokens_are_listed_revoked_at_once_and_audited_on_sqlite() {
    tokens_and_audit("sqlite").await;
}

#[tokio::test]
async fn tokens_are_listed_revoked_at_once_and_audited_on_postgres() {
    tokens_and_audit("postgres").await;
}

/// Binds to `port` as `system_id` with `password` through PyPI smpplib; `true` if bound.
fn smpplib_binds(port: u16, system_id: &str, password: &str) -> bool {
    let script = format!(
        "import smpplib.client, smpplib.exceptions\n\
         c = smpplib.client.Client('127.0.0.1', {port}, timeout=5)\n\
         c.connect()\n\
         try:\n    c.bind_transmitter(system_id='{system_id}', password='{password}')\n    print('bound')\n\
         except smpplib.exceptions.PDUError as e:\n    print('refused', e)\n\
         try:\n    c.disconnect()\n\
         except Exception:\n    pass\n"
    );
    let out = Command::new("python3").args(["-c", &script]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.trim() == "bound"
}

#[tokio::test]
async fn a_hash_from_smpp_hash_password_lets_an_esme_bind_and_nothing_else() {
    let dir = temp_dir("hash-password");
    let (code, hash, err) = cli(&dir, &[], &["smpp", "hash-password"], "cl1nic9\n");
    assert_eq!(code, 0, "{err}");
    let hash = hash.trim();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(err.contains("password_hash"), "says where it goes: {err}");
    let (_, again, _) = cli(&dir, &[], &["smpp", "hash-password"], "cl1nic9\n");
    assert_ne!(again.trim(), hash, "a fresh salt each time");
    let (code, out, err) = cli(&dir, &[], &["smpp", "hash-password"], "\n");
    assert_eq!((code, out.as_str()), (64, ""), "an empty password: {err}");
    let (code, _, err) = cli(&dir, &[], &["smpp", "hash-password"], "ninechars\n");
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("at most 8"), "{err}");

    let config = dir.join("seedgate.toml");
    std::fs::write(
        &config,
        format!(
            "[channels.demo-at]\ntype = \"africastalking-ussd\"\nflow = \"demo\"\n\n\
             [channels.demo-sms]\ntype = \"simulated-carrier\"\n\n\
             [[smpp_server.accounts]]\nsystem_id = \"clinic\"\npassword_hash = \"{hash}\"\nroute = \"demo-sms\"\n"
        ),
    )
    .unwrap();
    let env = vec![(
        "SEEDGATE_FLOWS__DIR".to_string(),
        common::repo_root().join("flows").display().to_string(),
    )];
    let mut gw = Gateway::spawn(&["--config", config.to_str().unwrap(), "up"], &dir, &env);
    gw.ready(Duration::from_secs(10)).await;
    let port = gw.smpp_port;
    let (good, bad) = tokio::task::spawn_blocking(move || {
        (
            smpplib_binds(port, "clinic", "cl1nic9"),
            smpplib_binds(port, "clinic", "cl1nic8"),
        )
    })
    .await
    .unwrap();
    assert!(good, "the password hashed binds");
    assert!(!bad, "another password does not");
    assert!(gw.terminate().await.success(), "{:?}", gw.stderr());
}

#[tokio::test]
async fn staff_account_changes_are_audited_from_the_api_and_the_cli() {
    let dir = temp_dir("staff-audit");
    let env = env_for("sqlite", &[]);
    let admin = common::create_token(&dir, &env, "admin");
    let (code, _, err) = cli(
        &dir,
        &env,
        &[
            "user",
            "create",
            "--email",
            "nurse@clinic.org",
            "--role",
            "author",
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let gw = Gateway::spawn(&["up"], &dir, &env);
    gw.ready(Duration::from_secs(10)).await;
    let c = Client {
        base: gw.base(),
        http: reqwest::Client::new(),
    };
    let (s, made) = c
        .call(
            "POST",
            "/api/v1/users",
            Some(&admin),
            Some(json!({"email": "ops@clinic.org", "role": "operator"})),
            &[],
        )
        .await;
    assert_eq!(s, 201, "{made}");
    let id = made["user"]["id"].as_str().unwrap();
    let (s, b) = c
        .call(
            "PATCH",
            &format!("/api/v1/users/{id}"),
            Some(&admin),
            Some(json!({"role": "admin"})),
            &[],
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = c
        .call(
            "POST",
            &format!("/api/v1/users/{id}/reset"),
            Some(&admin),
            None,
            &[],
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (_, page) = c
        .call("GET", "/api/v1/audit?action=user.", Some(&admin), None, &[])
        .await;
    let seen: Vec<(&str, &str, &str)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["target"].as_str().unwrap(),
                e["source"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("user.reset", "ops@clinic.org", "127.0.0.1"),
            ("user.update", "ops@clinic.org", "127.0.0.1"),
            ("user.create", "ops@clinic.org", "127.0.0.1"),
            ("user.create", "nurse@clinic.org", "cli"),
        ],
        "{page}"
    );
    assert_eq!(
        page["items"][1]["detail"]["role"],
        json!({"from": "operator", "to": "admin"})
    );
    assert!(
        !page.to_string().contains("password\":\""),
        "no password in the trail: {page}"
    );
}

#[tokio::test]
async fn a_mothers_messages_are_found_by_any_form_of_her_number() {
    let dir = temp_dir("e164");
    let env = env_for("sqlite", &[]);
    let admin = common::create_token(&dir, &env, "admin,send,read");
    let gw = Gateway::spawn(&["up"], &dir, &env);
    gw.ready(Duration::from_secs(10)).await;
    let c = Client {
        base: gw.base(),
        http: reqwest::Client::new(),
    };
    // She dials the menu from a gateway that writes her number without `+`, and the
    // programme sends her an SMS through the API with it.
    let (s, body, _) = common::at_post(&gw.base(), "e164-1", "27820000601", "").await;
    assert_eq!(s, 200, "{body}");
    let sms =
        json!({"channel": "demo-sms", "to": "+27820000601", "content": "Your clinic visit is on Monday."});
    let (s, b) = c
        .call("POST", "/api/v1/messages", Some(&admin), Some(sms), &[])
        .await;
    assert_eq!(s, 202, "{b}");
    let mut seen = Vec::new();
    for form in [
        "27820000601",
        "%2B27820000601",
        "0027820000601",
        "%2B27%20820%20000%20601",
    ] {
        let path = format!("/api/v1/messages?address={form}");
        // The dial, its reply, and the SMS (the reply is written behind the hop).
        eventually(
            &format!("three messages by {form}"),
            Duration::from_secs(5),
            || async {
                let (_, page) = c.call("GET", &path, Some(&admin), None, &[]).await;
                page["items"].as_array().map_or(0, Vec::len) == 3
            },
        )
        .await;
        let (_, page) = c
            .call(
                "GET",
                &format!("/api/v1/messages?address={form}"),
                Some(&admin),
                None,
                &[],
            )
            .await;
        let mut ids: Vec<String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].to_string())
            .collect();
        ids.sort();
        seen.push(ids);
    }
    assert!(
        seen.windows(2).all(|w| w[0] == w[1]),
        "every form finds the same messages: {seen:?}"
    );
    let (_, sessions) = c
        .call("GET", "/api/v1/sessions?channel=demo-at", Some(&admin), None, &[])
        .await;
    assert_eq!(sessions["items"][0]["msisdn"], "+27820000601", "{sessions}");
}
