//! Staff accounts and the studio's pages: who is signed in and what they may do.
//!
//! - [`password`]: Argon2id hashes (PHC strings, checked on a blocking thread; an unknown
//!   email is checked against a dummy hash so it costs a wrong password's time), one-time
//!   passwords.
//! - [`session`]: the `sg_session` cookie (HttpOnly, SameSite=Strict, Path=/, `Secure` over
//!   TLS), only its SHA-256 in the store, 8 idle hours, a CSRF token per session.
//! - [`backoff`]: waits after repeated wrong passwords, per email and per client address, in
//!   maps of fixed capacity.
//! - [`Actor`] ([`actor`]): the extractor handlers use, from a cookie session (CSRF checked on
//!   every non-GET) or a bearer token (`admin` → [`Role::Admin`], `read` → [`Role::Reader`]).
//! - [`pages`]: `/studio/login`, `/studio/password`, `/studio/logout`, server-rendered with
//!   minijinja; [`studio`]: the studio app (`/studio/`, `/studio/assets/…`), embedded;
//!   [`users`]: `/api/v1/me` and the admins' users API.
//!
//! [`router`] serves all of it; it takes its state from the API's ([`StaffAuth`] is
//! `FromRef<Api>`).

pub mod accounts;
mod actor;
pub mod backend;
pub mod backoff;
pub(crate) mod pages;
pub mod password;
mod role;
pub mod session;
mod studio;
mod users;

#[cfg(test)]
mod memory;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::extract::FromRef;
use axum::http::HeaderMap;
use axum::routing::{get, patch, post};
use axum::Router;
use chrono::Utc;
use seedgate_runtime::store::{Audit, Staff, StaffSession, StaffUser, Tokens};

pub use accounts::{create_user, normalise_email, reset_password, BadEmail, CreateError};
pub use actor::{Actor, Via};
pub use role::{BadRole, Role};

use crate::auth::Limiter;
use crate::{Api, ApiError};

/// What the staff routes and [`Actor`] need: the accounts, the tokens, the sign-in backoff.
#[derive(Clone)]
pub struct StaffAuth {
    pub(crate) staff: Arc<dyn Staff>,
    pub(crate) tokens: Arc<dyn Tokens>,
    pub(crate) limiter: Arc<Limiter>,
    pub(crate) backoff: Arc<backoff::Backoff>,
    pub(crate) cookies: session::CookiePolicy,
    /// Where changes to accounts are written (`None`: nowhere, in unit tests).
    pub(crate) audit: Option<Arc<dyn Audit>>,
}

impl std::fmt::Debug for StaffAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffAuth")
            .field("backoff", &self.backoff.sizes())
            .field("cookies", &self.cookies)
            .finish_non_exhaustive()
    }
}

impl StaffAuth {
    pub fn new(staff: Arc<dyn Staff>, tokens: Arc<dyn Tokens>, limiter: Arc<Limiter>) -> Self {
        Self {
            staff,
            tokens,
            limiter,
            backoff: Arc::new(backoff::Backoff::default()),
            cookies: session::CookiePolicy::default(),
            audit: None,
        }
    }

    /// Writes account changes to `trail`.
    #[must_use]
    pub fn with_audit(mut self, trail: Arc<dyn Audit>) -> Self {
        self.audit = Some(trail);
        self
    }

    /// Writes one account change to the audit trail, if there is one.
    pub(crate) async fn audited(
        &self,
        actor: &Actor,
        source: &crate::audit::Source,
        action: &str,
        target: &str,
        detail: serde_json::Value,
    ) {
        if let Some(trail) = &self.audit {
            crate::audit::record_to(trail.as_ref(), &actor.name, source, action, target, detail).await;
        }
    }

    /// The same, marking cookies `Secure` as `policy` says (`http.behind_tls_proxy`).
    #[must_use]
    pub fn with_cookies(mut self, policy: session::CookiePolicy) -> Self {
        self.cookies = policy;
        self
    }

    /// The signed-in user of a request's cookie, if its session is live and the user enabled;
    /// moves the session's idle expiry on.
    pub(crate) async fn signed_in(&self, headers: &HeaderMap) -> Result<Option<SignedIn>, ApiError> {
        let Some(secret) = session::secret_of(headers) else {
            return Ok(None);
        };
        let hash = crate::auth::hash_token(secret);
        let now = Utc::now();
        let Some(session) = self.staff.staff_session_get(&hash, now).await? else {
            return Ok(None);
        };
        let Some(user) = self
            .staff
            .user_by_id(session.user_id)
            .await?
            .filter(|u| !u.disabled)
        else {
            return Ok(None);
        };
        let Ok(role) = Role::parse(&user.role) else {
            tracing::warn!(user = %user.id, role = %user.role, "a staff user with an unknown role");
            return Ok(None);
        };
        if let Some(expires_at) = session::slide(&session, now) {
            self.staff.staff_session_touch(&hash, expires_at).await?;
        }
        Ok(Some(SignedIn { user, session, role }))
    }

    /// Starts a session for `user`; its cookie secret.
    pub(crate) async fn start_session(&self, user: &StaffUser) -> Result<String, ApiError> {
        let (secret, session) = session::new_session(user.id, Utc::now());
        self.staff.staff_session_put(&session).await?;
        Ok(secret)
    }
}

impl FromRef<Api> for StaffAuth {
    fn from_ref(api: &Api) -> Self {
        api.staff.clone()
    }
}

/// A live cookie session and its user.
#[derive(Debug, Clone)]
pub(crate) struct SignedIn {
    pub user: StaffUser,
    pub session: StaffSession,
    pub role: Role,
}

/// The staff routes: the studio's pages and assets, `/api/v1/me`, `/api/v1/users…`.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    StaffAuth: FromRef<S>,
{
    Router::new()
        .route("/", get(studio::root))
        .route("/studio", get(studio::root))
        .route("/studio/", get(studio::index))
        .route("/console", get(studio::console_root))
        .route("/console/", get(studio::console))
        .route("/studio/assets/{*name}", get(studio::asset))
        .route("/studio/login", get(pages::login_page).post(pages::login))
        .route(
            "/studio/password",
            get(pages::password_page).post(pages::password),
        )
        .route("/studio/logout", post(pages::logout))
        .route("/api/v1/me", get(users::me))
        .route("/api/v1/users", get(users::list).post(users::create))
        .route("/api/v1/users/{id}", patch(users::update))
        .route("/api/v1/users/{id}/reset", post(users::reset))
}
