//! `seedgate token create|list|revoke`: API tokens in the store. A new token's secret is
//! printed once; creations and revocations go to the audit trail (actor `cli:<user>`).

use seedgate_runtime::config::Config;
use seedgate_runtime::store::{AuditEntry, Store};
use uuid::Uuid;

use crate::failure::Failure;

fn store_failure(e: seedgate_runtime::store::StoreError) -> Failure {
    Failure::Other(e.to_string())
}

/// Who runs the command, for the audit trail.
pub(crate) fn actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

async fn audit(
    store: &dyn Store,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) -> Result<(), Failure> {
    let entry = AuditEntry::now(actor(), action, target, detail, "cli");
    store.audit_append(&entry).await.map_err(store_failure)
}

pub async fn create(config: &Config, name: &str, scopes: &[String]) -> Result<(), Failure> {
    let scopes =
        seedgate_api::auth::parse_scopes(scopes).map_err(|e| Failure::Config(format!("--scopes: {e}")))?;
    let store = crate::open::store(config)?;
    let (secret, token) = seedgate_api::create_token(store.as_ref(), name, scopes)
        .await
        .map_err(store_failure)?;
    let detail = serde_json::json!({"name": token.name, "scopes": token.scopes});
    audit(store.as_ref(), "token.create", &token.id.to_string(), detail).await?;
    #[allow(clippy::print_stdout)] // the token is this command's output
    {
        println!("{secret}");
    }
    eprintln!(
        "token {} ({}) with scopes {}: store it now, it is not shown again",
        token.id,
        token.name,
        token.scopes.join(",")
    );
    Ok(())
}

/// `token list`: every token as a table, revoked ones marked.
#[allow(clippy::print_stdout)] // a command-line report
pub async fn list(config: &Config) -> Result<(), Failure> {
    let store = crate::open::store(config)?;
    let tokens = store.tokens().await.map_err(store_failure)?;
    let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or_else(|| "-".to_string(), |t| t.format("%Y-%m-%d %H:%M").to_string())
    };
    println!(
        "{:<36}  {:<20}  {:<16}  {:<16}  {:<16}  revoked",
        "id", "name", "scopes", "created", "last used"
    );
    for t in &tokens {
        println!(
            "{:<36}  {:<20}  {:<16}  {:<16}  {:<16}  {}",
            t.id,
            t.name,
            t.scopes.join(","),
            t.created_at.format("%Y-%m-%d %H:%M"),
            when(t.last_used_at),
            when(t.revoked_at)
        );
    }
    if tokens.is_empty() {
        eprintln!("no API tokens yet: seedgate token create --scopes send --name <what it is for>");
    }
    Ok(())
}

/// `token revoke ID`: exit 64 for an id that is not one, 1 for no live token with it.
pub async fn revoke(config: &Config, id: &str) -> Result<(), Failure> {
    let id = Uuid::parse_str(id.trim())
        .map_err(|_| Failure::Config(format!("`{id}` is not a token id (see seedgate token list)")))?;
    let store = crate::open::store(config)?;
    let name = store
        .tokens()
        .await
        .map_err(store_failure)?
        .into_iter()
        .find(|t| t.id == id && t.revoked_at.is_none())
        .map(|t| t.name);
    if !store
        .revoke_token(id, chrono::Utc::now())
        .await
        .map_err(store_failure)?
    {
        return Err(Failure::Other(format!(
            "no live token {id} (unknown, or revoked already: seedgate token list)"
        )));
    }
    audit(
        store.as_ref(),
        "token.revoke",
        &id.to_string(),
        serde_json::json!({"name": name}),
    )
    .await?;
    eprintln!("token {id} revoked: its next request answers 401 (on every process within a second)");
    Ok(())
}
