//! `/api/v1/tokens`: create API tokens (the secret shown once), list them with when each was
//! last used, and revoke one at once (admin; a token with the `admin` scope, or a signed-in
//! admin). A revoked token answers 401 on its next request in this process, and within a
//! second on every other (`auth::KnownTokens`); it stays listed with when it was revoked.
//! Each creation and revocation is written to the audit trail.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use seedgate_runtime::store::ApiToken;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::Source;
use crate::auth::parse_scopes;
use crate::routes::json_body;
use crate::staff::Actor;
use crate::{Api, ApiError};

pub(crate) fn router() -> Router<Api> {
    Router::new()
        .route("/api/v1/tokens", post(create_token).get(list_tokens))
        .route("/api/v1/tokens/{id}", delete(revoke_token))
}

/// A token to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub name: String,
    /// Any of `admin`, `send`, `read`.
    pub scopes: Vec<String>,
}

/// A new token: `token` is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenCreated {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    pub token: String,
}

/// A token as listed: never its secret or hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// When a request last named it (to about a minute); absent if never.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked; absent while it is live.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// `live` or `revoked`.
    pub status: String,
}

impl From<ApiToken> for TokenView {
    fn from(t: ApiToken) -> Self {
        Self {
            status: if t.revoked_at.is_some() { "revoked" } else { "live" }.into(),
            id: t.id,
            name: t.name,
            scopes: t.scopes,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// Create an API token (admin).
#[utoipa::path(post, path = "/api/v1/tokens", request_body = TokenRequest,
    responses((status = 201, body = TokenCreated), (status = 400), (status = 403)), security(("bearer" = [])))]
pub async fn create_token(
    State(api): State<Api>,
    actor: Actor,
    source: Source,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    actor.require_admin()?;
    let req: TokenRequest = json_body(&headers, &body)?;
    if req.name.trim().is_empty() {
        return Err(ApiError::bad_request("`name` is empty"));
    }
    let scopes = parse_scopes(&req.scopes).map_err(|e| ApiError::bad_request(e.0))?;
    let (secret, token) = crate::auth::create_token(api.store.as_ref(), req.name.trim(), scopes).await?;
    tracing::info!(token = %token.id, name = %token.name, by = %actor.name, "API token created");
    let detail = serde_json::json!({"name": token.name, "scopes": token.scopes});
    crate::audit::record(
        &api,
        &actor.name,
        &source,
        "token.create",
        &token.id.to_string(),
        detail,
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(TokenCreated {
            id: token.id,
            name: token.name,
            scopes: token.scopes,
            token: secret,
        }),
    )
        .into_response())
}

/// Every API token, revoked ones included, oldest first (admin).
#[utoipa::path(get, path = "/api/v1/tokens",
    responses((status = 200, body = [TokenView]), (status = 403)), security(("bearer" = [])))]
pub async fn list_tokens(State(api): State<Api>, actor: Actor) -> Result<Json<Vec<TokenView>>, ApiError> {
    actor.require_admin()?;
    let tokens = api.store.tokens().await?;
    Ok(Json(tokens.into_iter().map(TokenView::from).collect()))
}

/// Revoke a token at once (admin): its next request answers 401.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", params(("id" = Uuid, Path, description = "The token's id")),
    responses((status = 204), (status = 400), (status = 403), (status = 404)), security(("bearer" = [])))]
pub async fn revoke_token(
    State(api): State<Api>,
    actor: Actor,
    source: Source,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    actor.require_admin()?;
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::bad_request(format!("`{id}` is not a token id")))?;
    let name = api
        .store
        .tokens()
        .await?
        .into_iter()
        .find(|t| t.id == id && t.revoked_at.is_none())
        .map(|t| t.name);
    if !crate::auth::revoke(&api, id).await? {
        return Err(ApiError::not_found(format!("no live token `{id}`")));
    }
    tracing::info!(token = %id, by = %actor.name, "API token revoked");
    let detail = serde_json::json!({"name": name});
    crate::audit::record(
        &api,
        &actor.name,
        &source,
        "token.revoke",
        &id.to_string(),
        detail,
    )
    .await;
    Ok(StatusCode::NO_CONTENT.into_response())
}
