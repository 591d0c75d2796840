use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;
use serde_json::Value;

on_both_databases! {
    async fn health_reports_the_database_and_version(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let response = app.client.get(app.url("/health")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "healthy");
        assert_eq!(body["database"], "connected");
        assert_eq!(body["database_backend"], if backend == Backend::Sqlite { "sqlite" } else { "postgres" });
        assert_eq!(body["discord_bot"], "disabled");
        assert_eq!(body["email"], "outbox", "no email settings: the local outbox");
        assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    }

    async fn health_stays_200_and_says_so_when_the_database_is_unreachable(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        app.doorman.close().await;
        let response = app.client.get(app.url("/health")).send().await.unwrap();
        assert_eq!(response.status(), 200, "liveness: the process runs");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "unhealthy");
        assert_eq!(body["database"], "unreachable");
    }

    async fn api_errors_are_json_when_the_database_is_unreachable(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        app.doorman.close().await;
        let response = app.get("/api/users/1").send().await.unwrap();
        assert_eq!(response.status(), 500);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["detail"], "Internal server error", "no database details leak");
    }
}
