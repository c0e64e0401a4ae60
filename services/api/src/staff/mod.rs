//! TEMP: stands in for the auth branch's staff module (Actor from a bearer token only).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::auth::Caller;
use crate::{Api, ApiError, ErrorCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Author,
    Publisher,
    Operator,
    Admin,
    Reader,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    pub role: Role,
}

impl Actor {
    pub fn require_edit(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Author | Role::Publisher | Role::Admin => Ok(()),
            _ => Err(ApiError::new(ErrorCode::Forbidden, "editing needs the author role")),
        }
    }
    pub fn require_publish(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Publisher | Role::Admin => Ok(()),
            _ => Err(ApiError::new(ErrorCode::Forbidden, "publishing needs the publisher role")),
        }
    }
}

impl FromRequestParts<Api> for Actor {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, api: &Api) -> Result<Self, ApiError> {
        let c = Caller::from_request_parts(parts, api).await?;
        let role = if c.0.scopes.iter().any(|s| s == "admin") { Role::Admin } else { Role::Reader };
        Ok(Actor { name: format!("token:{}", c.0.name), role })
    }
}
