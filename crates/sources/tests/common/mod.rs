//! Setup shared by the pollers' end-to-end tests against the fake vendor APIs.

use chrono::{DateTime, TimeZone, Utc};
use riposte_sources::poll::{AlertPoller, PollError, PollWindow, RetryPolicy};
use serde_json::Value;
use std::time::Duration;

/// 2024-05-01 10:`minute`:`second` UTC.
pub fn at(minute: u32, second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 10, minute, second)
        .unwrap()
}

pub fn window(since: DateTime<Utc>, until: DateTime<Utc>) -> PollWindow {
    PollWindow { since, until }
}

/// Retries quickly, so rate-limiting tests do not sleep.
pub fn fast() -> RetryPolicy {
    RetryPolicy {
        max_retries: 4,
        initial_backoff: Duration::from_millis(1),
        max_wait: Duration::from_secs(2),
    }
}

/// Every page of `window`: (payloads, number of pages).
pub async fn drain(p: &impl AlertPoller, w: &PollWindow) -> Result<(Vec<Value>, usize), PollError> {
    let mut payloads = Vec::new();
    let mut pages = 0;
    let mut token: Option<String> = None;
    loop {
        let page = p.fetch(w, token.as_deref()).await?;
        pages += 1;
        payloads.extend(page.payloads);
        match page.next_page {
            Some(next) => token = Some(next),
            None => return Ok((payloads, pages)),
        }
        assert!(pages < 100, "runaway paging");
    }
}
