//! The Events page: the audit log, filtered and paged in the browser.

use fantoccini::Locator;

use super::browser::Ui;
use crate::helpers::Backend;
use crate::on_both_databases;

/// The kinds in the table's rows, top to bottom.
async fn kinds_shown(ui: &Ui) -> Vec<String> {
    let cells = ui
        .browser
        .find_all(Locator::Css("#results td[data-label=What]"))
        .await
        .unwrap();
    let mut kinds = Vec::new();
    for cell in cells {
        kinds.push(cell.text().await.unwrap());
    }
    kinds
}

/// Picks an option in the select labelled `label`; htmx swaps the results.
async fn choose(ui: &Ui, label: &str, option: &str) {
    let xpath = format!(
        "//select[@id=//label[normalize-space()='{label}']/@for]/option[normalize-space()='{option}']"
    );
    ui.browser
        .find(Locator::XPath(&xpath))
        .await
        .unwrap_or_else(|e| panic!("no option {option} under {label}: {e}"))
        .click()
        .await
        .unwrap();
    ui.settle().await;
}

on_both_databases! {
    async fn the_events_page_filters_and_pages(backend: Backend) {
        let Some(ui) = Ui::start(backend, "events").await else { return };
        let (id, _) = ui.app.invite("ana@example.org").await;
        let (other, _) = ui.app.invite("ben@example.org").await;
        for _ in 0..54 {
            ui.app.refresh_token(id).await;
        }
        ui.sign_in().await;
        ui.goto("/admin/events").await;
        assert_eq!(ui.text("h1").await, "Events");
        let first_page = kinds_shown(&ui).await;
        assert_eq!(first_page.len(), 50);
        assert_eq!(first_page[0], "ui_signed_in");
        ui.screenshot("events").await;

        // Kind, then actor: the table follows each choice, and so does the address.
        choose(&ui, "Kind", "invitees_imported").await;
        assert_eq!(kinds_shown(&ui).await, ["invitees_imported", "invitees_imported"]);
        assert!(ui.path().await.contains("kind=invitees_imported"), "{}", ui.path().await);
        choose(&ui, "Kind", "All kinds").await;
        choose(&ui, "Actor", "Admin UI").await;
        assert_eq!(kinds_shown(&ui).await, ["ui_signed_in"]);
        choose(&ui, "Actor", "Anyone").await;

        // The invitee filter, through the form's button (no script needed).
        ui.fill("Invitee number", &other.to_string()).await;
        ui.press("Filter").await;
        assert_eq!(kinds_shown(&ui).await, ["token_issued"]);
        ui.screenshot("events-filtered").await;
        ui.fill("Invitee number", "").await;
        ui.press("Filter").await;

        // 2 imports + 56 tokens + 1 sign-in: a second page of 9, and back.
        ui.browser.find(Locator::Css("a[rel=next]")).await.unwrap().click().await.unwrap();
        ui.settle().await;
        assert_eq!(kinds_shown(&ui).await.len(), 9);
        assert!(ui.text(".pager").await.contains("Page 2"));
        assert!(ui.browser.find(Locator::Css("a[rel=next]")).await.is_err(), "no third page");
        ui.browser.find(Locator::Css("a[rel=prev]")).await.unwrap().click().await.unwrap();
        ui.settle().await;
        assert_eq!(kinds_shown(&ui).await, first_page);

        // An address with filters works on its own, as a bookmark would.
        ui.goto(&format!("/admin/events?invitee={other}&kind=token_issued")).await;
        assert_eq!(kinds_shown(&ui).await, ["token_issued"]);
        ui.goto("/admin/events?kind=invitees_imported&actor=api_key").await;
        assert_eq!(kinds_shown(&ui).await.len(), 2);
        ui.goto("/admin/events?actor=cli").await;
        assert!(ui.text("#results").await.contains("No events match these filters."));
        ui.close().await;
    }
}
