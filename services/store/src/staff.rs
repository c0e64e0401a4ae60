//! Staff accounts and their browser sessions (only a hash of each cookie's secret).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use seedgate_runtime::store::{Staff, StaffSession, StaffUser, StoreError};
use uuid::Uuid;

use crate::sql::{Arg, Query, Row};
use crate::SqlStore;

const USER_COLUMNS: &str = "id, email, role, password_hash, must_change, disabled, created_at, updated_at";
const SESSION_COLUMNS: &str = "hash, user_id, csrf, created_at, expires_at";

fn user(r: &Row) -> Result<StaffUser, StoreError> {
    Ok(StaffUser {
        id: r.uuid("id")?,
        email: r.text("email")?,
        role: r.text("role")?,
        password_hash: r.text("password_hash")?,
        must_change: r.bool("must_change")?,
        disabled: r.bool("disabled")?,
        created_at: r.ts("created_at")?,
        updated_at: r.ts("updated_at")?,
    })
}

fn session(r: &Row) -> Result<StaffSession, StoreError> {
    Ok(StaffSession {
        hash: r.text("hash")?,
        user_id: r.uuid("user_id")?,
        csrf: r.text("csrf")?,
        created_at: r.ts("created_at")?,
        expires_at: r.ts("expires_at")?,
    })
}

impl SqlStore {
    async fn user_where(&self, column: &str, value: Arg) -> Result<Option<StaffUser>, StoreError> {
        let q = Query::new(format!("SELECT {USER_COLUMNS} FROM staff_users WHERE {column} = ?")).bind(value);
        self.db.fetch_optional(&q).await?.as_ref().map(user).transpose()
    }
}

#[async_trait]
impl Staff for SqlStore {
    async fn user_create(&self, u: &StaffUser) -> Result<bool, StoreError> {
        let q = Query::new(format!(
            "INSERT INTO staff_users ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (email) DO NOTHING"
        ))
        .bind(u.id)
        .bind(&u.email)
        .bind(&u.role)
        .bind(&u.password_hash)
        .bind(u.must_change)
        .bind(u.disabled)
        .bind(u.created_at)
        .bind(u.updated_at);
        Ok(self.db.exec(&q).await? == 1)
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<StaffUser>, StoreError> {
        self.user_where("email", email.into()).await
    }

    async fn user_by_id(&self, id: Uuid) -> Result<Option<StaffUser>, StoreError> {
        self.user_where("id", id.into()).await
    }

    async fn users(&self) -> Result<Vec<StaffUser>, StoreError> {
        let q = Query::new(format!(
            "SELECT {USER_COLUMNS} FROM staff_users ORDER BY email{}",
            self.db.dialect().collate_bytes()
        ));
        self.db.fetch(&q).await?.iter().map(user).collect()
    }

    async fn user_set_password(
        &self,
        id: Uuid,
        password_hash: &str,
        must_change: bool,
    ) -> Result<bool, StoreError> {
        let q = Query::new(
            "UPDATE staff_users SET password_hash = ?, must_change = ?, updated_at = ? WHERE id = ?",
        )
        .bind(password_hash)
        .bind(must_change)
        .bind(Arg::Now)
        .bind(id);
        Ok(self.db.exec(&q).await? == 1)
    }

    async fn user_set_role(&self, id: Uuid, role: &str, disabled: bool) -> Result<bool, StoreError> {
        let q = Query::new("UPDATE staff_users SET role = ?, disabled = ?, updated_at = ? WHERE id = ?")
            .bind(role)
            .bind(disabled)
            .bind(Arg::Now)
            .bind(id);
        Ok(self.db.exec(&q).await? == 1)
    }

    async fn staff_session_put(&self, s: &StaffSession) -> Result<(), StoreError> {
        let q = Query::new(format!(
            "INSERT INTO staff_sessions ({SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
        ))
        .bind(&s.hash)
        .bind(s.user_id)
        .bind(&s.csrf)
        .bind(s.created_at)
        .bind(s.expires_at);
        self.db.exec(&q).await?;
        Ok(())
    }

    async fn staff_session_get(
        &self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StaffSession>, StoreError> {
        let q = Query::new(format!(
            "SELECT {SESSION_COLUMNS} FROM staff_sessions WHERE hash = ? AND expires_at > ?"
        ))
        .bind(hash)
        .bind(now);
        self.db.fetch_optional(&q).await?.as_ref().map(session).transpose()
    }

    async fn staff_session_touch(&self, hash: &str, expires_at: DateTime<Utc>) -> Result<(), StoreError> {
        let q = Query::new("UPDATE staff_sessions SET expires_at = ? WHERE hash = ?")
            .bind(expires_at)
            .bind(hash);
        self.db.exec(&q).await?;
        Ok(())
    }

    async fn staff_session_delete(&self, hash: &str) -> Result<(), StoreError> {
        self.db
            .exec(&Query::new("DELETE FROM staff_sessions WHERE hash = ?").bind(hash))
            .await?;
        Ok(())
    }

    async fn staff_sessions_delete_user(&self, user_id: Uuid) -> Result<u64, StoreError> {
        self.db
            .exec(&Query::new("DELETE FROM staff_sessions WHERE user_id = ?").bind(user_id))
            .await
    }
}
