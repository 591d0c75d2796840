use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;
use serde_json::Value;

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["kind"].as_str().unwrap()).collect()
}

on_both_databases! {
    async fn the_log_records_who_did_what_newest_first(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (id, token) = app.invite("ana@example.org").await;
        app.verify_json("ana@example.org", "WRONG222").await;
        app.verify_json("ana@example.org", &token).await;
        app.delete(&format!("/api/users/{id}")).send().await.unwrap();

        let events = app.events("").await;
        assert_eq!(kinds(&events), [
            "invitee_deleted",
            "verification_succeeded",
            "verification_failed",
            "token_issued",
            "invitees_imported",
        ]);
        assert!(events.iter().all(|e| e["actor"] == "api_key"));
        assert_eq!(events[1]["channel"], "api");
        assert_eq!(events[1]["invitee_id"], id);
        assert_eq!(events[2]["detail"]["reason"], "wrong_token");
        assert_eq!(events[4]["detail"]["newly_added"], 1);
        assert!(events[0]["created_at"].is_string());
        let text = serde_json::to_string(&events).unwrap();
        assert!(!text.contains(&token) && !text.contains("WRONG222"), "no token, right or wrong, is logged");
    }

    async fn the_log_filters_by_kind_and_invitee_and_pages(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (ana, _) = app.invite("ana@example.org").await;
        let (bo, _) = app.invite("bo@example.org").await;
        app.refresh_token(bo).await;

        assert_eq!(app.events("kind=token_issued").await.len(), 3);
        let bo_events = app.events(&format!("invitee_id={bo}")).await;
        assert_eq!(kinds(&bo_events), ["token_issued", "token_issued"]);
        let ana_tokens = app.events(&format!("kind=token_issued&invitee_id={ana}")).await;
        assert_eq!(ana_tokens.len(), 1);

        let page: Value = app.get("/api/events?limit=2&offset=1").send().await.unwrap().json().await.unwrap();
        assert_eq!(page["events"].as_array().unwrap().len(), 2);
        assert_eq!(page["next_offset"], 3);
        let last: Value = app.get("/api/events?limit=10&offset=3").send().await.unwrap().json().await.unwrap();
        assert_eq!(last["events"].as_array().unwrap().len(), 2);
        assert!(last["next_offset"].is_null());
    }

    async fn bad_event_queries_are_400(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        for query in ["kind=nonsense", "limit=0", "limit=5000", "offset=-1", "invitee_id=x"] {
            let response = app.get(&format!("/api/events?{query}")).send().await.unwrap();
            assert_eq!(response.status(), 400, "{query}");
        }
        let body: Value = app.get("/api/events?kind=nonsense").send().await.unwrap().json().await.unwrap();
        assert!(body["detail"].as_str().unwrap().contains("verification_failed"), "lists the known kinds");
    }

    async fn deleting_everyone_is_logged_with_the_count(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        app.invite("ana@example.org").await;
        app.invite("bo@example.org").await;
        app.delete("/api/all").send().await.unwrap();
        let events = app.events("kind=all_invitees_deleted").await;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["detail"]["deleted"], 2);
    }
}
