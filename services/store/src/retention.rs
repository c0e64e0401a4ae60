//! Retention per channel, applied by the store service every `store.purge_every_secs`.
//!
//! A channel's messages (with their events) and ended sessions older than its
//! `retention_days` are deleted in batches of [`BATCH`]. Messages still waiting to be sent are
//! never purged. With `retention_archive`, each batch is first written to a gzipped JSON-lines
//! file, `<store.archive_dir>/<channel>/<time>-<id>.jsonl.gz` (one object per line, `kind`
//! `message`, `event` or `session`), fsynced and renamed into place; the rows are deleted in
//! the same transaction only after that, so a failed write deletes nothing. Rows written to
//! an archive whose transaction then failed are archived again next time (at least once).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use seedgate_runtime::channels::Registry;
use seedgate_runtime::config::Config;
use seedgate_runtime::store::{Archive, Purged, Store, StoreError};
use tokio_util::sync::CancellationToken;

/// Rows per purge transaction.
pub const BATCH: u32 = 1000;

/// Applies every channel's retention now and then every `store.purge_every_secs`, until
/// `shutdown`. Channels made through the API count as soon as they exist.
pub async fn run(
    config: Arc<Config>,
    registry: Registry,
    store: Arc<dyn Store>,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(config.store.purge_every_secs.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        // Carrier ids and held receipts outlive no receipt worth waiting for.
        let horizon = chrono::Utc::now() - chrono::Duration::days(7);
        match store.receipts_purge(horizon).await {
            Ok(n) if n > 0 => {
                tracing::info!(rows = n, "purged carrier ids and held receipts older than 7 days")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot purge old carrier ids yet; will retry"),
        }
        let set = registry.current();
        for live in set.iter() {
            let Some(days) = live.config.retention_days else {
                continue;
            };
            let archive = live
                .config
                .retention_archive
                .then_some(config.store.archive_dir.as_path());
            let channel = live.name.as_str();
            match apply(store.as_ref(), channel, days, archive).await {
                Ok(p) => {
                    for (kind, n) in [
                        ("message", p.messages),
                        ("event", p.events),
                        ("session", p.sessions),
                    ] {
                        metrics::counter!("seedgate_store_purged_total", "channel" => channel.to_string(), "kind" => kind)
                            .increment(n);
                    }
                    if p.messages + p.events + p.sessions > 0 {
                        tracing::info!(
                            channel,
                            days,
                            archived = archive.is_some(),
                            messages = p.messages,
                            events = p.events,
                            sessions = p.sessions,
                            "retention: purged"
                        );
                    }
                }
                Err(e) => tracing::warn!(channel, error = %e, "retention purge failed; retrying next time"),
            }
        }
    }
}

/// Purges (and archives, with `archive_dir`) everything of `channel` older than `days`, a
/// batch at a time.
pub async fn apply(
    store: &dyn Store,
    channel: &str,
    days: u32,
    archive_dir: Option<&Path>,
) -> Result<Purged, StoreError> {
    let before = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
    let sink = archive_dir.map(|dir| {
        let dir = dir.to_path_buf();
        move |a: &Archive| write_archive(&dir, a).map(|_| ())
    });
    let mut total = Purged::default();
    loop {
        let sink: Option<&seedgate_runtime::store::ArchiveSink<'_>> = sink.as_ref().map(|s| s as _);
        let p = store.purge(channel, before, BATCH, sink).await?;
        total.messages += p.messages;
        total.events += p.events;
        total.sessions += p.sessions;
        if p.messages < u64::from(BATCH) && p.sessions < u64::from(BATCH) {
            return Ok(total);
        }
    }
}

/// Writes `archive` to a new gzipped JSON-lines file under `dir/<channel>/`, durably; returns
/// its path.
pub fn write_archive(dir: &Path, archive: &Archive) -> std::io::Result<PathBuf> {
    let folder = dir.join(&archive.channel);
    std::fs::create_dir_all(&folder)
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot create {}: {e}", folder.display())))?;
    let name = format!(
        "{}-{}.jsonl.gz",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        uuid::Uuid::now_v7().simple()
    );
    let path = folder.join(&name);
    let tmp = folder.join(format!(".{name}.tmp"));
    let write = || -> std::io::Result<()> {
        let file = std::fs::File::create(&tmp)?;
        let mut gz =
            flate2::write::GzEncoder::new(std::io::BufWriter::new(file), flate2::Compression::default());
        let lines = archive
            .messages
            .iter()
            .cloned()
            .chain(
                archive
                    .events
                    .iter()
                    .map(|e| serde_json::json!({"kind": "event", "event": e})),
            )
            .chain(
                archive
                    .sessions
                    .iter()
                    .map(|s| serde_json::json!({"kind": "session", "session": s})),
            );
        for line in lines {
            serde_json::to_writer(&mut gz, &line)?;
            gz.write_all(b"\n")?;
        }
        let file = gz.finish()?.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(&folder)?.sync_all()
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        std::io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()))
    })?;
    Ok(path)
}
