//! schemathesis (PyPI, pinned in `tests/schemathesis/run.sh`) against a live `seedgate up`'s
//! `/api/v1/openapi.json`, with an admin token: generated requests to every operation get no
//! server error, and every answer has a status the document lists, its content type and its
//! schema. The document is the contract API clients are generated from; this keeps it true.

#![allow(clippy::unwrap_used)] // tests: panics are failures

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{env_for, repo_root, temp_dir, Gateway};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_holds_for_generated_requests() {
    let dir = temp_dir("schemathesis");
    // A bucket large enough that generated traffic is not all answered 429.
    let env = env_for(
        "sqlite",
        &[
            ("SEEDGATE_API__RATE_PER_SEC", "10000".to_string()),
            ("SEEDGATE_API__BURST", "10000".to_string()),
        ],
    );
    let admin = common::create_token(&dir, &env, "admin");
    let mut gw = Gateway::spawn(&["up"], &dir, &env);
    gw.ready(Duration::from_secs(10)).await;

    let base = gw.base();
    let script = repo_root().join("tests/schemathesis/run.sh");
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(script)
            .args([base.as_str(), admin.as_str(), "50"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("schemathesis took {:?}:\n{stdout}", started.elapsed());
    assert!(
        out.status.success(),
        "schemathesis found problems ({:?}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains("passed"),
        "schemathesis ran operations:\n{stdout}"
    );
    assert!(!stdout.contains("No checks were performed"), "{stdout}");
    let status = gw.terminate().await;
    assert!(status.success(), "{status:?} {:?}", gw.stderr());
}
