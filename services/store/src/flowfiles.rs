//! Flow files: drafts saved optimistically, versions published in one global order, an audit
//! row per change, and per-day arrow counters.
//!
//! Race-freedom: a save is one statement that checks the revision it replaces (`UPDATE … WHERE
//! revision = ?`, or an `INSERT` that does nothing if the file exists), so of two saves from
//! the same revision one wins and the other reads the winner. A publish, and the first
//! import, take the `flow_seq` row's lock first and keep it until they commit: publishes
//! commit one at a time, in `seq` order, and a process that has seen `seq` n has seen every
//! publish up to n. Every transaction that writes begins with a write, so SQLite takes its
//! write lock before it reads.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use seedgate_runtime::store::{
    FlowAudit, FlowDraft, FlowFileInfo, FlowFiles, FlowStat, FlowVersion, Published, Saved, StoreError,
};

use crate::sql::{Arg, Query, Row, Tx};
use crate::SqlStore;

const DRAFT_COLUMNS: &str = "file, text, revision, updated_by, updated_at, layout";
const VERSION_COLUMNS: &str = "file, number, seq, text, published_by, published_at";

/// The end of an `INSERT INTO flow_drafts (file, text, revision, updated_by, updated_at)` that
/// replaces an existing draft's text with a new revision (its layout stays).
const DRAFT_UPSERT: &str = "ON CONFLICT (file) DO UPDATE SET
       text = excluded.text, revision = flow_drafts.revision + 1,
       updated_by = excluded.updated_by, updated_at = excluded.updated_at";

fn draft(r: &Row) -> Result<FlowDraft, StoreError> {
    Ok(FlowDraft {
        file: r.text("file")?,
        text: r.text("text")?,
        revision: r.int("revision")?,
        updated_by: r.text("updated_by")?,
        updated_at: r.ts("updated_at")?,
        layout: r.json("layout")?,
    })
}

fn version(r: &Row) -> Result<FlowVersion, StoreError> {
    Ok(FlowVersion {
        file: r.text("file")?,
        number: r.int("number")?,
        seq: r.int("seq")?,
        text: r.text("text")?,
        published_by: r.text("published_by")?,
        published_at: r.ts("published_at")?,
    })
}

/// Inserts a draft at revision 1; `on_conflict` says what happens if the file has one.
fn new_draft(on_conflict: &str, file: &str, text: &str, actor: &str) -> Query {
    Query::new(format!(
        "INSERT INTO flow_drafts (file, text, revision, updated_by, updated_at) VALUES (?, ?, 1, ?, ?)
         {on_conflict} RETURNING {DRAFT_COLUMNS}"
    ))
    .bind(file)
    .bind(text)
    .bind(actor)
    .bind(Arg::Now)
}

fn draft_query(file: &str, lock: &str) -> Query {
    Query::new(format!(
        "SELECT {DRAFT_COLUMNS} FROM flow_drafts WHERE file = ?{lock}"
    ))
    .bind(file)
}

async fn fetch_draft(tx: &mut Tx, q: &Query) -> Result<Option<FlowDraft>, StoreError> {
    tx.fetch_optional(q).await?.as_ref().map(draft).transpose()
}

async fn audit(
    tx: &mut Tx,
    file: &str,
    action: &str,
    actor: &str,
    revision: Option<i64>,
    version: Option<i64>,
) -> Result<(), StoreError> {
    let q = Query::new(
        "INSERT INTO flow_audit (file, action, actor, revision, version, at) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(file)
    .bind(action)
    .bind(actor)
    .bind(Arg::Int(revision))
    .bind(Arg::Int(version))
    .bind(Arg::Now);
    tx.exec(&q).await.map(drop)
}

/// Takes the `flow_seq` row's lock (until the transaction ends) and moves it on by `n`: the
/// new last `seq`.
/// Inserts `text` as `file`'s next version, published at `seq`.
async fn insert_version(
    tx: &mut Tx,
    file: &str,
    seq: i64,
    text: &str,
    actor: &str,
) -> Result<FlowVersion, StoreError> {
    let next =
        Query::new("SELECT COALESCE(MAX(number), 0) + 1 AS n FROM flow_versions WHERE file = ?").bind(file);
    let number = tx.fetch_one(&next).await?.int("n")?;
    let insert = Query::new(format!(
        "INSERT INTO flow_versions ({VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) RETURNING {VERSION_COLUMNS}"
    ))
    .bind(file)
    .bind(number)
    .bind(seq)
    .bind(text)
    .bind(actor)
    .bind(Arg::Now);
    version(&tx.fetch_one(&insert).await?)
}

async fn take_seq(tx: &mut Tx, n: i64) -> Result<i64, StoreError> {
    let q = Query::new("UPDATE flow_seq SET seq = seq + ? WHERE id = 1 RETURNING seq").bind(n);
    tx.fetch_one(&q).await?.int("seq")
}

#[async_trait]
impl FlowFiles for SqlStore {
    async fn flow_files(&self) -> Result<Vec<FlowFileInfo>, StoreError> {
        let q = Query::new(format!(
            "SELECT d.file, d.revision, d.updated_by, d.updated_at, v.number AS published, v.published_at
             FROM flow_drafts d
             LEFT JOIN flow_versions v ON v.file = d.file
               AND v.number = (SELECT MAX(w.number) FROM flow_versions w WHERE w.file = d.file)
             ORDER BY d.file{}",
            self.db.dialect().collate_bytes()
        ));
        self.db
            .fetch(&q)
            .await?
            .iter()
            .map(|r| {
                Ok(FlowFileInfo {
                    file: r.text("file")?,
                    revision: r.int("revision")?,
                    updated_by: r.text("updated_by")?,
                    updated_at: r.ts("updated_at")?,
                    published: r.opt_int("published")?,
                    published_at: r.opt_ts("published_at")?,
                })
            })
            .collect()
    }

    async fn flow_draft(&self, file: &str) -> Result<Option<FlowDraft>, StoreError> {
        let q = draft_query(file, "");
        self.db.fetch_optional(&q).await?.as_ref().map(draft).transpose()
    }

    async fn flow_save(
        &self,
        file: &str,
        text: &str,
        base_revision: Option<i64>,
        actor: &str,
    ) -> Result<Saved, StoreError> {
        let q = match base_revision {
            None => new_draft(DRAFT_UPSERT, file, text, actor),
            Some(0) => new_draft("ON CONFLICT (file) DO NOTHING", file, text, actor),
            Some(base) => Query::new(format!(
                "UPDATE flow_drafts SET text = ?, revision = revision + 1, updated_by = ?, updated_at = ?
                 WHERE file = ? AND revision = ? RETURNING {DRAFT_COLUMNS}"
            ))
            .bind(text)
            .bind(actor)
            .bind(Arg::Now)
            .bind(file)
            .bind(base),
        };
        let mut tx = self.db.begin().await?;
        let Some(saved) = fetch_draft(&mut tx, &q).await? else {
            return match fetch_draft(&mut tx, &draft_query(file, "")).await? {
                Some(now) => Ok(Saved::Conflict(now)),
                None => Err(StoreError::Rejected(format!(
                    "flow file {file} has no draft to save over revision {}",
                    base_revision.unwrap_or_default()
                ))),
            };
        };
        audit(&mut tx, file, "save", actor, Some(saved.revision), None).await?;
        tx.commit().await?;
        Ok(Saved::Saved(saved))
    }

    async fn flow_set_layout(&self, file: &str, layout: &serde_json::Value) -> Result<bool, StoreError> {
        let q = Query::new("UPDATE flow_drafts SET layout = ? WHERE file = ?")
            .bind(Arg::json(layout)?)
            .bind(file);
        Ok(self.db.exec(&q).await? == 1)
    }

    async fn flow_publish(
        &self,
        file: &str,
        base_revision: Option<i64>,
        actor: &str,
    ) -> Result<Published, StoreError> {
        let mut tx = self.db.begin().await?;
        // Dropped without a commit (no draft, a conflict), the transaction gives the seq back.
        let seq = take_seq(&mut tx, 1).await?;
        let lock = tx.dialect().for_update();
        let Some(d) = fetch_draft(&mut tx, &draft_query(file, lock)).await? else {
            return Ok(Published::NoDraft);
        };
        if base_revision.is_some_and(|b| b != d.revision) {
            return Ok(Published::Conflict(d));
        }
        let v = insert_version(&mut tx, file, seq, &d.text, actor).await?;
        audit(&mut tx, file, "publish", actor, Some(d.revision), Some(v.number)).await?;
        tx.commit().await?;
        Ok(Published::Published(v))
    }

    async fn flow_republish(
        &self,
        file: &str,
        number: i64,
        actor: &str,
    ) -> Result<Option<FlowVersion>, StoreError> {
        let mut tx = self.db.begin().await?;
        let seq = take_seq(&mut tx, 1).await?;
        let old = Query::new("SELECT text FROM flow_versions WHERE file = ? AND number = ?")
            .bind(file)
            .bind(number);
        let Some(row) = tx.fetch_optional(&old).await? else {
            return Ok(None);
        };
        let v = insert_version(&mut tx, file, seq, &row.text("text")?, actor).await?;
        audit(&mut tx, file, "rollback", actor, None, Some(v.number)).await?;
        tx.commit().await?;
        Ok(Some(v))
    }

    async fn flow_restore(
        &self,
        file: &str,
        number: i64,
        actor: &str,
    ) -> Result<Option<FlowDraft>, StoreError> {
        let q = Query::new(format!(
            "INSERT INTO flow_drafts (file, text, revision, updated_by, updated_at)
             SELECT file, text, 1, ?, ? FROM flow_versions WHERE file = ? AND number = ?
             {DRAFT_UPSERT} RETURNING {DRAFT_COLUMNS}"
        ))
        .bind(actor)
        .bind(Arg::Now)
        .bind(file)
        .bind(number);
        let mut tx = self.db.begin().await?;
        let Some(restored) = fetch_draft(&mut tx, &q).await? else {
            return Ok(None);
        };
        audit(
            &mut tx,
            file,
            "restore",
            actor,
            Some(restored.revision),
            Some(number),
        )
        .await?;
        tx.commit().await?;
        Ok(Some(restored))
    }

    async fn flow_versions(&self, file: &str) -> Result<Vec<FlowVersion>, StoreError> {
        let q = Query::new(format!(
            "SELECT {VERSION_COLUMNS} FROM flow_versions WHERE file = ? ORDER BY number DESC"
        ))
        .bind(file);
        self.db.fetch(&q).await?.iter().map(version).collect()
    }

    async fn flow_version(&self, file: &str, number: i64) -> Result<Option<FlowVersion>, StoreError> {
        let q = Query::new(format!(
            "SELECT {VERSION_COLUMNS} FROM flow_versions WHERE file = ? AND number = ?"
        ))
        .bind(file)
        .bind(number);
        self.db
            .fetch_optional(&q)
            .await?
            .as_ref()
            .map(version)
            .transpose()
    }

    async fn flow_audit(&self, file: &str, limit: u32) -> Result<Vec<FlowAudit>, StoreError> {
        let q = Query::new(
            "SELECT file, action, actor, revision, version, at FROM flow_audit
             WHERE file = ? ORDER BY id DESC LIMIT ?",
        )
        .bind(file)
        .bind(limit);
        self.db
            .fetch(&q)
            .await?
            .iter()
            .map(|r| {
                Ok(FlowAudit {
                    file: r.text("file")?,
                    action: r.text("action")?,
                    actor: r.text("actor")?,
                    revision: r.opt_int("revision")?,
                    version: r.opt_int("version")?,
                    at: r.ts("at")?,
                })
            })
            .collect()
    }

    async fn flow_live_seq(&self) -> Result<i64, StoreError> {
        let q = Query::new("SELECT COALESCE(MAX(seq), 0) AS seq FROM flow_versions");
        match self.db.fetch_optional(&q).await? {
            Some(r) => r.int("seq"),
            None => Ok(0),
        }
    }

    async fn flow_live(&self, at: Option<i64>) -> Result<Vec<FlowVersion>, StoreError> {
        let mut q = Query::new(format!(
            "SELECT {VERSION_COLUMNS} FROM flow_versions v
             WHERE seq = (SELECT MAX(w.seq) FROM flow_versions w WHERE w.file = v.file"
        ));
        if let Some(at) = at {
            q.push(" AND w.seq <= ").push_bind(at);
        }
        q.push(&format!(") ORDER BY file{}", self.db.dialect().collate_bytes()));
        self.db.fetch(&q).await?.iter().map(version).collect()
    }

    async fn flow_import_initial(&self, files: &[(String, String)], actor: &str) -> Result<bool, StoreError> {
        let n = i64::try_from(files.len()).unwrap_or(i64::MAX);
        let mut tx = self.db.begin().await?;
        // With the seq lock held, a second process importing at once waits here, then sees
        // the first one's versions.
        let last = take_seq(&mut tx, n).await?;
        let published = Query::new("SELECT seq FROM flow_versions LIMIT 1");
        if tx.fetch_optional(&published).await?.is_some() {
            return Ok(false);
        }
        for (seq, (file, text)) in (last - n + 1..).zip(files) {
            // A draft someone saved before anything was published stays as it is.
            let q = new_draft("ON CONFLICT (file) DO NOTHING", file, text, actor);
            let revision = fetch_draft(&mut tx, &q).await?.map(|d| d.revision);
            let q = Query::new(format!(
                "INSERT INTO flow_versions ({VERSION_COLUMNS}) VALUES (?, 1, ?, ?, ?, ?)"
            ))
            .bind(file)
            .bind(seq)
            .bind(text)
            .bind(actor)
            .bind(Arg::Now);
            tx.exec(&q).await?;
            audit(&mut tx, file, "import", actor, revision, Some(1)).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn flow_stats_add(&self, rows: &[FlowStat]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.begin().await?;
        for s in rows {
            let q = Query::new(
                "INSERT INTO flow_stats (flow, day, from_node, to_node, count) VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT (flow, day, from_node, to_node) DO UPDATE SET count = flow_stats.count + excluded.count",
            )
            .bind(&s.flow)
            .bind(s.day)
            .bind(&s.from)
            .bind(&s.to)
            .bind(s.count);
            tx.exec(&q).await?;
        }
        tx.commit().await
    }

    async fn flow_stats(&self, flow: &str, since: NaiveDate) -> Result<Vec<FlowStat>, StoreError> {
        let c = self.db.dialect().collate_bytes();
        let q = Query::new(format!(
            "SELECT from_node, to_node, CAST(SUM(count) AS BIGINT) AS count FROM flow_stats
             WHERE flow = ? AND day >= ? GROUP BY from_node, to_node ORDER BY from_node{c}, to_node{c}"
        ))
        .bind(flow)
        .bind(since);
        self.db
            .fetch(&q)
            .await?
            .iter()
            .map(|r| {
                Ok(FlowStat {
                    flow: flow.to_string(),
                    day: since,
                    from: r.text("from_node")?,
                    to: r.text("to_node")?,
                    count: r.int("count")?,
                })
            })
            .collect()
    }

    async fn flow_session_summary(&self, flow: &str, since: DateTime<Utc>) -> Result<(i64, f64), StoreError> {
        let q = Query::new(
            "SELECT COUNT(*) AS n, CAST(AVG(slices) AS DOUBLE PRECISION) AS slices FROM sessions
             WHERE flow = ? AND started_at >= ?",
        )
        .bind(flow)
        .bind(since);
        match self.db.fetch_optional(&q).await? {
            Some(r) => Ok((r.int("n")?, r.opt_float("slices")?.unwrap_or(0.0))),
            None => Ok((0, 0.0)),
        }
    }
}
