//! Polling pull connections. A worker claims a due connection (leased, like a job), reads
//! the window from its cursor (minus an overlap, for alerts the vendor indexes late) to now,
//! and stores each page in one transaction: the alerts (duplicates dropped by the store),
//! their triage jobs, and the payloads the parser refused as ingestion errors. The cursor
//! moves only after the last page, so a crash re-reads the window and loses nothing.

use crate::Worker;
use crate::connections::build_poller;
use crate::intake::accept_alerts;
use chrono::{DateTime, Utc};
use riposte_sources::poll::{PollError, PollWindow};
use riposte_store::{AlertInsert, Connection, Store, StoreError};
use std::time::Duration;

/// The longest a failing connection waits between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// What one successful poll did.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct PollSummary {
    pub(crate) created: i64,
    pub(crate) duplicates: i64,
    pub(crate) rejected: i64,
    pub(crate) pages: i64,
}

#[derive(Debug, thiserror::Error)]
enum PollRunError {
    #[error("{0}")]
    Poll(#[from] PollError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("lost the connection's lease")]
    LeaseLost,
}

impl From<riposte_store::SqlxError> for PollRunError {
    fn from(e: riposte_store::SqlxError) -> Self {
        PollRunError::Store(e.into())
    }
}

fn after(d: Duration) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(d).unwrap_or_default()
}

impl Worker {
    /// Claims one due connection and polls it; false when none was due.
    pub async fn poll_one(&self) -> Result<bool, StoreError> {
        let Some(conn) = self
            .store
            .claim_due_connection(&self.id, self.config.lease)
            .await?
        else {
            return Ok(false);
        };
        let started = std::time::Instant::now();
        let window_end = Utc::now();
        let result = self.poll_connection(&conn, window_end).await;
        let interval = Duration::from_secs(conn.poll_interval_seconds.max(1) as u64);
        let outcome = match result {
            Ok(summary) => {
                tracing::info!(connection = %conn.name, vendor = %conn.vendor, created = summary.created,
                    duplicates = summary.duplicates, rejected = summary.rejected, pages = summary.pages,
                    ms = started.elapsed().as_millis() as u64, "connection polled");
                if !self
                    .store
                    .finish_connection_poll(&conn.id, &self.id, window_end, after(interval))
                    .await?
                {
                    tracing::warn!(connection = %conn.name, "lost the connection's lease before finishing; another worker re-reads the window");
                }
                "ok"
            }
            Err(PollRunError::LeaseLost) => {
                tracing::warn!(connection = %conn.name, "lost the connection's lease; another worker polls it");
                "lease_lost"
            }
            Err(e) => {
                let wait = match &e {
                    PollRunError::Poll(PollError::RateLimited { retry_after }) => {
                        (*retry_after).max(interval)
                    }
                    _ => interval
                        .saturating_mul(2u32.saturating_pow(conn.failures.clamp(0, 10) as u32)),
                }
                .min(MAX_BACKOFF);
                let message = e.to_string();
                tracing::warn!(connection = %conn.name, vendor = %conn.vendor, error = %message,
                    retry_in_s = wait.as_secs(), "polling failed");
                self.store
                    .fail_connection_poll(&conn.id, &self.id, &message, after(wait))
                    .await?;
                "failed"
            }
        };
        metrics::counter!("riposte_polls_total", "vendor" => conn.vendor.clone(), "outcome" => outcome)
            .increment(1);
        Ok(true)
    }

    async fn poll_connection(
        &self,
        conn: &Connection,
        until: DateTime<Utc>,
    ) -> Result<PollSummary, PollRunError> {
        let secret = self
            .store
            .connection_secret(&self.config.master_key, &conn.id)
            .await
            .map_err(|e| match e {
                StoreError::Sealed(e) => PollRunError::Poll(PollError::Config(format!(
                    "cannot open the credential: {e}"
                ))),
                other => PollRunError::Store(other),
            })?;
        let poller =
            build_poller(&conn.vendor, &conn.settings, secret, &self.config.outbound).await?;
        let source = poller.source();
        let parser = riposte_sources::parser(source)
            .ok_or_else(|| PollError::Config(format!("no parser for source {source}")))?;
        let seconds = |s: i64| chrono::Duration::seconds(s.max(0));
        let since = match conn.cursor {
            Some(cursor) => cursor - seconds(conn.overlap_seconds),
            None => until - seconds(conn.lookback_seconds),
        };
        let window = PollWindow { since, until };
        let actor = format!("connection:{}", conn.name);
        let mut summary = PollSummary::default();
        let mut page: Option<String> = None;
        loop {
            let fetched = poller.fetch(&window, page.as_deref()).await?;
            let mut tx = self.store.begin().await?;
            let mut created = 0;
            for payload in &fetched.payloads {
                match parser.parse(payload, Utc::now()) {
                    Ok(alerts) => {
                        for outcome in
                            accept_alerts(&mut tx, &actor, Some(&conn.id), &alerts).await?
                        {
                            match outcome {
                                AlertInsert::Created(_) => created += 1,
                                AlertInsert::Duplicate(_) => summary.duplicates += 1,
                            }
                        }
                    }
                    Err(e) => {
                        summary.rejected += 1;
                        tracing::warn!(connection = %conn.name, error = %e, "payload refused; recorded as an ingestion error");
                        Store::record_ingest_error(
                            &mut tx,
                            Some(&conn.id),
                            source.as_str(),
                            &e.to_string(),
                            payload,
                        )
                        .await?;
                    }
                }
            }
            if !Store::add_connection_alerts(&mut tx, &conn.id, &self.id, created).await?
                || !Store::renew_connection_lease(&mut tx, &conn.id, &self.id, self.config.lease)
                    .await?
            {
                return Err(PollRunError::LeaseLost);
            }
            tx.commit().await?;
            summary.created += created;
            summary.pages += 1;
            match fetched.next_page {
                Some(next) => page = Some(next),
                None => break,
            }
        }
        metrics::counter!("riposte_poll_alerts_total", "vendor" => conn.vendor.clone())
            .increment(summary.created as u64);
        Ok(summary)
    }
}
