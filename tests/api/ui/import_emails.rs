//! The Import and Emails pages in the browser: a CSV with bad rows imported and its
//! refused rows downloaded; invitations sent through the local outbox and one opened.

use std::time::Duration;

use fantoccini::Locator;

use super::browser::Ui;
use super::import::MIXED_CSV;
use crate::email::{ids, send};
use crate::helpers::Backend;
use crate::on_both_databases;

/// Waits (up to 10 s) until the element matching `css` holds `text`; the page updates
/// itself (htmx polling), so there is no request to wait for.
async fn until_text(ui: &Ui, css: &str, text: &str) {
    for _ in 0..200 {
        if let Ok(element) = ui.browser.find(Locator::Css(css)).await
            && element.text().await.is_ok_and(|t| t.contains(text))
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{css} never said {text:?}: {}", ui.page_text().await);
}

on_both_databases! {
    async fn a_csv_with_bad_rows_is_previewed_imported_and_its_errors_downloaded(backend: Backend) {
        let Some(ui) = Ui::start(backend, "import").await else { return };
        ui.app.invite("old@example.org").await;
        let path = ui.app.data_dir.path().join("people.csv");
        std::fs::write(&path, MIXED_CSV).unwrap();
        ui.sign_in().await;
        ui.goto("/admin/import").await;
        assert_eq!(ui.text("h1").await, "Import");
        ui.screenshot("import").await;

        let input = ui.browser.find(Locator::Id("csv-file")).await.unwrap();
        input.send_keys(path.to_str().unwrap()).await.unwrap();
        ui.press("Preview").await;
        let preview = ui.text(".import-preview").await;
        assert!(preview.contains("semicolon"), "{preview}");
        assert_eq!(ui.text("[data-count=add]").await, "2");
        assert_eq!(ui.text("[data-count=skip]").await, "2");
        assert_eq!(ui.text("[data-count=refuse]").await, "2");
        assert!(preview.contains("name is empty"), "{preview}");
        ui.screenshot("import-preview").await;

        ui.press("Import 2 invitees").await;
        until_text(&ui, "#import-job", "Import finished").await;
        assert_eq!(ui.text("[data-count=added]").await, "2");
        assert_eq!(ui.text("[data-count=refused]").await, "2");
        let refused = ui.text(".import-job .refused-rows").await;
        assert!(refused.contains("not-an-email") && refused.contains("bo@example.org"), "{refused}");
        // The summary replaced the progress in place; bring it into view for the pictures.
        ui.browser
            .execute("document.getElementById('import-job').scrollIntoView()", vec![])
            .await
            .unwrap();
        ui.screenshot("import-summary").await;

        // The download, fetched as the browser would with its session.
        let link = ui.browser.find(Locator::LinkText("Download the refused rows (CSV)")).await.unwrap();
        let href = link.attr("href").await.unwrap().expect("a download address");
        let csv = ui
            .browser
            .execute("return fetch(arguments[0]).then(r => r.text())", vec![href.into()])
            .await
            .unwrap();
        let csv = csv.as_str().unwrap();
        assert!(csv.starts_with("line,email,reason\n5,not-an-email,"), "{csv}");
        assert!(csv.contains("6,bo@example.org,name is empty"), "{csv}");

        // Coming back later finds the import where it was left.
        ui.goto("/admin/events").await;
        ui.goto("/admin/import").await;
        assert!(ui.text("#import-job").await.contains("Import finished"));
        ui.close().await;
    }

    async fn invitations_sent_through_the_outbox_open_as_they_would_arrive(backend: Backend) {
        let vars = [("DISCORD_INVITE_URL", "https://discord.gg/example")];
        let Some(ui) = Ui::start_with(backend, "emails", &vars).await else { return };
        let (ana, _) = ui.app.invite("ana@example.org").await;
        let (ben, _) = ui.app.invite("ben@example.org").await;
        let report = send(&ui.app, ids(&[ana, ben])).await;
        assert_eq!(report["emails_sent"], 2, "{report}");
        ui.sign_in().await;
        ui.goto("/admin/emails").await;
        assert_eq!(ui.text("[data-count=sent]").await, "2");
        assert_eq!(ui.text("[data-count=queued]").await, "0");
        let rows = ui.browser.find_all(Locator::Css("#results tbody tr")).await.unwrap();
        assert_eq!(rows.len(), 2);
        ui.screenshot("emails").await;

        // Filtering by status follows the choice.
        ui.browser
            .find(Locator::XPath("//select[@id='status']/option[@value='failed']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        ui.settle().await;
        assert!(ui.text("#results").await.contains("No emails match these filters."));
        ui.goto("/admin/emails").await;

        // Open the newest: Ben's invitation, rendered in its sandboxed frame.
        ui.browser.find(Locator::Css("#results tbody tr a")).await.unwrap().click().await.unwrap();
        ui.settle().await;
        let here = ui.path().await;
        assert!(here.starts_with("/admin/emails/"), "{here}");
        assert!(ui.text("h1").await.contains("Discord invitation"));
        let frame = ui.browser.find(Locator::Css("iframe.rendered-email")).await.unwrap();
        assert_eq!(frame.attr("sandbox").await.unwrap().as_deref(), Some(""));
        ui.screenshot("email").await;
        frame.clone().enter_frame().await.unwrap();
        let body = ui.text("body").await;
        assert!(body.contains("ben@example.org"), "{body}");
        // Its link goes nowhere: neither the frame nor the page moves.
        ui.browser.find(Locator::LinkText("Join the Discord server")).await.unwrap().click().await.unwrap();
        assert!(ui.text("body").await.contains("ben@example.org"));
        ui.browser.enter_parent_frame().await.unwrap();
        assert_eq!(ui.path().await, here);
        assert_eq!(ui.browser.windows().await.unwrap().len(), 1, "no window opened");

        // A test email, from the Emails page.
        ui.goto("/admin/emails").await;
        ui.fill("Send to", "me@example.org").await;
        ui.press("Send test email").await;
        until_text(&ui, "#test-result", "Sent to me@example.org").await;
        ui.screenshot("emails-test").await;
        ui.close().await;
    }
}
