//! SMTP: `smtp://user:pass@host:587` (STARTTLS required), `smtps://host:465` (TLS from the
//! first byte), `smtp://host:25` (a relay: STARTTLS if offered). `?tls=required`,
//! `opportunistic` or `none` overrides the choice.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{Composer, Delivery, Outgoing, Rendered, TestAnswer, Transport};
use crate::config::{Sender, SmtpSettings};
use crate::domain::MailRoute;

pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    composer: Arc<Composer>,
}

/// What the server said, for `send-test`.
#[derive(Debug, Clone)]
pub struct Reply {
    pub code: u16,
    pub message: String,
}

impl Smtp {
    /// Errors never repeat the URL, which may hold a password.
    pub fn new(
        settings: &SmtpSettings,
        from: &Sender,
        timeout: Duration,
        composer: Arc<Composer>,
    ) -> Result<Self, String> {
        let url =
            url::Url::parse(settings.url.expose()).map_err(|e| format!("is not a URL ({e})"))?;
        let host = url.host_str().ok_or("must name a host")?.to_owned();
        let tls_param = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let has_credentials = !url.username().is_empty();
        let implicit = url.scheme() == "smtps";
        let default_port = if implicit {
            465
        } else if has_credentials {
            587
        } else {
            25
        };
        let port = url.port().unwrap_or(default_port);
        let params =
            || TlsParameters::new(host.clone()).map_err(|e| format!("TLS setup failed: {e}"));
        let tls = match (implicit, tls_param.as_deref()) {
            (true, _) => Tls::Wrapper(params()?),
            (false, Some("required")) => Tls::Required(params()?),
            (false, Some("opportunistic")) => Tls::Opportunistic(params()?),
            (false, Some("none")) => Tls::None,
            (false, Some(other)) => {
                return Err(format!(
                    "tls={other} is not required, opportunistic or none"
                ));
            }
            // A password must never cross the network in the clear.
            (false, None) if has_credentials => Tls::Required(params()?),
            (false, None) => Tls::Opportunistic(params()?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .tls(tls)
            .timeout(Some(timeout));
        if has_credentials {
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8()
                    .map(|c| c.into_owned())
                    .map_err(|_| "holds a user name or password that is not UTF-8".to_owned())
            };
            let user = decode(url.username())?;
            let password = decode(url.password().unwrap_or_default())?;
            builder = builder.credentials(Credentials::new(user, password));
        }
        let address = from
            .email
            .parse()
            .map_err(|_| format!("the sender '{}' is not an address SMTP accepts", from.email))?;
        Ok(Self {
            transport: builder.build(),
            from: Mailbox::new(from.name.clone(), address),
            composer,
        })
    }

    /// Sends one email and returns the server's final reply.
    async fn send_raw(&self, to: &str, to_name: &str, email: &Rendered) -> Result<Reply, Delivery> {
        let address = to.parse().map_err(|_| Delivery::Permanent {
            error: format!("'{to}' is not an address SMTP accepts"),
        })?;
        let name = Some(to_name.trim().to_owned()).filter(|n| !n.is_empty());
        let message = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(name, address))
            .subject(email.subject.clone())
            .multipart(MultiPart::alternative_plain_html(
                email.text.clone(),
                email.html.clone(),
            ))
            .map_err(|e| Delivery::Permanent {
                error: format!("the email could not be built: {e}"),
            })?;
        match self.transport.send(message).await {
            Ok(response) => Ok(Reply {
                code: u16::from(response.code()),
                message: response.message().collect::<Vec<_>>().join(" "),
            }),
            Err(e) => {
                let error = format!("SMTP: {e}");
                // 5xx replies are final; 4xx replies, timeouts and broken connections pass.
                Err(if e.is_permanent() {
                    Delivery::Permanent { error }
                } else {
                    Delivery::Transient {
                        error,
                        retry_after: None,
                    }
                })
            }
        }
    }

    async fn send_one(&self, email: &Outgoing) -> Delivery {
        let rendered = self.composer.render(&email.values);
        match self
            .send_raw(&email.to, &email.values.name, &rendered)
            .await
        {
            Ok(reply) => Delivery::Accepted {
                message_id: Some(reply.message).filter(|m| !m.is_empty()),
                kept: None,
            },
            Err(delivery) => delivery,
        }
    }

    async fn test(&self, email: &Outgoing) -> TestAnswer {
        let rendered = self.composer.render(&email.values);
        match self
            .send_raw(&email.to, &email.values.name, &rendered)
            .await
        {
            Ok(reply) => TestAnswer {
                accepted: (200..300).contains(&reply.code),
                status: Some(reply.code),
                response: reply.message,
                ..TestAnswer::default()
            },
            Err(Delivery::Transient { error, .. } | Delivery::Permanent { error }) => TestAnswer {
                response: error,
                ..TestAnswer::default()
            },
            Err(Delivery::Accepted { .. }) => unreachable!("errors are never acceptances"),
        }
    }
}

impl Transport for Smtp {
    fn route(&self) -> MailRoute {
        MailRoute::Smtp
    }

    fn batch_limit(&self) -> usize {
        1
    }

    fn send_batch<'a>(&'a self, batch: &'a [Outgoing]) -> BoxFuture<'a, Vec<Delivery>> {
        Box::pin(async move {
            let mut deliveries = Vec::with_capacity(batch.len());
            for email in batch {
                deliveries.push(self.send_one(email).await);
            }
            deliveries
        })
    }

    fn send_test<'a>(&'a self, email: &'a Outgoing) -> BoxFuture<'a, TestAnswer> {
        Box::pin(self.test(email))
    }
}
