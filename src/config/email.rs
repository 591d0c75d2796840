//! Email settings: where invitations go (SendGrid, SMTP or the local outbox), what they
//! say, and how the queue behaves. Parsed with the rest of [`super::Settings`], so a bad
//! value stops start-up with a message naming the variable.

use std::path::PathBuf;
use std::time::Duration;

use super::{ConfigError, Secret, ranged};
use crate::domain::MailRoute;
use crate::email::webhook::WebhookKey;

/// Where emails are sent: the first route that is configured.
#[derive(Debug, Clone)]
pub enum EmailRoute {
    SendGrid(SendGridSettings),
    Smtp(SmtpSettings),
    /// Nothing leaves the machine: emails are stored, rendered, for the API to show.
    Outbox,
}

impl EmailRoute {
    pub fn kind(&self) -> MailRoute {
        match self {
            Self::SendGrid(_) => MailRoute::SendGrid,
            Self::Smtp(_) => MailRoute::Smtp,
            Self::Outbox => MailRoute::Outbox,
        }
    }

    pub fn name(&self) -> &'static str {
        self.kind().as_str()
    }
}

#[derive(Debug, Clone)]
pub struct SendGridSettings {
    pub api_key: Secret<String>,
    /// Base URL of the API, without `/v3/...` (tests point it at a fake).
    pub api_url: url::Url,
    /// A dynamic template to send instead of doorman's own bodies.
    pub template_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// `smtp://user:pass@host:587` (STARTTLS), `smtps://` (implicit TLS), `smtp://host:25`.
    /// Secret because it usually carries a password.
    pub url: Secret<String>,
}

/// The sender, as shown to recipients.
#[derive(Debug, Clone)]
pub struct Sender {
    pub email: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct EmailSettings {
    pub route: EmailRoute,
    pub from: Sender,
    /// The subject, with `{community}` replaced by the community's name.
    pub subject: String,
    pub community: String,
    pub discord_invite_url: Option<String>,
    /// `PUBLIC_URL/join/` when one-click join is configured: each email then carries
    /// the invitee's personal link.
    pub join_link_base: Option<String>,
    /// Replacement templates (`invitation.html`, `invitation.txt`), each optional.
    pub template_dir: Option<PathBuf>,
    /// Requests to the provider in flight at once.
    pub concurrency: usize,
    /// Recipients per SendGrid request (personalizations), at most 1000.
    pub batch_size: usize,
    pub resend_cooldown: chrono::Duration,
    /// Days after the invitation on which an unverified invitee is reminded.
    pub reminder_days: Vec<u32>,
    /// SendGrid's Event Webhook verification key (configured as base64 DER or PEM).
    pub webhook_public_key: Option<WebhookKey>,
    /// Whether this process runs the background workers (off: another replica or the
    /// CLI sends; tests drive the queue themselves).
    pub workers: bool,
    /// How often idle workers look for due emails (new emails wake them at once).
    pub poll_interval: Duration,
    /// How long `POST /api/send-emails` waits for its batch before answering.
    pub send_wait: Duration,
    pub max_attempts: u32,
    /// The first retry's delay; each later one doubles it (with jitter).
    pub retry_base: Duration,
    /// A provider request that takes longer is abandoned and retried.
    pub request_timeout: Duration,
    /// How long a claimed email is reserved for the worker that claimed it; after a crash
    /// it is sent again once this has passed.
    pub lease: Duration,
}

pub(super) fn from_lookup(
    var: &impl Fn(&str) -> Option<String>,
) -> Result<EmailSettings, ConfigError> {
    let sendgrid_key = var("SENDGRID_API_KEY");
    let smtp_url = var("SMTP_URL");
    let community = var("COMMUNITY_NAME").unwrap_or_else(|| "Our community".into());

    let route = if let Some(key) = sendgrid_key {
        let api_url = var("SENDGRID_API_URL").unwrap_or_else(|| "https://api.sendgrid.com".into());
        let api_url = url::Url::parse(&api_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| {
                ConfigError::new(
                    "SENDGRID_API_URL",
                    format!("'{api_url}' is not an http(s) URL"),
                )
            })?;
        EmailRoute::SendGrid(SendGridSettings {
            api_key: Secret::new(key),
            api_url,
            template_id: var("SENDGRID_TEMPLATE_ID"),
        })
    } else if let Some(url) = smtp_url {
        check_smtp_url(&url)?;
        EmailRoute::Smtp(SmtpSettings {
            url: Secret::new(url),
        })
    } else {
        EmailRoute::Outbox
    };

    let from = sender(var, &route)?;
    let subject = var("EMAIL_SUBJECT").unwrap_or_else(|| "{community} Discord invitation".into());
    let discord_invite_url = var("DISCORD_INVITE_URL");
    if let Some(invite) = &discord_invite_url
        && url::Url::parse(invite).is_err()
    {
        return Err(ConfigError::new(
            "DISCORD_INVITE_URL",
            format!("'{invite}' is not a URL"),
        ));
    }
    let template_dir = var("EMAIL_TEMPLATE_DIR").map(PathBuf::from);
    if let Some(dir) = &template_dir
        && !dir.is_dir()
    {
        return Err(ConfigError::new(
            "EMAIL_TEMPLATE_DIR",
            format!("{} is not a directory", dir.display()),
        ));
    }

    let concurrency: usize = ranged(var, "EMAIL_CONCURRENCY", 8, 1, 256)?;
    let batch_size: usize = ranged(var, "EMAIL_BATCH_SIZE", 100, 1, 1000)?;
    let cooldown: i64 = ranged(var, "RESEND_COOLDOWN_MINUTES", 10, 0, 60 * 24 * 30)?;
    let reminder_days = reminder_days(var("REMINDER_DAYS"))?;
    let webhook_public_key = var("SENDGRID_WEBHOOK_PUBLIC_KEY")
        .map(|key| WebhookKey::parse(&key))
        .transpose()
        .map_err(|e| ConfigError::new("SENDGRID_WEBHOOK_PUBLIC_KEY", e.to_string()))?;
    let workers = match var("EMAIL_WORKERS")
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("true" | "1" | "yes") => true,
        Some("false" | "0" | "no") => false,
        Some(other) => {
            return Err(ConfigError::new(
                "EMAIL_WORKERS",
                format!("'{other}' is not true or false"),
            ));
        }
    };
    let poll_ms: u64 = ranged(var, "EMAIL_POLL_INTERVAL_MS", 1000, 10, 600_000)?;
    let wait_secs: u64 = ranged(var, "EMAIL_SEND_WAIT_SECONDS", 10, 0, 300)?;
    let max_attempts: u32 = ranged(var, "EMAIL_MAX_ATTEMPTS", 6, 1, 100)?;
    let retry_base_ms: u64 = ranged(var, "EMAIL_RETRY_BASE_MS", 2000, 1, 3_600_000)?;
    let timeout_secs: u64 = ranged(var, "EMAIL_TIMEOUT_SECONDS", 30, 1, 600)?;
    let lease_secs: u64 = ranged(var, "EMAIL_LEASE_SECONDS", 120, 1, 86_400)?;
    if lease_secs <= timeout_secs {
        return Err(ConfigError::new(
            "EMAIL_LEASE_SECONDS",
            "must be longer than EMAIL_TIMEOUT_SECONDS, or a slow send could be claimed twice",
        ));
    }

    Ok(EmailSettings {
        route,
        from,
        subject,
        community,
        discord_invite_url,
        join_link_base: None,
        template_dir,
        concurrency,
        batch_size,
        resend_cooldown: chrono::Duration::minutes(cooldown),
        reminder_days,
        webhook_public_key,
        workers,
        poll_interval: Duration::from_millis(poll_ms),
        send_wait: Duration::from_secs(wait_secs),
        max_attempts,
        retry_base: Duration::from_millis(retry_base_ms),
        request_timeout: Duration::from_secs(timeout_secs),
        lease: Duration::from_secs(lease_secs),
    })
}

/// `EMAIL_FROM` ("addr" or "Name <addr>"), else SendGrid's own variables; required for
/// the routes that really send, a placeholder for the outbox.
fn sender(
    var: &impl Fn(&str) -> Option<String>,
    route: &EmailRoute,
) -> Result<Sender, ConfigError> {
    let (var_name, raw) = match (route, var("SENDGRID_FROM_EMAIL"), var("EMAIL_FROM")) {
        (EmailRoute::SendGrid(_), Some(from), _) => ("SENDGRID_FROM_EMAIL", from),
        (_, _, Some(from)) => ("EMAIL_FROM", from),
        (EmailRoute::SendGrid(_), None, None) => {
            return Err(ConfigError::new(
                "SENDGRID_FROM_EMAIL",
                "required with SENDGRID_API_KEY",
            ));
        }
        (EmailRoute::Smtp(_), _, None) => {
            return Err(ConfigError::new("EMAIL_FROM", "required with SMTP_URL"));
        }
        (EmailRoute::Outbox, _, None) => ("EMAIL_FROM", "doorman@localhost.invalid".into()),
    };
    let (name, email) = match raw.rsplit_once('<') {
        Some((name, rest)) if rest.ends_with('>') => {
            let name = name.trim().trim_matches('"').trim();
            (
                Some(name.to_owned()).filter(|n| !n.is_empty()),
                rest.trim_end_matches('>').trim().to_owned(),
            )
        }
        _ => (None, raw.clone()),
    };
    if !email_address::EmailAddress::is_valid(&email) {
        return Err(ConfigError::new(
            var_name,
            format!("'{raw}' is not an email address"),
        ));
    }
    let name = var("SENDGRID_FROM_NAME").or(name);
    Ok(Sender { email, name })
}

fn check_smtp_url(raw: &str) -> Result<(), ConfigError> {
    // Never echo the URL: it may hold a password.
    let url = url::Url::parse(raw)
        .map_err(|e| ConfigError::new("SMTP_URL", format!("is not a URL ({e})")))?;
    if !matches!(url.scheme(), "smtp" | "smtps") {
        return Err(ConfigError::new(
            "SMTP_URL",
            "must start with smtp:// or smtps://",
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ConfigError::new("SMTP_URL", "must name a host"));
    }
    Ok(())
}

fn reminder_days(raw: Option<String>) -> Result<Vec<u32>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    let mut days = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.parse::<u32>() {
            Ok(day) if (1..=365).contains(&day) => days.push(day),
            _ => {
                return Err(ConfigError::new(
                    "REMINDER_DAYS",
                    format!("'{part}' is not a number of days between 1 and 365 (write e.g. 2,5)"),
                ));
            }
        }
    }
    days.sort_unstable();
    days.dedup();
    Ok(days)
}
