//! The staff routes end to end over an in-memory store ([`signin`]: sign-in, cookies, expiry,
//! one-time passwords, sign-out, backoff, the studio's files; [`users`]: CSRF, roles, the users
//! API, tokens), through one helper that makes a request and reads the reply.

#![allow(clippy::unwrap_used)] // tests: panics are failures

mod signin;
mod users;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use chrono::Utc;
use seedgate_runtime::store::{ApiToken, StaffUser};
use serde_json::Value;
use tower::ServiceExt;
use uuid::Uuid;

use super::memory::Memory;
use super::{password, router, StaffAuth};
use crate::auth::{hash_token, Limiter};

pub(super) struct Env {
    pub app: Router,
    pub mem: Arc<Memory>,
}

pub(super) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_default()
    }
    /// The `sg_session` value this reply sets.
    pub fn cookie(&self) -> Option<String> {
        let v = self.headers.get(header::SET_COOKIE)?.to_str().ok()?;
        v.strip_prefix("sg_session=")?
            .split(';')
            .next()
            .map(str::to_owned)
    }
}

pub(super) fn env() -> Env {
    let mem = Arc::new(Memory::default());
    let auth = StaffAuth::new(mem.clone(), mem.clone(), Arc::new(Limiter::new(0, 1)));
    Env {
        app: router::<StaffAuth>().with_state(auth),
        mem,
    }
}

impl Env {
    pub async fn user(&self, email: &str, role: &str, pass: &str, must_change: bool) -> StaffUser {
        let user = StaffUser {
            id: Uuid::now_v7(),
            email: email.into(),
            role: role.into(),
            password_hash: password::hash(pass),
            must_change,
            disabled: false,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        self.mem.users.lock().unwrap().push(user.clone());
        user
    }

    pub fn token(&self, scopes: &[&str]) -> String {
        let secret = format!("sg_{}", Uuid::now_v7().simple());
        self.mem.tokens.lock().unwrap().push(ApiToken {
            id: Uuid::now_v7(),
            name: "script".into(),
            hash: hash_token(&secret),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            created_at: Utc::now(),
            last_used_at: None,
            revoked_at: None,
        });
        secret
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, String)>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = match body {
            Some((ct, b)) => req.header(header::CONTENT_TYPE, ct).body(Body::from(b)),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let (status, headers) = (resp.status(), resp.headers().clone());
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn sign_in(&self, email: &str, pass: &str, next: &str) -> Reply {
        let form = format!("email={}&password={}&next={}", enc(email), enc(pass), enc(next));
        self.call(
            "POST",
            "/studio/login",
            &[],
            Some(("application/x-www-form-urlencoded", form)),
        )
        .await
    }

    /// Signs in and returns the cookie header and the session's CSRF token.
    pub async fn session(&self, email: &str, pass: &str) -> (String, String) {
        let r = self.sign_in(email, pass, "").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let cookie = format!("sg_session={}", r.cookie().unwrap());
        let me = self.call("GET", "/api/v1/me", &[("cookie", &cookie)], None).await;
        (cookie, me.json()["csrf"].as_str().unwrap().to_owned())
    }
}

pub(super) fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
