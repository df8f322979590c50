//! API-key authentication (`Authorization: Bearer rip_…`) and role checks.

use crate::{ApiError, AppState};
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use riposte_store::{ApiKeyRecord, Role};

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller(pub ApiKeyRecord);

impl Caller {
    /// Fails with 403 unless the caller's role includes `needed`.
    pub fn require(&self, needed: Role) -> Result<(), ApiError> {
        if self.0.role.allows(needed) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this needs the {needed} role; the key `{}` is {}",
                self.0.prefix, self.0.role
            )))
        }
    }

    /// Who the audit trail records.
    pub fn actor(&self) -> String {
        format!("apikey:{} ({})", self.0.name, self.0.prefix)
    }
}

/// Checks a presented key.
pub async fn authenticate(state: &AppState, key: &str) -> Result<Caller, ApiError> {
    match state.store.authenticate_api_key(key.trim()).await? {
        Some(rec) => Ok(Caller(rec)),
        None => Err(ApiError::Unauthorized("unknown or revoked API key".into())),
    }
}

/// The bearer token of a request (`Authorization: Bearer …`), if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let key = bearer(&parts.headers).ok_or_else(|| {
            ApiError::Unauthorized("missing API key: send `Authorization: Bearer <key>` (create one with `riposte apikey create`)".into())
        })?;
        authenticate(state, key).await
    }
}
