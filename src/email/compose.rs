//! What one email says: the values its templates show, its subject, its rendered bodies.

use chrono::{DateTime, Utc};

use super::templates::Templates;
use crate::config::EmailSettings;

/// Everything about one email that the templates can show.
#[derive(Debug, Clone)]
pub struct Values {
    pub name: String,
    pub email: String,
    /// The token as the recipient should read it (grouped: `ABCD-EFGH`).
    pub token: String,
    pub expires_at: String,
    pub expires_in_days: String,
    pub community: String,
    pub invite_url: Option<String>,
    /// The invitee's personal one-click join link, when one-click join is configured.
    pub join_url: Option<String>,
    pub reminder: bool,
}

impl Values {
    pub fn get(&self, key: &str) -> Option<String> {
        let value = match key {
            "name" => self.name.clone(),
            "email" => self.email.clone(),
            "token" => self.token.clone(),
            "expires_at" => self.expires_at.clone(),
            "expires_in_days" => self.expires_in_days.clone(),
            "community" => self.community.clone(),
            "invite_url" => self.invite_url.clone()?,
            "join_url" => self.join_url.clone()?,
            "reminder" => return self.reminder.then(|| "yes".to_owned()),
            _ => return None,
        };
        Some(value)
    }
}

/// An email fully rendered for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// The recipient-specific part of an email.
#[derive(Debug, Clone)]
pub struct Recipient<'a> {
    pub name: &'a str,
    pub email: &'a str,
    /// As the recipient should read it (grouped).
    pub token: &'a str,
    pub expires_at: DateTime<Utc>,
    pub reminder: bool,
}

/// The templates and the community's settings every email shares.
#[derive(Debug, Clone)]
pub struct Composer {
    templates: Templates,
    subject: String,
    community: String,
    invite_url: Option<String>,
    join_link_base: Option<String>,
}

impl Composer {
    pub fn new(settings: &EmailSettings, templates: Templates) -> Self {
        Self {
            templates,
            subject: settings.subject.clone(),
            community: settings.community.clone(),
            invite_url: settings.discord_invite_url.clone(),
            join_link_base: settings.join_link_base.clone(),
        }
    }

    pub fn templates(&self) -> &Templates {
        &self.templates
    }

    /// The values of one recipient's email, as of `now`.
    pub fn values(&self, recipient: &Recipient<'_>, now: DateTime<Utc>) -> Values {
        Values {
            name: recipient.name.to_owned(),
            email: recipient.email.to_owned(),
            token: recipient.token.to_owned(),
            expires_at: format_expiry(recipient.expires_at),
            expires_in_days: days_left(recipient.expires_at, now),
            community: self.community.clone(),
            invite_url: self.invite_url.clone(),
            join_url: self.join_link_base.as_ref().map(|base| {
                format!(
                    "{base}{}",
                    crate::domain::token::normalise_input(recipient.token)
                )
            }),
            reminder: recipient.reminder,
        }
    }

    /// The subject line: `{community}` replaced, "Reminder: " in front of reminders.
    pub fn subject(&self, reminder: bool) -> String {
        let subject = self.subject.replace("{community}", &self.community);
        if reminder {
            format!("Reminder: {subject}")
        } else {
            subject
        }
    }

    pub fn render(&self, values: &Values) -> Rendered {
        Rendered {
            subject: self.subject(values.reminder),
            html: self.templates.html(values),
            text: self.templates.text(values),
        }
    }
}

/// How an expiry reads in an email: "2026-12-01 14:00 UTC".
pub fn format_expiry(expires_at: DateTime<Utc>) -> String {
    expires_at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Whole days left, rounded up, so a token issued for 7 days says 7.
pub fn days_left(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (expires_at - now).num_seconds().max(0);
    ((seconds + 86_399) / 86_400).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_left_round_up() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let cases = [
            (chrono::Duration::days(7), "7"),
            (chrono::Duration::hours(30), "2"),
            (chrono::Duration::seconds(1), "1"),
            (chrono::Duration::zero(), "0"),
            (chrono::Duration::hours(-5), "0"),
        ];
        for (left, expected) in cases {
            assert_eq!(days_left(now + left, now), expected, "{left}");
        }
    }
}
