//! `seedgate user create|list|reset`: staff accounts for the studio. A new or reset account
//! gets a one-time password, printed once as the last word of the output; the user chooses
//! their own at first sign-in. Creations and resets go to the audit trail (`cli:<user>`).

use seedgate_api::staff::{self, CreateError};
use seedgate_runtime::config::Config;
use seedgate_runtime::store::AuditEntry;

use crate::failure::Failure;

fn store_failure(e: seedgate_runtime::store::StoreError) -> Failure {
    Failure::Other(e.to_string())
}

/// `user create --email E --role R`: exit 64 for a bad email or role, 1 for a taken email.
#[allow(clippy::print_stdout)] // the password is this command's output
pub async fn create(config: &Config, email: &str, role: &str) -> Result<(), Failure> {
    let email = staff::normalise_email(email).map_err(|e| Failure::Config(format!("--email: {e}")))?;
    staff::Role::parse(role).map_err(|e| Failure::Config(format!("--role: {e}")))?;
    let store = crate::open::store(config)?;
    match staff::create_user(store.as_ref(), &email, role).await {
        Ok((user, password)) => {
            let entry = AuditEntry::now(crate::cmd::token::actor(), "user.create", &user.email, serde_json::json!({"role": user.role}), "cli");
            store.audit_append(&entry).await.map_err(store_failure)?;
            println!(
                "created {} ({}); they choose their own password at first sign-in. One-time password: {password}",
                user.email, user.role
            );
            Ok(())
        }
        Err(CreateError::Exists(email)) => Err(Failure::Other(format!(
            "a user with the email {email} exists; to give them a new password: seedgate user reset --email {email}"
        ))),
        Err(CreateError::Invalid(m)) => Err(Failure::Config(m)),
        Err(CreateError::Store(e)) => Err(store_failure(e)),
    }
}

/// `user list`: every account, as a table.
#[allow(clippy::print_stdout)] // a command-line report
pub async fn list(config: &Config) -> Result<(), Failure> {
    let store = crate::open::store(config)?;
    let users = store.users().await.map_err(store_failure)?;
    println!("{:<40}  {:<10}  {:<22}  created", "email", "role", "state");
    for u in &users {
        let state = match (u.disabled, u.must_change) {
            (true, _) => "disabled",
            (false, true) => "one-time password",
            (false, false) => "active",
        };
        println!(
            "{:<40}  {:<10}  {:<22}  {}",
            u.email,
            u.role,
            state,
            u.created_at.format("%Y-%m-%d %H:%M")
        );
    }
    Ok(())
}

/// `user reset --email E`: a new one-time password; the user is signed out everywhere.
#[allow(clippy::print_stdout)] // the password is this command's output
pub async fn reset(config: &Config, email: &str) -> Result<(), Failure> {
    let email = staff::normalise_email(email).map_err(|e| Failure::Config(format!("--email: {e}")))?;
    let store = crate::open::store(config)?;
    let user = store
        .user_by_email(&email)
        .await
        .map_err(store_failure)?
        .ok_or_else(|| Failure::Other(format!("no user with the email {email}")))?;
    let password = staff::reset_password(store.as_ref(), user.id)
        .await
        .map_err(store_failure)?
        .ok_or_else(|| Failure::Other(format!("no user with the email {email}")))?;
    let entry = AuditEntry::now(
        crate::cmd::token::actor(),
        "user.reset",
        &email,
        serde_json::json!({}),
        "cli",
    );
    store.audit_append(&entry).await.map_err(store_failure)?;
    println!(
        "{email} is signed out everywhere and must choose a new password. One-time password: {password}"
    );
    Ok(())
}
