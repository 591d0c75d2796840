//! Watching doorman run: its log lines, request ids and metrics. The service counts what
//! it does through [`Metrics`]; the HTTP layers here count requests.

pub mod http;
pub mod logging;
mod metrics;
pub mod request_id;

pub use metrics::{CONTENT_TYPE, EMAIL_OUTCOMES, Metrics, VERIFICATION_OUTCOMES};
