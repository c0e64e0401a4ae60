//! API tokens: only a hash of each secret.

use async_trait::async_trait;
use seedgate_runtime::store::{ApiToken, StoreError, Tokens};

use crate::sql::Query;
use crate::{split_scopes, SqlStore};

#[async_trait]
impl Tokens for SqlStore {
    async fn put_token(&self, t: &ApiToken) -> Result<(), StoreError> {
        let q =
            Query::new("INSERT INTO api_tokens (id, name, hash, scopes, created_at) VALUES (?, ?, ?, ?, ?)")
                .bind(t.id)
                .bind(&t.name)
                .bind(&t.hash)
                .bind(t.scopes.join(","))
                .bind(t.created_at);
        self.db.exec(&q).await?;
        Ok(())
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>, StoreError> {
        let q =
            Query::new("SELECT id, name, hash, scopes, created_at FROM api_tokens WHERE hash = ?").bind(hash);
        let Some(r) = self.db.fetch_optional(&q).await? else {
            return Ok(None);
        };
        Ok(Some(ApiToken {
            id: r.uuid("id")?,
            name: r.text("name")?,
            hash: r.text("hash")?,
            scopes: split_scopes(&r.text("scopes")?),
            created_at: r.ts("created_at")?,
        }))
    }
}
