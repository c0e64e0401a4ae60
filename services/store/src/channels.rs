//! Channel definitions made (or restarted) through the API, and their generations.

use async_trait::async_trait;
use seedgate_runtime::store::{ChannelDefs, StoreError, StoredChannel};

use crate::sql::{Arg, Query, Row};
use crate::SqlStore;

const COLUMNS: &str = "name, definition, generation, updated_at";

fn channel(r: &Row) -> Result<StoredChannel, StoreError> {
    Ok(StoredChannel {
        name: r.text("name")?,
        definition: r.opt_json("definition")?,
        generation: r.int("generation")?,
        updated_at: r.ts("updated_at")?,
    })
}

impl SqlStore {
    /// Writes a channel row: `definition` replaces the stored one when given; the generation
    /// always goes up.
    async fn channel_bump(
        &self,
        name: &str,
        definition: Option<&serde_json::Value>,
    ) -> Result<StoredChannel, StoreError> {
        let definition = match definition {
            Some(d) => Arg::json(d)?,
            None => Arg::Json(None),
        };
        let q = Query::new(format!(
            "INSERT INTO channels (name, definition, generation, updated_at) VALUES (?, ?, 1, ?)
             ON CONFLICT (name) DO UPDATE SET
               definition = COALESCE(excluded.definition, channels.definition),
               generation = channels.generation + 1,
               updated_at = excluded.updated_at
             RETURNING {COLUMNS}"
        ))
        .bind(name)
        .bind(definition)
        .bind(Arg::Now);
        let row = self.db.fetch_optional(&q).await?;
        channel(&row.ok_or_else(|| StoreError::Rejected("an upsert returned no row".into()))?)
    }
}

#[async_trait]
impl ChannelDefs for SqlStore {
    async fn channels_stored(&self) -> Result<Vec<StoredChannel>, StoreError> {
        let q = Query::new(format!("SELECT {COLUMNS} FROM channels ORDER BY name"));
        self.db.fetch(&q).await?.iter().map(channel).collect()
    }

    async fn channel_put(
        &self,
        name: &str,
        definition: &serde_json::Value,
    ) -> Result<StoredChannel, StoreError> {
        self.channel_bump(name, Some(definition)).await
    }

    async fn channel_restart(&self, name: &str) -> Result<StoredChannel, StoreError> {
        self.channel_bump(name, None).await
    }

    async fn channel_delete(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .db
            .exec(&Query::new("DELETE FROM channels WHERE name = ?").bind(name))
            .await?
            == 1)
    }
}
