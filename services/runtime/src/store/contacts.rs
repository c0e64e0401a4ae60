//! Contacts: the person behind an MSISDN, written optimistically (a version per row).

use async_trait::async_trait;

use super::StoreError;

#[async_trait]
pub trait Contacts: Send + Sync {
    async fn contact(&self, msisdn: &str) -> Result<Option<Contact>, StoreError>;
    /// Writes `contact` if nobody changed it since it was read: `version` is the version read
    /// (0 for a new contact); the stored one becomes `version + 1`. False when someone else
    /// wrote first (read it again and retry).
    async fn contact_put(&self, contact: &Contact) -> Result<bool, StoreError>;
    /// Contacts matching `query`, ordered by MSISDN.
    async fn contacts(&self, query: &ContactQuery) -> Result<Vec<Contact>, StoreError>;
    /// Deletes a contact (and its groups); false if there was none.
    async fn contact_delete(&self, msisdn: &str) -> Result<bool, StoreError>;
}

/// A contact: the person behind an MSISDN, with the fields flows and partners keep about them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Contact {
    pub msisdn: String,
    pub name: Option<String>,
    /// Preferred language (ISO 639-3, e.g. `eng`, `zul`).
    pub language: Option<String>,
    pub fields: std::collections::BTreeMap<String, serde_json::Value>,
    pub groups: std::collections::BTreeSet<String>,
    /// Set when the contact opted out: nothing is sent to them until they opt in again.
    pub opted_out_at: Option<chrono::DateTime<chrono::Utc>>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub version: i64,
}

impl Contact {
    pub fn new(msisdn: impl Into<String>, now: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            msisdn: msisdn.into(),
            name: None,
            language: None,
            fields: Default::default(),
            groups: Default::default(),
            opted_out_at: None,
            created_at: now,
            updated_at: now,
            version: 0,
        }
    }
}

/// A contact search; `after` is the last MSISDN of the previous page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactQuery {
    pub group: Option<String>,
    pub opted_out: Option<bool>,
    pub after: Option<String>,
    pub limit: u32,
}
