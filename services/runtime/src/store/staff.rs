//! Staff accounts (email, role, Argon2 password hash) and their signed-in sessions (only a
//! hash of each cookie's secret is kept).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreError;

#[async_trait]
pub trait Staff: Send + Sync {
    /// Adds a user; false (and nothing written) if the email is taken.
    async fn user_create(&self, user: &StaffUser) -> Result<bool, StoreError>;
    /// The user with this email (emails are kept lower-case; callers lower-case too).
    async fn user_by_email(&self, email: &str) -> Result<Option<StaffUser>, StoreError>;
    async fn user_by_id(&self, id: Uuid) -> Result<Option<StaffUser>, StoreError>;
    /// Every user, by email.
    async fn users(&self) -> Result<Vec<StaffUser>, StoreError>;
    /// Replaces a user's password hash and whether it must be changed at next sign-in;
    /// false if there is no such user.
    async fn user_set_password(
        &self,
        id: Uuid,
        password_hash: &str,
        must_change: bool,
    ) -> Result<bool, StoreError>;
    /// Changes a user's role and whether they are disabled; false if there is no such user.
    async fn user_set_role(&self, id: Uuid, role: &str, disabled: bool) -> Result<bool, StoreError>;

    async fn staff_session_put(&self, session: &StaffSession) -> Result<(), StoreError>;
    /// The session whose cookie secret hashes to `hash`, if it has not expired at `now`.
    async fn staff_session_get(
        &self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StaffSession>, StoreError>;
    /// Moves a session's expiry (sliding sessions).
    async fn staff_session_touch(&self, hash: &str, expires_at: DateTime<Utc>) -> Result<(), StoreError>;
    async fn staff_session_delete(&self, hash: &str) -> Result<(), StoreError>;
    /// Signs a user out everywhere (a password change, a disabled user); how many sessions went.
    async fn staff_sessions_delete_user(&self, user_id: Uuid) -> Result<u64, StoreError>;
}

/// A staff account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffUser {
    pub id: Uuid,
    /// Lower-case.
    pub email: String,
    /// `author`, `publisher`, `operator` or `admin`.
    pub role: String,
    /// Argon2id, PHC string format.
    pub password_hash: String,
    /// A one-time password was set: the user must choose their own at next sign-in.
    pub must_change: bool,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A signed-in browser session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffSession {
    /// SHA-256 of the cookie's secret, hex.
    pub hash: String,
    pub user_id: Uuid,
    /// The CSRF token every change made with this session must carry.
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}
