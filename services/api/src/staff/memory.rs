//! An in-memory [`Staff`] and [`Tokens`] for the module's tests (the real ones, on SQLite and
//! PostgreSQL, pass the store's conformance suite and the end-to-end tests).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use seedgate_runtime::store::{ApiToken, Staff, StaffSession, StaffUser, StoreError, Tokens};
use uuid::Uuid;

#[derive(Debug, Default)]
pub struct Memory {
    pub users: Mutex<Vec<StaffUser>>,
    pub sessions: Mutex<HashMap<String, StaffSession>>,
    pub tokens: Mutex<Vec<ApiToken>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[async_trait]
impl Tokens for Memory {
    async fn put_token(&self, token: &ApiToken) -> Result<(), StoreError> {
        lock(&self.tokens).push(token.clone());
        Ok(())
    }
    async fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>, StoreError> {
        Ok(lock(&self.tokens)
            .iter()
            .find(|t| t.hash == hash && t.revoked_at.is_none())
            .cloned())
    }
    async fn tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        Ok(lock(&self.tokens).clone())
    }
    async fn revoke_token(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool, StoreError> {
        Ok(lock(&self.tokens)
            .iter_mut()
            .find(|t| t.id == id && t.revoked_at.is_none())
            .map(|t| t.revoked_at = Some(at))
            .is_some())
    }
    async fn touch_token(&self, id: Uuid, at: DateTime<Utc>) -> Result<(), StoreError> {
        if let Some(t) = lock(&self.tokens).iter_mut().find(|t| t.id == id) {
            t.last_used_at = Some(at);
        }
        Ok(())
    }
}

#[async_trait]
impl Staff for Memory {
    async fn user_create(&self, user: &StaffUser) -> Result<bool, StoreError> {
        let mut users = lock(&self.users);
        if users.iter().any(|u| u.email == user.email) {
            return Ok(false);
        }
        users.push(user.clone());
        Ok(true)
    }
    async fn user_by_email(&self, email: &str) -> Result<Option<StaffUser>, StoreError> {
        Ok(lock(&self.users).iter().find(|u| u.email == email).cloned())
    }
    async fn user_by_id(&self, id: Uuid) -> Result<Option<StaffUser>, StoreError> {
        Ok(lock(&self.users).iter().find(|u| u.id == id).cloned())
    }
    async fn users(&self) -> Result<Vec<StaffUser>, StoreError> {
        let mut users = lock(&self.users).clone();
        users.sort_by(|a, b| a.email.cmp(&b.email));
        Ok(users)
    }
    async fn user_set_password(&self, id: Uuid, hash: &str, must_change: bool) -> Result<bool, StoreError> {
        Ok(lock(&self.users)
            .iter_mut()
            .find(|u| u.id == id)
            .map(|u| {
                u.password_hash = hash.to_owned();
                u.must_change = must_change;
            })
            .is_some())
    }
    async fn user_set_role(&self, id: Uuid, role: &str, disabled: bool) -> Result<bool, StoreError> {
        Ok(lock(&self.users)
            .iter_mut()
            .find(|u| u.id == id)
            .map(|u| {
                u.role = role.to_owned();
                u.disabled = disabled;
            })
            .is_some())
    }
    async fn staff_session_put(&self, session: &StaffSession) -> Result<(), StoreError> {
        lock(&self.sessions).insert(session.hash.clone(), session.clone());
        Ok(())
    }
    async fn staff_session_get(
        &self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StaffSession>, StoreError> {
        Ok(lock(&self.sessions)
            .get(hash)
            .filter(|s| s.expires_at > now)
            .cloned())
    }
    async fn staff_session_touch(&self, hash: &str, expires_at: DateTime<Utc>) -> Result<(), StoreError> {
        if let Some(s) = lock(&self.sessions).get_mut(hash) {
            s.expires_at = expires_at;
        }
        Ok(())
    }
    async fn staff_session_delete(&self, hash: &str) -> Result<(), StoreError> {
        lock(&self.sessions).remove(hash);
        Ok(())
    }
    async fn staff_sessions_delete_user(&self, user_id: Uuid) -> Result<u64, StoreError> {
        let mut sessions = lock(&self.sessions);
        let before = sessions.len();
        sessions.retain(|_, s| s.user_id != user_id);
        Ok((before - sessions.len()) as u64)
    }
}
