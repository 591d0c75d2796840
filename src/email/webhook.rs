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

pub const SIGNATURE_HEADER: &str = "x-twilio-email-event-webhook-signature";
pub const TIMESTAMP_HEADER: &str = "x-twilio-email-event-webhook-timestamp";

#[derive(Debug, thiserror::Error)]
#[error("is not a P-256 public key in base64 DER or PEM form")]
pub struct KeyError;

/// Accepts the key as SendGrid shows it (base64 DER) or wrapped in PEM armour.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, KeyError> {
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

/// Whether `signature` (base64 DER) signs `timestamp` followed by `body`.
pub fn verify(key: &VerifyingKey, signature: &str, timestamp: &str, body: &[u8]) -> bool {
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

/// How an event changes an invitee's email status: the new status (None for a deferral,
/// which only notes why delivery is delayed) and the error to show.
pub fn effect(event: &Event) -> Option<(Option<&'static str>, Option<String>)> {
    let why = event.reason.clone().or_else(|| event.response.clone());
    match event.event.as_str() {
        "delivered" => Some((Some("delivered"), None)),
        "bounce" => {
            let kind = event.bounce_type.as_deref().unwrap_or("bounce");
            Some((
                Some("bounced"),
                Some(format!(
                    "{kind}: {}",
                    why.unwrap_or_else(|| "no reason given".into())
                )),
            ))
        }
        "dropped" => Some((
            Some("dropped"),
            Some(why.unwrap_or_else(|| "dropped by SendGrid".into())),
        )),
        "deferred" => Some((
            None,
            Some(format!(
                "deferred: {}",
                why.unwrap_or_else(|| "no reason given".into())
            )),
        )),
        _ => None,
    }
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
}
