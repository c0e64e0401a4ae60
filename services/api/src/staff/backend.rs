//! The part of the store the staff module uses ([`Staff`], [`Tokens`], [`Audit`]), behind its own
//! handles: the whole `Arc<dyn Store>` in the process, an in-memory fake in unit tests.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use seedgate_runtime::store::{
    ApiToken, Audit, AuditEntry, AuditQuery, Staff, StaffSession, StaffUser, Store, StoreError, Tokens,
};
use uuid::Uuid;

/// `Arc<dyn Store>` seen as [`Staff`] and [`Tokens`] (each call handed on as is).
#[derive(Debug, Clone)]
pub struct Whole(pub Arc<dyn Store>);

#[async_trait]
impl Tokens for Whole {
    async fn put_token(&self, token: &ApiToken) -> Result<(), StoreError> {
        self.0.put_token(token).await
    }
    async fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>, StoreError> {
        self.0.token_by_hash(hash).await
    }
    async fn tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        self.0.tokens().await
    }
    async fn revoke_token(&self, id: Uuid, at: DateTime<Utc>) -> Result<bool, StoreError> {
        self.0.revoke_token(id, at).await
    }
    async fn touch_token(&self, id: Uuid, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.0.touch_token(id, at).await
    }
}

#[async_trait]
impl Audit for Whole {
    async fn audit_append(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.0.audit_append(entry).await
    }
    async fn audit_list(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        self.0.audit_list(q).await
    }
}

#[async_trait]
impl Staff for Whole {
    async fn user_create(&self, user: &StaffUser) -> Result<bool, StoreError> {
        self.0.user_create(user).await
    }
    async fn user_by_email(&self, email: &str) -> Result<Option<StaffUser>, StoreError> {
        self.0.user_by_email(email).await
    }
    async fn user_by_id(&self, id: Uuid) -> Result<Option<StaffUser>, StoreError> {
        self.0.user_by_id(id).await
    }
    async fn users(&self) -> Result<Vec<StaffUser>, StoreError> {
        self.0.users().await
    }
    async fn user_set_password(&self, id: Uuid, hash: &str, must_change: bool) -> Result<bool, StoreError> {
        self.0.user_set_password(id, hash, must_change).await
    }
    async fn user_set_role(&self, id: Uuid, role: &str, disabled: bool) -> Result<bool, StoreError> {
        self.0.user_set_role(id, role, disabled).await
    }
    async fn staff_session_put(&self, session: &StaffSession) -> Result<(), StoreError> {
        self.0.staff_session_put(session).await
    }
    async fn staff_session_get(
        &self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StaffSession>, StoreError> {
        self.0.staff_session_get(hash, now).await
    }
    async fn staff_session_touch(&self, hash: &str, expires_at: DateTime<Utc>) -> Result<(), StoreError> {
        self.0.staff_session_touch(hash, expires_at).await
    }
    async fn staff_session_delete(&self, hash: &str) -> Result<(), StoreError> {
        self.0.staff_session_delete(hash).await
    }
    async fn staff_sessions_delete_user(&self, user_id: Uuid) -> Result<u64, StoreError> {
        self.0.staff_sessions_delete_user(user_id).await
    }
}
