//! The entry point the pipeline calls: [`Dispatcher::dispatch`] sends one event to every
//! enabled webhook subscribed to it and every enabled SIEM export that exports it, with
//! retries, writing every attempt to the delivery log.

use crate::credential::Credential;
use crate::outbound::{GuardedClient, OutboundRequest};
use crate::presets::preset;
use crate::retry::{AttemptLog, AttemptReport, DeliveryReport, RetryPolicy, deliver};
use crate::siem::{batch_size, records, sink};
use crate::template::{NotificationContext, Occasion, Variables, render};
use crate::{NotifyError, OutboundPolicy, SIGNATURE_HEADER, sign};
use chrono::Utc;
use futures::future::join_all;
use riposte_model::{NotificationEvent, RuleNotification};
use riposte_store::{
    DeliveryAttempt, DeliveryTarget, MasterKey, SiemExport, Store, Webhook, WebhookSecrets,
    delivery_id,
};
use std::time::Duration;

/// The sample notification "Send test" sends, and previews show.
fn sample_context(webhook: &str) -> NotificationContext {
    NotificationContext {
        title: format!("Test notification from Riposte to {webhook}"),
        details: "If you can read this, the webhook works.".into(),
        verdict: Some("Suspicious Activity".into()),
        score: Some(0),
        severity: Some("informational".into()),
        host: Some("test-host".into()),
        time: Some(Utc::now()),
        ..Default::default()
    }
}

/// The body a webhook with `preset`, `template` (the preset's when `None`) and `settings`
/// would send for the sample notification: what the console's live preview shows. The
/// error names what is wrong (an unknown preset, a template that does not render).
pub fn preview(
    preset_name: &str,
    template: Option<&str>,
    settings: &serde_json::Value,
) -> Result<String, String> {
    let preset = preset(preset_name).ok_or_else(|| format!("unknown preset `{preset_name}`"))?;
    let template = template.unwrap_or(preset.default_template());
    crate::template::check(template, preset.extra_variables()).map_err(|e| e.to_string())?;
    let mut vars = Variables::new(Occasion::Test, &sample_context("this webhook"));
    preset.add_variables(settings, &mut vars);
    render(template, &vars).map_err(|e| e.to_string())
}

/// Header naming the event (`processing_with_alarms`, …, `test`).
pub const EVENT_HEADER: &str = "X-Riposte-Event";

/// Header carrying the delivery's id, the same on each of its attempts (receivers can
/// de-duplicate retries with it).
pub const DELIVERY_HEADER: &str = "X-Riposte-Delivery";

/// How one delivery to one webhook (or one batch to one export) went.
#[derive(Debug, Clone)]
pub struct TargetOutcome {
    /// Webhook or SIEM export.
    pub kind: DeliveryTarget,
    /// Its id.
    pub target_id: String,
    /// Its name.
    pub name: String,
    /// The delivery's id (in the log and the `X-Riposte-Delivery` header).
    pub delivery_id: String,
    /// Every attempt.
    pub report: DeliveryReport,
}

/// Sends notifications and exports, recording each attempt in the store.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    store: Store,
    key: MasterKey,
    client: GuardedClient,
    max_delay: Duration,
}

/// Writes attempts to the delivery log as they happen.
struct StoreLog<'a> {
    store: &'a Store,
    kind: DeliveryTarget,
    target_id: &'a str,
    delivery_id: &'a str,
    event: &'static str,
}

impl AttemptLog for StoreLog<'_> {
    async fn record(&self, attempt: &AttemptReport) {
        let row = DeliveryAttempt {
            id: delivery_id(),
            target_id: self.target_id.to_string(),
            delivery_id: self.delivery_id.to_string(),
            event: self.event.to_string(),
            attempt: attempt.attempt,
            status_code: attempt.status,
            ok: attempt.ok,
            error: attempt.error.clone(),
            response_excerpt: attempt.excerpt.clone(),
            created_at: attempt.at,
        };
        if let Err(e) = self.store.record_delivery(self.kind, &row).await {
            tracing::warn!(target_id = self.target_id, error = %e, "cannot write the delivery log");
        }
    }
}

impl Dispatcher {
    /// A dispatcher reading webhooks and exports from `store`, opening their secrets with
    /// `key`, and sending under `policy`. Waits between attempts are at most 5 minutes.
    pub fn new(store: Store, key: MasterKey, policy: OutboundPolicy) -> Self {
        Dispatcher {
            store,
            key,
            client: GuardedClient::new(policy),
            max_delay: RetryPolicy::default().max_delay,
        }
    }

    /// Replaces the longest wait between attempts (and the longest `Retry-After` honoured).
    pub fn with_max_delay(mut self, max_delay: Duration) -> Self {
        self.max_delay = max_delay;
        self
    }

    /// Sends `event` to every enabled webhook subscribed to it and every enabled SIEM
    /// export exporting it, concurrently; each delivery retries on its own. Failed
    /// deliveries are in the outcomes and the log, not errors; errors are the store's.
    pub async fn dispatch(
        &self,
        event: NotificationEvent,
        context: &NotificationContext,
    ) -> Result<Vec<TargetOutcome>, NotifyError> {
        self.dispatch_for(event, context, &[]).await
    }

    /// Like [`dispatch`](Self::dispatch), for an investigation whose rule names webhooks of
    /// its own (`notifications`: a webhook's id or name, and events): each enabled webhook
    /// that is subscribed to `event` or that the rule names for `event` gets it once.
    pub async fn dispatch_for(
        &self,
        event: NotificationEvent,
        context: &NotificationContext,
        rule: &[RuleNotification],
    ) -> Result<Vec<TargetOutcome>, NotifyError> {
        let occasion = Occasion::Event(event);
        let all = self.store.list_webhooks().await?;
        for n in rule {
            if !all.iter().any(|w| names(w, &n.webhook)) {
                tracing::warn!(webhook = %n.webhook, "a rule notifies a webhook that does not exist");
            }
        }
        // One pass over the stored webhooks: a webhook both subscribed and named by the
        // rule is still sent to once.
        let webhooks: Vec<Webhook> = all
            .into_iter()
            .filter(|w| {
                w.enabled
                    && (w.events.contains(&event)
                        || rule
                            .iter()
                            .any(|n| names(w, &n.webhook) && n.events.contains(&event)))
            })
            .collect();
        let exports: Vec<SiemExport> = self
            .store
            .list_siem_exports()
            .await?
            .into_iter()
            .filter(|x| x.enabled && x.events.contains(&event))
            .collect();
        let sent = join_all(
            webhooks
                .iter()
                .map(|w| self.send_webhook(w, occasion, context)),
        )
        .await;
        let exported = join_all(exports.iter().map(|x| self.export(x, occasion, context))).await;
        let mut outcomes = Vec::new();
        for outcome in sent {
            outcomes.push(outcome?);
        }
        for batch in exported {
            outcomes.extend(batch?);
        }
        tracing::info!(
            event = occasion.id(),
            deliveries = outcomes.len(),
            failed = outcomes.iter().filter(|o| !o.report.ok()).count(),
            "notifications dispatched"
        );
        Ok(outcomes)
    }

    /// Sends one sample notification to `webhook` (Settings › "Send test"), once, whether
    /// it is enabled or not; the attempt is logged with the event `test`.
    pub async fn send_test(&self, webhook: &Webhook) -> Result<TargetOutcome, NotifyError> {
        let context = sample_context(&webhook.name);
        let once = Webhook {
            max_attempts: 1,
            ..webhook.clone()
        };
        self.send_webhook(&once, Occasion::Test, &context).await
    }

    /// Delivers `context` on `occasion` to one webhook, with its retry settings.
    pub async fn send_webhook(
        &self,
        webhook: &Webhook,
        occasion: Occasion,
        context: &NotificationContext,
    ) -> Result<TargetOutcome, NotifyError> {
        let id = delivery_id();
        let log = StoreLog {
            store: &self.store,
            kind: DeliveryTarget::Webhook,
            target_id: &webhook.id,
            delivery_id: &id,
            event: occasion.id(),
        };
        let report = match self.webhook_request(webhook, occasion, context).await {
            Ok((request, secret)) => {
                let build = || {
                    let mut r = request
                        .clone()
                        .header(EVENT_HEADER, occasion.id())
                        .header(DELIVERY_HEADER, id.as_str());
                    if let Some(secret) = &secret {
                        let signature = sign(secret, Utc::now().timestamp(), &r.body);
                        r = r.header(SIGNATURE_HEADER, signature);
                    }
                    r
                };
                deliver(
                    &self.client,
                    &self.retry(webhook.max_attempts, webhook.base_delay_ms),
                    build,
                    None,
                    &log,
                )
                .await
            }
            Err(problem) => unsent(problem, &log).await,
        };
        if !report.ok() {
            tracing::warn!(webhook = %webhook.name, event = occasion.id(), error = report.error().unwrap_or_default(), "webhook delivery failed");
        }
        Ok(TargetOutcome {
            kind: DeliveryTarget::Webhook,
            target_id: webhook.id.clone(),
            name: webhook.name.clone(),
            delivery_id: id,
            report,
        })
    }

    /// The request for a webhook (without per-attempt headers) and its signing secret, or
    /// why none can be made (a problem that is recorded as a failed attempt).
    async fn webhook_request(
        &self,
        webhook: &Webhook,
        occasion: Occasion,
        context: &NotificationContext,
    ) -> Result<(OutboundRequest, Option<String>), String> {
        let preset = preset(&webhook.preset)
            .ok_or_else(|| format!("unknown preset `{}`", webhook.preset))?;
        let WebhookSecrets { url, secret, auth } = self
            .store
            .webhook_secrets(&self.key, &webhook.id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "the webhook was deleted".to_string())?;
        let mut vars = Variables::new(occasion, context);
        preset.add_variables(&webhook.settings, &mut vars);
        let template = webhook
            .template
            .as_deref()
            .unwrap_or(preset.default_template());
        let body = render(template, &vars).map_err(|e| format!("template: {e}"))?;
        let mut request =
            OutboundRequest::post(preset.endpoint(&url), "application/json", body.into_bytes());
        if let Some(text) = auth {
            let credential = Credential::from_stored(&text)?;
            request = request.header("authorization", credential.authorization());
        }
        Ok((request, secret))
    }

    /// Pushes the records of `context` to one SIEM export, in batches; one outcome per batch.
    pub async fn export(
        &self,
        export: &SiemExport,
        occasion: Occasion,
        context: &NotificationContext,
    ) -> Result<Vec<TargetOutcome>, NotifyError> {
        let all = records(occasion, context);
        let prepared =
            sink(&export.kind).ok_or_else(|| format!("unknown SIEM kind `{}`", export.kind));
        let size = match &prepared {
            Ok(_) => batch_size(&export.settings).unwrap_or(crate::siem::DEFAULT_BATCH_SIZE),
            Err(_) => all.len().max(1),
        };
        let mut outcomes = Vec::new();
        for batch in all.chunks(size) {
            let id = delivery_id();
            let log = StoreLog {
                store: &self.store,
                kind: DeliveryTarget::SiemExport,
                target_id: &export.id,
                delivery_id: &id,
                event: occasion.id(),
            };
            let report = match &prepared {
                Ok(sink) => {
                    let auth = self.export_credential(export).await;
                    match auth {
                        Ok(auth) => {
                            let request = sink.request(&export.url, &export.settings, batch);
                            let build = || {
                                let mut r = request.clone().header(DELIVERY_HEADER, id.as_str());
                                if let Some(c) = &auth {
                                    r = r.header("authorization", c.authorization());
                                }
                                r
                            };
                            deliver(
                                &self.client,
                                &self.retry(export.max_attempts, export.base_delay_ms),
                                build,
                                sink.body_check(),
                                &log,
                            )
                            .await
                        }
                        Err(problem) => unsent(problem, &log).await,
                    }
                }
                Err(problem) => unsent(problem.clone(), &log).await,
            };
            if !report.ok() {
                tracing::warn!(export = %export.name, records = batch.len(), error = report.error().unwrap_or_default(), "SIEM export failed");
            }
            outcomes.push(TargetOutcome {
                kind: DeliveryTarget::SiemExport,
                target_id: export.id.clone(),
                name: export.name.clone(),
                delivery_id: id,
                report,
            });
        }
        Ok(outcomes)
    }

    async fn export_credential(&self, export: &SiemExport) -> Result<Option<Credential>, String> {
        let stored = self
            .store
            .siem_export_auth(&self.key, &export.id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "the SIEM export was deleted".to_string())?;
        stored.map(|t| Credential::from_stored(&t)).transpose()
    }

    fn retry(&self, max_attempts: u32, base_delay_ms: u64) -> RetryPolicy {
        RetryPolicy {
            max_attempts: max_attempts.max(1),
            base_delay: Duration::from_millis(base_delay_ms),
            max_delay: self.max_delay,
        }
    }
}

/// Whether a rule's `webhook` reference (an id or a name) is `webhook`.
fn names(webhook: &Webhook, reference: &str) -> bool {
    let reference = reference.trim();
    webhook.id == reference || webhook.name == reference
}

/// A delivery that could not be attempted, recorded as one failed attempt.
async fn unsent(problem: String, log: &impl AttemptLog) -> DeliveryReport {
    let attempt = AttemptReport {
        attempt: 1,
        status: None,
        ok: false,
        error: Some(problem),
        excerpt: None,
        at: Utc::now(),
    };
    log.record(&attempt).await;
    DeliveryReport {
        attempts: vec![attempt],
    }
}
