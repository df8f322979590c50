//! API-key authentication (`Authorization: Bearer rip_…`), the web console's session
//! cookie (with its CSRF token on every change), and role checks.

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

/// The name of the console's session cookie.
pub const SESSION_COOKIE: &str = "riposte_session";

/// The header carrying the console's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The value of cookie `name` in a request, if any.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(key) = bearer(&parts.headers) {
            return authenticate(state, key).await;
        }
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(ApiError::Unauthorized("missing API key: send `Authorization: Bearer <key>` (create one with `riposte apikey create`)".into()));
        };
        let session = state.store.console_session(token).await?.ok_or_else(|| {
            ApiError::Unauthorized(
                "the console session ended (signed out, expired, or its key revoked): sign in again"
                    .into(),
            )
        })?;
        // A change made with the cookie must carry the session's CSRF token: another site
        // can make the browser send the cookie, never read the token.
        let safe = matches!(
            parts.method,
            axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
        );
        if !safe {
            use subtle::ConstantTimeEq;
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .map(|v| v.as_bytes())
                .unwrap_or_default();
            if !bool::from(sent.ct_eq(session.csrf.as_bytes())) {
                return Err(ApiError::Forbidden(
                    "missing or wrong CSRF token: reload the console and try again".into(),
                ));
            }
        }
        Ok(Caller(session.key))
    }
}
