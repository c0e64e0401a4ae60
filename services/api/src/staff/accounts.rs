//! Making and resetting staff accounts, shared by the users API and `seedgate user`.

use chrono::Utc;
use seedgate_runtime::store::{Staff, StaffUser, StoreError};
use uuid::Uuid;

use super::{password, Role};

/// Why an account was not made.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The email or the role is not one.
    #[error("{0}")]
    Invalid(String),
    #[error("a user with the email {0} exists")]
    Exists(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A string that is not an email address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadEmail(pub String);

/// The email, trimmed and lower-cased, if it looks like one (`name@domain.tld`, at most 254
/// characters, no spaces).
pub fn normalise_email(email: &str) -> Result<String, BadEmail> {
    let e = email.trim().to_lowercase();
    let bad = || BadEmail(format!("`{}` is not an email address", email.trim()));
    if e.len() > 254
        || e.chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\"\\".contains(c))
    {
        return Err(bad());
    }
    let (local, domain) = e.split_once('@').ok_or_else(bad)?;
    let domain_ok =
        !domain.contains('@') && domain.contains('.') && domain.split('.').all(|label| !label.is_empty());
    if local.is_empty() || !domain_ok {
        return Err(bad());
    }
    Ok(e)
}

/// Makes an account with a one-time password (the user must choose their own at first
/// sign-in); returns it with the password, the only time it is seen.
pub async fn create_user<S: Staff + ?Sized>(
    store: &S,
    email: &str,
    role: &str,
) -> Result<(StaffUser, String), CreateError> {
    let email = normalise_email(email).map_err(|e| CreateError::Invalid(e.0))?;
    let role = Role::parse(role).map_err(|e| CreateError::Invalid(e.0))?;
    let one_time = password::one_time();
    let now = Utc::now();
    let user = StaffUser {
        id: Uuid::now_v7(),
        email,
        role: role.as_str().to_owned(),
        password_hash: password::hash_blocking(one_time.clone()).await,
        must_change: true,
        disabled: false,
        created_at: now,
        updated_at: now,
    };
    if !store.user_create(&user).await? {
        return Err(CreateError::Exists(user.email));
    }
    Ok((user, one_time))
}

/// Gives a user a new one-time password and signs them out everywhere; `None` if there is no
/// such user.
pub async fn reset_password<S: Staff + ?Sized>(store: &S, id: Uuid) -> Result<Option<String>, StoreError> {
    let one_time = password::one_time();
    let hash = password::hash_blocking(one_time.clone()).await;
    if !store.user_set_password(id, &hash, true).await? {
        return Ok(None);
    }
    store.staff_sessions_delete_user(id).await?;
    Ok(Some(one_time))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_and_lower_cased() {
        assert_eq!(
            normalise_email("  Nurse.Thandi@Clinic.ORG.za ").as_deref(),
            Ok("nurse.thandi@clinic.org.za")
        );
        for bad in [
            "",
            "nobody",
            "a@b",
            "@x.org",
            "a@@x.org",
            "a b@x.org",
            "a@x..org",
            "<a@x.org>",
        ] {
            assert!(normalise_email(bad).is_err(), "{bad}");
        }
    }
}
