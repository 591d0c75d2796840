//! Every way a join can fail ends on a helpful page, and leaves the invitation usable.

use reqwest::StatusCode;

use super::{
    ANA, AnaInvited, BO, Browser, ana_invited, emailed_text, invitee, join_link_in, world,
};
use crate::helpers::Backend;
use crate::on_both_databases;

on_both_databases! {
    async fn the_email_carries_the_personal_link(backend: Backend) {
        let AnaInvited { world, id, .. } = ana_invited(backend).await;
        let app = &world.app;
        let text = emailed_text(app, id).await;
        let link = join_link_in(&text, "http://doorman.test");
        let token = link.rsplit('/').next().unwrap().to_owned();
        assert!(text.contains(&token[..4]), "the token beside the link");
        let done = Browser::new().join(app, &token).await;
        assert_eq!(done.status(), StatusCode::OK);
        assert_eq!(invitee(app, id).await["is_verified"], true);
    }

    async fn expired_used_and_unknown_links_get_a_page_that_says_what_to_do(backend: Backend) {
        let world = world(backend).await;
        let app = &world.app;
        let (_, used) = app.invite("bo@example.org").await;
        assert_eq!(app.verify_json("bo@example.org", &used).await["success"], true);
        let (_, expired) = app.invite("ana@example.org").await;
        app.advance(chrono::Duration::days(8));

        let browser = Browser::new();
        let page = browser.get(&app.url(&format!("/join/{expired}"))).await;
        assert_eq!(page.status(), StatusCode::GONE);
        assert!(page.text().await.unwrap().contains("Ask the organiser for a new invitation"));
        let page = browser.get(&app.url(&format!("/join/{used}"))).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.text().await.unwrap().contains("Already joined"));
        let page = browser.get(&app.url("/join/NOSUCHTOKEN")).await;
        assert_eq!(page.status(), StatusCode::NOT_FOUND);
        assert!(page.text().await.unwrap().contains("latest invitation email"));
        // The button of an unusable link does not go to Discord either.
        let page = browser.get(&app.url(&format!("/join/{expired}/discord"))).await;
        assert_eq!(page.status(), StatusCode::GONE);
        assert!(world.discord.oauth_states().is_empty());
    }

    async fn a_denied_consent_changes_nothing_and_a_retry_gets_a_new_state(backend: Backend) {
        let world = world(backend).await;
        let app = &world.app;
        let (id, token) = app.invite("ana@example.org").await;
        world.discord.deny_consent();
        let mut browser = Browser::new();
        let page = browser.join(app, &token).await;
        assert_eq!(page.status(), StatusCode::BAD_REQUEST);
        assert!(page.text().await.unwrap().contains("You cancelled at Discord"));
        assert_eq!(invitee(app, id).await["is_verified"], false);
        let refused = app.events("kind=join_refused").await;
        assert_eq!(refused[0]["detail"]["reason"], "consent_denied");

        world.discord.consent_as(ANA, "ana");
        let page = browser.join(app, &token).await;
        assert_eq!(page.status(), StatusCode::OK);
        let states = world.discord.oauth_states();
        assert_eq!(states.len(), 2);
        assert_ne!(states[0], states[1]);
    }

    async fn forged_reused_and_other_browser_states_are_refused(backend: Backend) {
        let AnaInvited { world, id, token } = ana_invited(backend).await;
        let app = &world.app;

        // Forged: a state doorman never made.
        let mut browser = Browser::new();
        let consent_page = browser.start(app, &token).await;
        let callback = browser.consent(app, &consent_page).await;
        let forged = callback.replace("state=", "state=x");
        let page = browser.get(&forged).await;
        assert_eq!(page.status(), StatusCode::BAD_REQUEST);

        // Another browser: the right state without its cookie, or with another cookie.
        let stranger = Browser::new();
        let page = stranger.get(&callback).await;
        assert_eq!(page.status(), StatusCode::BAD_REQUEST);
        // That state is now used up, even for the right browser.
        let page = browser.get(&callback).await;
        assert_eq!(page.status(), StatusCode::BAD_REQUEST);
        assert_eq!(invitee(app, id).await["is_verified"], false);

        // Reused: a callback that worked does not work twice.
        let callback = browser.trip(app, &token).await;
        assert_eq!(browser.get(&callback).await.status(), StatusCode::OK);
        let page = browser.get(&callback).await;
        assert_eq!(page.status(), StatusCode::BAD_REQUEST);
        assert!(page.text().await.unwrap().contains("did not come from here"));

        let reasons: Vec<String> = app
            .events("kind=join_refused")
            .await
            .iter()
            .map(|e| e["detail"]["reason"].as_str().unwrap().to_owned())
            .collect();
        assert!(reasons.contains(&"unknown_state".to_owned()), "{reasons:?}");
        assert!(reasons.contains(&"other_browser".to_owned()), "{reasons:?}");
    }

    async fn an_expired_state_is_refused(backend: Backend) {
        let AnaInvited { world, id, token } = ana_invited(backend).await;
        let app = &world.app;
        let mut browser = Browser::new();
        let callback = browser.trip(app, &token).await;
        app.advance(chrono::Duration::minutes(11));
        assert_eq!(browser.get(&callback).await.status(), StatusCode::BAD_REQUEST);
        assert_eq!(invitee(app, id).await["is_verified"], false);
        let refused = app.events("kind=join_refused").await;
        assert_eq!(refused[0]["detail"]["reason"], "state_expired");
    }

    async fn an_account_linked_to_another_invitee_is_refused(backend: Backend) {
        let world = world(backend).await;
        let app = &world.app;
        let (bo_id, _) = app.invite("bo@example.org").await;
        let bo_token = app.refresh_token(bo_id).await;
        world.discord.consent_as(BO, "bo");
        assert_eq!(Browser::new().join(app, &bo_token).await.status(), StatusCode::OK);

        let (ana_id, ana_token) = app.invite("ana@example.org").await;
        // Ana's browser signs in to Discord as Bo.
        let page = Browser::new().join(app, &ana_token).await;
        assert_eq!(page.status(), StatusCode::CONFLICT);
        assert!(page.text().await.unwrap().contains("belongs to another invitation"));
        assert_eq!(invitee(app, ana_id).await["is_verified"], false);
        let refused = app.events("kind=join_refused").await;
        assert_eq!(refused[0]["detail"]["reason"], "account_linked_elsewhere");

        // Her invitation still works with her own account.
        world.discord.consent_as(ANA, "ana");
        assert_eq!(Browser::new().join(app, &ana_token).await.status(), StatusCode::OK);
    }

    async fn when_discord_refuses_to_add_the_member_the_invitation_is_not_used(backend: Backend) {
        let AnaInvited { world, id, token } = ana_invited(backend).await;
        let app = &world.app;
        let everyone = world.discord.guild_id();
        world.discord.set_role_permissions(everyone, 0);
        let page = Browser::new().join(app, &token).await;
        assert_eq!(page.status(), StatusCode::FORBIDDEN);
        assert!(page.text().await.unwrap().contains("tell the organiser"));
        assert!(!world.discord.is_member(ANA));
        let stored = invitee(app, id).await;
        assert_eq!(stored["is_verified"], false);
        assert_eq!(stored["discord_user_id"], serde_json::Value::Null);
        assert_eq!(app.events("kind=join_undone").await.len(), 1);

        // Once the permission is back, the same link works.
        world.discord.set_role_permissions(everyone, 1);
        assert_eq!(Browser::new().join(app, &token).await.status(), StatusCode::OK);
        assert_eq!(invitee(app, id).await["is_verified"], true);
    }

    async fn two_callbacks_racing_for_one_invitation_admit_one(backend: Backend) {
        let AnaInvited { world, id, token } = ana_invited(backend).await;
        let app = &world.app;
        let (mut first, mut second) = (Browser::new(), Browser::new());
        let one = first.trip(app, &token).await;
        world.discord.consent_as(BO, "bo");
        let two = second.trip(app, &token).await;

        let (a, b) = tokio::join!(first.get(&one), second.get(&two));
        let mut statuses = [a.status(), b.status()];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
        let members = [ANA, BO].iter().filter(|u| world.discord.is_member(**u)).count();
        assert_eq!(members, 1);
        let stored = invitee(app, id).await;
        assert_eq!(stored["is_verified"], true);
        let linked: u64 = stored["discord_user_id"].as_str().unwrap().parse().unwrap();
        assert!(world.discord.is_member(linked));
        assert_eq!(app.events("kind=verification_succeeded").await.len(), 1);
    }
}

on_both_databases! {
    async fn guessing_links_is_throttled_like_guessing_tokens(backend: Backend) {
        let world = world(backend).await;
        let app = &world.app;
        let (_, token) = app.invite("ana@example.org").await;
        let browser = Browser::new();
        for _ in 0..5 {
            let page = browser.get(&app.url("/join/WRONGTOKEN")).await;
            assert_eq!(page.status(), StatusCode::NOT_FOUND);
        }
        let page = browser.get(&app.url("/join/WRONGTOKEN")).await;
        assert_eq!(page.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(page.headers().contains_key("retry-after"));
        assert!(page.text().await.unwrap().contains("Try again in"));
        // From this address even a good link waits, until the window has passed.
        let page = browser.get(&app.url(&format!("/join/{token}"))).await;
        assert_eq!(page.status(), StatusCode::TOO_MANY_REQUESTS);
        app.advance(chrono::Duration::minutes(16));
        let page = browser.get(&app.url(&format!("/join/{token}"))).await;
        assert_eq!(page.status(), StatusCode::OK);
    }

    async fn a_code_discord_will_not_exchange_gets_a_page_and_changes_nothing(backend: Backend) {
        let AnaInvited { world, id, token } = ana_invited(backend).await;
        let app = &world.app;
        let mut browser = Browser::new();
        let callback = browser.trip(app, &token).await;
        // A code that is not the one Discord gave: invalid_grant.
        let url = url::Url::parse(&callback).unwrap();
        let state = url.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
        let forged = app.url(&format!("/join/callback?code=not-a-code&state={state}"));
        let page = browser.get(&forged).await;
        assert_eq!(page.status(), StatusCode::BAD_REQUEST);
        let html = page.text().await.unwrap();
        assert!(html.contains("Discord refused the sign-in code"), "{html}");
        assert!(html.contains("Your invitation still works"));
        assert_eq!(invitee(app, id).await["is_verified"], false);
        let refused = app.events("kind=join_refused").await;
        assert_eq!(refused[0]["detail"]["reason"], "discord_failed");
        // Trying again works.
        assert_eq!(browser.join(app, &token).await.status(), StatusCode::OK);
    }
}

on_both_databases! {
    async fn when_discord_itself_fails_the_page_says_so_with_502(backend: Backend) {
        let AnaInvited { world, id, token } = ana_invited(backend).await;
        let app = &world.app;
        world.discord.set_token_outage(true);
        let mut browser = Browser::new();
        let page = browser.join(app, &token).await;
        assert_eq!(page.status(), StatusCode::BAD_GATEWAY);
        assert!(page.text().await.unwrap().contains("Discord did not answer"));
        assert_eq!(invitee(app, id).await["is_verified"], false);
        world.discord.set_token_outage(false);
        assert_eq!(browser.join(app, &token).await.status(), StatusCode::OK);
    }
}
