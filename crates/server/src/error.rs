//! API errors, turned into JSON responses in one place.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use riposte_sources::FieldError;
use serde_json::json;

/// An error an API call answers with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No or unknown credentials (401).
    #[error("{0}")]
    Unauthorized(String),
    /// Known caller, not allowed (403).
    #[error("{0}")]
    Forbidden(String),
    /// The body is not valid JSON, or not the expected shape (400).
    #[error("{0}")]
    BadRequest(String),
    /// Fields failed validation (422), each named.
    #[error("validation failed")]
    Invalid(Vec<FieldError>),
    /// No such resource (404).
    #[error("{0}")]
    NotFound(String),
    /// The change conflicts with the current state, e.g. deleting an environment rules
    /// still use, or a name taken meanwhile (409).
    #[error("{0}")]
    Conflict(String),
    /// A vendor's API refused or failed what the request asked it to do (502).
    #[error("{0}")]
    Upstream(String),
    /// Body too large (413).
    #[error("request body is larger than {0} bytes")]
    TooLarge(usize),
    /// Something failed on our side (500); details are logged, not returned.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl From<riposte_store::StoreError> for ApiError {
    fn from(e: riposte_store::StoreError) -> Self {
        match e {
            riposte_store::StoreError::InvalidCursor(_) => ApiError::BadRequest(e.to_string()),
            riposte_store::StoreError::Conflict(m) => ApiError::Conflict(m),
            other => ApiError::Internal(other.into()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            ApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, json!({"error": m})),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, json!({"error": m})),
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, json!({"error": m})),
            ApiError::Invalid(fields) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"error": format!("{} invalid field(s): {}", fields.len(), fields.iter().map(|f| f.field.as_str()).collect::<Vec<_>>().join(", ")), "fields": fields}),
            ),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, json!({"error": m})),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, json!({"error": m})),
            ApiError::Upstream(m) => (StatusCode::BAD_GATEWAY, json!({"error": m})),
            ApiError::TooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"error": self.to_string()}),
            ),
            ApiError::Internal(e) => {
                tracing::error!(error = %e, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"error": "internal error; see the server log"}),
                )
            }
        };
        let mut resp = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}
