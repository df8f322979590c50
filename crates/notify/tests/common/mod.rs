//! A local HTTP receiver that records every request exactly and answers from a script.

#![allow(dead_code)] // each test file uses its own part

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use riposte_notify::OutboundPolicy;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Captured {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Captured {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// An answer: status, headers, body.
#[derive(Debug, Clone)]
pub struct Answer(pub u16, pub Vec<(&'static str, String)>, pub String);

pub fn ok() -> Answer {
    Answer(200, vec![], "ok".into())
}

pub fn status(code: u16) -> Answer {
    Answer(code, vec![], format!("status {code}"))
}

#[derive(Clone)]
struct Shared {
    script: Arc<Vec<Answer>>,
    seen: Arc<Mutex<Vec<Captured>>>,
}

/// A running receiver.
pub struct Receiver {
    pub base: String,
    seen: Arc<Mutex<Vec<Captured>>>,
}

impl Receiver {
    /// Every request so far.
    pub fn requests(&self) -> Vec<Captured> {
        self.seen.lock().unwrap().clone()
    }
}

async fn record(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let n = {
        let mut seen = shared.seen.lock().unwrap();
        seen.push(Captured {
            method,
            path: uri.path().to_string(),
            query: uri.query().map(str::to_string),
            headers,
            body: body.to_vec(),
            at: Instant::now(),
        });
        seen.len() - 1
    };
    let Answer(code, headers, body) = shared.script[n.min(shared.script.len() - 1)].clone();
    let mut response = (StatusCode::from_u16(code).unwrap(), body).into_response();
    for (name, value) in headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

/// Starts a receiver on 127.0.0.1 answering request n with `script[n]` (the last repeats).
pub async fn receiver(script: Vec<Answer>) -> Receiver {
    let shared = Shared {
        script: Arc::new(script),
        seen: Arc::new(Mutex::new(Vec::new())),
    };
    let seen = shared.seen.clone();
    let app = Router::new().fallback(record).with_state(shared);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver {
        base: format!("http://{addr}"),
        seen,
    }
}

/// The policy that lets tests reach their loopback receivers.
pub fn loopback_allowed() -> OutboundPolicy {
    OutboundPolicy {
        allow: vec!["127.0.0.1/32".parse().unwrap()],
    }
}
