//! Verification tokens: generated, normalised, hashed and sealed.
//!
//! The database holds two things per token and neither is usable on its own: a keyed hash
//! (to check what an invitee types) and a ciphertext (so an email retry or reminder can
//! send the same token again). Both keys derive from the server-side token secret, which
//! lives outside the database.

use std::fmt;

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Upper-case letters and digits without the look-alikes 0/O and 1/I/L.
pub const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// A token that doorman generated. Its only constructor draws from a CSPRNG (or opens a
/// ciphertext doorman sealed), so a `Token` is never user input.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn generate(length: usize) -> Self {
        let mut rng = rand::rng();
        let text = (0..length)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
            .collect();
        Self(text)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The token in groups of four (`ABCD-EFGH`), easier to read off an email.
    pub fn grouped(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        chars
            .chunks(4)
            .map(|c| c.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join("-")
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token([redacted])")
    }
}

/// What a person typed, made comparable: trimmed, upper-cased, spaces and dashes dropped.
pub fn normalise_input(input: &str) -> String {
    input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-' && *c != '\u{2010}' && *c != '\u{2013}')
        .flat_map(char::to_uppercase)
        .collect()
}

/// The keys derived from the token secret.
#[derive(Clone)]
pub struct TokenKeys {
    hash_key: [u8; 32],
    cipher: ChaCha20Poly1305,
}

#[derive(Debug, thiserror::Error)]
#[error("a stored token could not be decrypted (was TOKEN_SECRET changed?)")]
pub struct UnsealError;

type HmacSha256 = Hmac<Sha256>;

impl TokenKeys {
    pub fn derive(secret: &[u8]) -> Self {
        let hash_key = hmac(secret, b"doorman/token-hash/v1");
        let cipher_key = hmac(secret, b"doorman/token-seal/v1");
        Self {
            hash_key,
            cipher: ChaCha20Poly1305::new(&cipher_key.into()),
        }
    }

    /// The keyed hash stored in the database, hex encoded.
    pub fn hash(&self, token: &Token) -> String {
        self.hash_normalised(token.expose())
    }

    /// The keyed hash of what a person presented (as typed, or from a link), to find
    /// the invitation that holds it.
    pub fn hash_input(&self, input: &str) -> String {
        self.hash_normalised(&normalise_input(input))
    }

    fn hash_normalised(&self, normalised: &str) -> String {
        hex(&hmac(&self.hash_key, normalised.as_bytes()))
    }

    /// Whether `input` (as typed) is the token behind `stored_hash`, compared in constant time.
    pub fn matches(&self, input: &str, stored_hash: &str) -> bool {
        let candidate = self.hash_normalised(&normalise_input(input));
        candidate.as_bytes().ct_eq(stored_hash.as_bytes()).into()
    }

    /// Encrypts the token for one invitee. The invitee id is bound in as associated data,
    /// so a ciphertext copied onto another row does not open.
    pub fn seal(&self, token: &Token, invitee_id: i64) -> String {
        let mut nonce = [0u8; 12];
        rand::rng().fill(&mut nonce);
        let aad = invitee_id.to_be_bytes();
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: token.expose().as_bytes(),
                    aad: &aad,
                },
            )
            .expect("ChaCha20Poly1305 encryption of a short message cannot fail");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(out)
    }

    pub fn open(&self, sealed: &str, invitee_id: i64) -> Result<Token, UnsealError> {
        let raw = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(sealed)
            .map_err(|_| UnsealError)?;
        if raw.len() < 12 {
            return Err(UnsealError);
        }
        let (nonce, ciphertext) = raw.split_at(12);
        let aad = invitee_id.to_be_bytes();
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| UnsealError)?;
        String::from_utf8(plain).map(Token).map_err(|_| UnsealError)
    }
}

fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac =
        <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// `bytes` random bytes from a CSPRNG, as lower-case hex (twice as many characters):
/// for identifiers that must not be guessable, such as claim tokens and message ids.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill(&mut buf[..]);
    hex(&buf)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn keys() -> TokenKeys {
        TokenKeys::derive(b"a test secret that is long enough")
    }

    #[test]
    fn generated_tokens_use_only_the_unambiguous_alphabet() {
        for _ in 0..200 {
            let token = Token::generate(8);
            assert_eq!(token.expose().len(), 8);
            assert!(token.expose().bytes().all(|b| ALPHABET.contains(&b)));
        }
        for look_alike in ["0", "O", "1", "I", "L"] {
            assert!(!ALPHABET.contains(&look_alike.as_bytes()[0]));
        }
    }

    #[test]
    fn generated_tokens_differ() {
        let tokens: std::collections::HashSet<String> = (0..1000)
            .map(|_| Token::generate(8).expose().to_owned())
            .collect();
        assert_eq!(tokens.len(), 1000);
    }

    #[test]
    fn typed_input_is_forgiving() {
        let keys = keys();
        let token = Token(String::from("ABCD2345"));
        let hash = keys.hash(&token);
        for typed in [
            "ABCD2345",
            "abcd2345",
            "  abcd-2345 ",
            "AB CD 23 45",
            "abcd\u{2013}2345",
        ] {
            assert!(keys.matches(typed, &hash), "{typed:?} should match");
        }
        for wrong in ["ABCD2346", "ABCD234", "ABCD23455", ""] {
            assert!(!keys.matches(wrong, &hash), "{wrong:?} should not match");
        }
    }

    #[test]
    fn hashes_depend_on_the_secret() {
        let token = Token::generate(8);
        let other = TokenKeys::derive(b"another secret, also long enough!");
        assert_ne!(keys().hash(&token), other.hash(&token));
        assert!(!other.matches(token.expose(), &keys().hash(&token)));
    }

    #[test]
    fn sealed_tokens_open_only_for_their_invitee_and_key() {
        let keys = keys();
        let token = Token::generate(8);
        let sealed = keys.seal(&token, 42);
        assert!(!sealed.contains(token.expose()));
        assert_eq!(keys.open(&sealed, 42).unwrap(), token);
        assert!(keys.open(&sealed, 43).is_err());
        assert!(
            TokenKeys::derive(b"another secret, also long enough!")
                .open(&sealed, 42)
                .is_err()
        );
        assert!(keys.open("not base64!", 42).is_err());
    }

    #[test]
    fn random_hex_is_lower_case_hex_of_the_asked_length_and_differs() {
        for bytes in [0, 1, 12, 16] {
            let text = random_hex(bytes);
            assert_eq!(text.len(), bytes * 2);
            assert!(
                text.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            );
        }
        assert_ne!(random_hex(16), random_hex(16));
    }

    #[test]
    fn grouping_splits_into_fours() {
        assert_eq!(Token(String::from("ABCD2345")).grouped(), "ABCD-2345");
        assert_eq!(Token(String::from("ABCDEF")).grouped(), "ABCD-EF");
    }

    #[test]
    fn debug_output_hides_the_token() {
        let token = Token::generate(8);
        assert!(!format!("{token:?}").contains(token.expose()));
    }

    proptest! {
        #[test]
        fn any_spacing_dashing_and_casing_of_a_token_matches(
            token in "[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6,12}",
            seps in proptest::collection::vec(prop_oneof![Just(""), Just(" "), Just("-"), Just("\t")], 13),
            lower in proptest::collection::vec(any::<bool>(), 13),
        ) {
            let keys = keys();
            let hash = keys.hash(&Token(token.clone()));
            let typed: String = token.chars().enumerate().map(|(i, c)| {
                let c = if lower[i] { c.to_ascii_lowercase() } else { c };
                format!("{}{c}", seps[i])
            }).collect();
            let padded = format!(" {typed} ");
            prop_assert!(keys.matches(&padded, &hash));
        }

        #[test]
        fn a_changed_character_never_matches(
            token in "[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{8}",
            pos in 0usize..8,
            replacement in proptest::sample::select(ALPHABET.to_vec()),
        ) {
            let mut changed = token.clone().into_bytes();
            prop_assume!(changed[pos] != replacement);
            changed[pos] = replacement;
            let keys = keys();
            let hash = keys.hash(&Token(token));
            prop_assert!(!keys.matches(std::str::from_utf8(&changed).unwrap(), &hash));
        }
    }
}
