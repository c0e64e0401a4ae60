//! The studio in real Chromium against a real `seedgate up` (issue 13's browser scenario):
//! `tests/browser/studio.mjs` signs in a publisher and an author made with `seedgate user
//! create`, builds a two-language flow, simulates, tests, publishes to an Africa's Talking
//! channel made through the API, rolls back, and hits a conflicting save. It prints its
//! figures as JSON lines, shown here; it saves `tests/browser/screenshots/*.png`.
//!
//! Chromium (`/usr/bin/chromium`, or `CHROMIUM`) and `tests/browser/node_modules` must be
//! there: `bash .ci/test` installs both. Without them this fails, saying so; it never skips.

#![allow(clippy::unwrap_used)] // tests: panics are failures

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{create_token, env_for, repo_root, temp_dir, Gateway, BIN};
use serde_json::Value;

/// The channel and flow the scenario publishes to; the flow is in no file at start.
const CHANNEL: &str = "studio-at";
const FLOW: &str = "studio_test";
const CODE: &str = "*134*550#";

/// `seedgate user create`: the one-time password, the last word it prints.
fn create_user(dir: &std::path::Path, env: &[(String, String)], email: &str, role: &str) -> String {
    let out = Command::new(BIN)
        .args(["user", "create", "--email", email, "--role", role])
        .current_dir(dir)
        .envs(env.iter().cloned())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    text.split_whitespace().last().unwrap().to_owned()
}

/// What the scenario needs on this machine, or a failure saying how to get it.
fn prerequisites(root: &std::path::Path) -> PathBuf {
    let chromium = PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    assert!(
        chromium.is_file(),
        "no Chromium at {}: run `bash .ci/test`, which installs Debian's chromium (or set CHROMIUM)",
        chromium.display()
    );
    let playwright = root.join("tests/browser/node_modules/playwright-core/package.json");
    assert!(
        playwright.is_file(),
        "tests/browser/node_modules has no playwright-core: run `bash .ci/test`, which installs it (npm ci in tests/browser)"
    );
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "no `node` on PATH: the browser scenario is a node script (see tests/browser/README.md)"
    );
    chromium
}

/// Runs the node scenario `tests/browser/<script>` against `gw` in `chromium`, with `env`; its
/// steps and figures (JSON lines) are printed, shown with `-- --nocapture`.
#[allow(clippy::print_stdout)] // the scenario's report is the test's output
async fn scenario(
    root: &std::path::Path,
    script: &str,
    gw: &Gateway,
    chromium: &std::path::Path,
    env: &[(&str, String)],
) -> std::process::Output {
    let mut cmd = Command::new("node");
    cmd.arg(root.join("tests/browser").join(script))
        .env("SEEDGATE_URL", gw.base())
        .env("CHROMIUM", chromium);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    println!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn the_studio_scenario_passes_in_chromium() {
    let root = repo_root();
    let chromium = prerequisites(&root);
    let dir = temp_dir("browser");
    let env = env_for("sqlite", &[]);
    let admin = create_token(&dir, &env, "admin");
    let publisher = create_user(&dir, &env, "publisher@clinic.org", "publisher");
    let author = create_user(&dir, &env, "author@clinic.org", "author");
    let gw = Gateway::spawn(&["up"], &dir, &env);
    gw.ready(Duration::from_secs(15)).await;

    // The scenario makes its channel through the API once it has published the channel's
    // flow (a channel naming an unpublished flow is refused, as the config file refuses it).
    let out = scenario(
        &root,
        "studio.mjs",
        &gw,
        &chromium,
        &[
            ("SEEDGATE_EMAIL", "publisher@clinic.org".into()),
            ("SEEDGATE_PASSWORD", publisher),
            ("SEEDGATE_EMAIL2", "author@clinic.org".into()),
            ("SEEDGATE_PASSWORD2", author),
            ("SEEDGATE_AT_CHANNEL", CHANNEL.into()),
            ("SEEDGATE_ADMIN_TOKEN", admin.clone()),
            ("SEEDGATE_AT_FLOW", FLOW.into()),
            ("SEEDGATE_AT_CODE", CODE.into()),
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let figures: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("figure").is_some())
        .collect();
    assert!(
        out.status.success(),
        "the browser scenario failed ({}); its output is above; the gateway's last log lines: {:?}",
        out.status,
        gw.stdout().iter().rev().take(20).collect::<Vec<_>>()
    );
    for name in [
        "first_load_bytes",
        "registration_flow_editable_ms",
        "validation_while_typing_ms",
        "publish_to_live_ms",
        "rollback_to_live_ms",
    ] {
        assert!(
            figures.iter().any(|f| f["figure"] == name),
            "the scenario did not report {name}: {figures:?}"
        );
    }
    let first_load = figures
        .iter()
        .find(|f| f["figure"] == "first_load_bytes")
        .and_then(|f| f["bytes"].as_u64())
        .unwrap();
    assert!(
        first_load <= 300_000,
        "the studio's first load is {first_load} bytes compressed; issue 13 allows 300 KB"
    );
    for shot in ["editor.png", "simulator.png"] {
        assert!(
            root.join("tests/browser/screenshots").join(shot).is_file(),
            "no {shot}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_passes_in_chromium() {
    let root = repo_root();
    let chromium = prerequisites(&root);
    let dir = temp_dir("console");
    let hook_port = common::free_port(); // nothing listens until the scenario replays
    let env = env_for(
        "sqlite",
        &[
            (
                "SEEDGATE_CHANNELS__DEMO_AT__WEBHOOKS__INBOUND",
                format!("http://127.0.0.1:{hook_port}/inbound"),
            ),
            (
                "SEEDGATE_CHANNELS__DEMO_AT__WEBHOOKS__SECRET",
                "console-secret".into(),
            ),
            ("SEEDGATE_API__WEBHOOK_BACKOFF_MS", "100".into()),
            ("SEEDGATE_API__WEBHOOK_MAX_ATTEMPTS", "2".into()),
        ],
    );
    let operator = create_user(&dir, &env, "operator@clinic.org", "operator");
    let author = create_user(&dir, &env, "author@clinic.org", "author");
    let admin = create_user(&dir, &env, "admin@clinic.org", "admin");
    let out = Command::new(BIN)
        .args(["token", "create", "--scopes", "send", "--name", "registry"])
        .current_dir(&dir)
        .envs(env.iter().cloned())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let gw = Gateway::spawn(&["up"], &dir, &env);
    gw.ready(Duration::from_secs(15)).await;
    let out = scenario(
        &root,
        "console.mjs",
        &gw,
        &chromium,
        &[
            ("SEEDGATE_OPERATOR", format!("operator@clinic.org:{operator}")),
            ("SEEDGATE_AUTHOR", format!("author@clinic.org:{author}")),
            ("SEEDGATE_ADMIN", format!("admin@clinic.org:{admin}")),
            ("SEEDGATE_TOKEN", token),
            ("SEEDGATE_HOOK_PORT", hook_port.to_string()),
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the console scenario failed ({}); its output is above; the gateway's last log lines: {:?}",
        out.status,
        gw.stdout().iter().rev().take(20).collect::<Vec<_>>()
    );
    assert!(stdout.contains("console_first_load_bytes"), "{stdout}");
}
