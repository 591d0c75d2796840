use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;
use serde_json::{Value, json};

async fn emails(app: &TestApp) -> Vec<String> {
    let users = app.get_json("/api/users").await;
    users
        .as_array()
        .expect("an array")
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_owned())
        .collect()
}

async fn refused(app: &TestApp, bytes: Vec<u8>) -> (u16, String) {
    let response = app.upload_bytes(bytes).await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("JSON error");
    (status, body["detail"].as_str().unwrap().to_owned())
}

fn utf16le_with_bom(text: &str) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    bytes
}

on_both_databases! {
    async fn a_clean_file_is_imported_with_the_original_report(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let report = app.upload_csv("email,name,college,branch,year\nAna@Example.org ,Ana Lima,MIT,CSE,2026\nbo@example.org,Bo,MIT,ECE,2025\n").await;
        assert_eq!(report["total_processed"], 2);
        assert_eq!(report["newly_added"], 2);
        assert_eq!(report["skipped"], 0);
        assert_eq!(report["errors"], json!([]));
        assert_eq!(report["newly_added_users"][0]["email"], "ana@example.org", "trimmed and lowercased");
        assert_eq!(report["newly_added_users"][0]["year"], "2026");
        assert_eq!(emails(&app).await, ["ana@example.org", "bo@example.org"]);
    }

    async fn columns_may_come_in_any_order_and_case_with_extras(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let csv = " Year ,NAME,notes,Email,branch,College\n2026,Ana,likes tea,ana@example.org,CSE,MIT\n";
        let report = app.upload_csv(csv).await;
        assert_eq!(report["newly_added"], 1);
        let user = &report["newly_added_users"][0];
        assert_eq!((user["name"].as_str(), user["college"].as_str(), user["year"].as_str()), (Some("Ana"), Some("MIT"), Some("2026")));
    }

    async fn missing_columns_are_named(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (status, detail) = refused(&app, b"email,name,year\na@example.org,A,2026\n".to_vec()).await;
        assert_eq!(status, 400);
        assert!(detail.contains("college") && detail.contains("branch"), "{detail}");
        assert!(emails(&app).await.is_empty());
    }

    async fn bad_rows_are_reported_by_line_and_good_rows_still_land(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let csv = "email,name,college,branch,year\n\
                   ana@example.org,Ana,MIT,CSE,2026\n\
                   not-an-email,Bo,MIT,CSE,2026\n\
                   cy@example.org,,MIT,CSE,2026\n\
                   di@example.org,Di,MIT,CSE,2026\n";
        let report = app.upload_csv(csv).await;
        assert_eq!(report["total_processed"], 4);
        assert_eq!(report["newly_added"], 2);
        assert_eq!(report["error_count"], 2);
        let errors = report["errors"].as_array().unwrap();
        assert_eq!(errors[0]["line"], 3);
        assert_eq!(errors[0]["email"], "not-an-email");
        assert_eq!(errors[1]["line"], 4);
        assert!(errors[1]["message"].as_str().unwrap().contains("name"));
        assert_eq!(emails(&app).await, ["ana@example.org", "di@example.org"]);
    }

    async fn existing_and_repeated_emails_are_skipped(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        app.upload_csv("email,name,college,branch,year\nana@example.org,Ana,MIT,CSE,2026\n").await;
        let csv = "email,name,college,branch,year\nANA@example.org,Ana,MIT,CSE,2026\nbo@example.org,Bo,MIT,CSE,2026\nBo@Example.org,Bo again,MIT,CSE,2026\n";
        let report = app.upload_csv(csv).await;
        assert_eq!(report["newly_added"], 1);
        assert_eq!(report["skipped"], 2);
        let users: Vec<Value> = app.get("/api/users").send().await.unwrap().json().await.unwrap();
        assert_eq!(users[1]["name"], "Bo", "the first occurrence wins");
    }

    async fn spreadsheet_exports_in_any_encoding_are_read(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let text = "email,name,college,branch,year\r\nzoe@example.org,Zoë Ürkel,Université,CSE,2026\r\n";
        let mut with_bom = vec![0xEF, 0xBB, 0xBF];
        with_bom.extend_from_slice(text.as_bytes());
        assert_eq!(app.upload_bytes(with_bom).await.json::<Value>().await.unwrap()["newly_added_users"][0]["name"], "Zoë Ürkel");

        let utf16 = utf16le_with_bom(&text.replace("zoe@", "zoe16@"));
        assert_eq!(app.upload_bytes(utf16).await.json::<Value>().await.unwrap()["newly_added_users"][0]["name"], "Zoë Ürkel");

        // Windows-1252, as Excel saves "CSV" on many machines: é is the single byte 0xE9.
        let mut cp1252 = b"email,name,college,branch,year\r\njose@example.org,Jos".to_vec();
        cp1252.extend_from_slice(&[0xE9]);
        cp1252.extend_from_slice(b",Escola,CSE,2026\r\n");
        assert_eq!(app.upload_bytes(cp1252).await.json::<Value>().await.unwrap()["newly_added_users"][0]["name"], "José");
    }

    async fn semicolons_quotes_and_newlines_inside_fields_are_understood(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let csv = "email;name;college;branch;year\nana@example.org;\"Lima; Ana\";\"MIT, Cambridge\";CSE;2026\n";
        let report = app.upload_csv(csv).await;
        assert_eq!(report["newly_added_users"][0]["name"], "Lima; Ana");
        assert_eq!(report["newly_added_users"][0]["college"], "MIT, Cambridge");

        let csv = "email,name,college,branch,year\r\nbo@example.org,\"Bo \"\"B\"\" Chen\",\"Line one\r\nLine two\",ECE,2025\r\nbad,Cy,X,Y,2024\r\n";
        let report = app.upload_csv(csv).await;
        assert_eq!(report["newly_added_users"][0]["name"], "Bo \"B\" Chen");
        assert_eq!(report["errors"][0]["line"], 4, "the line number counts the quoted newline");
    }

    async fn files_that_are_not_csv_are_refused_whole(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (status, detail) = refused(&app, Vec::new()).await;
        assert_eq!(status, 400);
        assert!(detail.contains("empty"), "{detail}");

        let mut binary = b"email,name,college,branch,year\n".to_vec();
        binary.extend_from_slice(&[0u8, 159, 146, 150, 0, 1, 2, 3]);
        let (status, _) = refused(&app, binary).await;
        assert_eq!(status, 400);

        let (status, detail) = refused(&app, b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00".to_vec()).await;
        assert_eq!(status, 400);
        assert!(detail.to_lowercase().contains("xlsx"), "{detail}");
        assert!(emails(&app).await.is_empty());
    }

    async fn an_upload_without_a_file_field_is_400(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let form = reqwest::multipart::Form::new().text("other", "x");
        let response = app.post("/api/upload-csv").multipart(form).send().await.unwrap();
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert!(body["detail"].as_str().unwrap().contains("'file'"), "{body}");
    }

    async fn a_body_that_is_not_a_form_is_415_as_json(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let upload = app.url("/api/upload-csv");
        for (content_type, body) in [
            (Some("application/json"), r#"{"file": "email,name"}"#),
            (Some("text/plain"), "email,name,college,branch,year\n"),
            (Some("text/csv"), "email,name,college,branch,year\n"),
            (None, "email,name"),
        ] {
            let mut request = app.client.post(&upload).header("x-api-key", crate::helpers::API_KEY).body(body);
            if let Some(content_type) = content_type {
                request = request.header("content-type", content_type);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 415, "{content_type:?}");
            let body: Value = response.json().await.expect("a JSON error");
            assert!(body["detail"].as_str().unwrap().contains("multipart/form-data"), "{body}");
        }
        assert!(emails(&app).await.is_empty());
    }

    async fn a_malformed_form_is_400_as_json(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let post = |content_type: &str, body: &str| {
            app.post("/api/upload-csv").header("content-type", content_type).body(body.to_owned()).send()
        };
        let part = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\
                    Content-Type: text/csv\r\n\r\nemail,name,college,branch,year\r\nana@example.org,Ana,MIT,CSE,2026\r\n";
        let cases = [
            ("no boundary", post("multipart/form-data", part).await.unwrap()),
            ("another boundary", post("multipart/form-data; boundary=other", &format!("{part}--XyZ--\r\n")).await.unwrap()),
            ("cut short", post("multipart/form-data; boundary=XyZ", part).await.unwrap()),
            ("no file field", post("multipart/form-data; boundary=XyZ", "--XyZ\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--XyZ--\r\n").await.unwrap()),
        ];
        for (case, response) in cases {
            assert_eq!(response.status(), 400, "{case}");
            let body: Value = response.json().await.unwrap_or_else(|e| panic!("{case}: not JSON: {e}"));
            assert!(body["detail"].is_string(), "{case}: {body}");
        }
        assert!(emails(&app).await.is_empty());
        let whole = post("multipart/form-data; boundary=XyZ", &format!("{part}--XyZ--\r\n")).await.unwrap();
        assert_eq!(whole.status(), 200, "the same form, whole, is read");
    }

    async fn a_field_over_64_kib_is_a_row_error_and_is_not_stored(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let long = "x".repeat(64 * 1024 + 1);
        let csv = format!(
            "email,name,college,branch,year,notes\n\
             ana@example.org,Ana,MIT,CSE,2026,\n\
             bo@example.org,\"{long}\",MIT,CSE,2026,\n\
             cy@example.org,Cy,MIT,CSE,2026,{long}\n\
             di@example.org,Di,MIT,CSE,2026,{}\n",
            "y".repeat(64 * 1024)
        );
        let report = app.upload_csv(&csv).await;
        assert_eq!(report["newly_added"], 2, "{}", report["errors"]);
        assert_eq!(report["error_count"], 2);
        let errors = report["errors"].as_array().unwrap();
        assert_eq!((errors[0]["line"].as_u64(), errors[0]["email"].as_str()), (Some(3), Some("bo@example.org")));
        assert!(errors[0]["message"].as_str().unwrap().contains("64 KiB"), "{}", errors[0]);
        assert_eq!(errors[1]["line"], 4);
        assert_eq!(emails(&app).await, ["ana@example.org", "di@example.org"]);
        assert!(!app.stored_text().await.contains("xxxx"));
    }

    async fn verifications_are_answered_throughout_a_large_import(backend: Backend) {
        // A busy timeout far shorter than the import, so that an import holding SQLite's
        // write lock throughout would fail the verifications waiting meanwhile.
        let unthrottled = "1000000";
        let app = TestApp::spawn_with(backend, &[
            ("SQLITE_BUSY_TIMEOUT_MS", "250"),
            ("VERIFY_MAX_FAILURES", unthrottled),
            ("VERIFY_MAX_FAILURES_PER_EMAIL", unthrottled),
            ("VERIFY_MAX_FAILURES_PER_SOURCE", unthrottled),
        ]).await;
        let (_, token) = app.invite("ana@example.org").await;
        let rows = 80_000;
        let mut csv = String::from("email,name,college,branch,year\n");
        for i in 0..rows {
            csv.push_str(&format!("person{i}@example.org,Person {i},College,CSE,2026\n"));
        }
        // Repeats of an earlier batch's row and of an invitee from before are skipped.
        csv.push_str("PERSON7@example.org,Again,College,CSE,2026\nana@example.org,Ana,MIT,CSE,2026\n");

        let done = std::sync::atomic::AtomicBool::new(false);
        let import = async {
            let response = app.upload_bytes(csv.into_bytes()).await;
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            response
        };
        let verifying = async {
            let mut answers = Vec::new();
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                answers.push(app.verify("ana@example.org", "ZZZZ2222").await.status().as_u16());
            }
            answers
        };
        let (import, answers) = tokio::join!(import, verifying);
        assert!(!answers.is_empty());
        assert!(answers.iter().all(|&status| status == 200), "{answers:?}");
        assert_eq!(import.status(), 200);
        let report: Value = import.json().await.unwrap();
        assert_eq!(report["total_processed"], rows + 2);
        assert_eq!(report["newly_added"], rows);
        assert_eq!(report["skipped"], 2);
        let listed = app.get_json("/api/users?limit=1&offset=80000").await;
        assert_eq!(listed.as_array().unwrap().len(), 1, "every row is there");
        assert_eq!(app.verify_json("ana@example.org", &token).await["success"], true);
        let imported = app.events("kind=invitees_imported").await;
        assert_eq!(imported.len(), 2, "one event per import, not per batch");
    }


    async fn an_upload_over_the_limit_is_413_and_writes_nothing(backend: Backend) {
        let app = TestApp::spawn_with(backend, &[("MAX_UPLOAD_MB", "1")]).await;
        let mut csv = String::from("email,name,college,branch,year\n");
        let mut i = 0;
        while csv.len() < 1024 * 1024 + 10 {
            csv.push_str(&format!("person{i}@example.org,Person Number {i},Some College,CSE,2026\n"));
            i += 1;
        }
        let (status, detail) = refused(&app, csv.into_bytes()).await;
        assert_eq!(status, 413);
        assert!(detail.contains("MAX_UPLOAD_MB"), "{detail}");
        assert!(emails(&app).await.is_empty());
    }

    async fn thousands_of_rows_import_in_batches(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let mut csv = String::from("email,name,college,branch,year\n");
        for i in 0..5000 {
            csv.push_str(&format!("person{i}@example.org,Person {i},College,CSE,2026\n"));
        }
        csv.push_str("person0@example.org,Again,College,CSE,2026\n");
        let report = app.upload_csv(&csv).await;
        assert_eq!(report["total_processed"], 5001);
        assert_eq!(report["newly_added"], 5000);
        assert_eq!(report["skipped"], 1);
        assert_eq!(report["newly_added_users"].as_array().unwrap().len(), 1000, "the list is capped");
        assert_eq!(report["newly_added_users_truncated"], true);
    }
}
