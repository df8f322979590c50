//! Fixtures and helpers shared by the GuardDuty pull tests. The findings are written for
//! these tests after the documented GetFindings shape (camelCase), not copied from anywhere.

// Each test binary uses a different subset of the helpers.
#![allow(dead_code)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use riposte_aws::GuardDutyPoller;
use riposte_sources::poll::{AlertPoller, PollError, PollWindow};
use serde_json::{Value, json};

/// The account every fixture finding belongs to.
pub const ACCOUNT: &str = "111122223333";

/// 2026-01-05T10:00:00Z, the fixtures' time origin.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap()
}

/// `t0` plus `ms` milliseconds.
pub fn at(ms: i64) -> DateTime<Utc> {
    t0() + Duration::milliseconds(ms)
}

/// The window `[since, until)` in milliseconds after `t0`.
pub fn window(since_ms: i64, until_ms: i64) -> PollWindow {
    PollWindow {
        since: at(since_ms),
        until: at(until_ms),
    }
}

/// The id of fixture finding `n` in `region`.
pub fn finding_id(region: &str, n: u32) -> String {
    format!("{}{n:04}", region.replace('-', ""))
}

/// The instance id fixture finding `n` is about.
pub fn instance_id(n: u32) -> String {
    format!("i-0{n:016x}")
}

/// The severity of fixture finding `n`: 2.0, 5.0 or 8.0 (low, medium, high).
pub fn severity(n: u32) -> f64 {
    [2.0, 5.0, 8.0][(n % 3) as usize]
}

/// An EC2 SSH brute-force finding in `region`, updated `updated_ms` after `t0`, with an
/// extra field the SDK does not know (it must reach the parser anyway).
pub fn finding(region: &str, detector: &str, n: u32, updated_ms: i64) -> Value {
    let id = finding_id(region, n);
    let updated = at(updated_ms).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let created = t0().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    json!({
        "schemaVersion": "2.0",
        "accountId": ACCOUNT,
        "region": region,
        "partition": "aws",
        "id": id,
        "arn": format!("arn:aws:guardduty:{region}:{ACCOUNT}:detector/{detector}/finding/{id}"),
        "type": "UnauthorizedAccess:EC2/SSHBruteForce",
        "resource": {
            "resourceType": "Instance",
            "instanceDetails": {
                "instanceId": instance_id(n),
                "instanceType": "t3.micro",
                "availabilityZone": format!("{region}a"),
                "tags": [{"key": "team", "value": "fixtures"}],
                "networkInterfaces": [{
                    "networkInterfaceId": "eni-0a1b2c3d4e5f60718",
                    "privateIpAddress": "10.20.30.40",
                    "privateDnsName": "ip-10-20-30-40.internal",
                    "publicIp": "198.51.100.7"
                }]
            }
        },
        "severity": severity(n),
        "createdAt": created,
        "updatedAt": updated,
        "title": format!("203.0.113.9 is performing SSH brute force attacks against {}.", instance_id(n)),
        "description": "A test host is guessing SSH passwords of this instance.",
        "service": {
            "serviceName": "guardduty",
            "detectorId": detector,
            "archived": false,
            "count": n + 1,
            "eventFirstSeen": created,
            "eventLastSeen": updated,
            "resourceRole": "TARGET",
            "action": {
                "actionType": "NETWORK_CONNECTION",
                "networkConnectionAction": {
                    "connectionDirection": "INBOUND",
                    "protocol": "TCP",
                    "blocked": false,
                    "localPortDetails": {"port": 22, "portName": "SSH"},
                    "remoteIpDetails": {"ipAddressV4": "203.0.113.9"},
                    "remotePortDetails": {"port": 40000 + n, "portName": "Unknown"}
                }
            }
        },
        "riposteFixtureFutureField": {"kept": true, "n": n}
    })
}

/// Every page of a window, as (payloads in order, number of pages).
pub async fn drain(
    poller: &GuardDutyPoller,
    w: &PollWindow,
) -> Result<(Vec<Value>, usize), PollError> {
    let mut all = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = poller.fetch(w, token.as_deref()).await?;
        pages += 1;
        assert!(pages < 1000, "the poller never finishes the window");
        all.extend(page.payloads);
        match page.next_page {
            Some(t) => token = Some(t),
            None => return Ok((all, pages)),
        }
    }
}

/// The `id`s of payloads.
pub fn ids(payloads: &[Value]) -> Vec<String> {
    payloads
        .iter()
        .map(|p| p["id"].as_str().expect("payload id").to_string())
        .collect()
}
