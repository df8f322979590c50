//! The hostile tester's findings, reproduced against real servers: one request must never
//! take the server down or stop triage.
//!
//! - memory: oversized lists and strings are refused with 413/422 naming the field, and a
//!   spawned `riposte serve`'s peak RSS stays bounded through all of them;
//! - rules: a rule whose patterns are valid one by one but too large together is refused
//!   at the API; one stored anyway is skipped at triage (recorded and audited) while the
//!   other rules decide; alerts whose triage failed are triaged again, by hand and when the
//!   rules change.

mod common;

use common::{
    apikey, decided, library, outcome, post_json, proc_status_kib, secdo_network, serve_library,
    serve_state, spawn_workers, start,
};
use riposte_server::AppState;
use riposte_store::testing::both;
use riposte_store::{MasterKey, Role, Store};
use serde_json::{Value, json};
use std::time::Duration;

async fn send(http: &reqwest::Client, url: String, key: &str, body: &Value) -> (u16, Value) {
    let r = post_json(http, url, key, body).await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The fields a 422 names.
fn fields(answer: &(u16, Value)) -> Vec<String> {
    assert_eq!(answer.0, 422, "{:#}", answer.1);
    answer.1["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_string())
        .collect()
}

fn ssh_scopes(n: usize) -> Vec<Value> {
    (0..n)
        .map(|_| json!({"kind": "ssh", "cidrs": ["10.0.0.0/8"], "credential": "c"}))
        .collect()
}

/// Finding 1: the memory-exhausting requests, against a spawned server whose peak RSS
/// (`VmHWM`) is read before and after.
#[tokio::test]
async fn oversized_requests_are_refused_and_memory_stays_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let lib = library(tmp.path());
    let analyst = apikey(&data, None, "analyst");
    let viewer = apikey(&data, None, "viewer");
    let server = start(&data, &lib, None, &["--no-bundled-sigma"]);
    let base = &server.base;
    let pid = server.child.id();
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{base}/api/v1/{path}");

    // Warm up (first requests allocate the pools), then take the baseline.
    let (status, _) = send(
        &http,
        url("environments/resolve"),
        &viewer,
        &json!({"hostname": "h"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, project) = send(&http, url("projects"), &analyst, &json!({"name": "p"})).await;
    assert_eq!(status, 201, "{project:#}");
    let imports = url(&format!(
        "projects/{}/imports",
        project["id"].as_str().unwrap()
    ));
    let baseline = proc_status_kib(pid, "VmHWM");

    for _ in 0..3 {
        // 10000 scopes: refused on `scopes`.
        let many = json!({"name": "many", "scopes": ssh_scopes(10_000)});
        assert_eq!(
            fields(&send(&http, url("environments"), &analyst, &many).await),
            ["scopes"]
        );
        // A 921600-byte host name in an import: refused on `systems[0].hostname`.
        let import = json!({"systems": [{"kind": "host", "hostname": "B".repeat(921_600)}]});
        assert_eq!(
            fields(&send(&http, imports.clone(), &analyst, &import).await),
            ["systems[0].hostname"]
        );
        let too_many = json!({"systems": vec![json!({"kind": "host", "hostname": "x"}); 101]});
        assert_eq!(
            fields(&send(&http, imports.clone(), &analyst, &too_many).await),
            ["systems"]
        );
        // The viewer's 50000-byte host name: refused on `hostname`.
        let resolve = json!({"hostname": "h".repeat(50_000)});
        assert_eq!(
            fields(&send(&http, url("environments/resolve"), &viewer, &resolve).await),
            ["hostname"]
        );
        // Over 1 MiB: 413 whatever the content.
        let huge = json!({"hostname": "h".repeat(2 * 1024 * 1024)});
        // (its own connection: the server closes one whose body it did not read)
        let once = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let (status, _) = send(&once, url("environments/resolve"), &viewer, &huge).await;
        assert_eq!(status, 413);
    }

    // At the limits, the work is bounded too: the largest environment, resolved with the
    // longest host name, answers with at most 20 short reasons.
    let (status, v) = send(
        &http,
        url("environments"),
        &analyst,
        &json!({"name": "widest", "scopes": ssh_scopes(100)}),
    )
    .await;
    assert_eq!(status, 201, "{v:#}");
    let r = post_json(
        &http,
        url("environments/resolve"),
        &viewer,
        &json!({"hostname": "h".repeat(253)}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.len() < 16 * 1024, "{} bytes of reasons", text.len());
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["covered"], false);
    assert_eq!(v["reasons"].as_array().unwrap().len(), 21, "{v:#}");

    let peak = proc_status_kib(pid, "VmHWM");
    eprintln!("riposte serve peak RSS: {baseline} KiB before, {peak} KiB after");
    assert!(
        peak < baseline + 64 * 1024,
        "peak RSS grew from {baseline} KiB to {peak} KiB"
    );
}

/// A generic alert about `host` with its own event id.
fn generic_alert(host: &str, n: u32) -> Value {
    json!({"title": "Reverse shell", "severity": "high", "event_id": format!("hardening-{n}"),
           "target": {"hostname": host}})
}

/// Finding 2, on SQLite and Postgres: the rule that stopped all triage.
#[tokio::test]
async fn a_rule_that_cannot_compile_never_stops_triage() {
    for db in both().await {
        eprintln!("backend: {}", db.name());
        let tmp = tempfile::tempdir().unwrap();
        let lib = library(tmp.path());
        let store: Store = db.store().clone();
        let base = serve_library(store.clone(), tmp.path()).await;
        let http = reqwest::Client::new();
        let (_, key) = store
            .create_api_key("analyst", Role::Analyst)
            .await
            .unwrap();
        let rules = format!("{base}/api/v1/rules");
        let alerts = format!("{base}/api/v1/alerts");

        // The reproduction: 2000 patterns of "0000" + 490 "?", disabled. Refused, naming
        // the field; so is a list within the count limit but over the pattern size.
        let bigpats = json!({"name": "bigpats", "source": "any", "enabled": false,
            "filters": {"titles": vec![format!("0000{}", "?".repeat(490)); 2000]}});
        assert_eq!(
            fields(&send(&http, rules.clone(), &key, &bigpats).await),
            ["filters.titles"]
        );
        let long = json!({"name": "long", "source": "any",
            "filters": {"titles": ["a", "b".repeat(501)]}});
        assert_eq!(
            fields(&send(&http, rules.clone(), &key, &long).await),
            ["filters.titles[1]"]
        );

        // An alert arrives while no worker runs; its triage then fails for good (as it did
        // when the rule above was accepted): no decision.
        let (status, v) = send(&http, alerts.clone(), &key, &generic_alert("victim", 1)).await;
        assert_eq!(status, 202, "{v:#}");
        let stranded = v["alert_id"].as_str().unwrap().to_string();
        let job = store
            .claim_job("old-worker", Duration::from_secs(60))
            .await
            .unwrap()
            .expect("the triage job");
        assert!(
            store
                .fail_job(
                    job.job.id,
                    "old-worker",
                    "cannot compile the detection rules: rule bigpats: error building NFA",
                    None
                )
                .await
                .unwrap()
        );

        // Workers start; a rule stored without validation (by an older version, or by hand)
        // is too large to compile, and enabled.
        let _stop = spawn_workers(&store, tmp.path(), 1);
        let spec: riposte_model::RuleSpec = serde_json::from_value(json!({
            "name": "bigpats", "source": "any", "priority": 1,
            "filters": {"titles": vec![format!("0000{}", "?".repeat(490)); 2000]}}))
        .unwrap();
        let stored_bad = store.create_rule(&spec, true, "old-version").await.unwrap();

        // Creating a rule through the API triages the stranded alert again.
        let lab = post_json(
            &http,
            format!("{base}/api/v1/environments"),
            &key,
            &json!({
            "name": "lab", "scopes": [{"kind": "local", "folder": lib.display().to_string()}]}),
        )
        .await;
        assert_eq!(lab.status(), 201);
        let lab: Value = lab.json().await.unwrap();
        let (status, v) = send(
            &http,
            rules.clone(),
            &key,
            &json!({"name": "catch-all",
            "source": "generic", "environment_id": lab["id"], "priority": 50}),
        )
        .await;
        assert_eq!(status, 201, "{v:#}");
        let a = decided(&http, &base, &key, &stranded).await;
        assert_eq!(outcome(&a, "bigpats")["outcome"], "invalid", "{a:#}");
        assert!(
            outcome(&a, "bigpats")["reason"]
                .as_str()
                .unwrap()
                .contains("filters.titles"),
            "{a:#}"
        );
        assert_eq!(outcome(&a, "catch-all")["outcome"], "applied", "{a:#}");
        assert!(a["investigation_id"].is_string(), "{a:#}");

        // A new alert: the broken rule is skipped and audited, the other rule decides.
        let (_, v) = send(&http, alerts.clone(), &key, &generic_alert("labsz", 2)).await;
        let fresh = v["alert_id"].as_str().unwrap().to_string();
        let a = decided(&http, &base, &key, &fresh).await;
        assert_eq!(outcome(&a, "bigpats")["outcome"], "invalid");
        assert_eq!(outcome(&a, "catch-all")["outcome"], "applied");
        let skipped = store.audit_entries("alert.rule_skipped").await.unwrap();
        assert!(
            skipped
                .iter()
                .any(|e| e.detail.contains(&fresh) && e.detail.contains(&stored_bad.id.to_string())),
            "{skipped:?}"
        );
        assert!(
            !store
                .audit_entries("alert.retriage")
                .await
                .unwrap()
                .is_empty(),
            "the automatic re-triage is audited"
        );

        // By hand: an alert no rule applied to can be triaged again once a rule covers
        // it; one with an investigation cannot; an unknown one is 404.
        let (_, v) = send(
            &http,
            alerts.clone(),
            &key,
            &generic_alert("nowhere-host", 3),
        )
        .await;
        let lonely = v["alert_id"].as_str().unwrap().to_string();
        let a = decided(&http, &base, &key, &lonely).await;
        assert!(a["investigation_id"].is_null(), "{a:#}");
        let retriage = |id: &str| format!("{base}/api/v1/alerts/{id}/retriage");
        let (status, v) = send(&http, retriage(&lonely), &key, &json!({})).await;
        assert_eq!(status, 202, "{v:#}");
        assert_eq!(v["alert_id"], lonely.as_str());
        let (status, _) = send(&http, retriage(&fresh), &key, &json!({})).await;
        assert_eq!(status, 409);
        let (status, _) = send(
            &http,
            retriage("00000000-0000-4000-8000-000000000000"),
            &key,
            &json!({}),
        )
        .await;
        assert_eq!(status, 404);
        let viewer = store
            .create_api_key("viewer", Role::Viewer)
            .await
            .unwrap()
            .1;
        let (status, _) = send(&http, retriage(&lonely), &viewer, &json!({})).await;
        assert_eq!(status, 403);
    }
}

/// An in-process server on `db` (no workers); its store, base URL, a client and an
/// analyst key.
async fn analyst_server(
    db: &riposte_store::testing::TestDb,
) -> (Store, String, reqwest::Client, String) {
    let store: Store = db.store().clone();
    let base = serve_state(AppState::new(store.clone(), MasterKey::generate())).await;
    let (_, key) = store
        .create_api_key("analyst", Role::Analyst)
        .await
        .unwrap();
    (store, base, reqwest::Client::new(), key)
}

/// The duplicate-key and NUL refusals reach the real intake too (the SECDO API reads its
/// own credential from the body).
#[tokio::test]
async fn duplicate_keys_and_nul_characters_are_refused() {
    for db in both().await {
        let (_, base, http, key) = analyst_server(&db).await;
        let r = http
            .post(format!("{base}/api/v1/environments"))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(r#"{"name": "a", "name": "b", "scopes": []}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let v: Value = r.json().await.unwrap();
        assert!(
            v["error"].as_str().unwrap().contains("duplicate key"),
            "{v:#}"
        );

        let nul = json!({"name": "bad\u{0}name", "description": ""});
        assert_eq!(
            fields(&send(&http, format!("{base}/api/v1/projects"), &key, &nul).await),
            ["name"]
        );
        let mut secdo = secdo_network(&key, "10.0.0.1", "nul-1");
        secdo["product"] = "Fire\u{0}Wall".into();
        let r = post_json(
            &http,
            format!("{base}/publicapi/v2/enrich_with_secdo/"),
            &key,
            &secdo,
        )
        .await;
        assert_eq!(r.status(), 422);
    }
}

/// The problems a 422 gives, joined.
fn problems(answer: &(u16, Value)) -> String {
    assert_eq!(answer.0, 422, "{:#}", answer.1);
    answer.1["fields"].to_string()
}

/// Findings 3 and 6: the allowlist hint and the IPv6 forms of refused IPv4 addresses,
/// through a spawned `riposte serve --outbound-allow ::1/32` (the old hint), for webhooks, SIEM exports
/// and pull connections alike.
#[tokio::test]
async fn ipv6_forms_of_internal_addresses_are_refused_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let lib = library(tmp.path());
    let admin = apikey(&data, None, "admin");
    let server = start(
        &data,
        &lib,
        None,
        &["--no-bundled-sigma", "--outbound-allow", "::1/32"],
    );
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}/api/v1/{path}", server.base);
    let webhook = |n: usize, target: &str| json!({"name": format!("w{n}"), "url": target, "events": ["processing_complete"]});

    // The allowed address is accepted: the refusals below are the guard's, not the test's.
    let (status, v) = send(
        &http,
        url("webhooks"),
        &admin,
        &webhook(0, "http://[::1]:9/"),
    )
    .await;
    assert_eq!(status, 201, "{v:#}");
    // The hint gives the address alone: /128 for IPv6.
    let p = problems(
        &send(
            &http,
            url("webhooks"),
            &admin,
            &webhook(1, "http://[fd00::5]:8080/"),
        )
        .await,
    );
    assert!(p.contains("--outbound-allow fd00::5/128"), "{p}");
    for (n, target) in [
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://[::127.0.0.1]/",
        "http://[2002:7f00:1::]/",
        "http://[fec0::1]/",
        "http://[64:ff9b::a9fe:a9fe]/",
    ]
    .into_iter()
    .enumerate()
    {
        let p = problems(&send(&http, url("webhooks"), &admin, &webhook(n + 2, target)).await);
        assert!(p.contains("non-public"), "{target}: {p}");
        let siem = json!({"name": format!("s{n}"), "kind": "elasticsearch", "url": target,
                          "events": ["processing_complete"]});
        problems(&send(&http, url("siem-exports"), &admin, &siem).await);
    }
    let p = problems(
        &send(
            &http,
            url("webhooks"),
            &admin,
            &webhook(9, "http://[::ffff:169.254.169.254]/"),
        )
        .await,
    );
    assert!(p.contains("--outbound-allow 169.254.169.254/32"), "{p}");
    let connection = json!({"name": "cs", "vendor": "crowdstrike", "secret": "s",
        "settings": {"base_url": "https://[::127.0.0.1]/", "client_id": "c"}});
    let p = problems(&send(&http, url("connections"), &admin, &connection).await);
    assert!(p.contains("127.0.0.1/32"), "{p}");
}

/// Finding 6: a pull connection's host name re-pointed at an internal address after its
/// URL was checked (DNS rebinding) is refused when the connection is made, because
/// pollers resolve names through the outbound guard. Here `localhost` plays the name that
/// now resolves to an internal address.
#[tokio::test]
async fn pull_connections_resolve_names_through_the_outbound_guard() {
    use riposte_fakes::crowdstrike::FakeCrowdStrike;
    use riposte_notify::OutboundPolicy;
    use riposte_sources::poll::AlertPoller;
    use riposte_sources::poll::crowdstrike::{CrowdStrikePoller, CrowdStrikeSettings};
    let falcon = FakeCrowdStrike::new("cs-client", "cs-secret");
    let server = falcon.start().await;
    let port = server
        .url()
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    let by_name = format!("http://localhost:{port}");
    let poller = |policy: &OutboundPolicy| {
        CrowdStrikePoller::new(CrowdStrikeSettings::new(&by_name, "cs-client"), "cs-secret")
            .unwrap()
            .with_resolver(policy.resolver())
            .unwrap()
    };
    let err = poller(&OutboundPolicy::default()).test().await.unwrap_err();
    assert!(err.to_string().contains("non-public"), "{err}");
    let lab = OutboundPolicy {
        allow: vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
    };
    poller(&lab).test().await.unwrap();
}

/// Finding 8: the data directory of a spawned `riposte serve` is 0700 and the database,
/// its WAL and every evidence file it wrote are 0600 (the umask would give 0755/0644).
#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let lib = library(tmp.path());
    // The data directory does not exist: the first command creates it.
    let key = apikey(&data, None, "analyst");
    let server = start(&data, &lib, None, &["--no-bundled-sigma"]);
    let http = reqwest::Client::new();
    let alert = common::post_secdo(&http, &server.base, &key, "10.20.0.9", "perm-1").await;
    let d = common::wait_for_investigation(&http, &server.base, &key, &alert).await;
    assert!(!d["evidence"].as_array().unwrap().is_empty(), "{d:#}");

    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    for file in ["riposte.db", "riposte.db-wal", "master.key"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    let mut blobs = 0;
    let mut dirs = vec![data.join("evidence")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.starts_with(data.join("evidence/sha256")) {
                assert_eq!(mode(&path), 0o600, "{}", path.display());
                blobs += 1;
            }
        }
    }
    assert!(blobs > 0, "no evidence file written");
    assert_eq!(mode(&data.join("evidence")), 0o700);
}

/// Finding 4, on SQLite and Postgres: SECDO events of two vendors with one `event_id`
/// are two alerts; a replay of either (and of a real vendor sample from the corpus, and of
/// a generic alert) is still one.
#[tokio::test]
async fn secdo_vendors_sharing_an_event_id_stay_apart_and_replays_stay_one() {
    for db in both().await {
        let (store, base, http, key) = analyst_server(&db).await;

        let mut palo_alto = secdo_network(&key, "10.20.3.41", "4711");
        palo_alto["vendor"] = "Palo Alto Networks".into();
        palo_alto["product"] = "PAN-OS".into();
        let check_point = secdo_network(&key, "10.20.3.99", "4711");
        let first = common::post_secdo_body(&http, &base, &palo_alto).await;
        let second = common::post_secdo_body(&http, &base, &check_point).await;
        assert_ne!(first, second, "two vendors, two alerts");
        // Replays change nothing.
        assert_eq!(
            common::post_secdo_body(&http, &base, &palo_alto).await,
            first
        );
        assert_eq!(
            common::post_secdo_body(&http, &base, &check_point).await,
            second
        );
        let a = common::get_json(&http, format!("{base}/api/v1/alerts/{first}"), &key).await;
        assert_eq!(a["vendor"], "Palo Alto Networks", "{a:#}");

        let sample: Value = serde_json::from_str(
            &std::fs::read_to_string(common::corpus().join(
                "alerts/crowdstrike/sekoia-stream-eppdetectionsummary-linux-custom-ioc-network.json",
            ))
            .unwrap(),
        )
        .unwrap();
        let url = format!("{base}/api/v1/sources/crowdstrike/alerts");
        let (status, one) = send(&http, url.clone(), &key, &sample).await;
        assert_eq!(status, 202, "{one:#}");
        let (status, again) = send(&http, url, &key, &sample).await;
        assert_eq!(status, 200, "{again:#}");
        assert_eq!(again["alerts"][0]["outcome"], "duplicate");
        assert_eq!(again["alerts"][0]["alert_id"], one["alerts"][0]["alert_id"]);

        let generic = generic_alert("web01", 7);
        let (_, one) = send(&http, format!("{base}/api/v1/alerts"), &key, &generic).await;
        let (status, again) = send(&http, format!("{base}/api/v1/alerts"), &key, &generic).await;
        assert_eq!(status, 200);
        assert_eq!(again["alert_id"], one["alert_id"]);
        assert_eq!(store.count_alerts().await.unwrap(), 4);
        let b = common::get_json(&http, format!("{base}/api/v1/alerts/{second}"), &key).await;
        assert_eq!(b["vendor"], "Check Point", "{b:#}");
    }
}

/// Finding 7: a type error inside a tagged object (an environment's scope, an imported
/// system) names the field, not only the object — whatever the order of the fields.
#[tokio::test]
async fn type_errors_inside_scopes_and_systems_name_the_field() {
    let db = riposte_store::testing::sqlite().await;
    let (_, base, http, key) = analyst_server(&db).await;
    let environments = format!("{base}/api/v1/environments");
    let ssh = |extra: Value| {
        let mut scope = json!({"kind": "ssh", "cidrs": ["10.0.0.0/8"], "credential": "c"});
        scope
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        scope
    };
    for (scopes, at) in [
        (json!([ssh(json!({"port": "x"}))]), "scopes[0].port"),
        (json!([ssh(json!({"port": 70000}))]), "scopes[0].port"),
        (
            json!([ssh(json!({})), {"kind": "aws", "regions": ["us-east-1", 7]}]),
            "scopes[1].regions[1]",
        ),
        (
            json!([{"kind": "ssh", "cidrs": ["10.0.0.0/33"], "credential": "c"}]),
            "scopes[0].cidrs[0]",
        ),
        (
            json!([{"kind": "aws", "tags": {"env": 1}}]),
            "scopes[0].tags.env",
        ),
        (json!([{"kind": "gcp"}]), "scopes[0].kind"),
        (json!([{"kind": 3}]), "scopes[0].kind"),
    ] {
        let body = json!({"name": "e", "scopes": scopes});
        assert_eq!(
            fields(&send(&http, environments.clone(), &key, &body).await),
            [at],
            "{body}"
        );
    }
    // Fields before the tag in the text are named too.
    let r = http
        .post(&environments)
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(r#"{"name": "e", "scopes": [{"port": "x", "credential": "c", "kind": "ssh"}]}"#)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["fields"][0]["field"], "scopes[0].port", "{v:#}");
    // A missing field names the scope, where it belongs.
    let missing = json!({"name": "e", "scopes": [{"kind": "ssh", "cidrs": []}]});
    let answer = send(&http, environments.clone(), &key, &missing).await;
    assert_eq!(fields(&answer), ["scopes[0]"]);
    assert!(
        answer.1.to_string().contains("credential"),
        "{:#}",
        answer.1
    );

    let (status, project) = send(
        &http,
        format!("{base}/api/v1/projects"),
        &key,
        &json!({"name": "p"}),
    )
    .await;
    assert_eq!(status, 201, "{project:#}");
    let imports = format!(
        "{base}/api/v1/projects/{}/imports",
        project["id"].as_str().unwrap()
    );
    for (systems, at) in [
        (
            json!([{"kind": "host", "hostname": "a"}, {"kind": "host", "ip": "not-an-ip"}]),
            "systems[1].ip",
        ),
        (
            json!([{"kind": "ec2", "instance_id": 5, "region": "us-east-1"}]),
            "systems[0].instance_id",
        ),
        (json!([{"kind": "vm"}]), "systems[0].kind"),
    ] {
        let body = json!({"systems": systems});
        assert_eq!(
            fields(&send(&http, imports.clone(), &key, &body).await),
            [at],
            "{body}"
        );
    }
}

/// Found by the property test on Postgres: an alert whose event id is kilobytes of random
/// text (which Postgres cannot compress into its unique index) answered 500. It is one
/// alert, and its replay a duplicate, on both backends.
#[tokio::test]
async fn alerts_with_huge_event_ids_are_stored_and_deduplicated() {
    use sha2::{Digest, Sha256};
    let event_id: String = (0..200)
        .map(|i| hex::encode(Sha256::digest(format!("event {i}"))))
        .collect();
    for db in both().await {
        let (store, base, http, key) = analyst_server(&db).await;
        let alert = json!({"title": "t", "severity": "low", "event_id": event_id,
                           "target": {"hostname": "web01"}});
        let url = format!("{base}/api/v1/alerts");
        let (status, first) = send(&http, url.clone(), &key, &alert).await;
        assert_eq!(status, 202, "{}: {first:#}", db.name());
        let (status, again) = send(&http, url, &key, &alert).await;
        assert_eq!(status, 200, "{again:#}");
        assert_eq!(again["alert_id"], first["alert_id"]);
        assert_eq!(store.count_alerts().await.unwrap(), 1);
    }
}
