use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;
use doorman::domain::SystemClock;
use doorman::startup::migrate;

on_both_databases! {
    async fn migrating_again_changes_nothing(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (id, _) = app.invite("ana@example.org").await;
        let settings = crate::helpers::settings_for(&app.database_url, app.data_dir.path());
        assert!(migrate(&settings, &SystemClock).await.unwrap().is_empty());
        let user = app.get_json(&format!("/api/users/{id}")).await;
        assert_eq!(user["email"], "ana@example.org");
    }

    async fn replicas_migrating_at_once_do_not_collide(backend: Backend) {
        let dir = tempfile::tempdir().unwrap();
        let url = backend.fresh_database_url(dir.path()).await;
        let settings = crate::helpers::settings_for(&url, dir.path());
        let results = futures::future::join_all((0..4).map(|_| migrate(&settings, &SystemClock))).await;
        let applied: Vec<Vec<i64>> = results.into_iter().map(Result::unwrap).collect();
        assert_eq!(applied.iter().filter(|a| !a.is_empty()).count(), 1, "exactly one migrated: {applied:?}");
    }

    async fn emails_are_unique_whatever_their_case(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        app.upload_csv("email,name,college,branch,year\nAna@Example.org,Ana,MIT,CSE,2026\n").await;
        let report = app.upload_csv("email,name,college,branch,year\nana@EXAMPLE.org,Ana,MIT,CSE,2026\n").await;
        assert_eq!(report["skipped"], 1);
        assert_eq!(report["newly_added"], 0);
    }

    async fn timestamps_are_utc(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (id, _) = app.invite("ana@example.org").await;
        let user: serde_json::Value = app.get(&format!("/api/users/{id}")).send().await.unwrap().json().await.unwrap();
        for field in ["created_at", "updated_at", "token_created_at", "token_expires_at"] {
            let text = user[field].as_str().unwrap();
            assert!(text.ends_with('Z'), "{field} = {text}");
            let t = chrono::DateTime::parse_from_rfc3339(text).unwrap();
            assert!((chrono::Utc::now() - t.to_utc()).num_seconds().abs() < 60 * 60 * 24 * 8);
        }
    }
}
