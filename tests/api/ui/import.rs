//! The Import page over HTTP: the preview's numbers, the CSRF check on the upload, the
//! background import's summary and its refused rows as CSV.

use reqwest::header::COOKIE;
use reqwest::multipart::{Form, Part};

use super::http::{client, csrf_token, get_with, signed_in};
use crate::email::eventually;
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

/// Semicolons, an invitee already there, a repeat, and two bad rows.
pub const MIXED_CSV: &str = "email;name;college;branch;year;note\n\
    ana@example.org;Ana Lima;MIT;CSE;2026;first\n\
    old@example.org;Old Timer;MIT;CSE;2025;\n\
    ana@example.org;Ana Again;MIT;CSE;2026;\n\
    not-an-email;Nobody;MIT;CSE;2026;\n\
    bo@example.org;;MIT;EEE;2027;\n\
    cy@example.org;Cy;IIT;ME;2026;\n";

fn file_form(bytes: Vec<u8>, extra: &[(&'static str, String)]) -> Form {
    let part = Part::bytes(bytes)
        .file_name("people.csv")
        .mime_str("text/csv")
        .unwrap();
    let mut form = Form::new().part("file", part);
    for (name, value) in extra {
        form = form.text(*name, value.clone());
    }
    form
}

/// Uploads a file for its preview as the page's htmx does, with the token in the header.
pub async fn preview(app: &TestApp, cookie: &str, bytes: Vec<u8>) -> String {
    let token = csrf_token(app, cookie).await;
    let response = client()
        .post(app.url("/admin/import/preview"))
        .header(COOKIE, format!("doorman_session={cookie}"))
        .header("hx-request", "true")
        .header("x-csrf-token", token)
        .multipart(file_form(bytes, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

pub fn count(html: &str, name: &str) -> u64 {
    let marker = format!("data-count=\"{name}\">");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..].split('<').next().unwrap().parse().unwrap()
}

pub fn staged_id(html: &str) -> String {
    let marker = "name=\"staged\" value=\"";
    let start = html.find(marker).expect("an import button") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// Starts the staged import without script: the answer leads to the job's page.
pub async fn start(app: &TestApp, cookie: &str, staged: &str) -> reqwest::Response {
    let token = csrf_token(app, cookie).await;
    client()
        .post(app.url("/admin/import/start"))
        .header(COOKIE, format!("doorman_session={cookie}"))
        .form(&[("csrf_token", token.as_str()), ("staged", staged)])
        .send()
        .await
        .unwrap()
}

/// Sends only the head of an htmx upload declaring `length` bytes, and reads the answer.
async fn declared_upload(app: &TestApp, cookie: &str, length: u64) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let token = csrf_token(app, cookie).await;
    let host = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let head = format!(
        "POST /admin/import/preview HTTP/1.1\r\nHost: {host}\r\n\
         Cookie: doorman_session={cookie}\r\nX-CSRF-Token: {token}\r\nHX-Request: true\r\n\
         Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0; 8192];
    let read = async {
        while !String::from_utf8_lossy(&answer).contains("</section>") {
            let n = stream.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .expect("an answer without the body");
    String::from_utf8_lossy(&answer).into_owned()
}

async fn invitee_count(app: &TestApp) -> usize {
    app.get_json("/api/users")
        .await
        .as_array()
        .map_or(0, Vec::len)
}

on_both_databases! {
    async fn the_preview_says_what_an_import_would_do_and_the_import_does_it(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        app.invite("old@example.org").await;
        let cookie = signed_in(&app).await;

        let html = preview(&app, &cookie, MIXED_CSV.as_bytes().to_vec()).await;
        assert!(html.contains("UTF-8"), "{html}");
        assert!(html.contains("semicolon"), "{html}");
        assert!(html.contains("<li class=\"extra\" title=\"Not imported\">note</li>"), "{html}");
        assert_eq!(count(&html, "add"), 2);
        assert_eq!(count(&html, "skip"), 2);
        assert_eq!(count(&html, "refuse"), 2);
        assert!(html.contains("1 already invited, 1 repeated in the file"), "{html}");
        assert!(html.contains("name is empty"), "{html}");
        assert!(html.contains("Import 2 invitees"), "{html}");
        assert_eq!(invitee_count(&app).await, 1, "a preview adds nobody");

        let started = start(&app, &cookie, &staged_id(&html)).await;
        assert_eq!(started.status(), 303);
        let job = started.headers()["location"].to_str().unwrap().to_owned();
        assert!(job.starts_with("/admin/import/jobs/"), "{job}");
        eventually("the import to finish", || async {
            get_with(&app, &job, &cookie).await.text().await.unwrap().contains("Import finished")
        })
        .await;
        let summary = get_with(&app, &job, &cookie).await.text().await.unwrap();
        assert_eq!(count(&summary, "added"), 2);
        assert_eq!(count(&summary, "skipped"), 2);
        assert_eq!(count(&summary, "refused"), 2);
        assert_eq!(invitee_count(&app).await, 3);
        let events = app.events("kind=invitees_imported").await;
        let events: Vec<_> = events.iter().filter(|e| e["actor"] == "ui").collect();
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0]["detail"]["newly_added"], 2);

        // The refused rows, with their lines and reasons, as a spreadsheet opens them.
        let csv = get_with(&app, &format!("{job}/refused.csv"), &cookie).await;
        assert_eq!(csv.status(), 200);
        assert!(csv.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
        let text = csv.text().await.unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "line,email,reason");
        assert!(lines[1].starts_with("5,not-an-email,"), "{text}");
        assert_eq!(lines[2], "6,bo@example.org,name is empty");
        assert_eq!(lines.len(), 3);

        // A staged file is imported once; the page, opened again, shows the last import.
        let again = start(&app, &cookie, &staged_id(&html)).await;
        assert_eq!(again.status(), 409);
        let again = again.text().await.unwrap();
        assert!(again.contains("Nothing was imported") && again.contains("imported already"), "{again}");
        let page = get_with(&app, "/admin/import", &cookie).await.text().await.unwrap();
        assert!(page.contains("Import finished") && page.contains("refused.csv"), "{page}");

        // A job doorman does not know: a page says so, and polling is told to stop.
        let unknown = get_with(&app, "/admin/import/jobs/0123abcd", &cookie).await;
        assert_eq!(unknown.status(), 404);
        let polled = client()
            .get(app.url("/admin/import/jobs/0123abcd"))
            .header(COOKIE, format!("doorman_session={cookie}"))
            .header("hx-request", "true")
            .send()
            .await
            .unwrap();
        assert_eq!(polled.status(), 200);
        let polled = polled.text().await.unwrap();
        assert!(polled.contains("no longer knows this import") && !polled.contains("hx-trigger"), "{polled}");
    }

    async fn a_larger_import_shows_its_progress_until_done(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let cookie = signed_in(&app).await;
        let mut csv = String::from("email,name,college,branch,year\n");
        for n in 0..3000 {
            csv.push_str(&format!("person{n}@example.org,Person {n},MIT,CSE,2026\n"));
        }
        let html = preview(&app, &cookie, csv.into_bytes()).await;
        assert_eq!(count(&html, "add"), 3000);
        let token = csrf_token(&app, &cookie).await;
        let started = client()
            .post(app.url("/admin/import/start"))
            .header(COOKIE, format!("doorman_session={cookie}"))
            .header("hx-request", "true")
            .header("x-csrf-token", token)
            .form(&[("staged", staged_id(&html))])
            .send()
            .await
            .unwrap();
        assert_eq!(started.status(), 200);
        // The answer is the job as it starts: a progress bar that polls for news.
        let progress = started.text().await.unwrap();
        assert!(progress.contains("Importing…") && progress.contains("<progress"), "{progress}");
        let marker = "hx-get=\"";
        let start = progress.find(marker).expect("polling") + marker.len();
        let job = progress[start..].split('"').next().unwrap().to_owned();
        assert!(progress.contains("hx-trigger=\"every 1s\""), "{progress}");
        eventually("the import to finish", || async {
            get_with(&app, &job, &cookie).await.text().await.unwrap().contains("Import finished")
        })
        .await;
        let summary = get_with(&app, &job, &cookie).await.text().await.unwrap();
        assert_eq!(count(&summary, "added"), 3000);
        assert!(!summary.contains("refused.csv"), "nothing refused, nothing to download");
    }

    async fn a_file_over_the_limit_is_refused_in_words(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("MAX_UPLOAD_MB", "1")]).await;
        let cookie = signed_in(&app).await;
        // Just over the limit: read, counted by the handler, and refused.
        let mut csv = String::from("email,name,college,branch,year\n");
        while csv.len() < 1024 * 1024 + 100 {
            csv.push_str("someone@example.org,Some One,MIT,CSE,2026\n");
        }
        let html = preview(&app, &cookie, csv.into_bytes()).await;
        assert!(html.contains("larger than the 1 MB limit"), "{html}");
        // Far over it: refused on sight, from the declared length, without waiting for
        // the body.
        let answer = declared_upload(&app, &cookie, 64 * 1024 * 1024).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.contains("larger than the 1 MB limit"), "{answer}");
    }

    async fn the_upload_needs_the_csrf_token_in_its_header(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let cookie = signed_in(&app).await;
        let token = csrf_token(&app, &cookie).await;
        let upload = |form: Form| {
            client()
                .post(app.url("/admin/import/preview"))
                .header(COOKIE, format!("doorman_session={cookie}"))
                .multipart(form)
                .send()
        };
        let bare = upload(file_form(MIXED_CSV.into(), &[])).await.unwrap();
        assert_eq!(bare.status(), 403);
        // A field inside the multipart body is not read: only the header counts.
        let in_body = upload(file_form(MIXED_CSV.into(), &[("csrf_token", token.clone())])).await.unwrap();
        assert_eq!(in_body.status(), 403);
        let wrong = client()
            .post(app.url("/admin/import/preview"))
            .header(COOKIE, format!("doorman_session={cookie}"))
            .header("x-csrf-token", "0".repeat(token.len()))
            .multipart(file_form(MIXED_CSV.into(), &[]))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 403);
        // Another site's form is refused before the token is even looked at.
        let cross = client()
            .post(app.url("/admin/import/start"))
            .header(COOKIE, format!("doorman_session={cookie}"))
            .header("sec-fetch-site", "cross-site")
            .form(&[("csrf_token", token.as_str()), ("staged", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(cross.status(), 403);

        // A file that is not CSV is explained, not previewed.
        let html = preview(&app, &cookie, b"\x89PNG\r\n\x1a\n\0\0\0".to_vec()).await;
        assert!(html.contains("cannot import this file") && html.contains("looks like an image"), "{html}");
        let html = preview(&app, &cookie, b"email,name\na@example.org,A\n".to_vec()).await;
        assert!(html.contains("missing required column(s): college, branch, year"), "{html}");
        assert!(app.events("kind=invitees_imported").await.is_empty());
    }
}
