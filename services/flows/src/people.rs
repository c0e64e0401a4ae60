//! The contacts flows read and change, through the store: loaded into a [`RunContact`] when a
//! run starts, written back (optimistically, retried on a concurrent write) with the changes
//! a step made.

use chrono::{DateTime, Utc};
use seedgate_flowlang::interp::{ContactChange, RunContact};
use seedgate_runtime::store::{Contact, Store, StoreError};

const WRITE_TRIES: usize = 5;

fn text_of(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The contact behind `msisdn` (E.164) as a run sees it; a new one if unknown.
pub async fn load(store: &dyn Store, msisdn: &str) -> Result<RunContact, StoreError> {
    let mut c = RunContact {
        msisdn: msisdn.to_string(),
        ..Default::default()
    };
    // Two reads, side by side (a new session waits for both).
    let (stored, subscriptions) = tokio::join!(store.contact(msisdn), store.subscriptions_of(msisdn));
    if let Some(stored) = stored? {
        c.name = stored.name;
        c.language = stored.language;
        c.fields = stored
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), text_of(v)))
            .collect();
        c.groups = stored.groups;
        c.opted_out = stored.opted_out_at.is_some();
    }
    c.subscriptions = subscriptions?
        .into_iter()
        .filter(|s| s.state == "active")
        .map(|s| s.set)
        .collect();
    Ok(c)
}

/// Applies `changes` to the stored contact (creating it), retrying on a concurrent write.
pub async fn save(
    store: &dyn Store,
    msisdn: &str,
    changes: &[ContactChange],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if changes.is_empty() {
        return Ok(());
    }
    for _ in 0..WRITE_TRIES {
        let mut c = store
            .contact(msisdn)
            .await?
            .unwrap_or_else(|| Contact::new(msisdn, now));
        for change in changes {
            match change {
                ContactChange::Field(k, v) => {
                    c.fields.insert(k.clone(), v.clone().into());
                }
                ContactChange::Name(n) => c.name = Some(n.clone()),
                ContactChange::Language(l) => c.language = Some(l.clone()),
                ContactChange::AddGroup(g) => {
                    c.groups.insert(g.clone());
                }
                ContactChange::RemoveGroup(g) => {
                    c.groups.remove(g);
                }
                ContactChange::OptOut => {
                    c.opted_out_at.get_or_insert(now);
                }
            }
        }
        c.updated_at = now;
        if store.contact_put(&c).await? {
            return Ok(());
        }
    }
    Err(StoreError::Unavailable(format!(
        "contact {} kept changing under {WRITE_TRIES} writes",
        seedgate_runtime::telemetry::Masked(msisdn)
    )))
}
