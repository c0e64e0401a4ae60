//! Bearer tokens: `sg_` and 40 hex characters of randomness, shown once and stored as a
//! SHA-256 hash (a fast hash is right for a random secret; passwords would need Argon2).
//! Scopes: `admin` (everything), `send`, `read`. Each token has a token bucket.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use rand::RngCore;
use seedgate_runtime::store::{ApiToken, Store, StoreError, Tokens};
use sha2::{Digest, Sha256};
use tokio::time::Instant;
use uuid::Uuid;

use crate::{Api, ApiError, ErrorCode};

/// The scopes a token can hold.
pub const SCOPES: [&str; 3] = ["admin", "send", "read"];

/// SHA-256 of a token's secret, hex.
pub fn hash_token(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A scope list that is not one: an unknown name, or none at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadScopes(pub String);

/// Checks a scope list: known names, at least one.
pub fn parse_scopes<S: AsRef<str>>(scopes: &[S]) -> Result<Vec<String>, BadScopes> {
    let mut out: Vec<String> = Vec::new();
    for s in scopes {
        let s = s.as_ref().trim();
        if !SCOPES.contains(&s) {
            return Err(BadScopes(format!("unknown scope `{s}` (use admin, send, read)")));
        }
        if !out.iter().any(|x| x == s) {
            out.push(s.to_string());
        }
    }
    if out.is_empty() {
        return Err(BadScopes("a token needs at least one scope".into()));
    }
    Ok(out)
}

/// Creates a token; returns its secret, the only time it is seen.
pub async fn create_token(
    store: &dyn Store,
    name: &str,
    scopes: Vec<String>,
) -> Result<(String, ApiToken), StoreError> {
    let mut bytes = [0u8; 20];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!("sg_{}", hex::encode(bytes));
    let token = ApiToken {
        id: Uuid::now_v7(),
        name: name.to_string(),
        hash: hash_token(&secret),
        scopes,
        created_at: chrono::Utc::now(),
        last_used_at: None,
        revoked_at: None,
    };
    store.put_token(&token).await?;
    Ok((secret, token))
}

/// The caller of a request, authenticated.
#[derive(Debug, Clone)]
pub struct Caller(pub ApiToken);

impl Caller {
    /// Fails with 403 unless the token holds `scope` (or `admin`).
    pub fn require(&self, scope: &str) -> Result<(), ApiError> {
        if self.0.scopes.iter().any(|s| s == scope || s == "admin") {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorCode::Forbidden,
                format!("this token lacks the `{scope}` scope"),
            ))
        }
    }
}

impl FromRequestParts<Api> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, api: &Api) -> Result<Self, ApiError> {
        bearer(&parts.headers, &Known(api), &api.limiter)
            .await
            .map(Caller)
    }
}

/// How long a token read from the store answers for it without another read. Every API
/// call names its token, so under load the read would be a store query per request; a token
/// created elsewhere is found at once (unknown hashes are not remembered), and one revoked by
/// another process stops working within this long (by this one: at once, [`KnownTokens::forget`]).
const KNOWN_FOR: std::time::Duration = std::time::Duration::from_secs(1);
/// At most this many tokens remembered (all are forgotten when it is reached).
const KNOWN_MAX: usize = 10_000;
/// A token's `last_used_at` is written when it is older than this (one write a minute at most).
const USED_EVERY: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// Tokens the API has read lately, by hash.
#[derive(Debug, Default)]
pub struct KnownTokens(Mutex<HashMap<String, (ApiToken, Instant)>>);

impl KnownTokens {
    /// Forgets token `id` (revoked): its next request reads the store.
    pub fn forget(&self, id: Uuid) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|_, (t, _)| t.id != id);
    }
}

/// The store's tokens through [`KnownTokens`].
struct Known<'a>(&'a Api);

#[async_trait::async_trait]
impl Tokens for Known<'_> {
    async fn put_token(&self, t: &ApiToken) -> Result<(), StoreError> {
        self.0.store.put_token(t).await
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>, StoreError> {
        let known = &self.0.known.0;
        let now = Instant::now();
        if let Some((t, at)) = known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(hash)
        {
            if now.duration_since(*at) < KNOWN_FOR {
                return Ok(Some(t.clone()));
            }
        }
        let found = self.0.store.token_by_hash(hash).await?;
        if let Some(t) = &found {
            let mut map = known.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if map.len() >= KNOWN_MAX {
                map.clear();
            }
            map.insert(hash.to_string(), (t.clone(), now));
        }
        Ok(found)
    }

    async fn tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        self.0.store.tokens().await
    }

    async fn revoke_token(&self, id: Uuid, at: chrono::DateTime<chrono::Utc>) -> Result<bool, StoreError> {
        let revoked = self.0.store.revoke_token(id, at).await?;
        self.0.known.forget(id);
        Ok(revoked)
    }

    async fn touch_token(&self, id: Uuid, at: chrono::DateTime<chrono::Utc>) -> Result<(), StoreError> {
        for (t, _) in self
            .0
            .known
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values_mut()
            .filter(|(t, _)| t.id == id)
        {
            t.last_used_at = Some(at);
        }
        self.0.store.touch_token(id, at).await
    }
}

/// The token a request's `Authorization: Bearer` names, if it is within its rate.
pub(crate) async fn bearer<T: Tokens + ?Sized>(
    headers: &axum::http::HeaderMap,
    tokens: &T,
    limiter: &Limiter,
) -> Result<ApiToken, ApiError> {
    let unauthorized = |m: &str| ApiError::new(ErrorCode::Unauthorized, m);
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("missing `Authorization: Bearer <token>`"))?;
    let secret = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <token>`"))?;
    let token = tokens
        .token_by_hash(&hash_token(secret))
        .await?
        .ok_or_else(|| unauthorized("unknown or revoked token"))?;
    let now = chrono::Utc::now();
    if token.last_used_at.is_none_or(|at| now - at >= USED_EVERY) {
        if let Err(e) = tokens.touch_token(token.id, now).await {
            tracing::debug!(token = %token.id, error = %e, "could not note the token's use");
        }
    }
    if !limiter.allow(token.id) {
        metrics::counter!("seedgate_api_rate_limited_total").increment(1);
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            format!(
                "this token may make {} requests per second (burst {})",
                limiter.rate, limiter.burst
            ),
        ));
    }
    Ok(token)
}

/// A token bucket per token id.
#[derive(Debug)]
pub struct Limiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<Uuid, (f64, Instant)>>,
}

impl Limiter {
    pub fn new(rate_per_sec: u32, burst: u32) -> Self {
        Self {
            rate: f64::from(rate_per_sec),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request's token from `id`'s bucket, if there is one.
    pub fn allow(&self, id: Uuid) -> bool {
        if self.rate == 0.0 {
            return true;
        }
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (level, last) = buckets.entry(id).or_insert((self.burst, now));
        *level = (*level + now.duration_since(*last).as_secs_f64() * self.rate).min(self.burst);
        *last = now;
        if *level >= 1.0 {
            *level -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Revokes token `id` now, forgetting it here at once; `false` if no live token has this id.
pub(crate) async fn revoke(api: &Api, id: Uuid) -> Result<bool, StoreError> {
    Known(api).revoke_token(id, chrono::Utc::now()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_checked() {
        assert_eq!(parse_scopes(&["send", "read", "send"]).unwrap(), ["send", "read"]);
        assert!(parse_scopes(&["root"])
            .unwrap_err()
            .0
            .contains("unknown scope `root`"));
        assert!(parse_scopes::<&str>(&[]).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn the_bucket_allows_the_burst_then_the_rate() {
        let limiter = Limiter::new(10, 5);
        let id = Uuid::now_v7();
        assert_eq!((0..8).filter(|_| limiter.allow(id)).count(), 5);
        tokio::time::advance(std::time::Duration::from_millis(300)).await;
        assert_eq!((0..8).filter(|_| limiter.allow(id)).count(), 3);
        assert!(limiter.allow(Uuid::now_v7()), "another token has its own bucket");
    }
}
