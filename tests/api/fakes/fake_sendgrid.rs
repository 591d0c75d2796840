//! A fake SendGrid v3 `mail/send`, written from SendGrid's documentation: it checks each
//! request against the documented schema, answers like SendGrid (202 with X-Message-Id;
//! 400/401 with `{"errors":[{"message","field","help"}]}`), records what each recipient
//! would have received (substitutions applied), and can be told to fail.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Map, Value, json};

pub const API_KEY: &str = "SG.fake-key-for-tests.0123456789";

/// What the fake does with the next request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// 500 with SendGrid's error body.
    ServerError,
    /// 429 with `Retry-After: secs`.
    RateLimited { retry_after: u64 },
    /// Never answers (the client must time out).
    Hang,
    /// 400 with this message, as for a refused sender.
    BadRequest(&'static str),
    /// 403, as for an API key without the Mail Send permission.
    Forbidden,
}

/// One email as its recipient would have received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub to: String,
    pub to_name: Option<String>,
    pub from: String,
    pub subject: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
    pub template_id: Option<String>,
    pub dynamic_template_data: Option<Value>,
    pub custom_args: Map<String, Value>,
    pub message_id: String,
}

#[derive(Default)]
struct Inner {
    faults: VecDeque<Fault>,
    delay: Duration,
    requests: usize,
    personalizations_per_request: Vec<usize>,
    received: Vec<Received>,
    next_id: u64,
}

#[derive(Clone)]
pub struct FakeSendGrid {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeSendGrid {
    pub async fn start() -> Self {
        Self::start_with_delay(Duration::ZERO).await
    }

    /// Answers every request after `delay`, like a provider some way off.
    pub async fn start_with_delay(delay: Duration) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            delay,
            ..Default::default()
        }));
        let app = Router::new()
            .route("/v3/mail/send", post(mail_send))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, inner }
    }

    /// The environment that points doorman at this fake.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("SENDGRID_API_KEY", API_KEY.to_owned()),
            (
                "SENDGRID_FROM_EMAIL",
                "invites@community.example.org".to_owned(),
            ),
            ("SENDGRID_FROM_NAME", "The Community".to_owned()),
            ("SENDGRID_API_URL", self.url.clone()),
        ]
    }

    /// The next requests meet these faults, in order; after them, normal answers.
    pub fn fail_next(&self, faults: impl IntoIterator<Item = Fault>) {
        self.inner.lock().unwrap().faults.extend(faults);
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    pub fn received_by(&self, address: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.to == address)
            .collect()
    }

    pub fn requests(&self) -> usize {
        self.inner.lock().unwrap().requests
    }

    pub fn batch_sizes(&self) -> Vec<usize> {
        self.inner
            .lock()
            .unwrap()
            .personalizations_per_request
            .clone()
    }
}

fn error(status: StatusCode, message: &str, field: Option<&str>) -> Response {
    let body = json!({ "errors": [{ "message": message, "field": field, "help": null }] });
    (status, axum::Json(body)).into_response()
}

async fn mail_send(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (fault, delay) = {
        let mut inner = inner.lock().unwrap();
        inner.requests += 1;
        (inner.faults.pop_front(), inner.delay)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match fault {
        Some(Fault::Hang) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return StatusCode::GATEWAY_TIMEOUT.into_response();
        }
        Some(Fault::ServerError) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal server error",
                None,
            );
        }
        Some(Fault::RateLimited { retry_after }) => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, "too many requests", None);
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(retry_after));
            return response;
        }
        Some(Fault::BadRequest(message)) => {
            return error(StatusCode::BAD_REQUEST, message, Some("from"));
        }
        Some(Fault::Forbidden) => {
            return error(StatusCode::FORBIDDEN, "access forbidden", None);
        }
        None => {}
    }

    match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        None => return error(StatusCode::UNAUTHORIZED, "authorization required", None),
        Some(value) if value != format!("Bearer {API_KEY}") => {
            return error(
                StatusCode::UNAUTHORIZED,
                "The provided authorization grant is invalid, expired, or revoked",
                None,
            );
        }
        Some(_) => {}
    }
    if !headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
    {
        return error(
            StatusCode::BAD_REQUEST,
            "Content-Type should be application/json.",
            None,
        );
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "Bad Request", None);
    };
    let mut inner = inner.lock().unwrap();
    inner.next_id += 1;
    let message_id = format!("fake-msg-{}", inner.next_id);
    match check(&request, &message_id) {
        Ok(received) => {
            inner.personalizations_per_request.push(received.len());
            inner.received.extend(received);
            let mut response = StatusCode::ACCEPTED.into_response();
            response
                .headers_mut()
                .insert("x-message-id", HeaderValue::from_str(&message_id).unwrap());
            response
        }
        Err((message, field)) => error(StatusCode::BAD_REQUEST, &message, Some(&field)),
    }
}

type Invalid = (String, String);

fn invalid(message: &str, field: &str) -> Invalid {
    (message.to_owned(), field.to_owned())
}

fn is_address(value: &Value) -> bool {
    value.as_str().is_some_and(|s| {
        s.contains('@') && !s.contains(' ') && s.rsplit('@').next().is_some_and(|d| d.contains('.'))
    })
}

/// The documented rules of a `mail/send` request; on success, what each recipient gets.
fn check(request: &Value, message_id: &str) -> Result<Vec<Received>, Invalid> {
    let from = &request["from"];
    if !is_address(&from["email"]) {
        return Err(invalid(
            "The from object must be provided for every email send. It is an object that requires the email parameter, but may also contain a name parameter.",
            "from.email",
        ));
    }
    let template_id = request["template_id"].as_str().map(str::to_owned);
    if let Some(id) = &template_id
        && !id.starts_with("d-")
    {
        return Err(invalid(
            "The template_id must be a valid GUID or a dynamic template id",
            "template_id",
        ));
    }
    let Some(personalizations) = request["personalizations"].as_array() else {
        return Err(invalid(
            "The personalizations field is required and must have at least one personalization.",
            "personalizations",
        ));
    };
    if personalizations.is_empty() || personalizations.len() > 1000 {
        return Err(invalid(
            "The personalizations field is required and must have at least one personalization, and at most 1000.",
            "personalizations",
        ));
    }

    let mut content: Vec<(String, String)> = Vec::new();
    if template_id.is_none() {
        let Some(parts) = request["content"].as_array().filter(|p| !p.is_empty()) else {
            return Err(invalid(
                "Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block.",
                "content",
            ));
        };
        for (i, part) in parts.iter().enumerate() {
            let (Some(kind), Some(value)) = (part["type"].as_str(), part["value"].as_str()) else {
                return Err(invalid(
                    "Content blocks must have a type and a value.",
                    &format!("content.{i}"),
                ));
            };
            if value.is_empty() {
                return Err(invalid(
                    "The content value must be a string at least one character in length.",
                    &format!("content.{i}.value"),
                ));
            }
            if kind == "text/plain" && i != 0 {
                return Err(invalid(
                    "If present, text/plain content must be first, followed by any other content.",
                    &format!("content.{i}.type"),
                ));
            }
            content.push((kind.to_owned(), value.to_owned()));
        }
    }

    let mut recipients = 0;
    let mut seen = std::collections::HashSet::<String>::new();
    let mut out = Vec::new();
    for (i, p) in personalizations.iter().enumerate() {
        let field = |f: &str| format!("personalizations.{i}.{f}");
        let Some(to) = p["to"].as_array().filter(|t| !t.is_empty()) else {
            return Err(invalid(
                "The to array is required for all personalization objects, and must have at least one email object with a valid email address.",
                &field("to"),
            ));
        };
        recipients += to.len();
        if recipients > 1000 {
            return Err(invalid(
                "The total number of recipients must be less than 1000.",
                "personalizations",
            ));
        }
        for (j, address) in to.iter().enumerate() {
            if !is_address(&address["email"]) {
                return Err(invalid(
                    "Does not contain a valid address.",
                    &field(&format!("to.{j}.email")),
                ));
            }
            if !seen.insert(address["email"].as_str().unwrap().to_lowercase()) {
                return Err(invalid(
                    "Each unique email address in the personalizations array should only be included once. You have included email address more than once.",
                    &field(&format!("to.{j}.email")),
                ));
            }
            if address["name"]
                .as_str()
                .is_some_and(|n| n.contains(';') || n.contains(','))
            {
                return Err(invalid(
                    "The to name cannot contain ; or ,",
                    &field(&format!("to.{j}.name")),
                ));
            }
        }
        let subject = p["subject"].as_str().or(request["subject"].as_str());
        if template_id.is_none() && subject.is_none_or(str::is_empty) {
            return Err(invalid(
                "The subject is required. You can get around this requirement if you use a template with a subject defined or if every single personalization has a subject defined.",
                "subject",
            ));
        }
        let mut custom_args = Map::new();
        if let Some(args) = p["custom_args"]
            .as_object()
            .or(request["custom_args"].as_object())
        {
            for (k, v) in args {
                if !v.is_string() {
                    return Err(invalid(
                        "Custom args values must be strings.",
                        &field("custom_args"),
                    ));
                }
                custom_args.insert(k.clone(), v.clone());
            }
        }
        let substitutions = p["substitutions"].as_object().cloned().unwrap_or_default();
        if template_id.is_none() {
            let size: usize = substitutions
                .iter()
                .map(|(k, v)| k.len() + v.as_str().map_or(10_001, str::len))
                .sum();
            if size > 10_000 {
                return Err(invalid(
                    "The total size of your substitutions cannot exceed 10,000 bytes per personalization object.",
                    &field("substitutions"),
                ));
            }
        } else if !substitutions.is_empty() {
            return Err(invalid(
                "Substitutions may not be used with dynamic templating",
                &field("substitutions"),
            ));
        }
        let data = p.get("dynamic_template_data").cloned();
        if data.is_some() && template_id.is_none() {
            return Err(invalid(
                "dynamic_template_data requires a dynamic template_id",
                &field("dynamic_template_data"),
            ));
        }
        let substitute = |text: &str| {
            substitutions
                .iter()
                .fold(text.to_owned(), |acc, (tag, value)| {
                    acc.replace(tag.as_str(), value.as_str().unwrap_or_default())
                })
        };
        let body = |kind: &str| {
            content
                .iter()
                .find(|(k, _)| k == kind)
                .map(|(_, v)| substitute(v))
        };
        for address in to {
            out.push(Received {
                to: address["email"].as_str().unwrap().to_owned(),
                to_name: address["name"].as_str().map(str::to_owned),
                from: from["email"].as_str().unwrap().to_owned(),
                subject: subject.map(substitute),
                text: body("text/plain"),
                html: body("text/html"),
                template_id: template_id.clone(),
                dynamic_template_data: data.clone(),
                custom_args: custom_args.clone(),
                message_id: message_id.to_owned(),
            });
        }
    }
    Ok(out)
}
