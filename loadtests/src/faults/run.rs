//! The faults, one function each: set up, load, break something, recover, count.

use std::sync::Arc;
use std::time::{Duration, Instant};

use seedgate_proto::EventKind;

use super::procs::{smsc_stats, Proc, Tools};
use super::{Load, OneBox, Row};
use crate::ledger::{api_client, lost_after, Ledger};

/// How big a run is: `--quick` (CI) or `--full`.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub load_secs: u64,
    pub smpp: u64,
    pub api: u64,
}

impl Size {
    pub const QUICK: Self = Self {
        load_secs: 6,
        smpp: 3_000,
        api: 1_000,
    };
    pub const FULL: Self = Self {
        load_secs: 15,
        smpp: 30_000,
        api: 6_000,
    };
}

fn failed(id: &'static str, fault: &'static str, why: String) -> Row {
    Row {
        id,
        fault,
        problem: Some(why),
        ..Row::default()
    }
}

/// After the load: what was acknowledged and sent, what was lost, duplicates at the carrier.
async fn settle(b: &OneBox, mut load: Load, smscs: Vec<Proc>, mut row: Row) -> Row {
    load.finish().await;
    let acked = load.acked();
    row.sent = load.sent();
    row.acked = acked.len() as u64;
    row.temporary = load.temporary();
    row.in_flight = row.in_flight.max(load.unanswered());
    match lost_after(b.store.as_ref(), &acked, Duration::from_secs(90)).await {
        Ok(lost) => {
            row.lost = lost.len() as u64;
            if !lost.is_empty() {
                let smpp = load.smpp.acked();
                let some: Vec<String> = lost
                    .iter()
                    .take(3)
                    .map(|id| format!("{id} ({})", if smpp.contains(id) { "SMPP" } else { "API" }))
                    .collect();
                row.note = format!("{}lost: {}", sep(&row.note), some.join(", "));
            }
        }
        Err(e) => row.problem = Some(format!("{e:#}")),
    }
    let handed = b.handed_over().await.unwrap_or(0);
    let carrier: u64 = smscs
        .into_iter()
        .map(|s| smsc_stats(s)["submits"].as_u64().unwrap_or(0))
        .sum();
    row.duplicates = carrier.saturating_sub(handed);
    if carrier < handed {
        row.note = format!(
            "{}carrier counted {carrier} < {handed} handed over",
            sep(&row.note)
        );
    }
    row
}

fn sep(s: &str) -> &'static str {
    if s.is_empty() {
        ""
    } else {
        "; "
    }
}

async fn stop_cleanly(gw: &mut Proc, row: &mut Row) {
    let (code, took) = gw.terminate(Duration::from_secs(15)).await;
    if code != Some(0) || took > Duration::from_secs(11) {
        row.problem
            .get_or_insert(format!("the last SIGTERM exited {code:?} after {took:?}"));
    }
}

/// F1: kill -9 of `seedgate up` under SMPP and API load; the next process carries on.
pub async fn f1_kill9(tools: &Tools, size: Size) -> Row {
    let (id, fault) = ("F1", "kill -9 of `seedgate up` under SMPP and API load");
    let run = async {
        let b = OneBox::new(tools, "f1", None, None).await?;
        let smsc = tools.npm_smsc(b.smsc_port, &[])?;
        let (mut gw, _) = b.up().await?;
        let load = b.load(
            size.smpp,
            size.api,
            Instant::now() + Duration::from_secs(size.load_secs),
        );
        tokio::time::sleep(Duration::from_secs(size.load_secs / 3)).await;
        gw.kill9();
        let at = Instant::now();
        let (mut gw, _) = b.up().await?;
        let mut row = Row {
            id,
            fault,
            recover: Some(at.elapsed()),
            in_flight: 50 + 8 + 50,
            ..Row::default()
        };
        row = settle(&b, load, vec![smsc], row).await;
        stop_cleanly(&mut gw, &mut row).await;
        Ok::<_, anyhow::Error>(row)
    };
    run.await.unwrap_or_else(|e| failed(id, fault, format!("{e:#}")))
}

/// F14: SIGTERM of `seedgate up` under load: exit 0 within the drain, nothing lost.
pub async fn f14_sigterm(tools: &Tools, size: Size) -> Row {
    let (id, fault) = ("F14", "SIGTERM of `seedgate up` under SMPP and API load");
    let run = async {
        let b = OneBox::new(tools, "f14", None, None).await?;
        let smsc = tools.npm_smsc(b.smsc_port, &[])?;
        let (mut gw, _) = b.up().await?;
        let load = b.load(
            size.smpp,
            size.api,
            Instant::now() + Duration::from_secs(size.load_secs),
        );
        tokio::time::sleep(Duration::from_secs(size.load_secs / 3)).await;
        let (code, took) = gw.terminate(Duration::from_secs(15)).await;
        let at = Instant::now();
        let (mut gw, _) = b.up().await?;
        let mut row = Row {
            id,
            fault,
            detect: Some(took),
            recover: Some(at.elapsed()),
            in_flight: 50 + 8 + 50,
            note: format!("exit {code:?} in {:.1} s", took.as_secs_f64()),
            ..Row::default()
        };
        if code != Some(0) || took > Duration::from_secs(10) {
            row.problem = Some(format!("SIGTERM exited {code:?} after {took:?} (drain is 10 s)"));
        }
        row = settle(&b, load, vec![smsc], row).await;
        stop_cleanly(&mut gw, &mut row).await;
        Ok::<_, anyhow::Error>(row)
    };
    run.await.unwrap_or_else(|e| failed(id, fault, format!("{e:#}")))
}

/// Messages of `ids` without exactly one delivery report (missing, or another's too).
async fn without_their_receipt(b: &OneBox, ids: &[String], within: Duration) -> anyhow::Result<(u64, u64)> {
    let deadline = Instant::now() + within;
    loop {
        let (mut missing, mut twice) = (0, 0);
        for id in ids {
            let uuid: uuid::Uuid = id.parse().map_err(|_| anyhow::anyhow!("bad id {id}"))?;
            let n = b
                .store
                .message_events(uuid)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .iter()
                .filter(|e| matches!(e.kind, EventKind::DeliveryReport { .. }))
                .count();
            match n {
                0 => missing += 1,
                1 => {}
                _ => twice += 1,
            }
        }
        if (missing == 0 && twice == 0) || Instant::now() >= deadline {
            return Ok((missing, twice));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// F11: the SMSC restarts and gives the same message ids again, each receipt before its
/// `submit_sm_resp`: every receipt must reach its own message.
pub async fn f11_id_reuse(tools: &Tools, size: Size) -> Row {
    let (id, fault) = (
        "F11",
        "SMSC restart reusing message ids, receipts before responses",
    );
    let run = async {
        let b = OneBox::new(tools, "f11", None, None).await?;
        let opts = ["--start-id", "1000000", "--receipt-first"];
        let first = tools.npm_smsc(b.smsc_port, &opts)?;
        let (mut gw, _) = b.up().await?;
        let n = (size.api / 2).max(200);
        let send = |ledger: Arc<Ledger>| {
            api_client(
                b.base(),
                b.token.clone(),
                "sms".into(),
                (n, 8),
                Instant::now() + Duration::from_secs(60),
                ledger,
            )
        };
        let before = Arc::new(Ledger::default());
        send(before.clone()).await;
        let (m1, _) = without_their_receipt(&b, &before.acked(), Duration::from_secs(60)).await?;
        let c1 = smsc_stats(first)["submits"].as_u64().unwrap_or(0);
        let at = Instant::now();
        let second = tools.npm_smsc(b.smsc_port, &opts)?;
        let after = Arc::new(Ledger::default());
        send(after.clone()).await;
        let mut all = before.acked();
        all.extend(after.acked());
        let (missing, twice) = without_their_receipt(&b, &all, Duration::from_secs(60)).await?;
        let c2 = smsc_stats(second)["submits"].as_u64().unwrap_or(0);
        let handed = b.handed_over().await?;
        let mut row = Row {
            id,
            fault,
            sent: 2 * n,
            acked: all.len() as u64,
            lost: missing + twice,
            duplicates: (c1 + c2).saturating_sub(handed),
            in_flight: 20,
            recover: Some(at.elapsed()),
            note: format!("{missing} without a receipt, {twice} with another's ({m1} before the restart)"),
            ..Row::default()
        };
        stop_cleanly(&mut gw, &mut row).await;
        Ok::<_, anyhow::Error>(row)
    };
    run.await.unwrap_or_else(|e| failed(id, fault, format!("{e:#}")))
}

/// An SMSC that misbehaves for the whole load (`options`), then a sound one if `replace`.
async fn bad_smsc(
    tools: &Tools,
    (size, smpp, api): (Size, u64, u64),
    (id, fault, tag): (&'static str, &'static str, &str),
    options: &[&str],
    replace: bool,
) -> Row {
    let run = async {
        let b = OneBox::new(tools, tag, None, None).await?;
        let bad = tools.npm_smsc(b.smsc_port, options)?;
        let (mut gw, _) = b.up().await?;
        let load = b.load(smpp, api, Instant::now() + Duration::from_secs(size.load_secs));
        let mut smscs = vec![bad];
        let mut row = Row {
            id,
            fault,
            in_flight: 50,
            ..Row::default()
        };
        if replace {
            tokio::time::sleep(Duration::from_secs(size.load_secs / 2)).await;
            smscs.clear(); // the bad one goes (its counts are not the carrier's)
            let at = Instant::now();
            smscs.push(tools.npm_smsc(b.smsc_port, &[])?);
            row.recover = Some(at.elapsed());
        }
        row = settle(&b, load, smscs, row).await;
        stop_cleanly(&mut gw, &mut row).await;
        Ok::<_, anyhow::Error>(row)
    };
    run.await.unwrap_or_else(|e| failed(id, fault, format!("{e:#}")))
}

/// F7 (an SMSC answering after 2 s), F8 (one that never answers, replaced half-way by one
/// that does) and F9 (one throttling above 200/s): the npm SMSC's options and the load.
pub async fn misbehaving_smsc(tools: &Tools, size: Size, id: &'static str) -> Row {
    // F7: a window of 50 answered every 2 s carries 25 messages/s, a load it takes in time.
    let (fault, options, replace, smpp, api): (&'static str, &[&str], bool, u64, u64) = match id {
        "F7" => (
            "an SMSC answering after 2 s",
            &["--resp-delay-ms", "2000"],
            false,
            300,
            100,
        ),
        "F8" => (
            "an SMSC that never answers, then a sound one",
            &["--no-resp"],
            true,
            size.smpp / 3,
            size.api / 3,
        ),
        _ => (
            "an SMSC throttling above 200/s",
            &["--throttle-tps", "200"],
            false,
            1_500,
            500,
        ),
    };
    let tag = id.to_ascii_lowercase();
    bad_smsc(tools, (size, smpp, api), (id, fault, &tag), options, replace).await
}

/// F10: the SMSC's host freezes (SIGSTOP: its TCP stays open, nothing answers) for 12 s.
pub async fn f10_half_open(tools: &Tools, size: Size) -> Row {
    let (id, fault) = ("F10", "half-open TCP: the SMSC frozen for 12 s");
    let run = async {
        let b = OneBox::new(tools, "f10", None, None).await?;
        let smsc = tools.npm_smsc(b.smsc_port, &[])?;
        let (mut gw, _) = b.up().await?;
        let load = b.load(
            size.smpp / 3,
            size.api / 3,
            Instant::now() + Duration::from_secs(size.load_secs + 12),
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        smsc.signal("STOP");
        let at = Instant::now();
        let detect = channel_down_within(&b, Duration::from_secs(12)).await;
        let left = Duration::from_secs(12).saturating_sub(at.elapsed());
        tokio::time::sleep(left).await;
        smsc.signal("CONT");
        let back = Instant::now();
        let mut row = Row {
            id,
            fault,
            detect,
            in_flight: 50,
            ..Row::default()
        };
        row.recover = channel_ok_within(&b, Duration::from_secs(40))
            .await
            .map(|_| back.elapsed());
        row = settle(&b, load, vec![smsc], row).await;
        stop_cleanly(&mut gw, &mut row).await;
        Ok::<_, anyhow::Error>(row)
    };
    run.await.unwrap_or_else(|e| failed(id, fault, format!("{e:#}")))
}

async fn channel_status(b: &OneBox) -> Option<String> {
    let http = reqwest::Client::new();
    let r = http
        .get(format!("{}/api/v1/channels", b.base()))
        .bearer_auth(&b.token)
        .send()
        .await
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&r.bytes().await.ok()?).ok()?;
    v.as_array()?
        .iter()
        .find(|c| c["name"] == "sms")
        .and_then(|c| c["status"].as_str().map(str::to_string))
}

async fn channel_down_within(b: &OneBox, within: Duration) -> Option<Duration> {
    let at = Instant::now();
    while at.elapsed() < within {
        if channel_status(b).await.is_some_and(|s| s != "ok") {
            return Some(at.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

async fn channel_ok_within(b: &OneBox, within: Duration) -> Option<Duration> {
    let at = Instant::now();
    while at.elapsed() < within {
        if channel_status(b).await.as_deref() == Some("ok") {
            return Some(at.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

/// F4: PostgreSQL restarted (immediate mode) under load, with `seedgate up` on PostgreSQL
/// (the bus journal there too).
pub async fn f4_postgres(tools: &Tools, size: Size, url: &str) -> Row {
    let (id, fault) = (
        "F4",
        "PostgreSQL immediate restart under load (`seedgate up` on PostgreSQL)",
    );
    let run = async {
        let b = OneBox::new(tools, "f4", None, Some(url)).await?;
        let smsc = tools.npm_smsc(b.smsc_port, &[])?;
        let (mut gw, _) = b.up().await?;
        let load = b.load(
            size.smpp / 2,
            size.api / 2,
            Instant::now() + Duration::from_secs(size.load_secs + 5),
        );
        tokio::time::sleep(Duration::from_secs(size.load_secs / 3)).await;
        let at = Instant::now();
        restart_postgres()?;
        let mut row = Row {
            id,
            fault,
            in_flight: 50 + 8,
            ..Row::default()
        };
        row.recover = super::procs::ready(&b.base(), Duration::from_secs(60))
            .await
            .map(|_| at.elapsed());
        row = settle(&b, load, vec![smsc], row).await;
        stop_cleanly(&mut gw, &mut row).await;
        Ok::<_, anyhow::Error>(row)
    };
    run.await.unwrap_or_else(|e| failed(id, fault, format!("{e:#}")))
}

fn restart_postgres() -> anyhow::Result<()> {
    let version = std::fs::read_dir("/etc/postgresql")
        .map_err(|e| anyhow::anyhow!("no /etc/postgresql: {e}"))?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().to_string())
        .next()
        .ok_or_else(|| anyhow::anyhow!("no PostgreSQL cluster"))?;
    let ok = std::process::Command::new("pg_ctlcluster")
        .args([
            "--skip-systemctl-redirect",
            &version,
            "main",
            "restart",
            "-m",
            "immediate",
        ])
        .status()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    ok.success()
        .then_some(())
        .ok_or_else(|| anyhow::anyhow!("pg_ctlcluster restart failed"))
}

/// F13: the disk under the SQLite store fills up, then has room again.
pub async fn f13_disk_full(tools: &Tools, size: Size) -> Row {
    let (id, fault) = ("F13", "the store's disk full, then freed");
    let run = async {
        let disk =
            std::env::temp_dir().join(format!("seedgate-faults-disk-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&disk).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64m", "tmpfs"])
            .arg(&disk)
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            anyhow::bail!("cannot mount a tmpfs (root only)");
        }
        let _unmount = Unmount(disk.clone());
        let b = OneBox::new(tools, "f13", Some(&disk), None).await?;
        let smsc = tools.npm_smsc(b.smsc_port, &[])?;
        let (mut gw, _) = b.up().await?;
        // The disk fills half a second into the load: what was acknowledged before must
        // survive, what comes during gets temporary errors. (With half the load and the fill
        // 2 s in, a faster gateway had finished before the disk was full.)
        let load = b.load(
            size.smpp,
            size.api,
            Instant::now() + Duration::from_secs(size.load_secs + 6),
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let filler = disk.join("filler");
        let _ = std::process::Command::new("dd")
            .args(["if=/dev/zero", "bs=1M"])
            .arg(format!("of={}", filler.display()))
            .stderr(std::process::Stdio::null())
            .status();
        let at = Instant::now();
        let detect = not_ready_within(&b, Duration::from_secs(10)).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let _ = std::fs::remove_file(&filler);
        let freed = Instant::now();
        let recover = super::procs::ready(&b.base(), Duration::from_secs(30))
            .await
            .map(|_| freed.elapsed());
        let mut row = Row {
            id,
            fault,
            detect: detect.map(|d| d.min(at.elapsed())),
            recover,
            in_flight: 50 + 8,
            ..Row::default()
        };
        if detect.is_none() {
            row.problem = Some("/readyz stayed 200 with the disk full".into());
        }
        row = settle(&b, load, vec![smsc], row).await;
        if row.lost > 0 {
            // Keep the database for a look (the tmpfs goes away): see the issue 14 note on the
            // one message F13 can still lose at the moment the disk fills.
            for f in ["seedgate.db", "seedgate.db-wal", "seedgate.db-shm"] {
                let _ = std::fs::copy(disk.join(f), b.dir.join(f));
            }
        }
        stop_cleanly(&mut gw, &mut row).await;
        Ok::<_, anyhow::Error>(row)
    };
    run.await.unwrap_or_else(|e| failed(id, fault, format!("{e:#}")))
}

struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

async fn not_ready_within(b: &OneBox, within: Duration) -> Option<Duration> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .ok()?;
    let at = Instant::now();
    while at.elapsed() < within {
        let code = http
            .get(format!("{}/readyz", b.base()))
            .send()
            .await
            .map(|r| r.status().as_u16());
        if code.map_or(true, |c| c != 200) {
            return Some(at.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// F12: the wall clock jumps an hour ahead under load, and back.
pub async fn f12_clock(tools: &Tools, size: Size) -> Row {
    let (id, fault) = ("F12", "wall clock +1 h under load, then back");
    let run = async {
        let b = OneBox::new(tools, "f12", None, None).await?;
        let smsc = tools.npm_smsc(b.smsc_port, &[])?;
        let (mut gw, _) = b.up().await?;
        let load = b.load(
            size.smpp / 3,
            size.api / 3,
            Instant::now() + Duration::from_secs(size.load_secs),
        );
        tokio::time::sleep(Duration::from_secs(size.load_secs / 3)).await;
        jump("+1 hour")?;
        tokio::time::sleep(Duration::from_secs(size.load_secs / 3)).await;
        jump("-1 hour")?;
        let mut row = Row {
            id,
            fault,
            in_flight: 50,
            ..Row::default()
        };
        row = settle(&b, load, vec![smsc], row).await;
        stop_cleanly(&mut gw, &mut row).await;
        Ok::<_, anyhow::Error>(row)
    };
    run.await.unwrap_or_else(|e| failed(id, fault, format!("{e:#}")))
}

fn jump(by: &str) -> anyhow::Result<()> {
    let ok = std::process::Command::new("date")
        .args(["-s", by])
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    ok.success()
        .then_some(())
        .ok_or_else(|| anyhow::anyhow!("date -s '{by}' failed (needs CAP_SYS_TIME)"))
}
