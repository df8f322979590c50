//! Rate-limited warnings: at most one line per kind of warning per interval, the repeats
//! counted and reported in one line when the interval ends. A flood of the same warning (a slow database
//! statement under an alert storm, a peer refusing connections) stays readable and never
//! slows the process with log I/O.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Filter};

/// The target of the line that reports suppressed repeats.
pub const TARGET: &str = "riposte::log_limit";

/// A per-layer filter letting through, for each kind of warning (its callsite and target),
/// the first in every `interval`; the others are counted, and [`WarnLimiter::flush`] logs
/// each count (a warning of target [`TARGET`]) once its interval is over. Other levels
/// pass. (A filter cannot log itself: tracing drops events raised while it dispatches
/// one, so [`WarnLimiter::start`] flushes from a thread of its own.)
#[derive(Clone)]
pub struct WarnLimiter {
    interval: Duration,
    /// The most verbose level the global filter lets through, passed on as this filter's
    /// hint (without one, the subscriber would assume every level may be on, and every
    /// `log` record and disabled event of every crate would be built and then dropped).
    max_level: Option<tracing::level_filters::LevelFilter>,
    kinds: std::sync::Arc<Mutex<HashMap<(tracing::callsite::Identifier, String), Window>>>,
}

struct Window {
    started: Instant,
    suppressed: u64,
    name: &'static str,
}

impl WarnLimiter {
    /// One line per kind of warning per `interval`, under a global filter whose most
    /// verbose level is `max_level`.
    pub fn new(interval: Duration, max_level: Option<tracing::level_filters::LevelFilter>) -> Self {
        WarnLimiter {
            interval,
            max_level,
            kinds: std::sync::Arc::default(),
        }
    }

    /// A limiter whose counts a background thread logs every `interval`.
    pub fn start(
        interval: Duration,
        max_level: Option<tracing::level_filters::LevelFilter>,
    ) -> Self {
        let limiter = WarnLimiter::new(interval, max_level);
        let flusher = limiter.clone();
        let spawned = std::thread::Builder::new()
            .name("log-limit".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(flusher.interval);
                    flusher.flush();
                }
            });
        if let Err(e) = spawned {
            eprintln!("repeated warnings will not be counted: {e}");
        }
        limiter
    }

    fn kinds(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<(tracing::callsite::Identifier, String), Window>> {
        self.kinds.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a warning of this kind gets through now.
    fn admit(&self, meta: &Metadata<'static>, now: Instant) -> bool {
        let mut kinds = self.kinds();
        let key = (meta.callsite(), meta.target().to_string());
        match kinds.get_mut(&key) {
            Some(w) if now.duration_since(w.started) < self.interval => {
                w.suppressed += 1;
                false
            }
            Some(w) if w.suppressed == 0 => {
                w.started = now;
                true
            }
            // Its count is not logged yet: this one is counted with it.
            Some(w) => {
                w.suppressed += 1;
                false
            }
            None => {
                kinds.insert(
                    key,
                    Window {
                        started: now,
                        suppressed: 0,
                        name: meta.name(),
                    },
                );
                true
            }
        }
    }

    /// Logs how many times each kind of warning was held back in its finished interval.
    pub fn flush(&self) {
        let now = Instant::now();
        let mut due = Vec::new();
        for ((_, source), w) in self.kinds().iter_mut() {
            if w.suppressed > 0 && now.duration_since(w.started) >= self.interval {
                due.push((w.name, source.clone(), std::mem::take(&mut w.suppressed)));
                w.started = now;
            }
        }
        for (name, source, repeats) in due {
            tracing::warn!(
                target: TARGET,
                warning = name,
                source,
                repeats,
                interval_secs = self.interval.as_secs_f64(),
                "the same warning was held back {repeats} times in its last interval"
            );
        }
    }
}

impl<S: Subscriber> Filter<S> for WarnLimiter {
    fn enabled(&self, _meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        true
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        self.max_level
    }

    /// Only warnings are looked at event by event; every other callsite is always on (the
    /// global level filter decides), so the limiter costs nothing off the warning path.
    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> tracing::subscriber::Interest {
        if *meta.level() == Level::WARN {
            tracing::subscriber::Interest::sometimes()
        } else {
            tracing::subscriber::Interest::always()
        }
    }

    fn event_enabled(&self, event: &tracing::Event<'_>, _cx: &Context<'_, S>) -> bool {
        let meta = event.metadata();
        if *meta.level() != Level::WARN || meta.target() == TARGET {
            return true;
        }
        self.admit(meta, Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::Arc;
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_flood_of_one_warning_is_one_line_per_interval_with_the_count() {
        let out = Captured::default();
        let writer = out.clone();
        let limiter = WarnLimiter::new(Duration::from_millis(200), None);
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .with_filter(limiter.clone());
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            // One callsite: one kind of warning.
            let slow = |i: u32| tracing::warn!(statement = i, "slow statement");
            for i in 0..1000 {
                slow(i);
                tracing::info!("progress");
            }
            tracing::warn!("another kind");
            // Within the interval: nothing to report yet.
            limiter.flush();
            std::thread::sleep(Duration::from_millis(250));
            limiter.flush();
            // The flush starts a new interval: held back until it ends.
            slow(1000);
            std::thread::sleep(Duration::from_millis(250));
            limiter.flush();
            // A quiet interval later, the warning itself gets through again.
            std::thread::sleep(Duration::from_millis(250));
            slow(1001);
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines = |needle: &str| text.lines().filter(|l| l.contains(needle)).count();
        // The first; one line for the 999 held back; 1000 held back in the next interval
        // and reported; 1001 through.
        assert_eq!(lines("slow statement"), 2, "{text}");
        assert!(
            text.contains("statement=0") && text.contains("statement=1001"),
            "{text}"
        );
        assert!(!text.contains("statement=1000"), "{text}");
        assert!(
            text.contains("the same warning was held back 999 times in its last interval"),
            "{text}"
        );
        assert!(
            text.contains("the same warning was held back 1 times in its last interval"),
            "{text}"
        );
        assert_eq!(lines("another kind"), 1);
        // Other levels are not limited.
        assert_eq!(lines("progress"), 1000);
    }
}
