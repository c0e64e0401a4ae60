//! `seedgate doctor`: what an operator checks before and after a change, in one command. Each
//! finding is `ok`, `warn` or `FAIL`, and each problem says what to do. Exit 0 with no
//! `FAIL` (a default install passes: its demo account's known password is a warning while it
//! only takes binds from this host), 1 otherwise.
//!
//! Checks: the config in use; the store (reachable; SQLite: intact, migrated, free disk
//! beside it); the bus and the session store; the database's clock against this host's;
//! the SMPP TLS certificate's expiry; every channel's flow (the config's and the API's,
//! against the published flows, or the flows folder before anything is published); SMPP
//! accounts still on the demo password; staff accounts still on a one-time password.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use seedgate_runtime::config::{BusKind, Config, SessionStoreKind, StoreKind};
use seedgate_runtime::store::Store;

use crate::failure::Failure;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Ok,
    Warn,
    Fail,
}

/// One finding: what was checked, what was found, and what to do about it.
#[derive(Debug)]
struct Finding {
    level: Level,
    what: String,
    found: String,
    todo: Option<String>,
}

#[derive(Debug, Default)]
struct Report(Vec<Finding>);

impl Report {
    fn ok(&mut self, what: impl Into<String>, found: impl Into<String>) {
        self.push(Level::Ok, what, found, None::<String>);
    }
    fn push(
        &mut self,
        level: Level,
        what: impl Into<String>,
        found: impl Into<String>,
        todo: Option<impl Into<String>>,
    ) {
        self.0.push(Finding {
            level,
            what: what.into(),
            found: found.into(),
            todo: todo.map(Into::into),
        });
    }
    fn warn(&mut self, what: impl Into<String>, found: impl Into<String>, todo: impl Into<String>) {
        self.push(Level::Warn, what, found, Some(todo));
    }
    fn fail(&mut self, what: impl Into<String>, found: impl Into<String>, todo: impl Into<String>) {
        self.push(Level::Fail, what, found, Some(todo));
    }
}

/// The password of the embedded demo account.
const DEMO_PASSWORD: &str = "demo";
/// Clocks further apart than this fail (receipts, budgets and schedules use both).
const SKEW_MAX: Duration = Duration::from_secs(2);
/// A certificate expiring sooner than this is a warning.
const CERT_WARN_DAYS: i64 = 30;
/// Free space under which the disk beside a SQLite store fails, and warns.
const DISK_FAIL: u64 = 200_000_000;
const DISK_WARN: u64 = 2_000_000_000;

#[allow(clippy::print_stdout)] // the report is this command's output
pub async fn run(config: &Config, config_path: Option<&Path>) -> Result<(), Failure> {
    let mut r = Report::default();
    match config_path {
        Some(p) => r.ok("config", format!("{} (and SEEDGATE_* overrides)", p.display())),
        None => r.ok(
            "config",
            "built-in defaults, no file (--config or SEEDGATE_CONFIG names one)",
        ),
    }
    // One handle for every check that reads the store; none for a SQLite file not there yet
    // (opening one would make its folder: doctor makes nothing).
    let handle = store_exists(config)
        .then(|| crate::open::store(config).ok())
        .flatten();
    store(config, handle.as_ref(), &mut r).await;
    backends(config, handle.as_ref(), &mut r).await;
    clock(config, &mut r).await;
    certificates(config, &mut r);
    flows(config, handle.as_ref(), &mut r).await;
    passwords(config, handle.as_ref(), &mut r).await;

    for f in &r.0 {
        let tag = match f.level {
            Level::Ok => "ok  ",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        };
        println!("{tag}  {:<22} {}", f.what, f.found);
        if let Some(todo) = &f.todo {
            println!("      {:<22} → {todo}", "");
        }
    }
    let fails = r.0.iter().filter(|f| f.level == Level::Fail).count();
    let warns = r.0.iter().filter(|f| f.level == Level::Warn).count();
    println!("{fails} problem(s), {warns} warning(s)");
    if fails > 0 {
        return Err(Failure::Other(format!(
            "seedgate doctor found {fails} problem(s)"
        )));
    }
    Ok(())
}

async fn store(config: &Config, handle: Option<&Arc<dyn Store>>, r: &mut Report) {
    match config.store.kind {
        StoreKind::Sqlite => {
            let path = match seedgate_store::backup::sqlite_path(&config.store) {
                Ok(p) => p,
                Err(e) => return r.fail("store", e.to_string(), "fix store.url"),
            };
            if !path.exists() {
                let here = std::env::current_dir()
                    .map(|d| d.display().to_string())
                    .unwrap_or_default();
                r.warn(
                    "store",
                    format!("no SQLite store at {} (from {here})", path.display()),
                    "a new install makes it on first start; if seedgate has run, this is another folder or config than the gateway's: give the same --config (or SEEDGATE_CONFIG)",
                );
            } else {
                match seedgate_store::backup::inspect(&path).await {
                    Ok(c) => r.ok(
                        "store",
                        format!(
                            "SQLite {}: intact, migration {}, {} messages, {:.1} MB",
                            path.display(),
                            c.migration,
                            c.messages,
                            c.bytes as f64 / 1e6
                        ),
                    ),
                    Err(e) => r.fail(
                        "store",
                        e.to_string(),
                        "restore the last backup: seedgate restore FILE (with seedgate stopped)",
                    ),
                }
            }
            disk(&path, r);
        }
        StoreKind::Postgres => {
            let Some(store) = handle else {
                return r.fail(
                    "store",
                    format!("store.url does not parse: {}", config.store.url),
                    "fix store.url",
                );
            };
            match tokio::time::timeout(Duration::from_secs(10), store.check()).await {
                Ok(Ok(())) => r.ok("store", "PostgreSQL reachable and migrated"),
                Ok(Err(e)) => r.fail(
                    "store",
                    e.to_string(),
                    "start PostgreSQL or fix store.url (host, user, database, password)",
                ),
                Err(_) => r.fail(
                    "store",
                    "PostgreSQL did not answer within 10 s",
                    "check the server and the network to it",
                ),
            }
        }
    }
}

/// Free space on the file system holding `db`.
fn disk(db: &Path, r: &mut Report) {
    let dir = db
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir = if dir.exists() { dir } else { Path::new(".") };
    match rustix::fs::statvfs(dir) {
        Ok(s) => {
            let free = s.f_bavail.saturating_mul(s.f_frsize);
            let found = format!("{:.1} GB free under {}", free as f64 / 1e9, dir.display());
            let todo = "free space (old archives under store.archive_dir, logs), shorten channels' retention_days, or grow the disk";
            if free < DISK_FAIL {
                r.fail("disk", found, todo);
            } else if free < DISK_WARN {
                r.warn("disk", found, todo);
            } else {
                r.ok("disk", found);
            }
        }
        Err(e) => r.warn(
            "disk",
            format!("cannot read free space of {}: {e}", dir.display()),
            "check the disk with df -h",
        ),
    }
}

async fn backends(config: &Config, handle: Option<&Arc<dyn Store>>, r: &mut Report) {
    match (config.bus.kind, handle) {
        (BusKind::InProcess, _) => r.ok("bus", "in-process (one process: seedgate up)"),
        (_, Some(store)) => {
            let bus = seedgate_runtime::service::bus_for(config, store);
            match tokio::time::timeout(Duration::from_secs(10), bus.check()).await {
                Ok(Ok(())) => r.ok("bus", "RabbitMQ reachable"),
                Ok(Err(e)) => r.fail("bus", e.to_string(), "start RabbitMQ or fix bus.url"),
                Err(_) => r.fail(
                    "bus",
                    "RabbitMQ did not answer within 10 s",
                    "check the broker and the network to it",
                ),
            }
        }
        (_, None) => r.warn(
            "bus",
            "RabbitMQ not checked: there is no store to open yet",
            "see the store finding; run doctor again once the store is there",
        ),
    }
    match config.session_store.kind {
        SessionStoreKind::InProcess => r.ok("session store", "in-process"),
        _ => match seedgate_runtime::service::session_store_for(config) {
            Ok(s) => match tokio::time::timeout(Duration::from_secs(10), s.check()).await {
                Ok(Ok(())) => r.ok("session store", "Redis reachable"),
                Ok(Err(e)) => r.fail(
                    "session store",
                    e.to_string(),
                    "start Redis or fix session_store.url",
                ),
                Err(_) => r.fail(
                    "session store",
                    "Redis did not answer within 10 s",
                    "check Redis and the network to it",
                ),
            },
            Err(e) => r.fail("session store", e.to_string(), "fix session_store.url"),
        },
    }
}

async fn clock(config: &Config, r: &mut Report) {
    match seedgate_store::backup::database_time(&config.store).await {
        Ok(None) => r.ok("clock", "the database is on this host: one clock"),
        Ok(Some(db)) => {
            let skew = chrono::Utc::now() - db;
            let ms = skew.num_milliseconds();
            let found = format!(
                "this host is {:+.1} s from PostgreSQL's clock",
                ms as f64 / 1000.0
            );
            if ms.unsigned_abs() > SKEW_MAX.as_millis() as u64 {
                r.fail("clock", found, "run NTP on every host (timedatectl set-ntp true, or chrony): receipts, session budgets and schedules compare both clocks");
            } else {
                r.ok("clock", found);
            }
        }
        Err(e) => r.warn(
            "clock",
            format!("cannot compare clocks: {e}"),
            "see the store finding",
        ),
    }
}

fn certificates(config: &Config, r: &mut Report) {
    let Some(tls) = &config.smpp_server.tls else {
        return;
    };
    let path = &tls.cert_file;
    let what = "smpp tls certificate";
    let pem = match std::fs::read(path) {
        Ok(p) => p,
        Err(e) => {
            return r.fail(
                what,
                format!("cannot read {}: {e}", path.display()),
                "fix smpp_server.tls.cert_file",
            )
        }
    };
    let mut earliest: Option<i64> = None;
    for block in x509_parser::pem::Pem::iter_from_buffer(&pem) {
        let Ok(block) = block else { continue };
        if let Ok(cert) = block.parse_x509() {
            let t = cert.validity().not_after.timestamp();
            earliest = Some(earliest.map_or(t, |e| e.min(t)));
        }
    }
    let Some(not_after) = earliest else {
        return r.fail(
            what,
            format!("{} holds no PEM certificate", path.display()),
            "give the server's certificate chain in PEM",
        );
    };
    let days = (not_after - chrono::Utc::now().timestamp()) / 86_400;
    let when = chrono::DateTime::from_timestamp(not_after, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let todo = "renew it and replace the file; the listener reads it at start (restart seedgate)";
    if days < 0 {
        r.fail(what, format!("{} expired on {when}", path.display()), todo);
    } else if days < CERT_WARN_DAYS {
        r.warn(
            what,
            format!("{} expires on {when}, in {days} days", path.display()),
            todo,
        );
    } else {
        r.ok(what, format!("{} valid until {when}", path.display()));
    }
}

/// Every channel's flow against the flows that run: the store's published ones, or the flows
/// folder's before anything is published.
async fn flows(config: &Config, handle: Option<&Arc<dyn Store>>, r: &mut Report) {
    let mut channels: Vec<(String, Option<String>, &str)> = config
        .channels
        .iter()
        .map(|(n, c)| (n.clone(), c.flow.clone(), "config"))
        .collect();
    let mut published = Vec::new();
    if let Some(store) = handle {
        if let Ok(Ok(stored)) = tokio::time::timeout(Duration::from_secs(10), store.channels_stored()).await {
            for s in stored {
                let flow = s
                    .definition
                    .as_ref()
                    .and_then(|d| d["flow"].as_str())
                    .map(str::to_string);
                if s.definition.is_some() {
                    channels.push((s.name, flow, "API"));
                }
            }
        }
        if let Ok(Ok(live)) = tokio::time::timeout(Duration::from_secs(10), store.flow_live(None)).await {
            published = live;
        }
    }
    let names: Vec<String> = if published.is_empty() {
        match seedgate_flows::check::check(config) {
            Ok(catalog) => catalog.current().flows.names().map(str::to_string).collect(),
            Err(e) => {
                return r.fail(
                    "flows",
                    e.to_string(),
                    "fix the flow file (seedgate flow validate flows/)",
                )
            }
        }
    } else {
        let limits = seedgate_runtime::catalog::limits_for(config);
        let (flows, _) = seedgate_runtime::catalog::check(&published, &limits);
        flows.names().map(str::to_string).collect()
    };
    let whence = if published.is_empty() {
        "the flows folder"
    } else {
        "the published flows"
    };
    let mut all_ok = true;
    for (name, flow, origin) in channels {
        let Some(flow) = flow else { continue };
        if !names.contains(&flow) {
            all_ok = false;
            let todo = match origin {
                "API" => format!("publish flow `{flow}` in the studio, or PUT /api/v1/channels/{name} with a flow that exists"),
                _ => format!("publish flow `{flow}` in the studio, add it to flows/, or change channels.{name}.flow"),
            };
            r.fail(
                format!("channel {name}"),
                format!("runs flow `{flow}`, which is not among {whence}"),
                todo,
            );
        }
    }
    if all_ok {
        r.ok(
            "flows",
            format!("every channel's flow is among {whence} ({})", names.join(", ")),
        );
    }
}

fn store_exists(config: &Config) -> bool {
    config.store.kind == StoreKind::Postgres
        || seedgate_store::backup::sqlite_path(&config.store).is_ok_and(|p| p.exists())
}

/// SMPP accounts on the demo password, and staff still on a one-time password.
async fn passwords(config: &Config, handle: Option<&Arc<dyn Store>>, r: &mut Report) {
    for a in &config.smpp_server.accounts {
        let hash = a.password_hash.clone();
        let default =
            tokio::task::spawn_blocking(move || seedgate_api::staff::password::verify(DEMO_PASSWORD, &hash))
                .await
                .unwrap_or(false);
        if !default {
            continue;
        }
        let what = format!("smpp account {}", a.system_id);
        let todo = "seedgate smpp hash-password, then put the hash in the account's password_hash (and tell the partner)";
        let local = a
            .allowed_ips
            .iter()
            .all(|ip| ip.starts_with("127.") || ip == "::1" || ip == "::1/128");
        if local && config.smpp_server.tls.is_none() {
            r.warn(
                what,
                "has the demo password `demo` (binds from this host only)",
                todo,
            );
        } else {
            r.fail(
                what,
                format!(
                    "has the demo password `demo` and takes binds from {}",
                    a.allowed_ips.join(", ")
                ),
                todo,
            );
        }
    }
    let Some(store) = handle else {
        return;
    };
    if let Ok(Ok(users)) = tokio::time::timeout(Duration::from_secs(10), store.users()).await {
        for u in users.iter().filter(|u| u.must_change && !u.disabled) {
            r.warn(
                format!("staff {}", u.email),
                "has not chosen a password: the one-time one still works",
                format!(
                    "have them sign in at /studio/ and choose one, or: seedgate user reset --email {}",
                    u.email
                ),
            );
        }
    }
}
