//! The audit trail: rows only added, read newest first.

use async_trait::async_trait;
use seedgate_runtime::store::{Audit, AuditEntry, AuditQuery, StoreError};

use crate::sql::{Arg, Query, Row};
use crate::SqlStore;

fn entry(r: &Row) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        id: r.uuid("id")?,
        at: r.ts("at")?,
        actor: r.text("actor")?,
        action: r.text("action")?,
        target: r.text("target")?,
        detail: r.json("detail")?,
        source: r.text("source")?,
    })
}

#[async_trait]
impl Audit for SqlStore {
    async fn audit_append(&self, e: &AuditEntry) -> Result<(), StoreError> {
        let q = Query::new(
            "INSERT INTO audit (id, at, actor, action, target, detail, source) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(e.id)
        .bind(e.at)
        .bind(&e.actor)
        .bind(&e.action)
        .bind(&e.target)
        .bind(Arg::json(&e.detail)?)
        .bind(&e.source);
        self.db.exec(&q).await?;
        Ok(())
    }

    async fn audit_list(&self, f: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let mut sql =
            String::from("SELECT id, at, actor, action, target, detail, source FROM audit WHERE 1 = 1");
        let mut args: Vec<Arg> = Vec::new();
        if let Some(before) = f.before {
            sql.push_str(" AND id < ?");
            args.push(before.into());
        }
        match f.action.as_deref() {
            // `token.`: every action on tokens (a range, so the index serves it).
            Some(kind) if kind.ends_with('.') => {
                sql.push_str(" AND action >= ? AND action < ?");
                args.push(kind.into());
                args.push(format!("{}/", kind.trim_end_matches('.')).into());
            }
            Some(action) => {
                sql.push_str(" AND action = ?");
                args.push(action.into());
            }
            None => {}
        }
        if let Some(actor) = &f.actor {
            sql.push_str(" AND actor = ?");
            args.push(actor.into());
        }
        sql.push_str(" ORDER BY id DESC LIMIT ?");
        args.push(i64::from(f.limit.max(1)).into());
        let q = args.into_iter().fold(Query::new(sql), Query::bind);
        self.db.fetch(&q).await?.iter().map(entry).collect()
    }
}
