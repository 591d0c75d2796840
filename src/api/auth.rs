//! The admin API key check, in front of every `/api/*` route but the docs.
//!
//! Wrong keys are counted per client address in the database; past the limit, the
//! address is refused for the rest of the window whatever key it sends, so guessing gains
//! nothing by carrying on. The organiser, elsewhere, is not affected. Each replica also
//! remembers the addresses it refused, so a correct key costs no database round trip.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};
use subtle::ConstantTimeEq;

use super::{ApiError, AppState, client_addr};
use crate::config::ApiKeyThrottle;

pub const API_KEY_HEADER: &str = "x-api-key";

/// Addresses refused until a moment, as this replica learnt when recording their keys.
#[derive(Clone)]
pub struct ApiKeyGuard {
    throttle: ApiKeyThrottle,
    refused: Arc<Mutex<HashMap<Option<IpAddr>, DateTime<Utc>>>>,
}

impl ApiKeyGuard {
    pub fn new(throttle: ApiKeyThrottle) -> Self {
        Self {
            throttle,
            refused: Arc::default(),
        }
    }

    fn window(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.throttle.window).expect("the window is at most a day")
    }

    /// Fixed windows, the same on every replica, so they share one counter per address.
    fn window_start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let length = self.window().num_seconds();
        let start = now.timestamp() - now.timestamp().rem_euclid(length);
        DateTime::from_timestamp(start, 0).unwrap_or(now)
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
}

pub async fn require_api_key(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let address = client_addr::resolve(
        request.extensions(),
        request.headers(),
        &state.trusted_proxies,
    );
    let given = request.headers().get(API_KEY_HEADER).map(|v| v.as_bytes());
    check_api_key(&state, address, given).await?;
    Ok(next.run(request).await)
}

/// Checks `given` against the admin key, counting a wrong one against `address`: the
/// `x-api-key` header and the admin UI's sign-in share this one throttle.
pub(crate) async fn check_api_key(
    state: &AppState,
    address: Option<IpAddr>,
    given: Option<&[u8]>,
) -> Result<(), ApiError> {
    let guard = &state.api_key_guard;
    let now = state.doorman.now();
    if let Some(until) = guard.refused_until(address, now) {
        return Err(too_many(until, now));
    }
    let Some(given) = given else {
        return Err(ApiError::MissingApiKey);
    };
    // Constant time in the key's contents; the length may leak, which says nothing useful
    // about a 32-byte random key.
    let expected = state.api_key.expose().as_bytes();
    if !bool::from(given.ct_eq(expected)) {
        let window_start = guard.window_start(now);
        let label = address.map_or_else(|| "unknown".to_owned(), |a| a.to_string());
        let rejected = state
            .doorman
            .store()
            .record_api_key_rejection(&label, window_start, now)
            .await
            .map_err(ApiError::internal)?;
        if rejected > i64::from(guard.throttle.max_failures) {
            let until = window_start + guard.window();
            guard.refuse(address, until, now);
            return Err(too_many(until, now));
        }
        return Err(ApiError::InvalidApiKey);
    }
    Ok(())
}

fn too_many(until: DateTime<Utc>, now: DateTime<Utc>) -> ApiError {
    let retry_after_secs = (until - now).num_seconds().max(1) as u64;
    ApiError::TooManyRequests { retry_after_secs }
}
