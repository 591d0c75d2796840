//! The Invitees page over HTTP: the status each invitee is given, the counts and skips
//! a bulk action states before it acts, the CSV export, and a 100,000-row listing read
//! along an index.

use chrono::Duration;
use doorman::domain::invitee_status::{
    InviteePageRequest, InviteeSelection, InviteeSort, InviteeStatus, PageCursor,
};
use reqwest::header::COOKIE;

use super::http::{self, csrf_token, get_with, signed_in};
use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

/// A signed-in organiser: the cookie and the CSRF token.
struct Organiser {
    cookie: String,
    csrf: String,
}

impl Organiser {
    async fn new(app: &TestApp) -> Self {
        let cookie = signed_in(app).await;
        let csrf = csrf_token(app, &cookie).await;
        Self { cookie, csrf }
    }

    async fn page(&self, app: &TestApp, path: &str) -> String {
        let response = get_with(app, path, &self.cookie).await;
        assert_eq!(response.status(), 200, "{path}");
        response.text().await.unwrap()
    }

    async fn post(&self, app: &TestApp, path: &str, fields: &[(&str, &str)]) -> String {
        let mut form = vec![("csrf_token", self.csrf.as_str())];
        form.extend_from_slice(fields);
        let response = http::client()
            .post(app.url(path))
            .header(COOKIE, format!("doorman_session={}", self.cookie))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        response.text().await.unwrap()
    }
}

/// The (email, status) of each row the page lists, top to bottom.
fn rows(page: &str) -> Vec<(String, String)> {
    page.split("<tr data-invitee=")
        .skip(1)
        .map(|row| {
            let after = |start: &str, end: char| {
                let from = row.find(start).expect("a cell") + start.len();
                row[from..].split(end).next().unwrap().to_owned()
            };
            let email = after("<label for=\"tick-", '<');
            let email = email.split_once('>').unwrap().1.to_owned();
            (email, after("data-status=\"", '"'))
        })
        .collect()
}

/// The count a status tab shows.
fn tab_count(page: &str, label: &str) -> i64 {
    let start = page
        .find(&format!(">{label} <span class=\"count\">"))
        .expect(label);
    let rest = &page[start..];
    let from = rest.find("\"count\">").unwrap() + "\"count\">".len();
    rest[from..].split('<').next().unwrap().parse().unwrap()
}

async fn upload(app: &TestApp, emails: &[String]) {
    let mut csv = String::from("email,name,college,branch,year\n");
    for email in emails {
        csv.push_str(&format!("{email},Person {email},College,CSE,2026\n"));
    }
    app.upload_csv(&csv).await;
}

async fn set_status(app: &TestApp, email: &str, status: &str) {
    app.sql(&format!(
        "UPDATE invitees SET email_status = '{status}' WHERE email = '{email}'"
    ))
    .await;
}

on_both_databases! {
    async fn each_invitee_has_one_status_decided_in_order(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        // Tokens issued now expire before the others are issued.
        let (verified, token) = app.invite("verified@example.org").await;
        app.verify_json("verified@example.org", &token).await;
        set_status(&app, "verified@example.org", "bounced").await;
        for email in ["bounced-expired", "failed", "expired-delivered"] {
            app.invite(&format!("{email}@example.org")).await;
        }
        app.advance(Duration::days(8));
        for email in ["delivered", "sent", "queued", "not-emailed"] {
            app.invite(&format!("{email}@example.org")).await;
        }
        upload(&app, &["never@example.org".to_owned()]).await;
        for (email, status) in [
            ("bounced-expired", "bounced"),
            ("failed", "failed"),
            ("expired-delivered", "delivered"),
            ("delivered", "delivered"),
            ("sent", "sent"),
            ("queued", "queued"),
        ] {
            set_status(&app, &format!("{email}@example.org"), status).await;
        }
        let organiser = Organiser::new(&app).await;
        let all = organiser.page(&app, "/admin/invitees").await;
        let found: Vec<(String, String)> = rows(&all);
        let expected = [
            ("verified", "verified"),
            ("bounced-expired", "bounced"),
            ("failed", "bounced"),
            ("expired-delivered", "expired"),
            ("delivered", "delivered"),
            ("sent", "emailed"),
            ("queued", "emailed"),
            ("not-emailed", "not_emailed"),
            ("never", "not_emailed"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(e, s)| (format!("{e}@example.org"), (*s).to_owned()))
            .collect();
        assert_eq!(found, expected);
        assert!(verified > 0);

        // Each tab holds exactly its own, and its count says so.
        for status in InviteeStatus::ALL {
            let tab = organiser
                .page(&app, &format!("/admin/invitees?status={}", status.as_str()))
                .await;
            let want: Vec<(String, String)> = expected
                .iter()
                .filter(|(_, s)| s == status.as_str())
                .cloned()
                .collect();
            assert_eq!(rows(&tab), want, "{status}");
            assert_eq!(tab_count(&all, status.label()), want.len() as i64, "{status}");
        }
        assert_eq!(tab_count(&all, "All"), 9);

        // The search narrows the tabs' counts too, and keeps the tab.
        let searched = organiser.page(&app, "/admin/invitees?q=DELIVERED&status=expired").await;
        assert_eq!(rows(&searched), [("expired-delivered@example.org".to_owned(), "expired".to_owned())]);
        assert_eq!(tab_count(&searched, "All"), 2);
        assert_eq!(tab_count(&searched, "Delivered"), 1);
        // No listing shows a live token.
        assert!(!all.contains(&token));
    }

    async fn a_bulk_resend_says_exactly_who_is_emailed_and_who_skipped(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let emails: Vec<String> = (1..=6).map(|n| format!("p{n}@example.org")).collect();
        upload(&app, &emails).await;
        let (_, token) = app.invite("verified@example.org").await;
        app.verify_json("verified@example.org", &token).await;
        set_status(&app, "p1@example.org", "bounced").await;
        set_status(&app, "p2@example.org", "dropped").await;
        let organiser = Organiser::new(&app).await;
        // p3 was just emailed: in the cooldown.
        let p3 = app.doorman.invitee_page(&InviteePageRequest {
            selection: InviteeSelection { search: Some("p3@".into()), status: None },
            size: 1,
            ..Default::default()
        }).await.unwrap().rows[0].invitee.id;
        let sent = organiser.post(&app, &format!("/admin/invitees/{p3}/resend"), &[]).await;
        assert!(sent.contains("Invitation queued"), "{sent}");

        // All matching the search "example.org" (everyone), not only a page.
        let fields = [("action", "resend"), ("scope", "matching"), ("q", "example.org"), ("status", "")];
        let review = organiser.post(&app, "/admin/invitees/bulk", &fields).await;
        assert!(review.contains("3 invitees will be emailed an invitation with a fresh token; 4 skipped."), "{review}");
        assert!(review.contains("1 invitee skipped: already verified"));
        assert!(review.contains("1 invitee skipped: emailed too recently (the resend cooldown)"));
        assert!(review.contains("2 invitees skipped: their address bounced or refuses mail"));
        let emails_before = app.get_json("/api/emails").await;
        let queued_before = emails_before["emails"].as_array().map_or(0, Vec::len);
        assert_eq!(queued_before, 1, "the review sent nothing");

        let done = organiser.post(&app, "/admin/invitees/bulk/confirm", &fields).await;
        assert!(done.contains("3 invitations queued"), "{done}");
        let events = app.events("kind=email_queued").await;
        assert_eq!(events.len(), 4);
        assert!(events.iter().all(|e| e["actor"] == "ui"), "{events:?}");

        // A tab narrows "all matching": the verified tab emails nobody.
        let fields = [("action", "resend"), ("scope", "matching"), ("status", "verified")];
        let review = organiser.post(&app, "/admin/invitees/bulk", &fields).await;
        assert!(review.contains("0 invitees will be emailed"), "{review}");
        assert!(!review.contains("Send invitations"));
    }

    async fn the_export_is_the_whole_filtered_view(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let mut emails: Vec<String> = (1..=60).map(|n| format!("team{n:02}@example.org")).collect();
        emails.push("other@example.org".to_owned());
        emails.push("=cmd@example.org".to_owned());
        upload(&app, &emails).await;
        let (_, token) = app.invite("team-verified@example.org").await;
        app.verify_json("team-verified@example.org", &token).await;
        let organiser = Organiser::new(&app).await;
        let page = organiser.page(&app, "/admin/invitees?q=team&status=not_emailed").await;
        assert_eq!(rows(&page).len(), 50, "a page holds 50");

        let response = get_with(&app, "/admin/invitees/export.csv?q=team&status=not_emailed", &organiser.cookie).await;
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
        assert!(response.headers()["content-disposition"].to_str().unwrap().contains("invitees-not_emailed.csv"));
        let body = response.text().await.unwrap();
        let mut reader = csv::Reader::from_reader(body.as_bytes());
        let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
        assert_eq!(header[..7], ["id", "email", "name", "college", "branch", "year", "status"]);
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(records.len(), 60, "every match, not the page");
        assert!(records.iter().all(|r| r[1].starts_with("team") && &r[6] == "not_emailed"));
        assert!(!body.contains(&token) && !body.contains("token_hash"));

        let exported = app.events("kind=invitees_exported").await;
        assert_eq!(exported.len(), 1);
        assert_eq!(exported[0]["actor"], "ui");
        assert_eq!(exported[0]["detail"]["count"], 60);
        assert_eq!(exported[0]["detail"]["status"], "not_emailed");

        let all = get_with(&app, "/admin/invitees/export.csv?q=cmd", &organiser.cookie).await;
        let all = all.text().await.unwrap();
        assert!(all.contains("'=cmd@example.org"), "a formula is written as text: {all}");
    }

    async fn a_bulk_delete_of_all_matching_deletes_exactly_those(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let emails: Vec<String> = (1..=7).map(|n| format!("old{n}@example.org")).collect();
        upload(&app, &emails).await;
        upload(&app, &["keep@example.org".to_owned()]).await;
        let organiser = Organiser::new(&app).await;
        let fields = [("action", "delete"), ("scope", "matching"), ("q", "old")];
        let review = organiser.post(&app, "/admin/invitees/bulk", &fields).await;
        assert!(review.contains("7 invitees will be deleted"), "{review}");
        // Another arrives meanwhile: the count agreed to no longer holds, so nothing goes.
        upload(&app, &["old8@example.org".to_owned()]).await;
        let mut stale = fields.to_vec();
        stale.push(("expected", "7"));
        let again = organiser.post(&app, "/admin/invitees/bulk/confirm", &stale).await;
        assert!(again.contains("The selection changed"), "{again}");
        assert!(again.contains("8 invitees will be deleted"));
        let mut agreed = fields.to_vec();
        agreed.push(("expected", "8"));
        let done = organiser.post(&app, "/admin/invitees/bulk/confirm", &agreed).await;
        assert!(done.contains("8 invitees deleted."), "{done}");
        let left = organiser.page(&app, "/admin/invitees").await;
        assert_eq!(rows(&left), [("keep@example.org".to_owned(), "not_emailed".to_owned())]);
        let events = app.events("kind=invitee_deleted").await;
        assert_eq!(events.len(), 8);
        assert!(events.iter().all(|e| e["actor"] == "ui" && e["invitee_id"].is_i64()));
    }

    async fn a_hundred_thousand_invitees_page_along_an_index(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let seed = match backend {
            Backend::Sqlite => "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) \
                 INSERT INTO invitees (email, name, college, branch, year, created_at, updated_at) \
                 SELECT 'p' || i || '@example.org', 'Person ' || i, 'C', 'B', '2026', '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00' FROM n",
            Backend::Postgres => "INSERT INTO invitees (email, name, college, branch, year, created_at, updated_at) \
                 SELECT 'p' || i || '@example.org', 'Person ' || i, 'C', 'B', '2026', now(), now() \
                 FROM generate_series(1, 100000) AS i",
        };
        app.sql(seed).await;
        app.sql(match backend {
            Backend::Sqlite => "ANALYZE",
            Backend::Postgres => "ANALYZE invitees",
        }).await;
        for sort in InviteeSort::ALL {
            for cursor in [None, Some(PageCursor::After(99_000)), Some(PageCursor::Before(50_000))] {
                for status in [None, Some(InviteeStatus::NotEmailed)] {
                    let request = InviteePageRequest {
                        selection: InviteeSelection { search: None, status },
                        sort: *sort,
                        cursor,
                        size: 50,
                    };
                    let plan = app.doorman.explain_invitee_page(&request).await.unwrap();
                    let case = format!("{sort} {cursor:?} {status:?}:\n{plan}");
                    let by_email = matches!(sort, InviteeSort::EmailAz | InviteeSort::EmailZa);
                    match backend {
                        Backend::Sqlite => {
                            assert!(!plan.contains("TEMP B-TREE"), "sorted in memory: {case}");
                            assert_eq!(plan.contains("invitees_email_key"), by_email, "{case}");
                        }
                        Backend::Postgres => {
                            assert!(!plan.contains("Sort"), "sorted in memory: {case}");
                            let index = if by_email { "invitees_email_key" } else { "invitees_pkey" };
                            assert!(plan.contains(&format!("Index Scan Backward using {index}"))
                                || plan.contains(&format!("Index Scan using {index}")), "{case}");
                        }
                    }
                }
            }
        }
        // And the page itself: deep in the list, in order, with the way back and on.
        let organiser = Organiser::new(&app).await;
        let page = organiser.page(&app, "/admin/invitees?sort=newest&after=1001").await;
        let listed = rows(&page);
        assert_eq!(listed.len(), 50);
        assert_eq!(listed[0].0, "p1000@example.org");
        assert_eq!(listed[49].0, "p951@example.org");
        assert!(page.contains("rel=\"prev\"") && page.contains("rel=\"next\""));
        assert_eq!(tab_count(&page, "Not emailed"), 100_000);
    }
}

on_both_databases! {
    async fn unlinking_forgets_the_discord_account_and_says_so(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (id, token) = app.invite("linked@example.org").await;
        app.verify_json("linked@example.org", &token).await;
        app.sql("UPDATE invitees SET discord_user_id = '80351110224678912' WHERE email = 'linked@example.org'").await;
        let organiser = Organiser::new(&app).await;
        let page = organiser.page(&app, "/admin/invitees").await;
        assert!(page.contains("80351110224678912") && page.contains("Unlink Discord"));

        let done = organiser.post(&app, &format!("/admin/invitees/{id}/unlink"), &[("back", "/admin/invitees?q=linked")]).await;
        assert!(done.contains("is no longer linked to Discord account 80351110224678912"), "{done}");
        assert!(done.contains("href=\"/admin/invitees?q=linked\""), "the way back keeps the view");
        let user = app.get_json(&format!("/api/users/{id}")).await;
        assert!(user["discord_user_id"].is_null() && user["is_verified"] == true, "{user}");
        let events = app.events("kind=discord_account_unlinked").await;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["actor"], "ui");
        assert_eq!(events[0]["invitee_id"], id);
        assert!(events[0]["detail"].to_string().contains("80351110224678912"));

        // Again: nothing to unlink, and no second event.
        let again = organiser.post(&app, &format!("/admin/invitees/{id}/unlink"), &[]).await;
        assert!(again.contains("has no Discord account linked"), "{again}");
        assert_eq!(app.events("kind=discord_account_unlinked").await.len(), 1);
        // Marking a verified invitee verified changes nothing either.
        let verified = organiser.post(&app, &format!("/admin/invitees/{id}/verify"), &[]).await;
        assert!(verified.contains("was verified already"), "{verified}");
        assert!(app.events("kind=discord_force_verified").await.is_empty());
        // A missing invitee is a 404 page, not an error.
        let response = http::client()
            .post(app.url("/admin/invitees/999999/verify"))
            .header(COOKIE, format!("doorman_session={}", organiser.cookie))
            .form(&[("csrf_token", organiser.csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
    }
}
