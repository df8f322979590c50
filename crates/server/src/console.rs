//! The web console: one page and its script and style, embedded in the binary at build
//! time (no JavaScript build step, nothing fetched from elsewhere at run time), served at
//! `/`; and its sessions. Signing in with an API key gives a session cookie (HttpOnly,
//! SameSite=Strict, Secure behind TLS) and a CSRF token the console sends on every change;
//! the API then treats the session as the key.
//!
//! SECDO's query-builder links (`/#/investigationNG/builder?entity=…`) open the console
//! page, whose script reads the fragment; the same path without `#`
//! (`/investigationNG/builder?…`), for tools that drop fragments, serves the page too.

use crate::auth::{CSRF_HEADER, Caller, SESSION_COOKIE, authenticate, cookie};
use crate::{ApiError, AppState};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

/// How long a console session lasts.
const SESSION_HOURS: i64 = 12;

const INDEX_HTML: &str = include_str!("../console/index.html");
const APP_JS: &str = include_str!("../console/app.js");
const APP_CSS: &str = include_str!("../console/app.css");

/// The console's Content-Security-Policy: its own script and style only, no frames.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The console's routes (outside the API's OpenAPI table: a page, two assets, sessions).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/investigationNG/builder", get(index))
        .route("/console/app.js", get(app_js))
        .route("/console/app.css", get(app_css))
        .route(
            "/console/session",
            get(whoami).post(sign_in).delete(sign_out),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut resp = body.into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn app_css() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

/// A sign-in.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    api_key: String,
}

/// Who is signed in, and the CSRF token to send back.
#[derive(Serialize)]
struct SessionInfo {
    name: String,
    role: String,
    csrf: String,
}

/// Whether the session cookie gets `Secure`: the server's public URL is HTTPS, or a proxy
/// says the request came over TLS.
fn behind_tls(state: &AppState, headers: &HeaderMap) -> bool {
    state.public_url.starts_with("https://")
        || headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

fn session_cookie(value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("riposte_session=; Path=/; Max-Age=0"))
}

/// `POST /console/session` `{"api_key": "rip_…"}`: a session for the key.
async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let request: SignIn = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("send {{\"api_key\": \"rip_…\"}}: {e}")))?;
    let caller = authenticate(&state, &request.api_key).await?;
    let session = state
        .store
        .create_console_session(&caller.0, chrono::Duration::hours(SESSION_HOURS))
        .await?;
    crate::routes::audit(
        &state.store,
        &caller.actor(),
        "console.signed_in",
        &serde_json::json!({"role": caller.0.role}),
    )
    .await?;
    let mut resp = Json(SessionInfo {
        name: caller.0.name.clone(),
        role: caller.0.role.to_string(),
        csrf: session.csrf,
    })
    .into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(
            &session.token,
            SESSION_HOURS * 3600,
            behind_tls(&state, &headers),
        ),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// `GET /console/session`: who the session is (401 when there is none).
async fn whoami(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let token = cookie(&headers, SESSION_COOKIE)
        .ok_or_else(|| ApiError::Unauthorized("not signed in".into()))?;
    let session = state
        .store
        .console_session(token)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("the session ended: sign in again".into()))?;
    let mut resp = Json(SessionInfo {
        name: session.key.name,
        role: session.key.role.to_string(),
        csrf: session.csrf,
    })
    .into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// `DELETE /console/session` (with the CSRF token): signs out.
async fn sign_out(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // Only a session signs out (the extractor checked its CSRF token).
    if headers.get(CSRF_HEADER).is_none() {
        return Err(ApiError::BadRequest("not a console session".into()));
    }
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        state.store.delete_console_session(token).await?;
    }
    crate::routes::audit(
        &state.store,
        &caller.actor(),
        "console.signed_out",
        &serde_json::json!({}),
    )
    .await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie("", 0, behind_tls(&state, &headers)),
    );
    Ok(resp)
}
