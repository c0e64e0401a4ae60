//! API tokens: only a hash of each secret. Revoked tokens stay listed and are never found by
//! their hash again.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use seedgate_runtime::store::{ApiToken, StoreError, Tokens};
use uuid::Uuid;

use crate::sql::{Query, Row};
use crate::{split_scopes, SqlStore};

const COLUMNS: &str = "id, name, hash, scopes, created_at, last_used_at, revoked_at";

fn token(r: &Row) -> Result<ApiToken, StoreError> {
    Ok(ApiToken {
        id: r.uuid("id")?,
        name: r.text("name")?,
        hash: r.text("hash")?,
        scopes: split_scopes(&r.text("scopes")?),
        created_at: r.ts("created_at")?,
        last_used_at: r.opt_ts("last_used_at")?,
        revoked_at: r.opt_ts("revoked_at")?,
    })
}

#[async_trait]
impl Tokens for SqlStore {
    async fn put_token(&self, t: &ApiToken) -> Result<(), StoreError> {
        let q = Query::new(format!(
            "INSERT INTO api_tokens ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(t.id)
        .bind(&t.name)
        .bind(&t.hash)
        .bind(t.scopes.join(","))
        .bind(t.created_at)
        .bind(t.last_used_at)
        .bind(t.revoked_at);
        self.db.exec(&q).await?;
        Ok(())
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>, StoreError> {
        let q = Query::new(format!(
            "SELECT {COLUMNS} FROM api_tokens WHERE hash = ? AND revoked_at IS NULL"
        ))
        .bind(hash);
        self.db.fetch_optional(&q).await?.as_ref().map(token).transpose()
    }

    async fn tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        let q = Query::new(format!(
            "SELECT {COLUMNS} FROM api_tokens ORDER BY created_at, id"
        ));
        self.db.fetch(&q).await?.iter().map(token).collect()
    }

    async fn revoke_token(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let q = Query::new("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
            .bind(at)
            .bind(id);
        Ok(self.db.exec(&q).await? == 1)
    }

    async fn touch_token(&self, id: Uuid, at: DateTime<Utc>) -> Result<(), StoreError> {
        let q = Query::new(
            "UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
        )
        .bind(at)
        .bind(id)
        .bind(at);
        self.db.exec(&q).await?;
        Ok(())
    }
}
