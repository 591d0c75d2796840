//! SendGrid's v3 `mail/send` API: many recipients per request (one personalization
//! each), with doorman's own bodies or a dynamic template.

mod request;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::{Composer, Delivery, Outgoing, TestAnswer, Transport};
use crate::config::{Secret, SendGridSettings, Sender};
use crate::domain::MailRoute;

pub struct SendGrid {
    client: reqwest::Client,
    endpoint: url::Url,
    api_key: Secret<String>,
    template_id: Option<String>,
    from: Sender,
    /// Recipients per request (EMAIL_BATCH_SIZE).
    batch_size: usize,
    composer: Arc<Composer>,
}

/// SendGrid's answer, as received.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub message_id: Option<String>,
    pub retry_after: Option<Duration>,
    pub body: String,
}

/// SendGrid's error body: `{"errors": [{"message", "field", "help"}]}`.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    errors: Vec<ErrorItem>,
}

#[derive(Debug, Deserialize)]
struct ErrorItem {
    message: Option<String>,
    field: Option<String>,
}

impl SendGrid {
    pub fn new(
        settings: &SendGridSettings,
        from: &Sender,
        timeout: Duration,
        batch_size: usize,
        composer: Arc<Composer>,
    ) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .expect("an HTTP client with rustls builds");
        let endpoint = settings
            .api_url
            .join("v3/mail/send")
            .expect("a base URL joins a relative path");
        Self {
            client,
            endpoint,
            api_key: settings.api_key.clone(),
            template_id: settings.template_id.clone(),
            from: from.clone(),
            batch_size,
            composer,
        }
    }

    /// Posts a request and returns SendGrid's answer as is.
    async fn post(&self, body: &Value) -> Result<Answer, reqwest::Error> {
        let response = self
            .client
            .post(self.endpoint.clone())
            .bearer_auth(self.api_key.expose())
            .json(body)
            .send()
            .await?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let message_id = header("x-message-id");
        let retry_after = header("retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response.text().await?;
        Ok(Answer {
            status,
            message_id,
            retry_after,
            body,
        })
    }

    /// Sends a batch of `count` personalizations; returns what became of each. When
    /// SendGrid refuses the request because of particular recipients, only they fail:
    /// the others go again at once, in a request without them.
    async fn send(&self, body: &Value, count: usize) -> Vec<Delivery> {
        let answer = match self.post(body).await {
            Ok(answer) => answer,
            Err(e) => {
                let failed = Delivery::Transient {
                    error: network_error(&e),
                    retry_after: None,
                };
                return vec![failed; count];
            }
        };
        let delivery = classify(&answer);
        match (&delivery, blamed_personalizations(&answer.body)) {
            (Delivery::Permanent { error }, Some(blamed))
                if count > 1 && blamed.iter().all(|i| *i < count) =>
            {
                (0..count)
                    .map(|i| {
                        if blamed.contains(&i) {
                            Delivery::Permanent {
                                error: error.clone(),
                            }
                        } else {
                            Delivery::Transient {
                                error: "sent again without a recipient SendGrid refused".into(),
                                retry_after: Some(Duration::ZERO),
                            }
                        }
                    })
                    .collect()
            }
            _ => vec![delivery; count],
        }
    }
}

impl Transport for SendGrid {
    fn route(&self) -> MailRoute {
        MailRoute::SendGrid
    }

    fn batch_limit(&self) -> usize {
        self.batch_size
    }

    fn send_batch<'a>(&'a self, batch: &'a [Outgoing]) -> BoxFuture<'a, Vec<Delivery>> {
        Box::pin(async move {
            let Some(first) = batch.first() else {
                return Vec::new();
            };
            let subject = self.composer.subject(first.values.reminder);
            let body = self.request(&subject, batch);
            self.send(&body, batch.len()).await
        })
    }

    fn send_test<'a>(&'a self, email: &'a Outgoing) -> BoxFuture<'a, TestAnswer> {
        Box::pin(async move {
            let subject = self.composer.subject(email.values.reminder);
            let body = self.request(&subject, std::slice::from_ref(email));
            match self.post(&body).await {
                Ok(answer) => TestAnswer {
                    accepted: (200..300).contains(&answer.status),
                    status: Some(answer.status),
                    response: answer.body,
                    message_id: answer.message_id,
                    kept: None,
                },
                Err(e) => TestAnswer {
                    response: network_error(&e),
                    ..TestAnswer::default()
                },
            }
        })
    }
}

/// The personalizations a refusal names (`"field": "personalizations.3.to.0.email"`), if
/// every error names one.
fn blamed_personalizations(body: &str) -> Option<Vec<usize>> {
    let parsed: ErrorBody = serde_json::from_str(body).ok()?;
    if parsed.errors.is_empty() {
        return None;
    }
    parsed
        .errors
        .iter()
        .map(|e| {
            let rest = e.field.as_deref()?.strip_prefix("personalizations.")?;
            rest.split('.').next()?.parse().ok()
        })
        .collect()
}

/// What an answer means for the email: 2xx accepted; 429 and 5xx worth retrying (429
/// after its Retry-After); any other refusal final, with SendGrid's own reason.
fn classify(answer: &Answer) -> Delivery {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_success() {
        return Delivery::Accepted {
            message_id: answer.message_id.clone(),
            kept: None,
        };
    }
    let reason = reason(&answer.body);
    let error = format!("SendGrid answered {}: {reason}", answer.status);
    if status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
    {
        Delivery::Transient {
            error,
            retry_after: answer.retry_after,
        }
    } else {
        Delivery::Permanent { error }
    }
}

/// SendGrid's messages (with the field they concern), or the body itself, shortened.
fn reason(body: &str) -> String {
    if let Ok(parsed) = serde_json::from_str::<ErrorBody>(body) {
        let messages: Vec<String> = parsed
            .errors
            .iter()
            .map(|e| match (&e.message, &e.field) {
                (Some(m), Some(f)) => format!("{m} (field: {f})"),
                (Some(m), None) => m.clone(),
                (None, Some(f)) => format!("error in field {f}"),
                (None, None) => "unspecified error".into(),
            })
            .collect();
        if !messages.is_empty() {
            return messages.join("; ");
        }
    }
    let trimmed: String = body.trim().chars().take(300).collect();
    if trimmed.is_empty() {
        "no details".into()
    } else {
        trimmed
    }
}

/// A network failure, without anything secret (the key travels in a header, never in
/// the URL, so reqwest's message is safe to keep).
fn network_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "SendGrid did not answer in time".into()
    } else if e.is_connect() {
        format!("SendGrid could not be reached: {e}")
    } else {
        format!("sending to SendGrid failed: {e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str, retry_after: Option<u64>) -> Answer {
        Answer {
            status,
            message_id: Some("abc".into()),
            retry_after: retry_after.map(Duration::from_secs),
            body: body.into(),
        }
    }

    #[test]
    fn a_refusal_naming_recipients_blames_only_them() {
        let body = r#"{"errors":[{"message":"Does not contain a valid address.","field":"personalizations.2.to.0.email","help":null}]}"#;
        assert_eq!(blamed_personalizations(body), Some(vec![2]));
        let body = r#"{"errors":[{"message":"x","field":"from","help":null}]}"#;
        assert_eq!(blamed_personalizations(body), None);
        assert_eq!(blamed_personalizations("oops"), None);
    }

    #[test]
    fn answers_are_classified_as_accepted_retryable_or_final() {
        assert_eq!(
            classify(&answer(202, "", None)),
            Delivery::Accepted {
                message_id: Some("abc".into()),
                kept: None,
            }
        );
        assert!(matches!(
            classify(&answer(500, "oops", None)),
            Delivery::Transient { .. }
        ));
        assert_eq!(
            classify(&answer(429, "", Some(7))),
            Delivery::Transient {
                error: "SendGrid answered 429: no details".into(),
                retry_after: Some(Duration::from_secs(7))
            }
        );
        let refused = classify(&answer(
            400,
            r#"{"errors":[{"message":"The from address does not match a verified Sender Identity.","field":"from","help":null}]}"#,
            None,
        ));
        assert_eq!(
            refused,
            Delivery::Permanent {
                error: "SendGrid answered 400: The from address does not match a verified Sender Identity. (field: from)".into()
            }
        );
    }
}
