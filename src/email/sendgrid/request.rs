//! The body of a `mail/send` request: one personalization per recipient, and either
//! doorman's own bodies (with per-recipient substitutions) or a dynamic template.

use serde_json::{Map, Value, json};

use super::SendGrid;
use crate::email::Outgoing;
use crate::email::compose::Values;
use crate::email::templates::escape_html;

/// Per-recipient values travel as substitutions; the HTML and the plain text get their
/// own tags where escaping makes them differ.
const TAGS: [(&str, &str); 8] = [
    ("%doorman_name_html%", "name"),
    ("%doorman_name_text%", "name"),
    ("%doorman_email_html%", "email"),
    ("%doorman_email_text%", "email"),
    ("%doorman_token%", "token"),
    ("%doorman_expires_at%", "expires_at"),
    ("%doorman_expires_in_days%", "expires_in_days"),
    ("%doorman_join_url%", "join_url"),
];

impl SendGrid {
    /// One request for all of `batch` (at most 1000 recipients, all invitations or all
    /// reminders).
    pub(super) fn request(&self, subject: &str, batch: &[Outgoing]) -> Value {
        let mut from = json!({ "email": self.from.email });
        if let Some(name) = &self.from.name {
            from["name"] = name.clone().into();
        }
        let personalizations: Vec<Value> = batch
            .iter()
            .map(|email| self.personalization(subject, email))
            .collect();
        let mut body = json!({ "personalizations": personalizations, "from": from });
        match &self.template_id {
            Some(id) => body["template_id"] = id.clone().into(),
            None => {
                let first = &batch[0].values;
                let tagged = |html: bool| Values {
                    name: tag("name", html),
                    email: tag("email", html),
                    token: tag("token", html),
                    expires_at: tag("expires_at", html),
                    expires_in_days: tag("expires_in_days", html),
                    join_url: first.join_url.as_ref().map(|_| tag("join_url", html)),
                    ..first.clone()
                };
                body["content"] = json!([
                    { "type": "text/plain", "value": self.composer.templates().text(&tagged(false)) },
                    { "type": "text/html", "value": self.composer.templates().html(&tagged(true)) },
                ]);
            }
        }
        body
    }

    fn personalization(&self, subject: &str, email: &Outgoing) -> Value {
        // SendGrid refuses ';' and ',' in recipient names.
        let name: String = email
            .values
            .name
            .chars()
            .filter(|c| !matches!(c, ';' | ','))
            .collect();
        let mut to = json!({ "email": email.to });
        if !name.trim().is_empty() {
            to["name"] = name.trim().into();
        }
        let mut custom_args = Map::new();
        if let Some(id) = email.invitee_id {
            custom_args.insert("invitee_id".into(), id.to_string().into());
        }
        if let Some(id) = email.email_id {
            custom_args.insert("email_id".into(), id.to_string().into());
        }
        let mut p = json!({ "to": [to], "custom_args": custom_args });
        let v = &email.values;
        match &self.template_id {
            Some(_) => {
                p["dynamic_template_data"] = json!({
                    "name": v.name,
                    "token": v.token,
                    "expires_in_days": v.expires_in_days,
                    "expires_at": v.expires_at,
                    "invite_url": v.invite_url,
                    "join_url": v.join_url,
                    "community": v.community,
                    "reminder": v.reminder,
                    "subject": subject,
                });
            }
            None => {
                p["subject"] = subject.into();
                let mut subs = Map::new();
                for (tag, key) in TAGS {
                    let raw = v.get(key).unwrap_or_default();
                    let value = if tag.ends_with("_html%") {
                        escape_html(&raw)
                    } else {
                        raw
                    };
                    subs.insert(tag.into(), value.into());
                }
                p["substitutions"] = subs.into();
            }
        }
        p
    }
}

fn tag(key: &str, html: bool) -> String {
    match key {
        "name" | "email" => format!("%doorman_{key}_{}%", if html { "html" } else { "text" }),
        _ => format!("%doorman_{key}%"),
    }
}
