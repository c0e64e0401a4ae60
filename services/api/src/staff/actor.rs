//! [`Actor`]: who makes a request and in what role, from a cookie session or a bearer token.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use uuid::Uuid;

use super::{session, Role, SignedIn, StaffAuth};
use crate::{ApiError, ErrorCode};

/// How the request was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A signed-in browser (its CSRF token was checked on a non-GET).
    Cookie,
    /// `Authorization: Bearer <token>`.
    Token,
}

/// The person or token making a request.
///
/// As an extractor: a request with an `Authorization` header is a token's (scope `admin` →
/// [`Role::Admin`], `read` → [`Role::Reader`], which may only GET); otherwise the cookie
/// session's, whose CSRF token a non-GET must carry in `X-CSRF-Token` (403 `csrf`), and whose
/// user must have chosen their own password (403). No session → 401 `unauthorized`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The user's email, or `token:<name>`.
    pub name: String,
    pub role: Role,
    pub via: Via,
    /// The staff user's id (`None` for a token).
    pub user_id: Option<Uuid>,
}

/// The header a JSON call made with a cookie session carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// 401 for an absent or expired session.
pub(crate) fn expired() -> ApiError {
    ApiError::new(ErrorCode::Unauthorized, "your session has expired; sign in again")
}

pub(crate) fn is_read(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether a CSRF token given with the request is the session's.
pub(crate) fn csrf_ok(signed: &SignedIn, given: Option<&str>) -> bool {
    given.is_some_and(|g| session::csrf_matches(&signed.session.csrf, g.trim()))
}

fn csrf_header(headers: &HeaderMap) -> Option<&str> {
    headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok())
}

impl Actor {
    fn forbid(&self, needs: &str) -> ApiError {
        ApiError::new(
            ErrorCode::Forbidden,
            format!("{needs}; you are {}", self.role.with_article()),
        )
    }

    /// Editing drafts (author, publisher, admin).
    pub fn require_edit(&self) -> Result<(), ApiError> {
        if self.role.can_edit() {
            Ok(())
        } else {
            Err(self.forbid("editing flows needs the author role"))
        }
    }

    /// Publishing and rolling back (publisher, admin).
    pub fn require_publish(&self) -> Result<(), ApiError> {
        if self.role.can_publish() {
            Ok(())
        } else {
            Err(self.forbid("publishing needs the publisher role"))
        }
    }

    /// The console's pages and the audit trail (operator, admin).
    pub fn require_operate(&self) -> Result<(), ApiError> {
        if self.role.can_operate() {
            Ok(())
        } else {
            Err(self.forbid("this needs the operator role"))
        }
    }

    /// Managing users (admin).
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.role.can_admin() {
            Ok(())
        } else {
            Err(self.forbid("managing users needs the admin role"))
        }
    }

    /// The actor of a request, and its cookie session if it has one. `allow_must_change`: a
    /// user still on a one-time password passes (only `/api/v1/me` allows that).
    pub(crate) async fn of(
        parts: &Parts,
        auth: &StaffAuth,
        allow_must_change: bool,
    ) -> Result<(Actor, Option<SignedIn>), ApiError> {
        if parts.headers.contains_key(axum::http::header::AUTHORIZATION) {
            let token = crate::auth::bearer(&parts.headers, auth.tokens.as_ref(), &auth.limiter).await?;
            let has = |s: &str| token.scopes.iter().any(|x| x == s);
            let role = if has("admin") {
                Role::Admin
            } else if has("read") {
                Role::Reader
            } else {
                return Err(ApiError::new(
                    ErrorCode::Forbidden,
                    "this token lacks the `read` scope",
                ));
            };
            let actor = Actor {
                name: format!("token:{}", token.name),
                role,
                via: Via::Token,
                user_id: None,
            };
            if !role.can_write() && !is_read(&parts.method) {
                return Err(actor.forbid("a change needs a token with the `admin` scope"));
            }
            return Ok((actor, None));
        }
        let signed = auth.signed_in(&parts.headers).await?.ok_or_else(expired)?;
        if !is_read(&parts.method) && !csrf_ok(&signed, csrf_header(&parts.headers)) {
            return Err(ApiError::new(
                ErrorCode::Csrf,
                "this change lacks the session's CSRF token (header `X-CSRF-Token`); reload the page",
            ));
        }
        if signed.user.must_change && !allow_must_change {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "choose your own password first, at /studio/password",
            ));
        }
        let actor = Actor {
            name: signed.user.email.clone(),
            role: signed.role,
            via: Via::Cookie,
            user_id: Some(signed.user.id),
        };
        Ok((actor, Some(signed)))
    }
}

impl<S> FromRequestParts<S> for Actor
where
    S: Send + Sync,
    StaffAuth: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let auth = StaffAuth::from_ref(state);
        Actor::of(parts, &auth, false).await.map(|(actor, _)| actor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(role: Role) -> Actor {
        Actor {
            name: "a@x.org".into(),
            role,
            via: Via::Cookie,
            user_id: None,
        }
    }

    #[test]
    fn a_refusal_names_the_role_needed_and_the_role_held() {
        let e = actor(Role::Author).require_publish().unwrap_err();
        assert_eq!(e.code, ErrorCode::Forbidden);
        assert_eq!(
            e.message,
            "publishing needs the publisher role; you are an author"
        );
        assert!(actor(Role::Author).require_edit().is_ok());
        assert!(actor(Role::Publisher).require_publish().is_ok());
        assert!(actor(Role::Operator)
            .require_edit()
            .unwrap_err()
            .message
            .contains("you are an operator"));
        assert!(actor(Role::Publisher)
            .require_admin()
            .unwrap_err()
            .message
            .contains("admin role"));
        assert!(actor(Role::Admin).require_admin().is_ok());
        assert!(actor(Role::Reader)
            .require_edit()
            .unwrap_err()
            .message
            .contains("a read-only token"));
    }
}
