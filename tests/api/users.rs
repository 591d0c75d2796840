use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;
use serde_json::Value;

const ROSTER: &str = "email,name,college,branch,year\n\
    ana@example.org,Ana Lima,MIT,CSE,2026\n\
    bo@example.org,Bo Chen,Stanford,ECE,2025\n\
    cy@example.org,Cy Young,MIT,CSE,2026\n\
    di_100%@example.org,Di Ross,Yale,ME,2024\n";

async fn list(app: &TestApp, query: &str) -> (Vec<Value>, i64) {
    let response = app.get(&format!("/api/users{query}")).send().await.unwrap();
    assert_eq!(response.status(), 200, "{query}");
    let total = response.headers()["x-total-count"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    (response.json::<Vec<Value>>().await.unwrap(), total)
}

fn emails(users: &[Value]) -> Vec<&str> {
    users.iter().map(|u| u["email"].as_str().unwrap()).collect()
}

on_both_databases! {
    async fn listing_with_no_query_returns_everyone_with_the_original_fields(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        app.upload_csv(ROSTER).await;
        let (users, total) = list(&app, "").await;
        assert_eq!(total, 4);
        assert_eq!(emails(&users), ["ana@example.org", "bo@example.org", "cy@example.org", "di_100%@example.org"]);
        let ana = users[0].as_object().unwrap();
        let mut fields: Vec<&str> = ana.keys().map(String::as_str).collect();
        fields.sort();
        assert_eq!(fields, ["branch", "college", "created_at", "discord_user_id", "email", "email_error",
            "email_queued_at", "email_status", "id", "invited_at", "is_verified", "name", "token_created_at",
            "token_expires_at", "updated_at", "verified_at", "year"]);
        assert_eq!(ana["year"], "2026", "year stays a string");
        assert_eq!(ana["is_verified"], false);
        assert_eq!(ana["email_status"], "not_sent");
    }

    async fn an_empty_list_is_an_empty_array(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (users, total) = list(&app, "").await;
        assert!(users.is_empty());
        assert_eq!(total, 0);
    }

    async fn listing_filters_by_search_and_verification_and_pages(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        app.upload_csv(ROSTER).await;
        let cy = 3;
        let token = app.refresh_token(cy).await;
        app.verify_json("cy@example.org", &token).await;

        assert_eq!(emails(&list(&app, "?search=CHEN").await.0), ["bo@example.org"], "name, any case");
        assert_eq!(emails(&list(&app, "?search=ana@").await.0), ["ana@example.org"], "email");
        assert_eq!(emails(&list(&app, "?search=100%25").await.0), ["di_100%@example.org"], "% is literal");
        assert_eq!(emails(&list(&app, "?search=_").await.0), ["di_100%@example.org"], "_ is literal");
        assert_eq!(emails(&list(&app, "?verified=true").await.0), ["cy@example.org"]);
        assert_eq!(list(&app, "?verified=false").await.0.len(), 3);

        let (page, total) = list(&app, "?limit=2&offset=1").await;
        assert_eq!(emails(&page), ["bo@example.org", "cy@example.org"]);
        assert_eq!(total, 4, "the total ignores paging");
        let (page, total) = list(&app, "?search=example&verified=false&limit=1&offset=2").await;
        assert_eq!(emails(&page), ["di_100%@example.org"]);
        assert_eq!(total, 3);
    }

    async fn bad_list_parameters_are_400(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        for query in ["?limit=-1", "?offset=-3", "?verified=maybe", "?limit=ten"] {
            let response = app.get(&format!("/api/users{query}")).send().await.unwrap();
            assert_eq!(response.status(), 400, "{query}");
            assert!(response.json::<Value>().await.unwrap()["detail"].is_string());
        }
    }

    async fn one_user_can_be_read_and_a_missing_one_is_404(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        app.upload_csv(ROSTER).await;
        let bo: Value = app.get("/api/users/2").send().await.unwrap().json().await.unwrap();
        assert_eq!(bo["email"], "bo@example.org");
        assert_eq!(bo["college"], "Stanford");

        let missing = app.get("/api/users/999").send().await.unwrap();
        assert_eq!(missing.status(), 404);
        assert_eq!(missing.json::<Value>().await.unwrap()["detail"], "User not found");
        assert_eq!(app.get("/api/users/abc").send().await.unwrap().status(), 400);
    }

    async fn users_can_be_deleted_through_either_path(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        app.upload_csv(ROSTER).await;
        for path in ["/api/1", "/api/users/2"] {
            let response = app.delete(path).send().await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            assert_eq!(response.json::<Value>().await.unwrap()["message"], "User deleted successfully");
            let again = app.delete(path).send().await.unwrap();
            assert_eq!(again.status(), 404, "{path} twice");
        }
        assert_eq!(emails(&list(&app, "").await.0), ["cy@example.org", "di_100%@example.org"]);
    }

    async fn all_users_can_be_deleted_at_once(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        app.upload_csv(ROSTER).await;
        let response = app.delete("/api/all").send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["message"], "All users deleted successfully");
        assert_eq!(body["deleted"], 4);
        assert!(list(&app, "").await.0.is_empty());
        // The same people can be invited again afterwards.
        assert_eq!(app.upload_csv(ROSTER).await["newly_added"], 4);
    }

    async fn a_large_listing_streams_every_row(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let mut csv = String::from("email,name,college,branch,year\n");
        for i in 0..3000 {
            csv.push_str(&format!("person{i}@example.org,Person {i},College,CSE,2026\n"));
        }
        assert_eq!(app.upload_csv(&csv).await["newly_added"], 3000);
        let (users, total) = list(&app, "").await;
        assert_eq!(total, 3000);
        assert_eq!(users.len(), 3000);
        assert_eq!(users[2999]["email"], "person2999@example.org");
    }
}
