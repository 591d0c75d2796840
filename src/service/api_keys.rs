//! The admin API key check.
//!
//! Wrong keys are counted per client address in the database; past the limit, the
//! address is refused for the rest of the window whatever key it sends, so guessing gains
//! nothing by carrying on. The organiser, elsewhere, is not affected. Each replica also
//! remembers the addresses it refused, so a correct key costs no database round trip.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use subtle::ConstantTimeEq;

use super::Doorman;
use crate::config::{ApiKeyThrottle, Secret};
use crate::domain::throttle::{FixedWindows, retry_after_secs};
use crate::store::StoreError;

/// Why a request's key was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum ApiKeyRefusal {
    #[error("no API key")]
    Missing,
    #[error("wrong API key")]
    Invalid,
    #[error("too many wrong API keys; try again in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The admin key, and the addresses refused until a moment, as this replica learnt when
/// recording their keys.
pub(super) struct ApiKeyGuard {
    key: Secret<String>,
    windows: FixedWindows,
    refused: Mutex<HashMap<Option<IpAddr>, DateTime<Utc>>>,
}

impl ApiKeyGuard {
    pub(super) fn new(key: Secret<String>, throttle: ApiKeyThrottle) -> Self {
        Self {
            key,
            windows: FixedWindows {
                length: chrono::Duration::from_std(throttle.window)
                    .expect("the window is at most a day"),
                max_rejections: throttle.max_failures.into(),
            },
            refused: Mutex::default(),
        }
    }

    fn refused_until(&self, address: Option<IpAddr>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        refused.get(&address).copied().filter(|until| *until > now)
    }

    fn refuse(&self, address: Option<IpAddr>, until: DateTime<Utc>, now: DateTime<Utc>) {
        let mut refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        refused.retain(|_, until| *until > now);
        refused.insert(address, until);
    }

    /// Constant time in the key's contents; the length may leak, which says nothing
    /// useful about a 32-byte random key.
    fn matches(&self, given: &[u8]) -> bool {
        given.ct_eq(self.key.expose().as_bytes()).into()
    }
}

impl Doorman {
    /// Accepts `given` if it is the admin key and `address` has not been refused.
    #[tracing::instrument(skip_all, fields(address = ?address))]
    pub async fn check_api_key(
        &self,
        given: Option<&[u8]>,
        address: Option<IpAddr>,
    ) -> Result<(), ApiKeyRefusal> {
        let guard = &self.inner.api_keys;
        let now = self.now();
        if let Some(until) = guard.refused_until(address, now) {
            self.metrics().throttled("api_key", "api");
            return Err(throttled(until, now));
        }
        let given = given.ok_or(ApiKeyRefusal::Missing)?;
        if guard.matches(given) {
            return Ok(());
        }
        let window_start = guard.windows.window_start(now);
        let label = address.map_or_else(|| "unknown".to_owned(), |a| a.to_string());
        let rejected = self
            .store()
            .record_api_key_rejection(&label, window_start, now)
            .await?;
        match guard.windows.refused_until(rejected, window_start) {
            Some(until) => {
                guard.refuse(address, until, now);
                self.metrics().throttled("api_key", "api");
                Err(throttled(until, now))
            }
            None => Err(ApiKeyRefusal::Invalid),
        }
    }
}

fn throttled(until: DateTime<Utc>, now: DateTime<Utc>) -> ApiKeyRefusal {
    ApiKeyRefusal::Throttled {
        retry_after_secs: retry_after_secs(until, now),
    }
}
