//! The Invitees page in the browser: an organiser searches, picks a tab, emails all that
//! match after reading the exact count, issues a token, verifies and deletes someone.

use fantoccini::Locator;

use super::browser::Ui;
use crate::helpers::Backend;
use crate::on_both_databases;

/// The emails the table lists, top to bottom.
async fn listed(ui: &Ui) -> Vec<String> {
    let cells = ui
        .browser
        .find_all(Locator::Css("#results td.email"))
        .await
        .unwrap();
    let mut emails = Vec::new();
    for cell in cells {
        emails.push(cell.text().await.unwrap());
    }
    emails
}

async fn click(ui: &Ui, css: &str) {
    ui.browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .click()
        .await
        .unwrap();
    ui.settle().await;
}

/// Waits for htmx to put the search in the address, as it does once the results are in.
async fn until_path(ui: &Ui, part: &str) {
    for _ in 0..200 {
        if ui.path().await.contains(part) {
            ui.settle().await;
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the address never held {part}: {}", ui.path().await);
}

/// The table itself at a phone's width, scrolled to, one row's actions open.
async fn table_on_a_phone(ui: &Ui, backend: Backend) {
    if backend != Backend::Sqlite {
        return;
    }
    ui.browser.set_window_size(390, 844).await.unwrap();
    ui.settle().await;
    click(ui, "#results tbody tr:first-child summary").await;
    ui.browser
        .execute(
            "document.querySelector('#results tbody tr').scrollIntoView()",
            vec![],
        )
        .await
        .unwrap();
    let png = ui.browser.screenshot().await.unwrap();
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("invitees-invitees-table-phone.png"), png).unwrap();
    click(ui, "#results tbody tr:first-child summary").await;
    ui.browser.set_window_size(1280, 800).await.unwrap();
    ui.settle().await;
}

/// Clicks what `xpath` finds and waits for the page it leads to: until the page it was
/// on is gone, then until the new one has loaded.
async fn navigate(ui: &Ui, xpath: &str) {
    let old = ui.browser.find(Locator::Css("html")).await.unwrap();
    ui.browser
        .find(Locator::XPath(xpath))
        .await
        .unwrap_or_else(|e| panic!("nothing at {xpath}: {e}"))
        .click()
        .await
        .unwrap();
    for _ in 0..200 {
        if old.tag_name().await.is_err() {
            ui.settle().await;
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("{xpath} led nowhere");
}

/// Presses a button that submits a form.
async fn submit(ui: &Ui, button: &str) {
    navigate(ui, &format!("//button[normalize-space()='{button}']")).await;
}

/// Opens a row's actions and presses one of them.
async fn act(ui: &Ui, id: i64, action: &str) {
    click(ui, &format!("tr[data-invitee='{id}'] summary")).await;
    let xpath = format!(
        "//tr[@data-invitee='{id}']//*[self::button or self::a][normalize-space()='{action}']"
    );
    navigate(ui, &xpath).await;
}

on_both_databases! {
    async fn an_organiser_works_through_the_invitees(backend: Backend) {
        let Some(ui) = Ui::start(backend, "invitees").await else { return };
        let mut csv = String::from("email,name,college,branch,year\n");
        for (email, name) in [
            ("ana.lima@example.org", "Ana Lima"),
            ("ben.okafor@example.org", "Ben Okafor"),
            ("chen.wei@example.org", "Chen Wei"),
            ("dara.khan@example.org", "Dara Khan"),
            ("eli.novak@sample.net", "Eli Novak"),
            ("farah.said@sample.net", "Farah Said"),
        ] {
            csv.push_str(&format!("{email},{name},Riverside College,CSE,2026\n"));
        }
        let added = ui.app.upload_csv(&csv).await;
        let id = |n: usize| added["newly_added_users"][n]["id"].as_i64().unwrap();
        let (ana, ben, chen) = (id(0), id(1), id(2));
        let (_, token) = ui.app.invite("gia.rossi@example.org").await;
        ui.app.verify_json("gia.rossi@example.org", &token).await;

        ui.sign_in().await;
        ui.goto("/admin/invitees").await;
        assert_eq!(ui.text("h1").await, "Invitees");
        assert_eq!(listed(&ui).await.len(), 7);
        ui.screenshot("invitees").await;

        // Search, then a tab: the search stays, the tab narrows it.
        // Typing searches by itself, a moment after the last key.
        ui.fill("Search email or name", "example.org").await;
        until_path(&ui, "q=example.org").await;
        assert_eq!(listed(&ui).await.len(), 5);
        click(&ui, "nav.tabs a[href*='status=not_emailed']").await;
        assert_eq!(
            listed(&ui).await,
            ["ana.lima@example.org", "ben.okafor@example.org", "chen.wei@example.org", "dara.khan@example.org"]
        );
        ui.screenshot("invitees-tab").await;
        table_on_a_phone(&ui, backend).await;
        let path = ui.path().await;
        assert!(path.contains("q=example.org") && path.contains("status=not_emailed"), "{path}");
        let tab = ui.text("nav.tabs a[aria-current=page]").await;
        assert_eq!(tab.split_whitespace().collect::<Vec<_>>(), ["Not", "emailed", "4"], "{tab}");

        // All that match this view: four, not the seven invited, said before sending.
        click(&ui, "input[name=scope][value=matching]").await;
        submit(&ui, "Review…").await;
        assert_eq!(
            ui.text("#review-summary").await,
            "4 invitees will be emailed an invitation with a fresh token; 0 skipped."
        );
        assert!(ui.app.get_json("/api/emails").await["emails"].as_array().unwrap().is_empty());
        ui.screenshot("invitees-review").await;
        submit(&ui, "Send invitations").await;
        assert!(ui.page_text().await.contains("4 invitations queued"));
        let queued = ui.app.events("kind=email_queued").await;
        assert_eq!(queued.len(), 4);
        assert!(queued.iter().all(|e| e["actor"] == "ui"));
        navigate(&ui, "//a[normalize-space()='← Back to invitees']").await;
        assert!(ui.path().await.contains("status=not_emailed"), "back to the same view");

        // A new token for Ana, shown once; it works.
        ui.goto("/admin/invitees?q=ana").await;
        act(&ui, ana, "Issue new token").await;
        assert_eq!(ui.text("h1").await, "New token issued");
        let new_token = ui
            .browser
            .find(Locator::Id("new-token"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .unwrap();
        assert!(!ui.path().await.contains(&new_token), "never in an address");
        ui.screenshot("invitees-token").await;
        ui.goto("/admin/invitees").await;
        assert!(!ui.page_text().await.contains(&new_token), "never in a listing");
        ui.app.verify_json("ana.lima@example.org", &new_token).await;

        // Ben, verified by hand: the same event as /force_verify, by the UI.
        act(&ui, ben, "Mark verified").await;
        assert_eq!(ui.text("h1").await, "Marked verified");
        let forced = ui.app.events("kind=discord_force_verified").await;
        assert_eq!(forced.len(), 1);
        assert_eq!((forced[0]["actor"].as_str(), forced[0]["invitee_id"].as_i64()), (Some("ui"), Some(ben)));
        ui.goto("/admin/invitees?status=verified").await;
        assert_eq!(
            listed(&ui).await,
            ["ana.lima@example.org", "ben.okafor@example.org", "gia.rossi@example.org"]
        );

        // Chen, deleted after a confirmation.
        ui.goto("/admin/invitees").await;
        act(&ui, chen, "Delete…").await;
        assert_eq!(ui.text("h1").await, "Delete invitee?");
        assert!(ui.page_text().await.contains("chen.wei@example.org"));
        ui.screenshot("invitees-delete").await;
        submit(&ui, "Delete invitee").await;
        assert_eq!(ui.text("h1").await, "Invitee deleted");
        ui.goto("/admin/invitees").await;
        assert!(!listed(&ui).await.contains(&"chen.wei@example.org".to_owned()));
        let deleted = ui.app.events("kind=invitee_deleted").await;
        assert_eq!((deleted[0]["actor"].as_str(), deleted[0]["invitee_id"].as_i64()), (Some("ui"), Some(chen)));
        ui.screenshot("invitees-after").await;

        // The ticked ones only: a whole page ticked at once, then deleted after the review.
        ui.goto("/admin/invitees?q=sample.net").await;
        click(&ui, "input[data-select-all]").await;
        click(&ui, "#bulk-action option[value=delete]").await;
        submit(&ui, "Review…").await;
        assert_eq!(
            ui.text("#review-summary").await,
            "2 invitees will be deleted, with their tokens. This cannot be undone."
        );
        submit(&ui, "Delete invitees").await;
        assert!(ui.page_text().await.contains("2 invitees deleted."));
        ui.goto("/admin/invitees").await;
        assert_eq!(listed(&ui).await.len(), 4);
        ui.close().await;
    }
}
