//! Contacts, written optimistically: a version per row, and the groups beside them.

use async_trait::async_trait;
use seedgate_runtime::store::{Contact, ContactQuery, Contacts, StoreError};

use crate::grouped::{Write, Written};
use crate::sql::{Arg, Query, Tx};
use crate::SqlStore;

#[async_trait]
impl Contacts for SqlStore {
    async fn contact(&self, msisdn: &str) -> Result<Option<Contact>, StoreError> {
        let q = Query::new("SELECT body FROM contacts WHERE msisdn = ?").bind(msisdn);
        self.db
            .fetch_optional(&q)
            .await?
            .map(|r| r.json("body"))
            .transpose()
    }

    async fn contact_put(&self, c: &Contact) -> Result<bool, StoreError> {
        match self.grouped(Write::ContactPut(c.clone())).await? {
            Written::Put(done) => Ok(done),
            other => Err(crate::grouped::mismatch(&other)),
        }
    }

    async fn contacts(&self, q: &ContactQuery) -> Result<Vec<Contact>, StoreError> {
        let mut sql = Query::new("SELECT c.body AS body FROM contacts c");
        if let Some(g) = &q.group {
            sql.push(" JOIN contact_groups g ON g.msisdn = c.msisdn AND g.grp = ")
                .push_bind(g);
        }
        sql.push(" WHERE 1 = 1");
        if let Some(o) = q.opted_out {
            sql.push(" AND c.opted_out = ").push_bind(o);
        }
        if let Some(a) = &q.after {
            sql.push(" AND c.msisdn > ").push_bind(a);
        }
        sql.push(&format!(
            " ORDER BY c.msisdn{} LIMIT ",
            self.db.dialect().collate_bytes()
        ))
        .push_bind(q.limit);
        self.db
            .fetch(&sql)
            .await?
            .iter()
            .map(|r| r.json("body"))
            .collect()
    }

    async fn contact_delete(&self, msisdn: &str) -> Result<bool, StoreError> {
        // Groups first: SQLite enforces no foreign keys here, so no cascade does it.
        let mut tx = self.db.begin().await?;
        tx.exec(&Query::new("DELETE FROM contact_groups WHERE msisdn = ?").bind(msisdn))
            .await?;
        let n = tx
            .exec(&Query::new("DELETE FROM contacts WHERE msisdn = ?").bind(msisdn))
            .await?;
        tx.commit().await?;
        Ok(n == 1)
    }
}

/// Writes `c` in `tx` if its version is still the one read (a new one: unless it exists).
pub(crate) async fn put(tx: &mut Tx, c: &Contact) -> Result<bool, StoreError> {
    let mut next = c.clone();
    next.version = c.version + 1;
    // A new contact is inserted unless one exists; a known one is updated if its version
    // is still the one read.
    let (sql, read) = if c.version == 0 {
        (
            "INSERT INTO contacts (body, opted_out, version, updated_at, msisdn) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (msisdn) DO NOTHING",
            None,
        )
    } else {
        (
            "UPDATE contacts SET body = ?, opted_out = ?, version = ?, updated_at = ?
             WHERE msisdn = ? AND version = ?",
            Some(c.version),
        )
    };
    let mut write = Query::new(sql)
        .bind(Arg::json(&next)?)
        .bind(c.opted_out_at.is_some())
        .bind(next.version)
        .bind(next.updated_at)
        .bind(&c.msisdn);
    if let Some(v) = read {
        write = write.bind(v);
    }
    if tx.exec(&write).await? == 0 {
        return Ok(false);
    }
    tx.exec(&Query::new("DELETE FROM contact_groups WHERE msisdn = ?").bind(&c.msisdn))
        .await?;
    if !c.groups.is_empty() {
        let mut q = Query::new("INSERT INTO contact_groups (grp, msisdn) VALUES ");
        for (i, g) in c.groups.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push_row([g.into(), (&c.msisdn).into()]);
        }
        tx.exec(&q).await?;
    }
    Ok(true)
}
