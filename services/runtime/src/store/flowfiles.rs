//! Flow files in the store: a draft per file (with a revision for optimistic saves), its
//! published versions (numbered per file, and ordered across files by a global `seq`, so a
//! process can rebuild exactly the set of flows that was live at any publish), an audit row
//! per save, publish, restore and import, and per-day counters of the arrows sessions took.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::StoreError;

#[async_trait]
pub trait FlowFiles: Send + Sync {
    /// Every file that has a draft, by name.
    async fn flow_files(&self) -> Result<Vec<FlowFileInfo>, StoreError>;
    async fn flow_draft(&self, file: &str) -> Result<Option<FlowDraft>, StoreError>;
    /// Saves a draft (creating the file if it has none) when its revision is still
    /// `base_revision` (`None`: whatever it is; `Some(0)`: the file must not exist yet), with
    /// an audit row `save`, in one transaction. The saved draft has revision + 1.
    async fn flow_save(
        &self,
        file: &str,
        text: &str,
        base_revision: Option<i64>,
        actor: &str,
    ) -> Result<Saved, StoreError>;
    /// Keeps the editor's node positions (JSON) with the draft; no new revision, no audit row.
    /// False if the file has no draft.
    async fn flow_set_layout(&self, file: &str, layout: &serde_json::Value) -> Result<bool, StoreError>;
    /// Publishes the draft as the file's next version when its revision is still
    /// `base_revision` (`None`: whatever it is), with an audit row `publish`, in one
    /// transaction.
    async fn flow_publish(
        &self,
        file: &str,
        base_revision: Option<i64>,
        actor: &str,
    ) -> Result<Published, StoreError>;
    /// Publishes version `number`'s text again as the file's next version (a roll back), with
    /// an audit row `rollback`, in one transaction; the draft is left as it is. `None` if the
    /// file has no such version.
    async fn flow_republish(
        &self,
        file: &str,
        number: i64,
        actor: &str,
    ) -> Result<Option<FlowVersion>, StoreError>;
    /// Makes version `number` the draft (revision + 1), with an audit row `restore`;
    /// `None` if the file has no such version.
    async fn flow_restore(
        &self,
        file: &str,
        number: i64,
        actor: &str,
    ) -> Result<Option<FlowDraft>, StoreError>;
    /// A file's versions, newest first.
    async fn flow_versions(&self, file: &str) -> Result<Vec<FlowVersion>, StoreError>;
    async fn flow_version(&self, file: &str, number: i64) -> Result<Option<FlowVersion>, StoreError>;
    /// A file's audit rows, newest first, at most `limit`.
    async fn flow_audit(&self, file: &str, limit: u32) -> Result<Vec<FlowAudit>, StoreError>;
    /// The highest `seq` of any published version (0 when nothing is published): processes
    /// poll it to see a publish.
    async fn flow_live_seq(&self) -> Result<i64, StoreError>;
    /// What was live after the publish `seq` (`None`: now): each file's newest version with
    /// `seq <= at`, by file name.
    async fn flow_live(&self, at: Option<i64>) -> Result<Vec<FlowVersion>, StoreError>;
    /// The flows folder's files, each as its draft and version 1, in one transaction — only
    /// if nothing at all is published yet (false, and nothing written, otherwise: two
    /// processes starting at once import once).
    async fn flow_import_initial(&self, files: &[(String, String)], actor: &str) -> Result<bool, StoreError>;
    /// Adds to the per-day arrow counters (one upsert per row).
    async fn flow_stats_add(&self, rows: &[FlowStat]) -> Result<(), StoreError>;
    /// The arrow counters of `flow` summed over the days from `since` on.
    async fn flow_stats(&self, flow: &str, since: NaiveDate) -> Result<Vec<FlowStat>, StoreError>;
    /// The sessions of `flow` started at or after `since`: how many, and their average
    /// billing slices (from the session records).
    async fn flow_session_summary(&self, flow: &str, since: DateTime<Utc>) -> Result<(i64, f64), StoreError>;
}

/// A file, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowFileInfo {
    pub file: String,
    pub revision: i64,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
    /// The newest published version, if any.
    pub published: Option<i64>,
    pub published_at: Option<DateTime<Utc>>,
}

/// A file's draft.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowDraft {
    pub file: String,
    pub text: String,
    /// Bumped by every save and restore; what optimistic saves compare.
    pub revision: i64,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
    /// The editor's node positions (`{}` until it keeps some).
    pub layout: serde_json::Value,
}

/// A published version of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowVersion {
    pub file: String,
    /// 1, 2, … per file.
    pub number: i64,
    /// Order of publishes across all files.
    pub seq: i64,
    pub text: String,
    pub published_by: String,
    pub published_at: DateTime<Utc>,
}

/// What an optimistic save did.
#[derive(Debug, Clone, PartialEq)]
pub enum Saved {
    Saved(FlowDraft),
    /// Someone saved first: the draft as it is now (who saved it, and when).
    Conflict(FlowDraft),
}

/// What a publish did.
#[derive(Debug, Clone, PartialEq)]
pub enum Published {
    Published(FlowVersion),
    /// The draft changed since the caller looked at it: the draft as it is now.
    Conflict(FlowDraft),
    /// The file has no draft.
    NoDraft,
}

/// One audit row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowAudit {
    pub file: String,
    /// `save`, `publish`, `rollback`, `restore` or `import`.
    pub action: String,
    /// Who: a staff email, `token:<name>`, or `cli`.
    pub actor: String,
    /// The draft revision a save or restore made.
    pub revision: Option<i64>,
    /// The version a publish made, or a restore restored.
    pub version: Option<i64>,
    pub at: DateTime<Utc>,
}

/// A counter of sessions of `flow` on `day` that went from `from` to `to`: `from` empty for
/// sessions that started at `to`, `to` empty for sessions that ended at `from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowStat {
    pub flow: String,
    pub day: NaiveDate,
    pub from: String,
    pub to: String,
    pub count: i64,
}
