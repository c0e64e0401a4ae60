//! The processes a fault run drives: `seedgate` (any command) and the npm `smpp` SMSC, with
//! kill -9, SIGTERM, SIGSTOP/SIGCONT and waiting for readiness.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process, killed when dropped.
#[derive(Debug)]
pub struct Proc {
    pub child: Option<Child>,
    pub name: String,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Sends `sig` (`KILL`, `TERM`, `STOP`, `CONT`).
    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status();
    }

    /// kill -9, and reaps it.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Waits for the process to exit: its exit code (`None` if still running after `within`,
    /// or killed by a signal).
    pub async fn wait(&mut self, within: Duration) -> Option<i32> {
        let started = Instant::now();
        while started.elapsed() < within {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    self.child = None;
                    return status.code();
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    /// SIGTERM; the exit code and how long it took.
    pub async fn terminate(&mut self, within: Duration) -> (Option<i32>, Duration) {
        let started = Instant::now();
        self.signal("TERM");
        let code = self.wait(within).await;
        (code, started.elapsed())
    }

    /// Its stdout, up to now (for a process started with it captured).
    pub fn output(mut self) -> String {
        let Some(mut c) = self.child.take() else {
            return String::new();
        };
        let _ = c.wait();
        let mut out = String::new();
        if let Some(mut s) = c.stdout.take() {
            let _ = std::io::Read::read_to_string(&mut s, &mut out);
        }
        out
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// Where a run keeps the tools it starts.
#[derive(Debug, Clone)]
pub struct Tools {
    pub seedgate: PathBuf,
    /// `tests/interop` (npm_smsc.js and its node_modules).
    pub interop: PathBuf,
}

impl Tools {
    /// `seedgate <args>` in `dir` (logs to `dir/seedgate.log`), with `env` on a clean
    /// `SEEDGATE_*` environment.
    pub fn seedgate(&self, dir: &Path, args: &[&str], env: &[(String, String)]) -> Proc {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("seedgate.log"))
            .ok();
        let mut cmd = Command::new(&self.seedgate);
        cmd.args(args).current_dir(dir).stdin(Stdio::null());
        match log.and_then(|l| l.try_clone().ok().map(|c| (l, c))) {
            Some((out, err)) => cmd.stdout(out).stderr(err),
            None => cmd.stdout(Stdio::null()).stderr(Stdio::null()),
        };
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("SEEDGATE_")) {
            cmd.env_remove(k);
        }
        cmd.envs(env.iter().cloned());
        Proc {
            child: cmd.spawn().ok(),
            name: format!("seedgate {}", args.join(" ")),
        }
    }

    /// The npm `smpp` SMSC on `port` with `npm_smsc.js` options, once it listens.
    pub fn npm_smsc(&self, port: u16, options: &[&str]) -> anyhow::Result<Proc> {
        use std::io::BufRead;
        let mut child = Command::new("node")
            .arg(self.interop.join("npm_smsc.js"))
            .arg(port.to_string())
            .args(options)
            .current_dir(&self.interop)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start node (npm smpp SMSC): {e}"))?;
        let mut first = String::new();
        if let Some(out) = child.stdout.as_mut() {
            let _ = std::io::BufReader::new(out).read_line(&mut first);
        }
        if first.trim() != format!("listening {port}") {
            let _ = child.kill();
            return Err(anyhow::anyhow!(
                "the npm SMSC did not start: {first:?} (npm ci in tests/interop?)"
            ));
        }
        Ok(Proc {
            child: Some(child),
            name: "npm smpp SMSC".into(),
        })
    }
}

/// Waits until `GET base/readyz` is 200; how long it took, or `None` after `within`.
pub async fn ready(base: &str, within: Duration) -> Option<Duration> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .ok()?;
    let started = Instant::now();
    while started.elapsed() < within {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            if r.status().as_u16() == 200 {
                return Some(started.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// The SMSC's counters from its last line (printed on SIGTERM).
pub fn smsc_stats(smsc: Proc) -> serde_json::Value {
    smsc.signal("TERM");
    let out = smsc.output();
    out.lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_default()
}
