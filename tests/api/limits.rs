//! The server cannot be tied up: slow headers are cut off, oversized bodies refused before
//! they are read, and other clients keep being served meanwhile.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{API_KEY, Backend, TestApp};
use crate::on_both_databases;

/// Long enough for a test's own requests to finish while the slow ones are still open.
const HEADER_TIMEOUT: &str = "3";
/// Bounds every wait in these tests, so that a server that never answers fails them.
const PATIENCE: Duration = Duration::from_secs(30);

fn host(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

/// How many slow connections this process can afford: each takes a descriptor on both
/// ends, and the test needs some for itself and the database.
fn affordable_connections(wanted: usize) -> usize {
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            limits
                .lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|n| n.parse::<usize>().ok())
        })
        .unwrap_or(1024);
    wanted.min(soft.saturating_sub(256) / 2).max(10)
}

/// Reads one response (head and a Content-Length body): status and JSON body.
async fn read_response(stream: &mut (impl AsyncReadExt + Unpin)) -> (u16, Value) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.expect("a response");
        assert!(n > 0, "closed without a response");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().unwrap())
        })
        .expect("a Content-Length");
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "body cut short");
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = serde_json::from_slice(&buf[head_end..head_end + length]).expect("a JSON body");
    (status, body)
}

/// Sends only a request head declaring `length` bytes, never the body.
async fn declare_body(app: &TestApp, method: &str, path: &str, length: u64) -> (u16, Value) {
    let mut stream = TcpStream::connect(host(app)).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: {API_KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::timeout(PATIENCE, read_response(&mut stream))
        .await
        .unwrap_or_else(|_| panic!("{method} {path} waited for a body it should refuse"))
}

/// Streams a chunked body of up to `total` bytes while waiting for the answer.
async fn chunked_body(app: &TestApp, path: &str, headers: &str, total: usize) -> (u16, Value) {
    let stream = TcpStream::connect(host(app)).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: {API_KEY}\r\n{headers}\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    writer.write_all(head.as_bytes()).await.unwrap();
    let sender = tokio::spawn(async move {
        let chunk = vec![b' '; 64 * 1024];
        let mut sent = 0;
        while sent < total {
            let frame = format!("{:x}\r\n", chunk.len());
            if writer.write_all(frame.as_bytes()).await.is_err()
                || writer.write_all(&chunk).await.is_err()
                || writer.write_all(b"\r\n").await.is_err()
            {
                return;
            }
            sent += chunk.len();
        }
        let _ = writer.write_all(b"0\r\n\r\n").await;
    });
    let response = tokio::time::timeout(PATIENCE, read_response(&mut reader))
        .await
        .expect("an answer to an oversized chunked body");
    sender.abort();
    response
}

/// Every (method, path) of the API, with path parameters filled in.
fn every_route() -> Vec<(&'static str, String)> {
    let openapi = doorman::api::openapi();
    let mut routes = Vec::new();
    for (path, item) in &openapi.paths.paths {
        let path = path.replace("{id}", "1");
        let methods = [
            ("GET", item.get.is_some()),
            ("POST", item.post.is_some()),
            ("PUT", item.put.is_some()),
            ("PATCH", item.patch.is_some()),
            ("DELETE", item.delete.is_some()),
        ];
        for (method, present) in methods {
            if present {
                routes.push((method, path.clone()));
            }
        }
    }
    assert!(routes.len() > 10, "{routes:?}");
    routes
}

on_both_databases! {
    async fn slow_headers_are_cut_off_while_others_are_served(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("HTTP_HEADER_TIMEOUT_SECONDS", HEADER_TIMEOUT)]).await;
        let count = affordable_connections(300);
        let mut slow = Vec::with_capacity(count);
        for _ in 0..count {
            let stream = TcpStream::connect(host(&app)).await.unwrap();
            slow.push(tokio::spawn(async move {
                let (mut reader, mut writer) = stream.into_split();
                let _ = writer.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ").await;
                let trickle = async {
                    loop {
                        if writer.write_all(b"a").await.is_err() {
                            std::future::pending::<()>().await;
                        }
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                };
                let mut buf = [0u8; 1024];
                let closed = async {
                    loop {
                        match reader.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                    }
                };
                tokio::select! {
                    () = closed => true,
                    () = trickle => false,
                    () = tokio::time::sleep(PATIENCE) => false,
                }
            }));
        }

        let health = app.client.get(app.url("/health")).timeout(PATIENCE).send().await.unwrap();
        assert_eq!(health.status(), 200);
        let (_, token) = app.invite("ana@example.org").await;
        assert_eq!(app.verify_json("ana@example.org", &token).await["success"], true);

        let mut closed = 0;
        for connection in slow {
            if connection.await.unwrap() {
                closed += 1;
            }
        }
        assert_eq!(closed, count, "every slow connection is closed by the server");
        let health = app.client.get(app.url("/health")).timeout(PATIENCE).send().await.unwrap();
        assert_eq!(health.status(), 200);
    }

    async fn a_declared_body_over_the_limit_is_refused_before_it_is_sent(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("MAX_UPLOAD_MB", "1")]).await;
        for (method, path) in every_route() {
            let (status, body) = declare_body(&app, method, &path, 64 * 1024 * 1024).await;
            assert_eq!(status, 413, "{method} {path}: {body}");
            assert!(body["detail"].is_string(), "{method} {path}: {body}");
        }
        // Within the limit, the same upload is read and answered.
        let (_, token) = app.invite("ana@example.org").await;
        assert_eq!(app.verify_json("ana@example.org", &token).await["success"], true);
    }

    async fn a_chunked_body_is_cut_off_at_the_limit(backend: Backend) {
        let (_, public) = crate::email::webhook::key_pair();
        let app = TestApp::spawn_with(backend, &[("MAX_UPLOAD_MB", "1"), ("SENDGRID_WEBHOOK_PUBLIC_KEY", &public)]).await;
        let (status, body) = chunked_body(&app, "/api/verify", "", 8 * 1024 * 1024).await;
        assert_eq!(status, 413, "{body}");
        let signed = "X-Twilio-Email-Event-Webhook-Signature: c2lnbmF0dXJl\r\n\
                      X-Twilio-Email-Event-Webhook-Timestamp: 1700000000\r\n";
        let (status, body) = chunked_body(&app, "/webhooks/sendgrid", signed, 8 * 1024 * 1024).await;
        assert_eq!(status, 413, "{body}");
        let health = app.client.get(app.url("/health")).send().await.unwrap();
        assert_eq!(health.status(), 200);
    }

    async fn the_webhook_without_a_key_refuses_before_reading(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (status, body) = declare_body(&app, "POST", "/webhooks/sendgrid", 1000).await;
        assert_eq!(status, 503, "{body}");
        assert!(body["detail"].as_str().unwrap().contains("SENDGRID_WEBHOOK_PUBLIC_KEY"));
    }
}
