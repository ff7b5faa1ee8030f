//! Prometheus metrics: what the bridge did (messages bridged and failed, by direction and
//! kind), how long it took, and how things stand (logins by state, messages waiting in
//! the inbox). Counters are counted where the work happens; the standing figures are read
//! when Prometheus scrapes. One `Metrics` per process, handed to whoever counts; no
//! global registry.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    ToMatrix,
    ToWhatsApp,
}

impl Direction {
    fn label(self) -> &'static str {
        match self {
            Self::ToMatrix => "to_matrix",
            Self::ToWhatsApp => "to_whatsapp",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Bridged {
    direction: &'static str,
    kind: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Failed {
    direction: &'static str,
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Way {
    direction: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoginState {
    state: &'static str,
}

fn latency_histogram() -> Histogram {
    // 1 ms … about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    bridged: Family<Bridged, Counter>,
    failed: Family<Failed, Counter>,
    latency: Family<Way, Histogram, fn() -> Histogram>,
    logins: Family<LoginState, Gauge>,
    inbox_waiting: Gauge,
    outbox_waiting: Gauge,
    tasks: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("matrix_whatsapp");
        let bridged = Family::<Bridged, Counter>::default();
        let failed = Family::<Failed, Counter>::default();
        let latency =
            Family::<Way, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let logins = Family::<LoginState, Gauge>::default();
        let inbox_waiting = Gauge::default();
        let outbox_waiting = Gauge::default();
        let tasks = Gauge::default();
        registry.register(
            "messages_bridged",
            "Messages bridged, by direction and kind",
            bridged.clone(),
        );
        registry.register(
            "messages_failed",
            "Messages that could not be bridged (the sender was told), by direction and reason",
            failed.clone(),
        );
        registry.register(
            "bridge_latency_seconds",
            "Time from a message reaching the bridge to its being delivered on the other side",
            latency.clone(),
        );
        registry.register(
            "logins",
            "Linked WhatsApp accounts, by connection state",
            logins.clone(),
        );
        registry.register(
            "inbox_waiting",
            "WhatsApp messages stored and not yet bridged to Matrix",
            inbox_waiting.clone(),
        );
        registry.register(
            "outbox_waiting",
            "Matrix events taken from the homeserver and not yet sent to WhatsApp",
            outbox_waiting.clone(),
        );
        registry.register(
            "tasks",
            "Tasks alive in the bridge's runtime (sessions, chat workers, requests)",
            tasks.clone(),
        );
        Self {
            registry,
            bridged,
            failed,
            latency,
            logins,
            inbox_waiting,
            outbox_waiting,
            tasks,
        }
    }

    /// A message went over in `took`.
    pub fn bridged(&self, direction: Direction, kind: &'static str, took: Duration) {
        self.bridged
            .get_or_create(&Bridged {
                direction: direction.label(),
                kind,
            })
            .inc();
        self.latency
            .get_or_create(&Way {
                direction: direction.label(),
            })
            .observe(took.as_secs_f64());
    }

    /// A message could not go over.
    pub fn failed(&self, direction: Direction, reason: &'static str) {
        self.failed
            .get_or_create(&Failed {
                direction: direction.label(),
                reason,
            })
            .inc();
    }

    /// The logins by state, as they are now (every state named, zero included).
    pub fn set_logins(&self, counts: &[(&'static str, i64)]) {
        for (state, count) in counts {
            self.logins.get_or_create(&LoginState { state }).set(*count);
        }
    }

    pub fn set_inbox_waiting(&self, waiting: i64) {
        self.inbox_waiting.set(waiting);
    }

    pub fn set_outbox_waiting(&self, waiting: i64) {
        self.outbox_waiting.set(waiting);
    }

    pub fn set_tasks(&self, alive: i64) {
        self.tasks.set(alive);
    }

    /// The text exposition format, for `GET /metrics`.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_show_in_the_exposition() {
        let metrics = Metrics::new();
        metrics.bridged(Direction::ToMatrix, "message", Duration::from_millis(3));
        metrics.bridged(Direction::ToMatrix, "message", Duration::from_millis(5));
        metrics.failed(Direction::ToWhatsApp, "not_connected");
        metrics.set_logins(&[("connected", 2), ("reconnecting", 0)]);
        metrics.set_inbox_waiting(7);
        metrics.set_outbox_waiting(3);
        metrics.set_tasks(42);
        let text = metrics.render().expect("render");
        assert!(
            text.contains(
                "matrix_whatsapp_messages_bridged_total{direction=\"to_matrix\",kind=\"message\"} 2"
            ),
            "{text}"
        );
        assert!(text.contains(
            "matrix_whatsapp_messages_failed_total{direction=\"to_whatsapp\",reason=\"not_connected\"} 1"
        ));
        assert!(
            text.contains(
                "matrix_whatsapp_bridge_latency_seconds_count{direction=\"to_matrix\"} 2"
            )
        );
        assert!(text.contains("matrix_whatsapp_logins{state=\"connected\"} 2"));
        assert!(text.contains("matrix_whatsapp_logins{state=\"reconnecting\"} 0"));
        assert!(text.contains("matrix_whatsapp_inbox_waiting 7"));
        assert!(text.contains("matrix_whatsapp_outbox_waiting 3"));
        assert!(text.contains("matrix_whatsapp_tasks 42"));
    }
}
