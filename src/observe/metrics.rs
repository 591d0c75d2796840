//! doorman's metrics: one registry per running application, counted where things happen
//! (the HTTP layer, the service's verifications and sends) and, for what the database
//! knows, read at scrape time. Labels carry only fixed words and route templates: never
//! an email, an id or a token.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use crate::discord::BotStatus;
use crate::store::{PoolGauges, QueueGauges};

/// What `/metrics` answers with.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Request latencies from a millisecond to a minute.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 60.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    /// The route's template (`/api/users/{id}`), or `unmatched`.
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerificationLabels {
    channel: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ThrottleLabels {
    /// `verification` or `api_key`.
    attempt: &'static str,
    channel: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EmailLabels {
    /// `sent`, `retried`, `failed` or `cancelled`.
    status: &'static str,
}

/// How a verification can end, as `doorman_verifications_total` says it.
pub const VERIFICATION_OUTCOMES: [&str; 8] = [
    "verified",
    "invalid_token",
    "not_found",
    "expired",
    "already_verified",
    "discord_account_in_use",
    "throttled",
    "error",
];

/// What can become of a queued email, as `doorman_emails_total` says it.
pub const EMAIL_OUTCOMES: [&str; 4] = ["sent", "retried", "failed", "cancelled"];

type LatencyFamily = Family<RequestLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The registry and the metrics counted as things happen. Cheap to clone.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    verifications: Family<VerificationLabels, Counter>,
    throttled: Family<ThrottleLabels, Counter>,
    emails: Family<EmailLabels, Counter>,
    queued: Gauge,
    oldest_queued: Gauge<f64, AtomicU64>,
    pending_members: Gauge,
    held_kicks: Gauge,
    pool_size: Gauge,
    pool_idle: Gauge,
    gateway: Arc<OnceLock<BotStatus>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("doorman");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            requests.clone(),
        );
        let latency: LatencyFamily = Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Time from a request's arrival to its response head",
            Unit::Seconds,
            latency.clone(),
        );
        let verifications = Family::<VerificationLabels, Counter>::default();
        registry.register(
            "verifications",
            "Verification attempts by channel and outcome",
            verifications.clone(),
        );
        let throttled = Family::<ThrottleLabels, Counter>::default();
        registry.register(
            "throttled_attempts",
            "Attempts refused because their allowance was used up",
            throttled.clone(),
        );
        let emails = Family::<EmailLabels, Counter>::default();
        registry.register(
            "emails",
            "Queued emails this process finished sending, by what became of them",
            emails.clone(),
        );
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let gauge = Gauge::default();
            registry.register(name, help, gauge.clone());
            gauge
        };
        let queued = gauge(
            &mut registry,
            "email_queue_depth",
            "Emails waiting to be sent (due, waiting for a retry, or being sent)",
        );
        let oldest_queued = Gauge::<f64, AtomicU64>::default();
        registry.register_with_unit(
            "email_queue_oldest_age",
            "How long the oldest email still queued has waited (0 when none)",
            Unit::Seconds,
            oldest_queued.clone(),
        );
        let pending_members = gauge(
            &mut registry,
            "discord_pending_verifications",
            "Discord members whose verification deadline is running",
        );
        let held_kicks = gauge(
            &mut registry,
            "discord_held_kicks",
            "Kicks held back until an admin confirms them",
        );
        let pool_size = gauge(
            &mut registry,
            "db_pool_connections",
            "Database connections open in the pool",
        );
        let pool_idle = gauge(
            &mut registry,
            "db_pool_idle_connections",
            "Open database connections not in use",
        );
        registry.register(
            "build",
            "The running doorman's version",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        // Every known series from the start, at 0: a rate over a series that appears
        // only at its first event misses that event, and alerts can tell 0 from absent.
        for channel in ["api", "discord"] {
            for outcome in VERIFICATION_OUTCOMES {
                let _ = verifications.get_or_create(&VerificationLabels { channel, outcome });
            }
            let _ = throttled.get_or_create(&ThrottleLabels {
                attempt: "verification",
                channel,
            });
        }
        let _ = throttled.get_or_create(&ThrottleLabels {
            attempt: "api_key",
            channel: "api",
        });
        for status in EMAIL_OUTCOMES {
            let _ = emails.get_or_create(&EmailLabels { status });
        }
        let gateway = Arc::new(OnceLock::new());
        registry.register_collector(Box::new(GatewayCollector(gateway.clone())));
        Self(Arc::new(Inner {
            registry,
            requests,
            latency,
            verifications,
            throttled,
            emails,
            queued,
            oldest_queued,
            pending_members,
            held_kicks,
            pool_size,
            pool_idle,
            gateway,
        }))
    }

    /// Reports the bot's gateway connection from now on (once; a second call is ignored).
    pub fn watch_gateway(&self, status: BotStatus) {
        let _ = self.0.gateway.set(status);
    }

    pub fn http_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        // Any word can be sent as a method; only the standard ones get a label of their own.
        const METHODS: [&str; 9] = [
            "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
        ];
        let method = METHODS.iter().find(|m| **m == method).unwrap_or(&"other");
        let labels = RequestLabels {
            method: (*method).to_owned(),
            route: route.to_owned(),
            status,
        };
        self.0.requests.get_or_create(&labels).inc();
        self.0.latency.get_or_create(&labels).observe(seconds);
    }

    pub fn verification(&self, channel: &'static str, outcome: &'static str) {
        self.0
            .verifications
            .get_or_create(&VerificationLabels { channel, outcome })
            .inc();
    }

    pub fn throttled(&self, attempt: &'static str, channel: &'static str) {
        self.0
            .throttled
            .get_or_create(&ThrottleLabels { attempt, channel })
            .inc();
    }

    pub fn email_finished(&self, status: &'static str) {
        self.0.emails.get_or_create(&EmailLabels { status }).inc();
    }

    /// The text exposition, with the database's gauges as `queue` and `pool` say.
    pub fn render(
        &self,
        queue: Option<QueueGauges>,
        pool: PoolGauges,
        now: chrono::DateTime<chrono::Utc>,
    ) -> String {
        let inner = &self.0;
        if let Some(queue) = queue {
            inner.queued.set(queue.queued);
            let age = queue.oldest_queued_at.map_or(0.0, |at| {
                (now - at).num_milliseconds().max(0) as f64 / 1000.0
            });
            inner.oldest_queued.set(age);
            inner.pending_members.set(queue.pending_members);
            inner.held_kicks.set(queue.held_kicks);
        }
        inner.pool_size.set(i64::from(pool.size));
        inner.pool_idle.set(pool.idle as i64);
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &inner.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

/// The gateway's state, read from the bot's status at each scrape.
#[derive(Debug)]
struct GatewayCollector(Arc<OnceLock<BotStatus>>);

impl Collector for GatewayCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(status) = self.0.get() else {
            return Ok(());
        };
        let connected = ConstGauge::new(i64::from(status.is_connected()));
        connected.encode(encoder.encode_descriptor(
            "discord_gateway_connected",
            "1 while the bot holds a Discord gateway session, else 0",
            None,
            connected.metric_type(),
        )?)?;
        let reconnects = ConstCounter::new(status.reconnects());
        reconnects.encode(encoder.encode_descriptor(
            "discord_gateway_reconnects",
            "Gateway sessions opened or resumed after the first",
            None,
            reconnects.metric_type(),
        )?)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_names_follow_prometheus_conventions() {
        let metrics = Metrics::new();
        metrics.http_request("BREW", "/api/users/{id}", 200, 0.002);
        metrics.verification("api", "verified");
        metrics.throttled("verification", "api");
        metrics.email_finished("sent");
        let queue = QueueGauges {
            queued: 3,
            oldest_queued_at: Some(chrono::DateTime::UNIX_EPOCH),
            pending_members: 2,
            held_kicks: 1,
        };
        let now = chrono::DateTime::UNIX_EPOCH + chrono::Duration::seconds(90);
        let text = metrics.render(Some(queue), PoolGauges { size: 4, idle: 3 }, now);
        for line in [
            "# TYPE doorman_http_requests_total counter",
            r#"doorman_http_requests_total{method="other",route="/api/users/{id}",status="200"} 1"#,
            "# TYPE doorman_http_request_duration_seconds histogram",
            r#"doorman_http_request_duration_seconds_bucket{method="other",route="/api/users/{id}",status="200",le="0.0025"} 1"#,
            r#"doorman_verifications_total{channel="api",outcome="verified"} 1"#,
            r#"doorman_throttled_attempts_total{attempt="verification",channel="api"} 1"#,
            r#"doorman_emails_total{status="sent"} 1"#,
            r#"doorman_verifications_total{channel="discord",outcome="expired"} 0"#,
            r#"doorman_throttled_attempts_total{attempt="api_key",channel="api"} 0"#,
            r#"doorman_emails_total{status="failed"} 0"#,
            "doorman_email_queue_depth 3",
            "doorman_email_queue_oldest_age_seconds 90.0",
            "doorman_discord_pending_verifications 2",
            "doorman_discord_held_kicks 1",
            "doorman_db_pool_connections 4",
            "doorman_db_pool_idle_connections 3",
            &format!(
                "doorman_build_info{{version=\"{}\"}} 1",
                env!("CARGO_PKG_VERSION")
            ),
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
    }
}
