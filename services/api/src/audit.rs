//! `GET /api/v1/audit`: the trail of changes made through the API, the console and the CLI
//! (who, what, to what, when, from where), newest first, for operators and admins; and
//! [`record`], which handlers call after each change they make.

use axum::extract::{FromRequestParts, RawQuery, State};
use axum::http::request::Parts;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use seedgate_runtime::store::{Audit, AuditEntry, AuditQuery};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::routes::{id_cursor, limit, next_cursor, query};
use crate::staff::pages::ClientAddr;
use crate::staff::Actor;
use crate::{Api, ApiError};

pub(crate) fn router() -> Router<Api> {
    Router::new().route("/api/v1/audit", get(list))
}

/// Where a request came from: the client's IP address as the server saw it.
#[derive(Debug, Clone)]
pub struct Source(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ClientAddr(addr) = ClientAddr::from_request_parts(parts, state).await?;
        Ok(Source(
            addr.map_or_else(|| "unknown".to_string(), |ip| ip.to_string()),
        ))
    }
}

/// Writes one change to the audit trail. The change is already made: if the row cannot be
/// written the change stands, and the failure is logged with the whole entry (and counted,
/// `seedgate_audit_failures_total`) rather than answered as an error that did not happen.
pub(crate) async fn record(
    api: &Api,
    actor: &str,
    source: &Source,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) {
    record_to(api.store.as_ref(), actor, source, action, target, detail).await;
}

/// [`record`] to a trail of its own (the staff routes hold one, `None` in their unit tests).
pub(crate) async fn record_to(
    trail: &dyn Audit,
    actor: &str,
    source: &Source,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) {
    let entry = AuditEntry::now(actor, action, target, detail, source.0.clone());
    if let Err(e) = trail.audit_append(&entry).await {
        metrics::counter!("seedgate_audit_failures_total").increment(1);
        tracing::error!(error = %e, actor = %entry.actor, action = %entry.action, target = %entry.target,
            detail = %entry.detail, source = %entry.source, "the audit trail could not be written");
    }
}

/// One change.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    /// A staff user's email, `token:<name>`, or `cli:<user>`.
    pub actor: String,
    /// `<thing>.<verb>`: `token.create`, `token.revoke`, `channel.create`, `channel.update`,
    /// `channel.delete`, `channel.restart`, `user.create`, `user.update`, `user.reset`,
    /// `store.restore`.
    pub action: String,
    /// What it was done to: a channel's name, a token's id.
    pub target: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    /// The client's IP address, or `cli`.
    pub source: String,
}

/// A page of the audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditView>,
    /// Pass as `cursor` for the next (older) page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditParams {
    action: Option<String>,
    actor: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

/// The audit trail, newest first (operator or admin).
#[utoipa::path(get, path = "/api/v1/audit",
    params(
        ("action" = Option<String>, Query, description = "One action (`token.revoke`), or every action on one kind of thing (`token.`)"),
        ("actor" = Option<String>, Query, description = "Only this actor"),
        ("cursor" = Option<String>, Query, description = "The previous page's `next_cursor`"),
        ("limit" = Option<u32>, Query, description = "At most this many (1–500, default 50)"),
    ),
    responses((status = 200, body = AuditPage), (status = 400), (status = 403)), security(("bearer" = [])))]
pub async fn list(
    State(api): State<Api>,
    actor: Actor,
    RawQuery(raw): RawQuery,
) -> Result<Json<AuditPage>, ApiError> {
    actor.require_operate()?;
    let p: AuditParams = query(raw)?;
    let before = id_cursor(p.cursor.as_deref())?;
    let limit = limit(p.limit)?;
    let items = api
        .store
        .audit_list(&AuditQuery {
            before,
            action: p.action.filter(|a| !a.is_empty()),
            actor: p.actor.filter(|a| !a.is_empty()),
            limit,
        })
        .await?;
    let next_cursor = next_cursor(&items, limit, |e| e.id.to_string());
    Ok(Json(AuditPage {
        items: items
            .into_iter()
            .map(|e| AuditView {
                id: e.id,
                at: e.at,
                actor: e.actor,
                action: e.action,
                target: e.target,
                detail: e.detail,
                source: e.source,
            })
            .collect(),
        next_cursor,
    }))
}
