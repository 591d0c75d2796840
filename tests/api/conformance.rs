//! The API answers what its OpenAPI document says, for inputs a generated client or a
//! fuzzer sends: JSON errors, never a 500.

use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;
use serde_json::{Value, json};

on_both_databases! {
    async fn a_page_past_the_last_possible_offset_is_empty_not_a_500(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        for path in ["/api/events", "/api/emails"] {
            let response = app
                .get(&format!("{path}?limit=1&offset={}", i64::MAX))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{path}");
            let page: Value = response.json().await.unwrap();
            assert!(page["next_offset"].is_null(), "{path}");
        }
    }

    async fn whole_numbers_written_with_a_fraction_are_integers(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (id, _) = app.invite("ana@example.org").await;
        let as_float = json!([id as f64]);
        assert!(as_float.to_string().contains(".0"), "{as_float}");
        let response = app.post("/api/send-emails").json(&as_float).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let report: Value = response.json().await.unwrap();
        assert_eq!(report["emails_skipped"], 0, "{report}");
        let options = json!({"user_ids": [id as f64], "force": true});
        let response = app.post("/api/send-emails").json(&options).send().await.unwrap();
        assert_eq!(response.status(), 200);

        // A fraction, or a literal past i64 that a float would round into range, is refused.
        for body in ["[1.5]", "[-9223372036854775809]", "{\"user_ids\": [9223372036854775808]}"] {
            let response = app
                .post("/api/send-emails")
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 400, "{body}");
        }

        let (_, token) = app.invite("bo@example.org").await;
        let body = json!({"email": "bo@example.org", "token": token, "discord_user_id": 80351110.0});
        let response = app.post("/api/verify-discord").json(&body).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let outcome: Value = response.json().await.unwrap();
        assert_eq!(outcome["discord_user_id"], "80351110", "{outcome}");
    }

    async fn an_upload_that_is_not_multipart_gets_a_json_error(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let response = app
            .post("/api/upload-csv")
            .header("content-type", "text/csv")
            .body("email,name\n")
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error(), "{}", response.status());
        assert!(
            response.headers()["content-type"].to_str().unwrap().starts_with("application/json"),
            "{:?}",
            response.headers()
        );
        let body: Value = response.json().await.unwrap();
        assert!(body["detail"].as_str().unwrap().contains("multipart/form-data"), "{body}");
    }
}
