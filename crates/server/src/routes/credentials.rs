//! `/api/v1/credentials`: the SSH credentials SSH scopes log in with, by name. Admins
//! write and delete them; anyone may list them, but nobody ever reads a secret back: it is
//! sealed with the master key and only the workers open it to connect.

use super::{audit, field};
use crate::openapi::{ErrorBody, ValidationErrorBody};
use crate::{ApiError, AppState, Caller};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use riposte_model::SshSecret;
use riposte_store::Role;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

/// An SSH credential to store.
#[derive(Serialize, ToSchema)]
#[schema(as = NewSshCredential)]
#[allow(dead_code)] // documentation only; the body is parsed by hand
pub(crate) struct CredentialBody {
    /// `private_key` or `password`.
    kind: String,
    /// The private key file's text (OpenSSH, PEM or PuTTY; Ed25519, ECDSA or RSA), for
    /// `private_key`.
    private_key: Option<String>,
    /// The key's passphrase, when it has one.
    passphrase: Option<String>,
    /// The password, for `password`.
    password: Option<String>,
    /// The login user when the scope names none.
    username: Option<String>,
}

/// A stored SSH credential (never its secret).
#[derive(Serialize, ToSchema)]
#[schema(as = SshCredential)]
#[allow(dead_code)] // documentation only; mirrors `riposte_store::SshCredentialInfo`
pub(crate) struct CredentialDoc {
    /// Its name.
    name: String,
    /// `private_key` or `password`.
    kind: String,
    /// The default login user.
    username: Option<String>,
    /// When it was first stored.
    created_at: DateTime<Utc>,
    /// When it was last replaced.
    updated_at: DateTime<Utc>,
}

/// Every SSH credential.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documentation only; built with `json!`
pub(crate) struct CredentialList {
    /// The credentials, by name.
    credentials: Vec<CredentialDoc>,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

fn string(
    body: &Value,
    name: &str,
    errors: &mut Vec<riposte_sources::FieldError>,
) -> Option<String> {
    match body.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(_) => {
            errors.push(field(name, "must be a non-empty string"));
            None
        }
    }
}

/// Store or replace an SSH credential.
///
/// `PUT /api/v1/credentials/{name}` (admin): a private key is opened on the spot (with its
/// passphrase), so a key that cannot be used is refused now rather than at the first
/// collection. The secret is sealed with the master key and never returned.
#[utoipa::path(
    put,
    path = "/api/v1/credentials/{name}",
    tag = "credentials",
    operation_id = "put_credential",
    security(("api_key" = [])),
    params(("name" = String, Path, description = "The credential's name (letters, digits, `.`, `_`, `-`)")),
    request_body = CredentialBody,
    responses(
        (status = 200, description = "Stored", body = CredentialDoc),
        (status = 400, description = "The body is not JSON, or not a JSON object", body = ErrorBody),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below admin", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 422, description = "Fields failed validation (a key that cannot be opened included), each named", body = ValidationErrorBody),
    ),
)]
pub(crate) async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let body = super::json_body(body, &super::limits::CREDENTIAL)?;
    if !body.is_object() {
        return Err(ApiError::BadRequest(
            "the body must be a JSON object".into(),
        ));
    }
    let mut errors = Vec::new();
    if !valid_name(&name) {
        errors.push(field("name", "1 to 100 letters, digits, `.`, `_` or `-`"));
    }
    let username = string(&body, "username", &mut errors);
    let secret = match body.get("kind").and_then(Value::as_str) {
        Some("private_key") => {
            let key = string(&body, "private_key", &mut errors);
            let passphrase = string(&body, "passphrase", &mut errors);
            if body.get("password").is_some() {
                errors.push(field(
                    "password",
                    "a private_key credential takes no password",
                ));
            }
            match key {
                Some(private_key) => Some(SshSecret::PrivateKey {
                    private_key,
                    passphrase,
                }),
                None => {
                    errors.push(field("private_key", "missing: the private key file's text"));
                    None
                }
            }
        }
        Some("password") => {
            if body.get("private_key").is_some() || body.get("passphrase").is_some() {
                errors.push(field("private_key", "a password credential takes no key"));
            }
            match string(&body, "password", &mut errors) {
                Some(password) => Some(SshSecret::Password { password }),
                None => {
                    errors.push(field("password", "missing"));
                    None
                }
            }
        }
        _ => {
            errors.push(field("kind", "must be private_key or password"));
            None
        }
    };
    if let Some(SshSecret::PrivateKey {
        private_key,
        passphrase,
    }) = &secret
        && let Err(problem) = riposte_ssh::check_private_key(private_key, passphrase.as_deref())
    {
        let at = if problem.contains("passphrase") {
            "passphrase"
        } else {
            "private_key"
        };
        errors.push(field(at, problem));
    }
    let Some(secret) = secret.filter(|_| errors.is_empty()) else {
        return Err(ApiError::Invalid(errors));
    };
    let stored = state
        .store
        .put_ssh_credential(&state.master_key, &name, username.as_deref(), &secret)
        .await?;
    audit(
        &state.store,
        &caller.actor(),
        "credential.stored",
        &json!({"name": stored.name, "kind": stored.kind, "username": stored.username}),
    )
    .await?;
    Ok(Json(json!(stored)))
}

/// List SSH credentials.
///
/// `GET /api/v1/credentials` (viewer): names, kinds and default users; never secrets.
#[utoipa::path(
    get,
    path = "/api/v1/credentials",
    tag = "credentials",
    operation_id = "list_credentials",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The credentials", body = CredentialList),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Viewer)?;
    let credentials = state.store.list_ssh_credentials().await?;
    Ok(Json(json!({ "credentials": credentials })))
}

/// Delete an SSH credential.
///
/// `DELETE /api/v1/credentials/{name}` (admin): scopes naming it can no longer collect
/// (their investigations fail saying so) until a credential of that name is stored again.
#[utoipa::path(
    delete,
    path = "/api/v1/credentials/{name}",
    tag = "credentials",
    operation_id = "delete_credential",
    security(("api_key" = [])),
    params(("name" = String, Path, description = "The credential's name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or unknown API key", body = ErrorBody),
        (status = 403, description = "The key's role is below admin", body = ErrorBody),
        (status = 404, description = "No such credential", body = ErrorBody),
    ),
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    if !state.store.delete_ssh_credential(&name).await? {
        return Err(ApiError::NotFound(format!(
            "no SSH credential named {name}"
        )));
    }
    audit(
        &state.store,
        &caller.actor(),
        "credential.deleted",
        &json!({"name": name}),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
