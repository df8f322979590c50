//! Push integrations on SQLite and Postgres: per-integration URLs and secrets, bearer and
//! HMAC authentication, the replay window, and bad input that must store nothing.

mod common;

use common::{corpus, get_json, post_json, serve_in_process};
use riposte_notify::sign;
use riposte_store::testing::both;
use riposte_store::{Role, Store};
use serde_json::{Value, json};

fn sample(path: &str) -> Vec<u8> {
    std::fs::read(corpus().join("alerts").join(path)).unwrap()
}

async fn alert_count(store: &Store) -> i64 {
    store.count_alerts().await.unwrap()
}

async fn post_raw(
    http: &reqwest::Client,
    url: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> reqwest::Response {
    let mut req = http
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn each_integration_authenticates_its_own_requests() {
    for db in both().await {
        eprintln!("backend: {}", db.name());
        let store = db.store().clone();
        let base = serve_in_process(store.clone()).await;
        let http = reqwest::Client::new();
        let (_, admin) = store.create_api_key("admin", Role::Admin).await.unwrap();
        let (_, analyst) = store
            .create_api_key("analyst", Role::Analyst)
            .await
            .unwrap();
        let (_, viewer) = store.create_api_key("viewer", Role::Viewer).await.unwrap();

        // Only admins create integrations; validation names the field.
        let integrations = format!("{base}/api/v1/integrations");
        let s1_spec = json!({"name": "s1-prod", "source": "sentinelone"});
        for key in [&analyst, &viewer] {
            assert_eq!(
                post_json(&http, &integrations, key, &s1_spec)
                    .await
                    .status(),
                403
            );
        }
        let r = post_json(
            &http,
            &integrations,
            &admin,
            &json!({"name": "x", "source": "qradar"}),
        )
        .await;
        assert_eq!(r.status(), 422);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["fields"][0]["field"], "source", "{body}");
        let r = post_json(&http, &integrations, &admin, &s1_spec).await;
        assert_eq!(r.status(), 201);
        let s1: Value = r.json().await.unwrap();
        let s1_url = s1["url"]
            .as_str()
            .unwrap()
            .replace("http://127.0.0.1:8080", &base);
        let s1_secret = s1["secret"].as_str().unwrap().to_string();
        assert!(s1_url.ends_with(&format!("/hooks/{}", s1["id"].as_str().unwrap())));
        assert_eq!(
            post_json(&http, &integrations, &admin, &s1_spec)
                .await
                .status(),
            422,
            "duplicate name"
        );
        let wiz: Value = post_json(
            &http,
            &integrations,
            &admin,
            &json!({"name": "wiz", "source": "wiz"}),
        )
        .await
        .json()
        .await
        .unwrap();
        let wiz_url = wiz["url"]
            .as_str()
            .unwrap()
            .replace("http://127.0.0.1:8080", &base);
        let wiz_secret = wiz["secret"].as_str().unwrap().to_string();
        assert_ne!(wiz_secret, s1_secret);

        // Listing (viewer) never shows secrets.
        let listed = get_json(&http, &integrations, &viewer).await;
        assert_eq!(listed["integrations"].as_array().unwrap().len(), 2);
        assert!(!listed.to_string().contains(&s1_secret));

        // A SentinelOne threat with the integration's bearer secret is accepted as SentinelOne.
        let threat = sample("sentinelone/sekoia-threat-infostealer-mimikatz.json");
        let bearer = |s: &str| ("authorization", format!("Bearer {s}"));
        for headers in [
            vec![],
            vec![bearer("wrong")],
            vec![bearer(&wiz_secret)],
            vec![bearer(&admin)],
        ] {
            let r = post_raw(&http, &s1_url, &headers, threat.clone()).await;
            assert_eq!(r.status(), 401, "{headers:?}");
        }
        assert_eq!(
            alert_count(&store).await,
            0,
            "refused requests stored nothing"
        );
        let r = post_raw(&http, &s1_url, &[bearer(&s1_secret)], threat.clone()).await;
        assert_eq!(r.status(), 202);
        let accepted: Value = r.json().await.unwrap();
        let alert_id = accepted["alerts"][0]["alert_id"]
            .as_str()
            .unwrap()
            .to_string();
        let alert = get_json(&http, format!("{base}/api/v1/alerts/{alert_id}"), &viewer).await;
        assert_eq!(alert["source"], "sentinelone", "{alert}");
        // The same threat again is a duplicate, not a second alert.
        let r = post_raw(&http, &s1_url, &[bearer(&s1_secret)], threat.clone()).await;
        assert_eq!(r.status(), 200);
        assert_eq!(alert_count(&store).await, 1);

        // An unknown integration looks exactly like a wrong secret.
        let unknown = format!("{base}/hooks/00000000000000000000000000000000");
        let r = post_raw(&http, &unknown, &[bearer(&s1_secret)], threat.clone()).await;
        assert_eq!(r.status(), 401);

        // HMAC: a fresh signature is accepted once; a replay, a stale timestamp, a signature
        // over another body or with another secret are refused, and none of them stores anything.
        let issue = sample("wiz/sekoia-issue-critical-vulnerability-findings.json");
        let now = chrono::Utc::now().timestamp();
        let signed = ("x-riposte-signature", sign(&wiz_secret, now, &issue));
        let r = post_raw(
            &http,
            &wiz_url,
            std::slice::from_ref(&signed),
            issue.clone(),
        )
        .await;
        assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
        let count = alert_count(&store).await;
        let r = post_raw(
            &http,
            &wiz_url,
            std::slice::from_ref(&signed),
            issue.clone(),
        )
        .await;
        assert_eq!(r.status(), 401, "replay");
        assert!(r.text().await.unwrap().contains("replay"));
        let stale = ("x-riposte-signature", sign(&wiz_secret, now - 600, &issue));
        let r = post_raw(&http, &wiz_url, &[stale], issue.clone()).await;
        assert_eq!(r.status(), 401);
        assert!(r.text().await.unwrap().contains("clock"));
        let other_secret = ("x-riposte-signature", sign(&s1_secret, now, &issue));
        assert_eq!(
            post_raw(&http, &wiz_url, &[other_secret], issue.clone())
                .await
                .status(),
            401
        );
        let mut tampered = issue.clone();
        tampered.extend_from_slice(b" ");
        assert_eq!(
            post_raw(&http, &wiz_url, std::slice::from_ref(&signed), tampered)
                .await
                .status(),
            401
        );
        let malformed = ("x-riposte-signature", "sha256=abc".to_string());
        assert_eq!(
            post_raw(&http, &wiz_url, &[malformed], issue.clone())
                .await
                .status(),
            401
        );
        assert_eq!(alert_count(&store).await, count);

        // Bad bodies from an authenticated sender: each its own 4xx, nothing stored.
        let auth = [bearer(&s1_secret)];
        let truncated = threat[..threat.len() / 2].to_vec();
        let r = post_raw(&http, &s1_url, &auth, truncated).await;
        assert_eq!(r.status(), 400);
        assert!(r.text().await.unwrap().contains("not valid JSON"));
        let r = post_raw(
            &http,
            &s1_url,
            &auth,
            br#"{"threatInfo": 7, "agentRealtimeInfo": "x"}"#.to_vec(),
        )
        .await;
        assert_eq!(r.status(), 422);
        let body: Value = r.json().await.unwrap();
        assert!(!body["fields"].as_array().unwrap().is_empty(), "{body}");
        let r = post_raw(&http, &s1_url, &auth, b"[1,2]".to_vec()).await;
        assert_eq!(r.status(), 400);
        let mut huge = b"{\"pad\":\"".to_vec();
        huge.resize(10 * 1024 * 1024, b'a');
        huge.extend_from_slice(b"\"}");
        let r = post_raw(&http, &s1_url, &auth, huge).await;
        assert_eq!(r.status(), 413);
        assert_eq!(alert_count(&store).await, count);

        // Rotation: the old secret stops working at once; deletion closes the URL.
        let id = s1["id"].as_str().unwrap();
        let r = http
            .post(format!("{integrations}/{id}/secret"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let rotated = r.json::<Value>().await.unwrap()["secret"]
            .as_str()
            .unwrap()
            .to_string();
        let other = sample("sentinelone/sekoia-threat-linux-apprun-docker.json");
        assert_eq!(
            post_raw(&http, &s1_url, &[bearer(&s1_secret)], other.clone())
                .await
                .status(),
            401
        );
        assert_eq!(
            post_raw(&http, &s1_url, &[bearer(&rotated)], other.clone())
                .await
                .status(),
            202
        );
        let r = http
            .delete(format!("{integrations}/{id}"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        assert_eq!(
            post_raw(&http, &s1_url, &[bearer(&rotated)], other)
                .await
                .status(),
            401
        );

        // The audit trail names the integration that brought each alert.
        let actors: Vec<String> =
            sqlx::query_scalar("SELECT actor FROM audit_log WHERE action = 'alert.accepted'")
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert!(
            actors.contains(&"integration:s1-prod".to_string()),
            "{actors:?}"
        );
        assert!(
            actors.contains(&"integration:wiz".to_string()),
            "{actors:?}"
        );
    }
}
