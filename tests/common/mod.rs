//! Helpers for end-to-end tests: run `seedgate` as a real process, talk to it over HTTP as an
//! aggregator would, and stop it with real signals.
#![allow(dead_code)] // each test binary uses a different part of this kit

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_seedgate");

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("seedgate-e2e-{tag}-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A port nothing listens on right now, below Linux's ephemeral range (32768 and up), so
/// no outgoing connection of another test (an ESME retrying its SMSC, say) can take it
/// between this call and the bind. Each call in a test binary gets another port.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = ((uuid::Uuid::now_v7().as_u128() & 0xffff_ffff) % 12_000) as u32;
    let _ = NEXT.compare_exchange(0, base + 1, Ordering::SeqCst, Ordering::SeqCst);
    loop {
        let port = 20_000 + NEXT.fetch_add(1, Ordering::SeqCst) % 12_000;
        let port = u16::try_from(port).unwrap();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A running `seedgate` process with its output collected line by line.
pub struct Gateway {
    pub child: Child,
    pub port: u16,
    pub smpp_port: u16,
    pub stdout: Arc<Mutex<Vec<String>>>,
    pub stderr: Arc<Mutex<Vec<String>>>,
}

fn collect(reader: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

impl Gateway {
    /// Starts `seedgate <args>` in `cwd` with `env` (plus its HTTP port) and a clean
    /// `SEEDGATE_*` environment.
    pub fn spawn(args: &[&str], cwd: &std::path::Path, env: &[(String, String)]) -> Self {
        Self::spawn_on(free_port(), args, cwd, env)
    }

    /// [`Gateway::spawn`] with its HTTP port chosen by the caller (for a config that names it).
    pub fn spawn_on(port: u16, args: &[&str], cwd: &std::path::Path, env: &[(String, String)]) -> Self {
        let smpp_port = free_port();
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("SEEDGATE_")) {
            cmd.env_remove(k);
        }
        cmd.env("SEEDGATE_HTTP__LISTEN", format!("127.0.0.1:{port}"));
        cmd.env("SEEDGATE_SMPP_SERVER__LISTEN", format!("127.0.0.1:{smpp_port}"));
        cmd.env("SEEDGATE_LOG__LEVEL", "info");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("seedgate starts");
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        Self {
            child,
            port,
            smpp_port,
            stdout,
            stderr,
        }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits until `/readyz` answers 200.
    pub async fn ready(&self, within: Duration) {
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(r) = client.get(format!("{}/readyz", self.base())).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(
                started.elapsed() < within,
                "not ready within {within:?}; stdout: {:?} stderr: {:?}",
                self.stdout(),
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Waits for the process to exit.
    pub async fn wait(&mut self, within: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader threads take the last lines.
                tokio::time::sleep(Duration::from_millis(50)).await;
                return status;
            }
            assert!(started.elapsed() < within, "still running after {within:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGTERM, then the exit status.
    pub async fn terminate(&mut self) -> ExitStatus {
        self.signal("TERM");
        self.wait(Duration::from_secs(15)).await
    }

    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// Every stdout line is a JSON object, and none shows `secret`.
    pub fn assert_json_logs_without(&self, secret: &str) {
        let lines = self.stdout();
        assert!(!lines.is_empty(), "no logs");
        for line in &lines {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
            assert!(v.get("level").is_some() && v.get("message").is_some(), "{line}");
            assert!(!line.contains(secret), "log line shows {secret}: {line}");
        }
        for line in self.stderr() {
            assert!(!line.contains("panicked"), "panic: {line}");
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One Africa's Talking callback: returns (status, body, elapsed).
pub async fn at_post(base: &str, session: &str, phone: &str, text: &str) -> (u16, String, Duration) {
    let started = Instant::now();
    let resp = reqwest::Client::new()
        .post(format!("{base}/channels/demo-at/callback"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "sessionId={session}&serviceCode=%2A134%2A550%23&phoneNumber={}&networkCode=65501&text={}",
            phone.replace('+', "%2B"),
            text.replace('*', "%2A")
        ))
        .send()
        .await
        .expect("the gateway answers");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap(), started.elapsed())
}

/// Walks the demo registration: dial, 1 (register), 1 (pregnant), 2 (isiZulu).
pub async fn walk_demo_menu(base: &str, session: &str, phone: &str) {
    let (status, body, _) = at_post(base, session, phone, "").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("CON Welcome to MomConnect"), "{body}");
    assert!(
        body.contains("\n1. Register for free messages\n2. About MomConnect"),
        "{body}"
    );
    let (_, body, _) = at_post(base, session, phone, "1").await;
    assert!(body.starts_with("CON Are you pregnant?"), "{body}");
    let (_, body, _) = at_post(base, session, phone, "1*1").await;
    assert!(body.starts_with("CON Which language"), "{body}");
    let (_, body, _) = at_post(base, session, phone, "1*1*2").await;
    assert!(body.starts_with("END Thank you. You are registered"), "{body}");
}

/// Polls `check` until it holds.
pub async fn eventually<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < within,
            "timed out after {within:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `seedgate token create --scopes <scopes>` against the store named by `env` in `dir`;
/// returns the printed secret.
pub fn create_token(dir: &std::path::Path, env: &[(String, String)], scopes: &str) -> String {
    let out = Command::new(BIN)
        .args(["token", "create", "--scopes", scopes, "--name", "e2e"])
        .current_dir(dir)
        .envs(env.iter().cloned())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let secret = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(secret.starts_with("sg_") && secret.len() == 43, "{secret}");
    secret
}

/// A webhook receiver on loopback that checks each call's signature against `secret` and keeps
/// the bodies it took (`X-Seedgate-Event`, body), in arrival order.
pub struct HookSink {
    pub url: String,
    pub taken: Arc<Mutex<Vec<(String, serde_json::Value)>>>,
    pub bad_signatures: Arc<Mutex<u32>>,
}

impl HookSink {
    pub async fn start(secret: &'static str) -> Self {
        let taken: Arc<Mutex<Vec<(String, serde_json::Value)>>> = Arc::default();
        let bad: Arc<Mutex<u32>> = Arc::default();
        let (t, b) = (taken.clone(), bad.clone());
        let handler = move |headers: axum::http::HeaderMap, body: String| {
            let (t, b) = (t.clone(), b.clone());
            async move {
                let h = |k: &str| {
                    headers
                        .get(k)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string()
                };
                let ts: i64 = h("x-seedgate-timestamp").parse().unwrap_or(0);
                if h("x-seedgate-signature") != seedgate_api::webhooks::signature(secret, ts, &body) {
                    *b.lock().unwrap() += 1;
                    return axum::http::StatusCode::UNAUTHORIZED;
                }
                t.lock()
                    .unwrap()
                    .push((h("x-seedgate-event"), serde_json::from_str(&body).unwrap()));
                axum::http::StatusCode::OK
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let app = axum::Router::new().route("/hook", axum::routing::post(handler));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url,
            taken,
            bad_signatures: bad,
        }
    }

    /// The bodies of calls of one kind (`inbound`, `event`, `status`).
    pub fn of(&self, kind: &str) -> Vec<serde_json::Value> {
        self.taken
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| k == kind)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// PostgreSQL for tests.
pub fn pg_url() -> String {
    std::env::var("SEEDGATE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// The environment of a `seedgate up` on `backend` (`sqlite` or `postgres`, in its own schema).
pub fn env_for(backend: &str, extra: &[(&str, String)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![(
        "SEEDGATE_FLOWS__DIR".into(),
        repo_root().join("flows").display().to_string(),
    )];
    if backend == "postgres" {
        env.push(("SEEDGATE_STORE__KIND".into(), "postgres".into()));
        env.push(("SEEDGATE_STORE__URL".into(), pg_url()));
        env.push((
            "SEEDGATE_STORE__SCHEMA".into(),
            format!("e2e{}", uuid::Uuid::now_v7().simple()),
        ));
    }
    env.extend(extra.iter().map(|(k, v)| ((*k).to_string(), v.clone())));
    env
}

/// The API as a test calls it: a method, a path, a token, a JSON body → (status, JSON body).
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
}

impl Client {
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}

/// The `(code, message)` of a JSON error body.
pub fn error_of(body: &Value) -> (&str, &str) {
    (
        body["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("JSON error body: {body}")),
        body["error"]["message"].as_str().unwrap(),
    )
}

/// `seedgate <args>` in `dir` with `env`: (exit code, stdout, stderr).
pub fn cli(
    dir: &std::path::Path,
    env: &[(String, String)],
    args: &[&str],
    stdin: &str,
) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().cloned())
        .env("USER", "partner")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
