//! `/api/v1/me`, and the users API for admins: list, create (with a one-time password),
//! change role or disable (a disabled user is signed out everywhere), reset a password.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use seedgate_runtime::store::StaffUser;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::{Actor, CreateError, Role, StaffAuth};
use crate::{ApiError, ErrorCode};

/// A user as the API shows one (never the hash).
#[derive(Debug, Serialize)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub role: String,
    pub disabled: bool,
    pub must_change: bool,
    pub created_at: DateTime<Utc>,
}

impl From<&StaffUser> for UserView {
    fn from(u: &StaffUser) -> Self {
        Self {
            id: u.id,
            email: u.email.clone(),
            role: u.role.clone(),
            disabled: u.disabled,
            must_change: u.must_change,
            created_at: u.created_at,
        }
    }
}

/// `GET /api/v1/me`: who the session (or token) is; allowed before the one-time password is
/// replaced, so the studio can send the user to choose one.
pub(super) async fn me(State(auth): State<StaffAuth>, parts: Parts) -> Result<Response, ApiError> {
    let (actor, signed) = Actor::of(&parts, &auth, true).await?;
    Ok(Json(json!({
        "email": actor.name,
        "role": actor.role.as_str(),
        "csrf": signed.as_ref().map(|s| s.session.csrf.clone()),
        "must_change": signed.is_some_and(|s| s.user.must_change),
    }))
    .into_response())
}

/// `GET /api/v1/users`.
pub(super) async fn list(State(auth): State<StaffAuth>, actor: Actor) -> Result<Response, ApiError> {
    actor.require_admin()?;
    let users = auth.staff.users().await?;
    let users: Vec<UserView> = users.iter().map(UserView::from).collect();
    Ok(Json(json!({ "users": users })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    email: String,
    role: String,
}

/// `POST /api/v1/users` → 201 `{user, password}` (the one-time password, shown once).
pub(super) async fn create(
    State(auth): State<StaffAuth>,
    actor: Actor,
    source: crate::audit::Source,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    actor.require_admin()?;
    let req: NewUser = crate::routes::json_body(&headers, &body)?;
    let (user, password) = match super::create_user(auth.staff.as_ref(), &req.email, &req.role).await {
        Ok(made) => made,
        Err(CreateError::Invalid(m)) => return Err(ApiError::bad_request(m)),
        Err(e @ CreateError::Exists(_)) => return Err(ApiError::new(ErrorCode::UserExists, e.to_string())),
        Err(CreateError::Store(e)) => return Err(e.into()),
    };
    tracing::info!(user = %user.id, role = %user.role, by = %actor.name, "staff user created");
    auth.audited(
        &actor,
        &source,
        "user.create",
        &user.email,
        json!({"role": user.role}),
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "user": UserView::from(&user), "password": password })),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Change {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    disabled: Option<bool>,
}

async fn user(auth: &StaffAuth, id: &str) -> Result<StaffUser, ApiError> {
    let id: Uuid = id
        .parse()
        .map_err(|_| ApiError::bad_request(format!("`{id}` is not a user id")))?;
    auth.staff
        .user_by_id(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no user with id {id}")))
}

/// `PATCH /api/v1/users/{id}` `{role?, disabled?}`.
pub(super) async fn update(
    State(auth): State<StaffAuth>,
    actor: Actor,
    source: crate::audit::Source,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    actor.require_admin()?;
    let change: Change = crate::routes::json_body(&headers, &body)?;
    let mut user = user(&auth, &id).await?;
    let role = match &change.role {
        Some(r) => Role::parse(r).map_err(|e| ApiError::bad_request(e.0))?,
        None => Role::parse(&user.role).unwrap_or(Role::Author),
    };
    let disabled = change.disabled.unwrap_or(user.disabled);
    if actor.user_id == Some(user.id) && (disabled || role != Role::Admin) {
        return Err(ApiError::bad_request(
            "you cannot disable your own account or give up your own admin role; ask another admin",
        ));
    }
    if !auth.staff.user_set_role(user.id, role.as_str(), disabled).await? {
        return Err(ApiError::not_found(format!("no user with id {id}")));
    }
    if disabled && !user.disabled {
        let n = auth.staff.staff_sessions_delete_user(user.id).await?;
        tracing::info!(user = %user.id, sessions = n, by = %actor.name, "staff user disabled and signed out");
    }
    let detail = json!({"role": {"from": user.role, "to": role.as_str()}, "disabled": {"from": user.disabled, "to": disabled}});
    auth.audited(&actor, &source, "user.update", &user.email, detail)
        .await;
    user.role = role.as_str().to_owned();
    user.disabled = disabled;
    Ok(Json(json!({ "user": UserView::from(&user) })).into_response())
}

/// `POST /api/v1/users/{id}/reset` → `{password}` (a new one-time password; the user is
/// signed out everywhere).
pub(super) async fn reset(
    State(auth): State<StaffAuth>,
    actor: Actor,
    source: crate::audit::Source,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    actor.require_admin()?;
    let user = user(&auth, &id).await?;
    let password = super::reset_password(auth.staff.as_ref(), user.id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no user with id {id}")))?;
    tracing::info!(user = %user.id, by = %actor.name, "staff password reset");
    auth.audited(&actor, &source, "user.reset", &user.email, json!({}))
        .await;
    Ok(Json(json!({ "password": password })).into_response())
}
