//! The fault suite (`faults`): each fault against real processes, with a ledger of every
//! acknowledgement, compared afterwards with what the store handed to the carrier.
//!
//! A row: what the clients sent and had acknowledged, how many acknowledged messages were
//! lost (must be 0), duplicates at the carrier (counted; at most what was in flight at the
//! fault), the temporary codes clients got during the fault, and how long detecting and
//! recovering took. The faults themselves are in [`run`].

pub mod procs;
pub mod run;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use seedgate_runtime::store::{MessageQuery, MessageStatus, Store};

use crate::ledger::Ledger;
use procs::{free_port, Proc, Tools};

/// One fault's outcome.
#[derive(Debug, Default, Clone)]
pub struct Row {
    pub id: &'static str,
    pub fault: &'static str,
    pub sent: u64,
    pub acked: u64,
    pub lost: u64,
    pub duplicates: u64,
    /// Requests in flight (or unanswered) at the fault: the bound on duplicates.
    pub in_flight: u64,
    pub temporary: String,
    pub detect: Option<Duration>,
    pub recover: Option<Duration>,
    pub note: String,
    /// Anything else wrong (an exit code, a check): the row fails.
    pub problem: Option<String>,
}

impl Row {
    pub fn ok(&self) -> bool {
        self.lost == 0 && self.problem.is_none() && self.duplicates <= self.in_flight.max(1) * 2
    }
}

/// The table, as Markdown.
pub fn table(rows: &[Row]) -> String {
    let secs = |d: Option<Duration>| d.map_or("–".into(), |d| format!("{:.1} s", d.as_secs_f64()));
    let mut out = String::from(
        "| | fault | sent | acknowledged | lost | duplicates (in flight) | temporary codes during the fault | detect | recover | result |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let result = match (&r.problem, r.ok()) {
            (Some(p), _) => format!("FAIL: {p}"),
            (None, true) => "ok".into(),
            (None, false) => "FAIL".into(),
        };
        let note = if r.note.is_empty() {
            String::new()
        } else {
            format!(" ({})", r.note)
        };
        out.push_str(&format!(
            "| {} | {}{} | {} | {} | {} | {} ({}) | {} | {} | {} | {} |\n",
            r.id,
            r.fault,
            note,
            r.sent,
            r.acked,
            r.lost,
            r.duplicates,
            r.in_flight,
            if r.temporary.is_empty() {
                "–"
            } else {
                &r.temporary
            },
            secs(r.detect),
            secs(r.recover),
            result
        ));
    }
    out
}

/// A one-box deployment in its own folder: `seedgate up` on SQLite (or PostgreSQL), an
/// `smpp-esme` channel `sms` to an SMSC on `smsc_port`, a partner account `demo`/`demo`
/// routed to it (no TPS limit), and an API token.
#[derive(Debug)]
pub struct OneBox {
    pub tools: Tools,
    pub dir: PathBuf,
    pub http: u16,
    pub smpp: u16,
    pub smsc_port: u16,
    pub token: String,
    pub store: Arc<dyn Store>,
    env: Vec<(String, String)>,
}

impl OneBox {
    /// `data` is where the SQLite file goes (default `<dir>/data`); `postgres` uses that
    /// database (a schema of its own) instead.
    pub async fn new(
        tools: &Tools,
        tag: &str,
        data: Option<&Path>,
        postgres: Option<&str>,
    ) -> anyhow::Result<Self> {
        let dir =
            std::env::temp_dir().join(format!("seedgate-faults-{tag}-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).map_err(|e| anyhow::anyhow!("{e}"))?;
        let (http, smpp, smsc_port) = (free_port(), free_port(), free_port());
        let data = data.map_or_else(|| dir.join("data"), Path::to_path_buf);
        let schema = format!("f{}", uuid::Uuid::now_v7().simple());
        let store_section = match postgres {
            Some(url) => format!("[store]\nkind = \"postgres\"\nurl = \"{url}\"\nschema = \"{schema}\"\n"),
            None => format!("[store]\nurl = \"sqlite://{}/seedgate.db\"\n", data.display()),
        };
        let config = format!(
            "[http]\nlisten = \"127.0.0.1:{http}\"\n\n[api]\nrate_per_sec = 0\n\n{store_section}\n\
             [smpp_server]\nlisten = \"127.0.0.1:{smpp}\"\n\n\
             [channels.demo-at]\ntype = \"africastalking-ussd\"\nflow = \"demo\"\n\n\
             [channels.sms]\ntype = \"smpp-esme\"\n[channels.sms.smpp]\naddress = \"127.0.0.1:{smsc_port}\"\n\
             system_id = \"faults\"\npassword = \"x\"\nwindow = 50\nresponse_timeout_secs = 5\nenquire_link_secs = 5\n\n\
             [[smpp_server.accounts]]\nsystem_id = \"demo\"\npassword_hash = \"{}\"\ntps = 0\nroute = \"sms\"\n",
            seedgate_runtime::config::DEMO_PASSWORD_HASH
        );
        std::fs::write(dir.join("seedgate.toml"), config).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut env = Vec::new();
        let flows = tools.interop.join("../../flows");
        if flows.is_dir() {
            env.push(("SEEDGATE_FLOWS__DIR".to_string(), flows.display().to_string()));
        }
        let out = std::process::Command::new(&tools.seedgate)
            .args([
                "--config",
                "seedgate.toml",
                "token",
                "create",
                "--scopes",
                "send,read",
                "--name",
                "faults",
            ])
            .current_dir(&dir)
            .envs(env.iter().cloned())
            .output()
            .map_err(|e| anyhow::anyhow!("cannot run {}: {e}", tools.seedgate.display()))?;
        if !out.status.success() {
            return Err(anyhow::anyhow!(
                "token create failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let store = {
            let mut cfg = seedgate_runtime::config::StoreConfig::default();
            match postgres {
                Some(url) => {
                    cfg.kind = seedgate_runtime::config::StoreKind::Postgres;
                    cfg.url = url.to_string();
                    cfg.schema = Some(schema);
                }
                None => cfg.url = format!("sqlite://{}/seedgate.db", data.display()),
            }
            seedgate_store::open(&cfg).map_err(|e| anyhow::anyhow!("{e}"))?
        };
        Ok(Self {
            tools: tools.clone(),
            dir,
            http,
            smpp,
            smsc_port,
            token,
            store,
            env,
        })
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.http)
    }

    /// `seedgate up`, ready (or an error naming its log).
    pub async fn up(&self) -> anyhow::Result<(Proc, Duration)> {
        let p = self
            .tools
            .seedgate(&self.dir, &["--config", "seedgate.toml", "up"], &self.env);
        match procs::ready(&self.base(), Duration::from_secs(20)).await {
            Some(took) => Ok((p, took)),
            None => Err(anyhow::anyhow!(
                "seedgate up not ready in 20 s; see {}/seedgate.log",
                self.dir.display()
            )),
        }
    }

    /// An SMPP partner and an API client, loading the gateway until `until`.
    pub fn load(&self, smpp: u64, api: u64, until: Instant) -> Load {
        let (sl, al) = (Arc::new(Ledger::default()), Arc::new(Ledger::default()));
        let smpp_task = tokio::spawn(crate::ledger::smpp_client(
            format!("127.0.0.1:{}", self.smpp),
            ("demo".into(), "demo".into()),
            50,
            smpp,
            until,
            sl.clone(),
        ));
        let api_task = tokio::spawn(crate::ledger::api_client(
            self.base(),
            self.token.clone(),
            "sms".into(),
            (api, 8),
            until,
            al.clone(),
        ));
        Load {
            smpp: sl,
            api: al,
            tasks: vec![smpp_task, api_task],
        }
    }

    /// Messages the store holds as handed to the carrier (any state past `queued`).
    pub async fn handed_over(&self) -> anyhow::Result<u64> {
        let mut n = 0;
        for status in [
            MessageStatus::Submitted,
            MessageStatus::Delivered,
            MessageStatus::Failed,
            MessageStatus::Expired,
        ] {
            let mut before = None;
            loop {
                let q = MessageQuery {
                    status: Some(status),
                    before,
                    limit: 500,
                    ..MessageQuery::default()
                };
                let page = self
                    .store
                    .messages(&q)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                n += page.len() as u64;
                match page.last() {
                    Some(m) if page.len() == 500 => before = Some(m.message.id),
                    _ => break,
                }
            }
        }
        Ok(n)
    }
}

/// The clients of a load.
#[derive(Debug)]
pub struct Load {
    pub smpp: Arc<Ledger>,
    pub api: Arc<Ledger>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    pub async fn finish(&mut self) {
        for t in std::mem::take(&mut self.tasks) {
            let _ = t.await;
        }
    }

    pub fn acked(&self) -> Vec<String> {
        let mut a = self.smpp.acked();
        a.extend(self.api.acked());
        a
    }

    pub fn sent(&self) -> u64 {
        use std::sync::atomic::Ordering::Relaxed;
        self.smpp.sent.load(Relaxed) + self.api.sent.load(Relaxed)
    }

    pub fn unanswered(&self) -> u64 {
        use std::sync::atomic::Ordering::Relaxed;
        self.smpp.unanswered.load(Relaxed) + self.api.unanswered.load(Relaxed)
    }

    pub fn temporary(&self) -> String {
        [("SMPP", self.smpp.refusals()), ("API", self.api.refusals())]
            .into_iter()
            .filter(|(_, r)| !r.is_empty())
            .map(|(k, r)| format!("{k} {r}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}
