//! The API under generated hostile requests: every write operation the OpenAPI document
//! lists (environments, rules, projects and imports, webhooks, SIEM exports, connections,
//! integrations, alerts of every source, SECDO, integration hooks…) gets bodies shaped by
//! its schema, or a valid example of it, and then made hostile — oversized strings, huge
//! lists and maps, NUL characters, deep nesting, wrong types, duplicated keys, unknown and
//! missing fields, broken JSON and random values — sent to a spawned `riposte serve`. It
//! must never answer 5xx, must stay up, and its peak RSS must stay bounded — on SQLite and
//! on Postgres, whose limits differ (index entry sizes, NUL characters, integer ranges).
//!
//! `RIPOSTE_PROPTEST_CASES` sets how many requests are sent (default 300, seconds in CI);
//! a longer run prints its figures:
//! `RIPOSTE_PROPTEST_CASES=3000 cargo test -p riposte-cli --test api_properties -- --nocapture`.

mod common;

use common::{apikey, library, proc_status_kib, start, webhook_receiver};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Requests sent when `RIPOSTE_PROPTEST_CASES` is not set.
const DEFAULT_CASES: u32 = 300;
/// How much the server's peak RSS may grow over the run.
const RSS_GROWTH_KIB: u64 = 192 * 1024;

/// A write operation of the document.
#[derive(Debug, Clone)]
struct Op {
    method: reqwest::Method,
    path: String,
    /// The request body's schema, when the document gives one.
    schema: Option<Value>,
}

/// What is sent as the body.
#[derive(Debug, Clone)]
enum Body {
    /// A JSON value, with raw text spliced in where it could not be a value (see [`Raw`]).
    Json(Value, Vec<Raw>),
    /// Text that is not (quite) JSON.
    Text(String),
}

/// Text spliced into a JSON body at a placeholder string: what a `serde_json::Value` cannot
/// hold (deep nesting would overflow the test's own stack; duplicate keys, numbers beyond
/// f64, lone surrogates).
#[derive(Debug, Clone)]
enum Raw {
    /// A placeholder value replaced by this text.
    Value(String),
    /// A placeholder key replaced by a copy of a sibling key.
    DuplicateKey(String),
}

/// One generated request.
#[derive(Debug, Clone)]
struct Case {
    op: usize,
    /// 0 admin, 1 analyst, 2 viewer.
    role: usize,
    body: Body,
}

fn placeholder(n: usize) -> String {
    format!("\u{1}raw{n}\u{1}")
}

fn duplicate_marker(n: usize) -> String {
    format!("\u{2}dup{n}\u{2}")
}

impl Body {
    /// The bytes to send.
    fn text(&self) -> String {
        match self {
            Body::Text(t) => t.clone(),
            Body::Json(v, raws) => {
                let mut text = serde_json::to_string(v).unwrap();
                for (n, raw) in raws.iter().enumerate() {
                    match raw {
                        Raw::Value(r) => {
                            let at = serde_json::to_string(&placeholder(n)).unwrap();
                            text = text.replacen(&at, r, 1);
                        }
                        Raw::DuplicateKey(key) => {
                            let at = serde_json::to_string(&duplicate_marker(n)).unwrap();
                            text = text.replacen(&at, &serde_json::to_string(key).unwrap(), 1);
                        }
                    }
                }
                text
            }
        }
    }
}

/// The alert sources.
const SOURCES: [&str; 7] = [
    "generic",
    "guardduty",
    "crowdstrike",
    "defender",
    "sentinelone",
    "wiz",
    "secdo",
];

/// Strings that reach deeper than random text: names the API knows, URLs the outbound
/// guard judges, paths, times, and characters that break naive code.
fn interesting_string() -> BoxedStrategy<String> {
    let mut words = SOURCES.to_vec();
    words.extend([
        "",
        " ",
        "all",
        "any",
        "aws",
        "ssh",
        "local",
        "host",
        "ec2",
        "path",
        "ebs_snapshot",
        "custom",
        "slack",
        "teams",
        "jira",
        "splunk_hec",
        "elasticsearch",
        "basic",
        "bearer",
        "high",
        "critical",
        "triage",
        "full",
        "processing_complete",
        "alert_received",
        "isolate_host",
        "stop_instance",
        "us-east-1",
        "123456789012",
        "i-0123456789abcdef0",
        "snap-0123456789abcdef0",
        "10.0.0.0/8",
        "::/0",
        "0.0.0.0/0",
        "10.20.0.9",
        "labsz",
        "victim",
        "web-*",
        "**********?",
        "/",
        "/etc",
        "/etc/shadow",
        "../../etc/passwd",
        "http://127.0.0.1:1/hook",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://10.0.0.1/",
        "ftp://x/",
        "http://u:p@127.0.0.1:1/a/b?c=d#e",
        "javascript:x",
        "2024-01-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "1e309",
        "$Title $Event $$",
        "{\"text\": \"$Title\"}",
        "{{",
        "\u{feff}",
        "\u{202e}evil",
        "é",
        "😀",
        "\\",
        "\"",
        "\n",
        "%00",
        "'; DROP TABLE webhooks; --",
    ]);
    select(words).prop_map(str::to_string).boxed()
}

fn any_string() -> BoxedStrategy<String> {
    prop_oneof![
        4 => interesting_string(),
        2 => "[a-z0-9_.-]{0,12}",
        1 => "\\PC{0,24}",
    ]
    .boxed()
}

fn leaf() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        select(vec![0i64, 1, -1, 22, 65535, 65536, i64::MAX, i64::MIN]).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        Just(json!(u64::MAX)),
        any::<f64>().prop_map(|f| json!(f)),
        any_string().prop_map(Value::String),
    ]
    .boxed()
}

/// Any JSON value, a few levels deep.
fn random_json() -> BoxedStrategy<Value> {
    leaf()
        .prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(any_string(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
        .boxed()
}

/// Resolves `#/components/schemas/X`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap();
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// A value shaped by `schema` (mostly valid: types, enums, required fields), or random
/// where the schema says little.
fn from_schema(doc: &Value, schema: &Value, depth: u32) -> BoxedStrategy<Value> {
    let schema = resolve(doc, schema);
    if depth > 8 {
        return leaf();
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return select(values.clone()).boxed();
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema.get(key).and_then(Value::as_array) {
            let all: Vec<_> = options
                .iter()
                .map(|o| from_schema(doc, o, depth + 1))
                .collect();
            return proptest::strategy::Union::new(all).boxed();
        }
    }
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        let all: Vec<_> = parts
            .iter()
            .map(|p| from_schema(doc, p, depth + 1))
            .collect();
        return all
            .prop_map(|parts| {
                let mut merged = Map::new();
                for part in parts {
                    if let Value::Object(m) = part {
                        merged.extend(m);
                    }
                }
                Value::Object(merged)
            })
            .boxed();
    }
    let types: Vec<String> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => vec![],
    };
    let one: Vec<BoxedStrategy<Value>> = types
        .iter()
        .map(|t| match t.as_str() {
            "null" => Just(Value::Null).boxed(),
            "boolean" => any::<bool>().prop_map(Value::Bool).boxed(),
            "integer" => {
                let min = schema["minimum"].as_i64().unwrap_or(0);
                let max = schema["maximum"].as_i64().unwrap_or(1000).max(min);
                prop_oneof![
                    3 => (min..=max).prop_map(Value::from),
                    1 => leaf(),
                ]
                .boxed()
            }
            "number" => any::<f64>().prop_map(|f| json!(f)).boxed(),
            "string" => match schema["format"].as_str() {
                Some("date-time") => prop_oneof![
                    3 => select(vec![json!("2024-05-01T10:00:00Z"), json!("2024-05-01T09:00:00+01:00")]),
                    1 => any_string().prop_map(Value::String),
                ]
                .boxed(),
                _ => any_string().prop_map(Value::String).boxed(),
            },
            "array" => {
                let items = schema.get("items").cloned().unwrap_or(json!({}));
                prop::collection::vec(from_schema(doc, &items, depth + 1), 0..4)
                    .prop_map(Value::Array)
                    .boxed()
            }
            "object" => object(doc, schema, depth),
            _ => random_json(),
        })
        .collect();
    match one.len() {
        0 => random_json(),
        _ => proptest::strategy::Union::new(one).boxed(),
    }
}

/// Values that get further than what the schema says, by field name: URLs the outbound
/// guard judges (loopback is allowed), host names in the evidence library, kinds,
/// credentials and settings (free objects in the schema).
fn hint(field: &str) -> Option<BoxedStrategy<Value>> {
    let objects = match field {
        "auth" => vec![
            Value::Null,
            json!({"type": "bearer", "token": "t"}),
            json!({"type": "basic", "username": "u", "password": "p"}),
            json!({"type": "splunk", "token": "t"}),
        ],
        "settings" => vec![
            json!({}),
            json!({"base_url": "http://127.0.0.1:1", "client_id": "c"}),
            json!({"tenant_id": "t", "client_id": "c", "login_url": "http://127.0.0.1:1"}),
            json!({"regions": ["us-east-1"]}),
            json!({"project_key": "SOC", "issue_type": "Task"}),
            json!({"index": "riposte", "batch_size": 10}),
        ],
        _ => vec![],
    };
    if !objects.is_empty() {
        return Some(select(objects).boxed());
    }
    let pool: Vec<&str> = if field.contains("url") {
        vec![
            "http://127.0.0.1:1/hook",
            "http://127.0.0.1:9/services/T0/B0/X",
            "http://u:p@127.0.0.1:1/a/b?c=d#e",
            "https://[::1]/",
            "http://[::ffff:169.254.169.254]/latest/meta-data/",
            "http://10.0.0.1/",
            "127.0.0.1",
        ]
    } else if field == "hostname" {
        vec!["labsz", "victim", "LabSZ", "web-1", "10.20.0.9"]
    } else if field.ends_with("_ip") || field == "ip" {
        vec!["10.20.0.9", "183.62.140.253", "::1", "fe80::1"]
    } else if field == "ips" {
        return Some(
            select(vec![
                json!([]),
                json!(["10.20.0.9"]),
                json!(["::1", "8.8.8.8"]),
            ])
            .boxed(),
        );
    } else if ["kind", "vendor", "source", "preset", "type"].contains(&field) {
        return Some(interesting_string().prop_map(Value::String).boxed());
    } else {
        return None;
    };
    Some(select(pool).prop_map(Value::from).boxed())
}

/// An object with the schema's required properties and some of the optional ones; a free
/// map where it names none.
fn object(doc: &Value, schema: &Value, depth: u32) -> BoxedStrategy<Value> {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        let values = match schema.get("additionalProperties") {
            Some(s @ Value::Object(_)) => from_schema(doc, s, depth + 1),
            _ => random_json(),
        };
        return prop::collection::btree_map(any_string(), values, 0..4)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
            .boxed();
    };
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let fields: Vec<BoxedStrategy<Option<(String, Value)>>> = properties
        .iter()
        .map(|(name, s)| {
            let needed = required.contains(&name.as_str());
            let name = name.clone();
            let shaped = from_schema(doc, s, depth + 1);
            let value = match hint(&name) {
                Some(h) => prop_oneof![2 => h, 1 => shaped].boxed(),
                None => shaped,
            };
            let value = value.prop_map(move |v| (name.clone(), v));
            if needed {
                value.prop_map(Some).boxed()
            } else {
                prop::option::weighted(0.4, value).boxed()
            }
        })
        .collect();
    fields
        .prop_map(|fields| Value::Object(fields.into_iter().flatten().collect()))
        .boxed()
}

/// Where a hostile value goes: a path of object keys and list indices into the body.
type At = Vec<Result<String, usize>>;

/// Every node of `value` (its path, and whether it is an object).
fn nodes(value: &Value, at: &mut At, out: &mut Vec<(At, bool)>) {
    out.push((at.clone(), value.is_object()));
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                at.push(Ok(k.clone()));
                nodes(v, at, out);
                at.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                at.push(Err(i));
                nodes(v, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn node_mut<'a>(value: &'a mut Value, at: &At) -> &'a mut Value {
    at.iter().fold(value, |v, step| match step {
        Ok(k) => &mut v[k.as_str()],
        Err(i) => &mut v[*i],
    })
}

/// Something hostile to put into a body.
#[derive(Debug, Clone)]
enum Hostile {
    /// Replace the node with this value.
    Value(Value),
    /// Replace the node with raw text.
    Raw(String),
    /// Give an object an extra key.
    UnknownKey(String, Value),
    /// Remove one key of an object.
    DropKey(usize),
    /// Repeat one key of an object.
    DuplicateKey(usize),
}

/// `n` random letters and digits from `seed`: text that does not compress (Postgres
/// compresses a repeated letter into a small index entry; random text stays large).
fn noise(n: usize, mut seed: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            ALPHABET[(seed % ALPHABET.len() as u64) as usize] as char
        })
        .collect()
}

fn sizes(list: &[usize]) -> BoxedStrategy<usize> {
    select(list.to_vec()).boxed()
}

fn hostile() -> BoxedStrategy<Hostile> {
    let limits = [
        11, 21, 51, 65, 101, 129, 254, 501, 1001, 1025, 2001, 2049, 4097, 10_001, 65_537, 262_145,
    ];
    prop_oneof![
        // Strings just past a limit and far past it, in bytes and in characters.
        sizes(&limits).prop_map(|n| Hostile::Value(Value::String("x".repeat(n)))),
        sizes(&[101, 1001, 2001, 100_000])
            .prop_map(|n| Hostile::Value(Value::String("é".repeat(n)))),
        sizes(&[1_100_000]).prop_map(|n| Hostile::Value(Value::String("B".repeat(n)))),
        (sizes(&[300, 3000, 9000, 70_000]), 1..u64::MAX)
            .prop_map(|(n, seed)| Hostile::Value(Value::String(noise(n, seed)))),
        "[a-z]{0,4}".prop_map(|s| Hostile::Value(Value::String(format!("{s}\u{0}{s}")))),
        // Huge lists and maps.
        (sizes(&[11, 21, 51, 101, 1001, 10_001, 100_001]), leaf())
            .prop_map(|(n, v)| Hostile::Value(Value::Array(vec![v; n]))),
        (sizes(&[21, 101, 1001, 20_001]), any_string()).prop_map(|(n, s)| {
            Hostile::Value(Value::Object(
                (0..n).map(|i| (format!("{s}{i}"), json!(i))).collect(),
            ))
        }),
        // Deep nesting, under and over the parser's limit (as text: a value this deep
        // would overflow the test's own stack).
        (sizes(&[32, 127, 128, 129, 1000, 100_000]), any::<bool>()).prop_map(|(d, list)| {
            Hostile::Raw(if list {
                format!("{}1{}", "[".repeat(d), "]".repeat(d))
            } else {
                format!("{}1{}", "{\"a\":".repeat(d), "}".repeat(d))
            })
        }),
        // Numbers and strings no Value holds.
        select(vec![
            "1e999999",
            "-1e999999",
            "123456789012345678901234567890",
            "-0",
            "1.0e-400",
            "\"\\ud800\"",
            "\"\\udfff\\ud800\"",
            "\"\\u0000\"",
        ])
        .prop_map(|r| Hostile::Raw(r.to_string())),
        // Wrong types and random values.
        random_json().prop_map(Hostile::Value),
        (any_string(), random_json()).prop_map(|(k, v)| Hostile::UnknownKey(k, v)),
        any::<usize>().prop_map(Hostile::DropKey),
        any::<usize>().prop_map(Hostile::DuplicateKey),
    ]
    .boxed()
}

/// `body` with `hostile` applied at the node `pick` chooses.
fn apply(mut body: Value, mut raws: Vec<Raw>, pick: usize, hostile: Hostile) -> Body {
    let mut all = Vec::new();
    nodes(&body, &mut Vec::new(), &mut all);
    let objects: Vec<&At> = all.iter().filter(|n| n.1).map(|n| &n.0).collect();
    let at = all[pick % all.len()].0.clone();
    let object_at = objects
        .get(pick % objects.len().max(1))
        .map(|a| (*a).clone());
    match hostile {
        Hostile::Value(v) => *node_mut(&mut body, &at) = v,
        Hostile::Raw(text) => {
            *node_mut(&mut body, &at) = Value::String(placeholder(raws.len()));
            raws.push(Raw::Value(text));
        }
        Hostile::UnknownKey(k, v) => {
            if let Some(Value::Object(m)) = object_at.map(|at| node_mut(&mut body, &at)) {
                m.insert(k, v);
            }
        }
        Hostile::DropKey(n) => {
            if let Some(Value::Object(m)) = object_at.map(|at| node_mut(&mut body, &at))
                && !m.is_empty()
            {
                let key = m.keys().nth(n % m.len()).cloned().unwrap();
                m.remove(&key);
            }
        }
        Hostile::DuplicateKey(n) => {
            if let Some(Value::Object(m)) = object_at.map(|at| node_mut(&mut body, &at))
                && !m.is_empty()
            {
                let (key, value) = m
                    .iter()
                    .nth(n % m.len())
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .unwrap();
                m.insert(duplicate_marker(raws.len()), value);
                raws.push(Raw::DuplicateKey(key));
            }
        }
    }
    Body::Json(body, raws)
}

/// Bodies for `op`: schema-shaped or its valid `example`, then none to three hostile
/// changes; or broken text, or any JSON. (A hostile value in an otherwise valid body
/// reaches the code behind validation: storage, triage.)
fn body(doc: &Value, op: &Op, example: Option<&Value>) -> BoxedStrategy<Body> {
    let mut shaped = match &op.schema {
        Some(s) => from_schema(doc, s, 0),
        None => random_json(),
    };
    if let Some(e) = example {
        shaped = prop_oneof![shaped, Just(e.clone())].boxed();
    }
    let changes = prop_oneof![
        2 => Just(vec![]),
        3 => prop::collection::vec((any::<usize>(), hostile()), 1..=3),
    ];
    let hostile_json = (shaped.clone(), changes).prop_map(|(mut body, changes)| {
        let mut raws = Vec::new();
        for (pick, h) in changes {
            match apply(body, raws, pick, h) {
                Body::Json(b, r) => (body, raws) = (b, r),
                Body::Text(_) => unreachable!(),
            }
        }
        Body::Json(body, raws)
    });
    let broken = (shaped, any::<usize>(), "\\PC{0,8}").prop_map(|(v, cut, junk)| {
        let text = serde_json::to_string(&v).unwrap();
        let mut end = cut % (text.len() + 1);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        Body::Text(format!("{}{junk}", &text[..end]))
    });
    prop_oneof![
        8 => hostile_json,
        1 => broken,
        1 => random_json().prop_map(|v| Body::Json(v, vec![])),
    ]
    .boxed()
}

/// The ids of resources made before the run, for path parameters.
struct Fixture {
    base: String,
    keys: [String; 3],
    ids: BTreeMap<&'static str, String>,
    /// The integration's secret (rotations in the run replace it).
    integration_secret: std::cell::RefCell<String>,
}

impl Fixture {
    /// A concrete URL for `path` (its `{id}` the resource's made before the run).
    fn url(&self, path: &str, salt: usize) -> String {
        let resource = [
            "environments",
            "rules",
            "projects",
            "webhooks",
            "siem-exports",
            "connections",
            "integrations",
            "alerts",
            "hooks",
        ]
        .into_iter()
        .find(|r| path.contains(&format!("/{r}/{{id}}")));
        let id = match resource {
            _ if salt.is_multiple_of(16) => "00000000-0000-4000-8000-000000000000".to_string(),
            Some("hooks") => self.ids["integrations"].clone(),
            Some(r) => self.ids[r].clone(),
            None => String::new(),
        };
        let source = SOURCES.get(salt % (SOURCES.len() + 1)).unwrap_or(&"nope");
        let url = path.replace("{id}", &id).replace("{source}", source);
        format!("{}{url}", self.base)
    }
}

/// Posts `body` to `path` with `key`, asserting 2xx; the answer.
async fn made(http: &reqwest::Client, f: &Fixture, path: &str, body: Value) -> Value {
    let r = http
        .post(format!("{}/api/v1/{path}", f.base))
        .bearer_auth(&f.keys[0])
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {v:#}");
    v
}

/// The write operations of the document: every POST, PUT and PATCH.
fn operations(doc: &Value) -> Vec<Op> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let method = match method.as_str() {
                "post" => reqwest::Method::POST,
                "put" => reqwest::Method::PUT,
                "patch" => reqwest::Method::PATCH,
                _ => continue,
            };
            let schema = op["requestBody"]["content"]
                .as_object()
                .and_then(|c| c.values().next())
                .map(|m| m["schema"].clone());
            ops.push(Op {
                method,
                path: path.clone(),
                schema,
            });
        }
    }
    ops
}

#[test]
fn generated_hostile_requests_on_sqlite() {
    hostile_requests_never_get_a_5xx_and_memory_stays_bounded(None);
}

#[test]
fn generated_hostile_requests_on_postgres() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = rt.block_on(riposte_store::testing::fresh_postgres_url());
    hostile_requests_never_get_a_5xx_and_memory_stays_bounded(Some(&url));
}

fn hostile_requests_never_get_a_5xx_and_memory_stays_bounded(db_url: Option<&str>) {
    let cases = std::env::var("RIPOSTE_PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let lib = library(tmp.path());
    let keys = ["admin", "analyst", "viewer"].map(|role| apikey(&data, db_url, role));
    let server = start(
        &data,
        &lib,
        db_url,
        &["--no-bundled-sigma", "--outbound-allow", "127.0.0.1/32"],
    );
    let pid = server.child.id();
    // Every request on its own connection: the server closes one whose body it refused
    // unread (413).
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();

    let (doc, fixture, examples) = rt.block_on(async {
        let doc: Value = common::get_json(
            &http,
            format!("{}/api/v1/openapi.json", server.base),
            &keys[2],
        )
        .await;
        let (hook, _) = webhook_receiver().await;
        let mut f = Fixture {
            base: server.base.clone(),
            keys: keys.clone(),
            ids: BTreeMap::new(),
            integration_secret: Default::default(),
        };
        let lib = lib.display().to_string();
        let setup = vec![
            (
                "environments",
                json!({"name": "env0", "scopes": [{"kind": "local", "folder": lib}]}),
            ),
            ("rules", json!({"name": "rule0", "source": "any"})),
            ("projects", json!({"name": "p0"})),
            (
                "webhooks",
                json!({"name": "w0", "url": hook, "events": ["processing_complete"]}),
            ),
            (
                "siem-exports",
                json!({"name": "s0", "kind": "elasticsearch", "url": "http://127.0.0.1:1",
                       "events": ["processing_complete"]}),
            ),
            (
                "connections",
                json!({"name": "c0", "vendor": "crowdstrike", "secret": "s", "enabled": false,
                       "settings": {"base_url": "http://127.0.0.1:1", "client_id": "c"}}),
            ),
            (
                "integrations",
                json!({"name": "i0", "source": "sentinelone"}),
            ),
            (
                "alerts",
                json!({"title": "t", "severity": "low", "event_id": "p0", "target": {"hostname": "nowhere"}}),
            ),
        ];
        for (what, body) in &setup {
            let v = made(&http, &f, what, body.clone()).await;
            let id = v["id"].as_str().or(v["alert_id"].as_str()).unwrap();
            f.ids.insert(what, id.to_string());
            if *what == "integrations" {
                f.integration_secret = v["secret"].as_str().unwrap().to_string().into();
            }
        }
        // Valid bodies to make hostile, by operation path.
        let mut examples: BTreeMap<String, Value> = setup
            .into_iter()
            .flat_map(|(what, body)| {
                let update = format!("/api/v1/{what}/{{id}}");
                [(format!("/api/v1/{what}"), body.clone()), (update, body)]
            })
            .collect();
        for path in [
            "/publicapi/v2/enrich_with_secdo/",
            "/publicapi/v2/enrich_with_secdo",
        ] {
            let secdo = common::secdo_network(&keys[1], "10.20.0.9", "p1");
            examples.insert(path.to_string(), secdo);
        }
        (doc, f, examples)
    });
    let ops = operations(&doc);
    assert!(ops.len() >= 20, "only {} write operations", ops.len());
    let strategy = proptest::strategy::Union::new(ops.iter().enumerate().map(|(i, op)| {
        let example = examples.get(&op.path);
        (
            body(&doc, op, example),
            select(vec![0usize, 0, 0, 0, 0, 0, 1, 2]),
        )
            .prop_map(move |(body, role)| Case { op: i, role, body })
            .boxed()
    }));

    let baseline = proc_status_kib(pid, "VmHWM");
    let began = Instant::now();
    let statuses = std::cell::RefCell::new(BTreeMap::<String, BTreeMap<u16, u32>>::new());
    let dropped = std::cell::Cell::new(0u32);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 256,
        ..Config::default()
    });
    let result = runner.run(&strategy, |case| {
        let op = &ops[case.op];
        let url = fixture.url(&op.path, case.op + case.role);
        let mut text = case.body.text();
        let key = if op.path.starts_with("/hooks/") {
            fixture.integration_secret.borrow().clone()
        } else {
            fixture.keys[case.role].clone()
        };
        if op.path.starts_with("/publicapi/")
            && let Body::Json(Value::Object(body), _) = &case.body
            && !body.contains_key("apikey")
        {
            // SECDO reads its credential from the body.
            let rest = &text[1..];
            let comma = if rest.starts_with('}') { "" } else { "," };
            text = format!("{{\"apikey\": {}{comma}{rest}", json!(key));
        }
        let sent = rt.block_on(async {
            let r = http
                .request(op.method.clone(), &url)
                .bearer_auth(&key)
                .header("content-type", "application/json")
                .body(text)
                .send()
                .await?;
            let status = r.status().as_u16();
            let answer = r.bytes().await?;
            if op.path.ends_with("/secret")
                && status == 200
                && let Ok(v) = serde_json::from_slice::<Value>(&answer)
                && let Some(secret) = v["secret"].as_str()
            {
                *fixture.integration_secret.borrow_mut() = secret.to_string();
            }
            Ok::<u16, reqwest::Error>(status)
        });
        let alive = std::path::Path::new(&format!("/proc/{pid}")).exists()
            && rt.block_on(async {
                let health = http.get(format!("{}/health", fixture.base)).send().await;
                health.is_ok_and(|r| r.status().is_success())
            });
        prop_assert!(alive, "the server is down after {} {url}", op.method);
        match sent {
            Ok(status) => {
                let name = format!("{} {}", op.method, op.path);
                *statuses
                    .borrow_mut()
                    .entry(name)
                    .or_default()
                    .entry(status)
                    .or_default() += 1;
                prop_assert!(status < 500, "{} {url} answered {status}", op.method);
            }
            // A refused oversized body can reset the connection before its answer is read.
            Err(_) => dropped.set(dropped.get() + 1),
        }
        Ok::<(), TestCaseError>(())
    });
    let peak = proc_status_kib(pid, "VmHWM");
    let rss = proc_status_kib(pid, "VmRSS");
    let mut total = BTreeMap::<u16, u32>::new();
    for (op, answers) in statuses.borrow().iter() {
        eprintln!("  {op}: {answers:?}");
        for (status, n) in answers {
            *total.entry(*status).or_default() += n;
        }
    }
    eprintln!(
        "{}: {cases} generated requests over {} write operations in {:.1} s: answers {total:?}, \
         {} connections reset; riposte serve peak RSS {baseline} KiB before, {peak} KiB after \
         (now {rss} KiB)",
        if db_url.is_some() {
            "Postgres"
        } else {
            "SQLite"
        },
        ops.len(),
        began.elapsed().as_secs_f64(),
        dropped.get(),
    );
    if let Err(e) = result {
        let log = server.log();
        let tail: Vec<&str> = log.lines().rev().take(60).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!("{e}\nthe server log's end:\n{}", tail.join("\n"));
    }
    assert!(
        peak < baseline + RSS_GROWTH_KIB,
        "peak RSS grew from {baseline} KiB to {peak} KiB"
    );
}
