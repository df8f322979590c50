//! The web console. Over HTTP: the page and its assets with their security headers,
//! sessions (cookie attributes, CSRF on every change, roles, sign-out, a revoked key ending
//! its sessions) on SQLite and Postgres. In headless Chromium against a real server and
//! workers: sign in; create an environment ("Add group", checked with the resolve preview)
//! and a rule through the three-step wizard; a SECDO alert's investigation appears and
//! completes in the list without a reload;
//! its verdict, an alarm's evidence line and a timeline search hit; SECDO's two example
//! builder URLs, verbatim with the host changed, prefilled and answered; a viewer sees no
//! edit controls; a forged change without the CSRF token is refused. Screenshots of each
//! page go to the folder the test prints.

mod common;

use common::browser::Browser;
use common::{corpus, library, post_json, serve_state, spawn_workers, wait_for_finished};
use riposte_server::AppState;
use riposte_store::testing::{TestDb, both, sqlite};
use riposte_store::{MasterKey, Role};
use serde_json::{Value, json};
use std::path::Path;

/// SECDO's two example URLs, as its documentation writes them, with the host changed.
const NETWORK_QUERY: &str = "entity=network&action=outgoing_network, incoming_network,failed_network&attr=remote_ip:8.8.8.8|8.8.4.4";
const PROCESS_QUERY: &str =
    "entity=process&action=run&attr=file_name: powershell.exe,cmd:*download*|*encoded*";

async fn server(db: &TestDb, root: &Path) -> String {
    server_with(db, root, MasterKey::generate()).await
}

/// A server whose master key is `key` and whose outbound calls may reach loopback (a
/// local XDR API).
async fn server_with(db: &TestDb, root: &Path, key: MasterKey) -> String {
    serve_state(AppState {
        evidence_roots: riposte_rules::EvidenceRoots::new([root.to_path_buf()]),
        outbound: riposte_notify::OutboundPolicy {
            allow: vec!["127.0.0.1/32".parse().unwrap()],
        },
        ..AppState::new(db.store().clone(), key)
    })
    .await
}

/// A Falcon API answering the token and device-action calls; records each call's path and
/// body.
async fn falcon() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
) {
    use axum::response::IntoResponse;
    let calls: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>> = Default::default();
    let seen = calls.clone();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri, body: axum::body::Bytes| {
        let seen = seen.clone();
        async move {
            seen.lock()
                .unwrap()
                .push((uri.to_string(), String::from_utf8_lossy(&body).into_owned()));
            if uri.path() == "/oauth2/token" {
                return (
                    axum::http::StatusCode::CREATED,
                    axum::Json(
                        json!({"access_token": "tok", "token_type": "bearer", "expires_in": 1799}),
                    ),
                )
                    .into_response();
            }
            let request: Value = serde_json::from_slice(&body).unwrap_or_default();
            (
                axum::http::StatusCode::ACCEPTED,
                axum::Json(
                    json!({"meta": {}, "resources": [{"id": request["ids"][0]}], "errors": []}),
                ),
            )
                .into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, calls)
}

/// A cookie-less client (cookies are handled by hand, as a browser would send them).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in with `key`; returns the cookie pair and the CSRF token.
async fn sign_in(http: &reqwest::Client, base: &str, key: &str) -> (String, String) {
    let resp = http
        .post(format!("{base}/console/session"))
        .json(&json!({"api_key": key}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    let body: Value = resp.json().await.unwrap();
    let pair = cookie.split(';').next().unwrap().to_string();
    (pair, body["csrf"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn the_page_is_served_with_its_security_headers() {
    let db = sqlite().await;
    let tmp = tempfile::tempdir().unwrap();
    let base = server(&db, tmp.path()).await;
    let http = client();
    for (path, kind) in [
        ("/", "text/html"),
        ("/investigationNG/builder?entity=network", "text/html"),
        ("/console/app.js", "text/javascript"),
        ("/console/app.css", "text/css"),
    ] {
        let resp = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        let h = resp.headers();
        assert!(
            h["content-type"].to_str().unwrap().starts_with(kind),
            "{path}"
        );
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert_eq!(h["x-content-type-options"], "nosniff");
    }
    // Nothing outside: every asset the page names is the server's own.
    let page = http
        .get(format!("{base}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for attr in ["src=\"", "href=\""] {
        for part in page.split(attr).skip(1) {
            let target = part.split('"').next().unwrap();
            assert!(
                target.starts_with('/') || target.starts_with('#'),
                "{target}"
            );
        }
    }
}

#[tokio::test]
async fn sessions_carry_the_key_role_and_every_change_needs_the_csrf_token() {
    for db in both().await {
        eprintln!("backend: {}", db.name());
        let tmp = tempfile::tempdir().unwrap();
        let base = server(&db, tmp.path()).await;
        let store = db.store();
        let (analyst_id, analyst) = store.create_api_key("soc", Role::Analyst).await.unwrap();
        let (_, viewer) = store.create_api_key("intern", Role::Viewer).await.unwrap();
        let http = client();

        let resp = http
            .post(format!("{base}/console/session"))
            .json(&json!({"api_key": "rip_forged"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        assert!(resp.headers().get("set-cookie").is_none());

        let resp = http
            .post(format!("{base}/console/session"))
            .json(&json!({"api_key": analyst}))
            .send()
            .await
            .unwrap();
        let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
        for part in ["riposte_session=", "HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(cookie.contains(part), "{cookie}");
        }
        assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["role"], "analyst");
        let csrf = body["csrf"].as_str().unwrap().to_string();
        let pair = cookie.split(';').next().unwrap().to_string();
        // The key itself is never the cookie.
        assert!(!pair.contains(&analyst));

        let get = |pair: String| {
            http.get(format!("{base}/api/v1/investigations"))
                .header("cookie", pair)
                .send()
        };
        assert_eq!(get(pair.clone()).await.unwrap().status(), 200);
        let whoami: Value = http
            .get(format!("{base}/console/session"))
            .header("cookie", &pair)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(whoami["csrf"], csrf.as_str());

        // A change with the cookie alone (what a forged cross-site form sends) is refused.
        let create = |token: Option<&str>| {
            let mut req = http
                .post(format!("{base}/api/v1/projects"))
                .header("cookie", &pair)
                .json(&json!({"name": "from the console"}));
            if let Some(token) = token {
                req = req.header("x-csrf-token", token);
            }
            req.send()
        };
        let resp = create(None).await.unwrap();
        assert_eq!(resp.status(), 403);
        let err: Value = resp.json().await.unwrap();
        assert!(err["error"].as_str().unwrap().contains("CSRF"), "{err:#}");
        assert_eq!(create(Some("not-the-token")).await.unwrap().status(), 403);
        assert_eq!(create(Some(&csrf)).await.unwrap().status(), 201);
        assert_eq!(store.list_projects(10, 0).await.unwrap().len(), 1);

        // A viewer's session reads and is refused changes like its key.
        let (viewer_pair, viewer_csrf) = sign_in(&http, &base, &viewer).await;
        let resp = http
            .post(format!("{base}/api/v1/projects"))
            .header("cookie", &viewer_pair)
            .header("x-csrf-token", &viewer_csrf)
            .json(&json!({"name": "nope"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403);

        // Behind TLS the cookie is Secure.
        let resp = http
            .post(format!("{base}/console/session"))
            .header("x-forwarded-proto", "https")
            .json(&json!({"api_key": viewer}))
            .send()
            .await
            .unwrap();
        assert!(
            resp.headers()["set-cookie"]
                .to_str()
                .unwrap()
                .contains("; Secure")
        );

        // Sign-out needs the token too, then the cookie is dead.
        let out = |token: &str| {
            http.delete(format!("{base}/console/session"))
                .header("cookie", &pair)
                .header("x-csrf-token", token)
                .send()
        };
        assert_eq!(out("wrong").await.unwrap().status(), 403);
        let resp = out(&csrf).await.unwrap();
        assert_eq!(resp.status(), 204);
        assert!(
            resp.headers()["set-cookie"]
                .to_str()
                .unwrap()
                .contains("Max-Age=0")
        );
        assert_eq!(get(pair.clone()).await.unwrap().status(), 401);

        // Revoking a key ends its sessions.
        let (pair, _) = sign_in(&http, &base, &analyst).await;
        assert_eq!(get(pair.clone()).await.unwrap().status(), 200);
        assert!(store.revoke_api_key(&analyst_id.id).await.unwrap());
        assert_eq!(get(pair).await.unwrap().status(), 401);
    }
}

/// The page passes the accessibility check.
async fn check_page(browser: &Browser) {
    let problems = browser.accessibility_problems().await;
    assert!(problems.is_empty(), "accessibility: {problems:#?}");
}

/// A host folder of `lib` holding corpus EVTX `files` as its Windows event logs.
fn windows_host(lib: &Path, name: &str, files: &[&str]) {
    let logs = lib.join(name).join("Windows/System32/winevt/Logs");
    std::fs::create_dir_all(&logs).unwrap();
    for file in files {
        let from = corpus().join("evtx").join(file);
        std::fs::copy(&from, logs.join(Path::new(file).file_name().unwrap()))
            .unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    }
}

#[tokio::test]
async fn an_analyst_follows_an_investigation_and_opens_secdo_links_in_chromium() {
    let db = sqlite().await;
    let tmp = tempfile::tempdir().unwrap();
    let lib = library(tmp.path());
    // The corpus files of the event query tests (a PowerShell download cradle among them).
    windows_host(
        &lib,
        "ws-b",
        &[
            "Lateral Movement/LM_DCOM_MSHTA_LethalHTA_Sysmon_3_1.evtx",
            "Lateral Movement/wmi_remote_registry_sysmon.evtx",
            "AutomatedTestingTools/panache_sysmon_vs_EDRTestingScript.evtx",
            "Privilege Escalation/Sysmon_13_1_UAC_Bypass_EventVwrBypass.evtx",
            "Lateral Movement/lateral_movement_startup_3_11.evtx",
            "Execution/execution_evasion_visual_studio_prebuild_event.evtx",
            "Privilege Escalation/Sysmon_13_1_UACBypass_SDCLTBypass.evtx",
        ],
    );
    let store = db.store().clone();
    let master_key = MasterKey::generate();
    let base = server_with(&db, tmp.path(), master_key.clone()).await;
    let _workers = spawn_workers(&store, tmp.path(), 2);
    let (_, analyst) = store.create_api_key("soc", Role::Analyst).await.unwrap();
    let (_, viewer) = store.create_api_key("intern", Role::Viewer).await.unwrap();
    let http = reqwest::Client::new();
    let shots = std::env::temp_dir().join(format!("riposte-console-{}", std::process::id()));
    std::fs::create_dir_all(&shots).unwrap();
    println!("console screenshots: {}", shots.display());

    let browser = Browser::start().await;
    browser.goto(&format!("{base}/")).await;
    let key = browser.find("#api-key").await;
    browser.type_into(&key, "rip_wrong").await;
    browser
        .click(&browser.find("button[type=submit]").await)
        .await;
    browser.wait_text("main", "unknown or revoked").await;
    let key = browser.find("#api-key").await;
    browser.clear(&key).await;
    browser.type_into(&key, &analyst).await;
    check_page(&browser).await;
    // The check finds what it looks for: an unlabelled field, faint text.
    browser
        .script("document.body.insertAdjacentHTML('beforeend', '<div id=bad><input id=naked><p>faint</p></div>'); document.querySelector('#bad p').style.color = '#ddd';")
        .await;
    let problems = browser.accessibility_problems().await;
    assert!(
        problems
            .iter()
            .any(|p| p.contains("unlabelled input naked")),
        "{problems:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("contrast") && p.contains("faint")),
        "{problems:#?}"
    );
    browser
        .script("document.getElementById('bad').remove()")
        .await;
    browser.screenshot(&shots.join("sign-in.png")).await;
    browser
        .click(&browser.find("button[type=submit]").await)
        .await;
    browser
        .wait_text("#inv-rows", "No investigations yet")
        .await;

    // An environment through "Add group", checked with the resolve preview.
    browser.goto(&format!("{base}/#/environments")).await;
    browser.wait_text("#list-rows", "No environments yet").await;
    browser
        .click(&browser.find("#add-group summary").await)
        .await;
    browser
        .type_into(&browser.find("#e-name").await, "lab")
        .await;
    browser
        .type_into(&browser.find("#e-folder").await, &lib.display().to_string())
        .await;
    browser
        .click(&browser.find("#env-form button[type=submit]").await)
        .await;
    browser.wait_text("#list-rows", "library folder").await;
    browser.click(&browser.find("#resolve summary").await).await;
    browser
        .type_into(&browser.find("#v-ip").await, "10.20.0.9")
        .await;
    browser
        .click(&browser.find("#resolve-form button[type=submit]").await)
        .await;
    browser.wait_text("#resolve-answer", "Covered by lab").await;
    check_page(&browser).await;
    browser.screenshot(&shots.join("environments.png")).await;

    // A rule through the three-step wizard.
    browser.goto(&format!("{base}/#/rules")).await;
    browser.wait_text("#list-rows", "No rules yet").await;
    browser.click(&browser.find("#new-rule").await).await;
    browser
        .type_into(&browser.find("#r-name").await, "secdo-lab")
        .await;
    browser
        .script("const s = document.getElementById('r-source'); s.value = 'secdo'; s.dispatchEvent(new Event('change'));")
        .await;
    browser
        .click(&browser.find("#step-1 button.next").await)
        .await;
    browser.find("#step-2:not([hidden]) #r-env").await;
    browser
        .script("const s = document.getElementById('r-env'); s.value = [...s.options].find(o => o.text === 'lab').value;")
        .await;
    browser
        .click(&browser.find("#step-2 button.next").await)
        .await;
    browser.find("#step-3:not([hidden])").await;
    let permissions = browser.text("#step-3").await;
    assert!(permissions.contains("ec2:StopInstances"), "{permissions}");
    check_page(&browser).await;
    browser.screenshot(&shots.join("rule-wizard.png")).await;
    browser.click(&browser.find("#r-save").await).await;
    browser.wait_text("#list-rows", "secdo-lab").await;
    let rules: Value = http
        .get(format!("{base}/api/v1/rules"))
        .bearer_auth(&analyst)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rules["rules"][0]["source"], "secdo", "{rules:#}");
    assert!(rules["rules"][0]["environment_id"].is_string(), "{rules:#}");

    // A firewall alert about the victim's address starts an investigation that appears,
    // and completes, in the open list.
    browser.goto(&format!("{base}/#/")).await;
    browser
        .wait_text("#inv-rows", "No investigations yet")
        .await;
    let alert = common::post_secdo(&http, &base, &analyst, "10.20.0.9", "console-1").await;
    browser.wait_text("#inv-rows", "victim").await;
    // The source's card lists the alert.
    browser
        .goto(&format!("{base}/#/detections/integrations"))
        .await;
    browser
        .wait_text("section[data-source=secdo]", "started by rule secdo-lab")
        .await;
    check_page(&browser).await;
    browser.goto(&format!("{base}/#/")).await;
    let victim = loop {
        let a = common::get_json(&http, format!("{base}/api/v1/alerts/{alert}"), &analyst).await;
        if let Some(inv) = a["investigation_id"].as_str() {
            break inv.to_string();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let project: Value = post_json(
        &http,
        format!("{base}/api/v1/projects"),
        &analyst,
        &json!({"name": "console"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let imported: Value = post_json(
        &http,
        format!(
            "{base}/api/v1/projects/{}/imports",
            project["id"].as_str().unwrap()
        ),
        &analyst,
        &json!({"systems": [{"kind": "path", "path": lib.join("ws-b").display().to_string()}]}),
    )
    .await
    .json()
    .await
    .unwrap();
    let ws_b = imported["investigations"][0]["investigation_id"]
        .as_str()
        .unwrap()
        .to_string();
    for inv in [&victim, &ws_b] {
        wait_for_finished(&http, &base, &analyst, inv).await;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while browser.text("#inv-rows").await.matches("complete").count() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            browser.text("#inv-rows").await
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    check_page(&browser).await;
    browser.screenshot(&shots.join("investigations.png")).await;

    // The victim's story: verdict, an alarm's evidence line, a timeline hit.
    browser
        .goto(&format!("{base}/#/investigations/{victim}"))
        .await;
    let verdict = browser.wait_text("#verdict", "Activity").await;
    // The SECDO alert that started it, normalized and raw.
    browser.wait_text("#alert-box", "Check Point").await;
    assert!(
        browser
            .script("return document.querySelector('#alert-box pre').textContent")
            .await
            .as_str()
            .unwrap()
            .contains("OutgoingConnectionEvent")
    );
    assert!(
        verdict.contains("Malicious") || verdict.contains("Suspicious"),
        "{verdict}"
    );
    browser.click(&browser.find(".evref").await).await;
    browser.wait_text("#evidence-lines", "victim").await;
    let text = browser.find("#tl-text").await;
    browser.type_into(&text, "dev/tcp").await;
    browser
        .click(&browser.find("#timeline-form button[type=submit]").await)
        .await;
    browser.wait_text("#timeline-rows", "183.62.140.253").await;
    // The event's origin opens its evidence item.
    browser
        .click(&browser.find("#timeline-rows details summary").await)
        .await;
    browser
        .click(&browser.find("#timeline-rows .to-evidence").await)
        .await;
    let highlighted = browser.text("#evidence-rows tr.highlight").await;
    assert!(highlighted.contains("/root/.bash_history"), "{highlighted}");
    // A time range before anything happened finds nothing.
    browser
        .script("document.getElementById('tl-to').value = '2000-01-01T00:00:00';")
        .await;
    browser
        .click(&browser.find("#timeline-form button[type=submit]").await)
        .await;
    browser.wait_text("#timeline-rows", "No events match").await;
    browser
        .script("document.getElementById('tl-to').value = '';")
        .await;
    // The pipeline's stages, done.
    let stages = browser.text("#job-rows").await;
    assert!(
        stages.contains("collect") && stages.contains("detect"),
        "{stages}"
    );
    check_page(&browser).await;
    browser.screenshot(&shots.join("investigation.png")).await;

    // A containment of the victim in the XDR, released from its page.
    let (falcon_url, falcon_calls) = falcon().await;
    let connection = store
        .create_connection(
            &master_key,
            &riposte_store::testing::falcon_connection(&falcon_url),
        )
        .await
        .unwrap();
    let device = "4d8a4c1ef11a4e0b9d1b1f9a6c2e7b3d";
    let mut record = riposte_model::ActionRecord::new(
        riposte_model::ResponseAction::ContainHost,
        riposte_model::ActionTarget::Xdr(riposte_model::XdrHost {
            vendor: "crowdstrike".into(),
            host_id: device.into(),
            connection_id: connection.id.clone(),
        }),
        false,
    );
    record.investigation_id = Some(victim.parse().unwrap());
    record.status = riposte_model::ActionStatus::Succeeded;
    record.change = Some(riposte_model::ActionChange::ContainHost {
        vendor: "crowdstrike".into(),
        host_id: device.into(),
        previous_state: Some("normal".into()),
        vendor_action_id: None,
        contained: true,
    });
    store.insert_action_record(&record).await.unwrap();
    browser.goto(&format!("{base}/#/")).await;
    browser
        .goto(&format!("{base}/#/investigations/{victim}"))
        .await;
    browser
        .click(&browser.find("button[data-release]").await)
        .await;
    browser.wait_text("#action-rows", "released").await;
    assert!(
        falcon_calls.lock().unwrap().iter().any(|(path, body)| {
            path == "/devices/entities/devices-actions/v2?action_name=lift_containment"
                && body == &format!(r#"{{"ids":["{device}"]}}"#)
        }),
        "{:?}",
        falcon_calls.lock().unwrap()
    );
    assert!(!browser.exists("button[data-release]").await);

    // SECDO's links, verbatim with the host changed: prefilled, answered as the API does.
    for (query, fragment) in [
        (PROCESS_QUERY, true),
        (NETWORK_QUERY, true),
        (PROCESS_QUERY, false),
    ] {
        let url = if fragment {
            format!("{base}/#/investigationNG/builder?{query}")
        } else {
            format!("{base}/investigationNG/builder?{query}")
        };
        browser.goto(&url).await;
        browser.find("#q-rows").await;
        let api: Value = http
            .get(format!("{base}/api/v1/events?{query}"))
            .bearer_auth(&analyst)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let expected = api["events"].as_array().unwrap().len();
        let attr = query.split("attr=").nth(1).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let shown = browser
                .script("return [document.getElementById('q-entity').value, document.getElementById('q-attr').value, [...document.querySelectorAll('#q-actions input:checked')].map(i => i.value).join(','), document.querySelectorAll('#q-rows tr').length, document.getElementById('q-rows').innerText];")
                .await;
            let rows = shown[3].as_u64().unwrap_or(0) as usize;
            let text = shown[4].as_str().unwrap_or_default().to_string();
            let done = if expected == 0 {
                text.contains("No events match")
            } else {
                rows == expected
            };
            if done {
                assert_eq!(
                    shown[0],
                    query
                        .split('&')
                        .next()
                        .unwrap()
                        .trim_start_matches("entity=")
                );
                assert_eq!(
                    shown[1], attr,
                    "the attribute filter is shown exactly as given"
                );
                if query.starts_with("entity=process") {
                    assert_eq!(shown[2], "run");
                    assert!(text.to_lowercase().contains("powershell"), "{text}");
                } else {
                    assert_eq!(shown[2], "outgoing_network,incoming_network,failed_network");
                }
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "builder shows {shown:#} for {query}; the API has {expected}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        assert!(expected > 0 || query.starts_with("entity=network"));
    }
    check_page(&browser).await;
    browser.screenshot(&shots.join("query-builder.png")).await;

    // A change forged from the page without the CSRF token is refused; with it, it lands.
    let forged = browser
        .script_async("const done = arguments[arguments.length - 1]; fetch('/api/v1/projects', {method: 'POST', credentials: 'same-origin', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({name: 'forged'})}).then(r => done(r.status));")
        .await;
    assert_eq!(forged, 403);

    // An analyst can run a hunt from the list; a viewer sees no such control.
    let hunt = post_json(
        &http,
        format!("{base}/api/v1/hunts"),
        &analyst,
        &json!({"name": "weekly", "schedule": {"cron": "0 2 * * SUN"}, "scopes": [{"environment": "lab"}]}),
    )
    .await;
    assert_eq!(hunt.status(), 201);
    browser.goto(&format!("{base}/#/hunts")).await;
    browser.wait_text("#list-rows", "weekly").await;
    assert!(browser.exists("button[data-post]").await);
    browser.click(&browser.find("#signout").await).await;
    browser.wait_text("main", "Signed out").await;
    let key = browser.find("#api-key").await;
    browser.type_into(&key, &viewer).await;
    browser
        .click(&browser.find("button[type=submit]").await)
        .await;
    browser.wait_text("#role", "viewer").await;
    browser.goto(&format!("{base}/#/hunts")).await;
    browser.wait_text("#list-rows", "weekly").await;
    assert!(
        !browser.exists("button[data-post]").await,
        "a viewer sees no Run button"
    );
    // Dark, as the system asks: still readable.
    browser.prefer_dark(true).await;
    let body = browser
        .script("return getComputedStyle(document.body).backgroundColor")
        .await;
    assert_eq!(body, "rgb(13, 17, 23)", "the dark palette applies");
    check_page(&browser).await;
    browser
        .screenshot(&shots.join("hunts-viewer-dark.png"))
        .await;
    browser
        .goto(&format!("{base}/#/investigations/{victim}"))
        .await;
    browser.wait_text("#verdict", "Activity").await;
    check_page(&browser).await;
    browser.prefer_dark(false).await;
    check_page(&browser).await;
    browser.screenshot(&shots.join("hunts-viewer.png")).await;
}

/// How fast the investigation page renders for a big timeline, and a timeline page
/// change, measured in Chromium (`performance.now()`); printed, not asserted. The size is
/// `RIPOSTE_CONSOLE_EVENTS` (default 20,000; the note's figures are for 1,000,000).
#[tokio::test]
async fn a_big_investigation_renders_and_pages_in_chromium() {
    use chrono::{TimeZone, Utc};
    use riposte_model::{
        Action, Event, EventOrigin, Investigation, InvestigationId, InvestigationStatus, Target,
    };
    let total: u64 = std::env::var("RIPOSTE_CONSOLE_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let db = sqlite().await;
    let tmp = tempfile::tempdir().unwrap();
    let store = db.store().clone();
    let base = server(&db, tmp.path()).await;
    let (_, viewer) = store.create_api_key("intern", Role::Viewer).await.unwrap();
    let inv = Investigation {
        id: InvestigationId::new(),
        title: "big host".into(),
        status: InvestigationStatus::Complete,
        target: Target::default(),
        host: "big".into(),
        alert_ids: Vec::new(),
        verdict: None,
        error: None,
        project_id: None,
        plan: None,
        acquisition: None,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    };
    let mut tx = store.begin().await.unwrap();
    riposte_store::Store::create_investigation(&mut tx, &inv)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let started = std::time::Instant::now();
    let chunk = 50_000;
    for first in (0..total).step_by(chunk as usize) {
        let events: Vec<Event> = (first..(first + chunk).min(total))
            .map(|i| {
                Event::new(
                    Some(Utc.timestamp_opt(1_700_000_000 + i as i64, 0).unwrap()),
                    "big",
                    Action::ProcessRun,
                    format!("process svchost.exe -k task{}", i % 97),
                    EventOrigin {
                        parser: "bench".into(),
                        path: "/bench".into(),
                        record: Some(i),
                    },
                )
                .with("file_name", "svchost.exe")
            })
            .collect();
        let mut tx = store.begin().await.unwrap();
        riposte_store::Store::insert_events(&mut tx, inv.id, first, &events)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    println!(
        "{total} events stored in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let browser = Browser::start().await;
    browser.goto(&format!("{base}/")).await;
    browser
        .type_into(&browser.find("#api-key").await, &viewer)
        .await;
    browser
        .click(&browser.find("button[type=submit]").await)
        .await;
    browser.find("#inv-rows a").await;
    // A fresh load of the page, timed from navigation start to the timeline's first rows.
    browser.goto("about:blank").await;
    browser
        .goto(&format!("{base}/#/investigations/{}", inv.id))
        .await;
    browser.find("#timeline-rows tr").await;
    let first_render = browser.script("return performance.now()").await;
    let shown = browser.text("#inv-status").await;
    assert_eq!(shown, "complete");
    let summary = browser.text("#verdict-title + p + ul + p").await;
    assert!(summary.contains(&format!("{total} events")), "{summary}");
    // The next page, timed from the click to the rows replaced.
    let page_change = browser
        .script_async(
            "const done = arguments[arguments.length - 1];
             const rows = document.getElementById('timeline-rows');
             const before = rows.children.length;
             const t0 = performance.now();
             new MutationObserver((_, o) => { if (rows.children.length > before) { o.disconnect(); done(performance.now() - t0); } })
               .observe(rows, {childList: true});
             document.getElementById('tl-next').click();",
        )
        .await;
    let rows = browser
        .script("return document.querySelectorAll('#timeline-rows tr').length")
        .await;
    assert_eq!(rows, 100, "two pages of 50");
    println!(
        "investigation page with {total} events: first render {:.0} ms after navigation start; next timeline page {:.0} ms",
        first_render.as_f64().unwrap_or_default(),
        page_change.as_f64().unwrap_or_default()
    );
}

/// Settings in Chromium, as an admin: a webhook with a live template preview (a broken
/// template shows why), added and sent a test that arrives; a push integration and an API
/// key, each secret shown once (the key works, then is revoked and stops working).
#[tokio::test]
async fn an_admin_configures_webhooks_integrations_and_keys_in_chromium() {
    let db = sqlite().await;
    let tmp = tempfile::tempdir().unwrap();
    let store = db.store().clone();
    let base = server_with(&db, tmp.path(), MasterKey::generate()).await;
    let (_, admin) = store.create_api_key("root", Role::Admin).await.unwrap();
    let (hook, received) = common::webhook_receiver().await;
    let http = reqwest::Client::new();
    let browser = Browser::start().await;
    browser.goto(&format!("{base}/")).await;
    browser
        .type_into(&browser.find("#api-key").await, &admin)
        .await;
    browser
        .click(&browser.find("button[type=submit]").await)
        .await;
    browser.find("#inv-rows").await;
    browser.goto(&format!("{base}/#/settings")).await;
    browser.wait_text("#wh-rows", "No webhooks yet").await;
    browser.click(&browser.find("#wh-add summary").await).await;
    // The preset's own body first, then the template as it is typed.
    browser
        .wait_text("#wh-preview", "\"event\": \"test\"")
        .await;
    let template = browser.find("#wh-template").await;
    browser
        .type_into(&template, r#"{"text": "$Title on $Nope"}"#)
        .await;
    browser.wait_text("#wh-preview", "Nope").await;
    assert!(
        browser
            .script("return document.getElementById('wh-preview').classList.contains('error')")
            .await
            .as_bool()
            .unwrap()
    );
    browser.clear(&template).await;
    browser
        .type_into(&template, r#"{"text": "$Title on $Host"}"#)
        .await;
    browser
        .wait_text(
            "#wh-preview",
            r#"{"text": "Test notification from Riposte to this webhook on test-host"}"#,
        )
        .await;
    browser
        .type_into(&browser.find("#wh-name").await, "soc")
        .await;
    browser
        .type_into(&browser.find("#wh-url").await, &hook)
        .await;
    check_page(&browser).await;
    browser
        .click(&browser.find("#wh-form button[type=submit]").await)
        .await;
    browser.wait_text("#wh-rows", "soc").await;
    browser
        .click(&browser.find("button[data-test]").await)
        .await;
    browser.wait_text("#settings-msg", "Test delivered").await;
    {
        let got = received.lock().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0].1["text"],
            "Test notification from Riposte to soc on test-host"
        );
    }

    // A push integration: its URL listed, its secret shown once.
    browser
        .type_into(&browser.find("#int-name").await, "gd")
        .await;
    browser
        .script("document.getElementById('int-source').value = 'guardduty';")
        .await;
    browser
        .click(&browser.find("#int-form button[type=submit]").await)
        .await;
    let secret = browser.wait_text("#one-time", "Secret of gd").await;
    assert!(
        browser.text("#one-time-value").await.len() >= 20,
        "{secret}"
    );
    browser.wait_text("#int-rows", "/hooks/").await;

    // An XDR connection, tested with the vendor's answer shown; a SIEM export.
    let (falcon_url, falcon_calls) = falcon().await;
    browser
        .click(&browser.find("#conn-add summary").await)
        .await;
    browser
        .type_into(&browser.find("#conn-name").await, "falcon-eu")
        .await;
    let settings = browser.find("#conn-settings").await;
    browser.clear(&settings).await;
    browser
        .type_into(
            &settings,
            &json!({"base_url": falcon_url, "client_id": "riposte-client"}).to_string(),
        )
        .await;
    browser
        .type_into(&browser.find("#conn-secret").await, "falcon-secret")
        .await;
    browser
        .click(&browser.find("#conn-form button[type=submit]").await)
        .await;
    browser.wait_text("#conn-rows", "falcon-eu").await;
    browser
        .click(&browser.find("button[data-conn-test]").await)
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while browser.text("#conn-msg").await.trim().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the connection test showed nothing"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        falcon_calls
            .lock()
            .unwrap()
            .iter()
            .any(|(path, _)| path == "/oauth2/token"),
        "the test asked the vendor"
    );
    browser
        .click(&browser.find("#siem-add summary").await)
        .await;
    browser
        .type_into(&browser.find("#siem-name").await, "splunk")
        .await;
    browser
        .type_into(
            &browser.find("#siem-url").await,
            &hook.replace("/hook", "/collector"),
        )
        .await;
    browser
        .type_into(&browser.find("#siem-token").await, "hec-token")
        .await;
    browser
        .click(&browser.find("#siem-form button[type=submit]").await)
        .await;
    browser.wait_text("#siem-rows", "splunk_hec").await;

    // An API key: shown once, works, revoked, stops working.
    browser
        .type_into(&browser.find("#key-name").await, "siem")
        .await;
    browser
        .click(&browser.find("#key-form button[type=submit]").await)
        .await;
    browser
        .wait_text("#one-time", "API key siem (viewer)")
        .await;
    let key = browser.text("#one-time-value").await;
    let status = |key: String| {
        let http = http.clone();
        let url = format!("{base}/api/v1/investigations");
        async move {
            http.get(url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(status(key.clone()).await, 200);
    check_page(&browser).await;
    browser
        .screenshot(&std::env::temp_dir().join("riposte-console-settings.png"))
        .await;
    let revoke = browser
        .script("return [...document.querySelectorAll('#key-rows tr')].find(r => r.textContent.includes('siem')).querySelector('button').dataset.revoke")
        .await;
    browser
        .click(
            &browser
                .find(&format!(
                    "button[data-revoke='{}']",
                    revoke.as_str().unwrap()
                ))
                .await,
        )
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while status(key.clone()).await != 401 {
        assert!(
            std::time::Instant::now() < deadline,
            "the revoked key still works"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
