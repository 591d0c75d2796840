//! SendGrid's Event Webhook: signature verification and what each event means.
//!
//! SendGrid signs `timestamp + body` (the raw bytes) with ECDSA over P-256 and SHA-256,
//! sends the base64 DER signature in `X-Twilio-Email-Event-Webhook-Signature` and the
//! timestamp in `X-Twilio-Email-Event-Webhook-Timestamp`; the verification key is shown
//! in SendGrid's settings as base64 DER (SubjectPublicKeyInfo).

use base64::Engine;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde::Deserialize;

use crate::domain::DeliveryReport;

pub const SIGNATURE_HEADER: &str = "x-twilio-email-event-webhook-signature";
pub const TIMESTAMP_HEADER: &str = "x-twilio-email-event-webhook-timestamp";

#[derive(Debug, thiserror::Error)]
#[error("is not a P-256 public key in base64 DER or PEM form")]
pub struct KeyError;

/// The key SendGrid signs its events with, parsed once when the settings are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookKey(VerifyingKey);

impl WebhookKey {
    /// Accepts the key as SendGrid shows it (base64 DER) or wrapped in PEM armour.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        parse_public_key(text).map(Self)
    }

    /// Whether `signature` (base64 DER) signs `timestamp` followed by `body`.
    pub fn verify(&self, signature: &str, timestamp: &str, body: &[u8]) -> bool {
        verify(&self.0, signature, timestamp, body)
    }
}

fn parse_public_key(text: &str) -> Result<VerifyingKey, KeyError> {
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| KeyError)?;
    VerifyingKey::from_public_key_der(&der).map_err(|_| KeyError)
}

fn verify(key: &VerifyingKey, signature: &str, timestamp: &str, body: &[u8]) -> bool {
    let Ok(der) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    let Ok(signature) = Signature::from_der(&der) else {
        return false;
    };
    // Other ECDSA libraries may produce either of the two equivalent forms of a
    // signature; accept both, as SendGrid's own libraries do.
    let signature = signature.normalize_s().unwrap_or(signature);
    let mut message = Vec::with_capacity(timestamp.len() + body.len());
    message.extend_from_slice(timestamp.as_bytes());
    message.extend_from_slice(body);
    key.verify(&message, &signature).is_ok()
}

/// The fields doorman reads from an event; SendGrid sends many more.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    pub event: String,
    pub sg_event_id: Option<String>,
    pub email: Option<String>,
    pub reason: Option<String>,
    pub response: Option<String>,
    #[serde(rename = "type")]
    pub bounce_type: Option<String>,
    /// Our `custom_args`, which SendGrid copies into every event as strings.
    pub invitee_id: Option<IdField>,
    pub email_id: Option<IdField>,
}

/// An id as SendGrid returns it: a string (as we sent it) or, defensively, a number.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum IdField {
    Text(String),
    Number(i64),
}

impl IdField {
    pub fn get(&self) -> Option<i64> {
        match self {
            Self::Text(s) => s.trim().parse().ok(),
            Self::Number(n) => Some(*n),
        }
    }
}

/// What an event reports, and the error to show with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effect {
    pub report: DeliveryReport,
    pub error: Option<String>,
}

/// What an event means for the email it names; None for events doorman does not track
/// (processed, open, click...).
pub fn effect(event: &Event) -> Option<Effect> {
    let why = event.reason.clone().or_else(|| event.response.clone());
    let no_reason = || "no reason given".to_owned();
    let (report, error) = match event.event.as_str() {
        "delivered" => (DeliveryReport::Delivered, None),
        "bounce" => {
            let kind = event.bounce_type.as_deref().unwrap_or("bounce");
            let error = format!("{kind}: {}", why.unwrap_or_else(no_reason));
            (DeliveryReport::Bounced, Some(error))
        }
        "dropped" => {
            let error = why.unwrap_or_else(|| "dropped by SendGrid".into());
            (DeliveryReport::Dropped, Some(error))
        }
        "deferred" => {
            let error = format!("deferred: {}", why.unwrap_or_else(no_reason));
            (DeliveryReport::Deferred, Some(error))
        }
        _ => return None,
    };
    Some(Effect { report, error })
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::SigningKey;
    use p256::ecdsa::signature::Signer;
    use p256::pkcs8::EncodePublicKey;

    fn key_pair() -> (SigningKey, String) {
        let signing = SigningKey::from_slice(&[7u8; 32]).unwrap();
        let public = signing.verifying_key().to_public_key_der().unwrap();
        (
            signing,
            base64::engine::general_purpose::STANDARD.encode(public.as_bytes()),
        )
    }

    fn sign(key: &SigningKey, timestamp: &str, body: &[u8]) -> String {
        let mut message = timestamp.as_bytes().to_vec();
        message.extend_from_slice(body);
        let signature: Signature = key.sign(&message);
        base64::engine::general_purpose::STANDARD.encode(signature.to_der().as_bytes())
    }

    #[test]
    fn a_signature_over_timestamp_and_body_verifies_and_nothing_else_does() {
        let (signing, public) = key_pair();
        let key = parse_public_key(&public).unwrap();
        let body = br#"[{"event":"delivered"}]"#;
        let signature = sign(&signing, "1600000000", body);
        assert!(verify(&key, &signature, "1600000000", body));
        assert!(
            !verify(&key, &signature, "1600000001", body),
            "another timestamp"
        );
        assert!(
            !verify(&key, &signature, "1600000000", br#"[{"event":"bounce"}]"#),
            "another body"
        );
        assert!(!verify(&key, "bm90IGEgc2lnbmF0dXJl", "1600000000", body));
        assert!(!verify(&key, "", "1600000000", body));
    }

    #[test]
    fn keys_are_read_as_sendgrid_shows_them_or_as_pem() {
        let (_, public) = key_pair();
        assert!(parse_public_key(&public).is_ok());
        let pem = format!("-----BEGIN PUBLIC KEY-----\n{public}\n-----END PUBLIC KEY-----\n");
        assert!(parse_public_key(&pem).is_ok());
        assert!(parse_public_key("not a key").is_err());
    }

    #[test]
    fn sendgrid_s_published_example_verifies() {
        // The example from SendGrid's own Event Webhook libraries' tests.
        let key = parse_public_key("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA==").unwrap();
        let body =
            r#"{"category":"example_payload","event":"test_event","message_id":"message_id"}"#;
        assert!(verify(
            &key,
            "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0=",
            "1588788367",
            body.as_bytes()
        ));
    }

    fn sendgrid_event(kind: &str, reason: Option<&str>) -> Event {
        Event {
            event: kind.into(),
            sg_event_id: Some("e1".into()),
            email: None,
            reason: reason.map(str::to_owned),
            response: None,
            bounce_type: Some("blocked".into()),
            invitee_id: None,
            email_id: None,
        }
    }

    #[test]
    fn each_tracked_event_has_one_effect() {
        let cases = [
            ("delivered", None, Some((DeliveryReport::Delivered, None))),
            (
                "bounce",
                Some("550 gone"),
                Some((DeliveryReport::Bounced, Some("blocked: 550 gone"))),
            ),
            (
                "dropped",
                None,
                Some((DeliveryReport::Dropped, Some("dropped by SendGrid"))),
            ),
            (
                "deferred",
                None,
                Some((DeliveryReport::Deferred, Some("deferred: no reason given"))),
            ),
            ("processed", None, None),
            ("open", None, None),
        ];
        for (kind, reason, expected) in cases {
            let expected = expected.map(|(report, error)| Effect {
                report,
                error: error.map(str::to_owned),
            });
            assert_eq!(effect(&sendgrid_event(kind, reason)), expected, "{kind}");
        }
    }
}
