//! The member's journey, step by step.

use serde_json::Value;

use super::{PATIENCE, World, reply_text};
use crate::helpers::Backend;
use crate::on_both_databases;

const ANA: u64 = 500_000_000_000_000_001;
const BO: u64 = 500_000_000_000_000_002;
const PROBE: u64 = 500_000_000_000_000_090;

/// The deadline a prompt states (`<t:…:t>` in its text).
fn prompt_deadline(prompt: &Value) -> String {
    let text = prompt["embeds"][0]["description"]
        .as_str()
        .expect("a prompt text");
    let start = text.find("<t:").expect("a deadline in the prompt");
    text[start..]
        .split(':')
        .nth(1)
        .expect("a timestamp")
        .to_owned()
}

on_both_databases! {
    async fn a_newcomer_with_the_right_token_gets_the_member_role(backend: Backend) {
        let world = World::start(backend, &[]).await;
        let (invitee_id, token) = world.app.invite("ana@example.org").await;
        world.discord.member_join(ANA, "ana").await;

        world.wait_for_role(ANA, world.unverified_role).await;
        // The role and the DM are separate requests; the DM may land a moment later.
        world.prompt_for(ANA).await;
        let prompt = &world.prompts_to(ANA)[0];
        assert!(prompt["embeds"][0]["title"].as_str().unwrap().contains("Test Community"));

        let reply = world.verify(ANA, " ANA@example.org", &token.to_lowercase()).await;
        let (text, ephemeral) = reply_text(&reply);
        assert!(ephemeral);
        assert!(text.contains("verified"), "{text}");
        world.wait_for_role(ANA, world.member_role).await;
        world.discord.wait_until("the unverified role to go", PATIENCE, |d| {
            (!d.member_roles(ANA).unwrap_or_default().contains(&world.unverified_role)).then_some(())
        }).await;

        let invitee: Value = world.app.get(&format!("/api/users/{invitee_id}")).send().await.unwrap().json().await.unwrap();
        assert_eq!(invitee["is_verified"], true);
        assert_eq!(invitee["discord_user_id"], ANA.to_string());
        let kinds: Vec<String> = world.app.events("").await.iter().map(|e| e["kind"].as_str().unwrap().to_owned()).collect();
        for kind in ["discord_member_joined", "discord_prompted", "verification_succeeded"] {
            assert!(kinds.contains(&kind.to_owned()), "{kind} missing from {kinds:?}");
        }
        assert!(world.discord.kicks().is_empty());
    }

    async fn wrong_tokens_use_up_the_attempts_and_then_the_member_is_kicked(backend: Backend) {
        let world = World::start(backend, &[("MAX_VERIFY_ATTEMPTS", "3")]).await;
        world.app.invite("ana@example.org").await;
        world.discord.member_join(ANA, "ana").await;

        let first = reply_text(&world.verify(ANA, "ana@example.org", "WRONG222").await).0;
        assert!(first.contains("don't match") && first.contains("2 attempt"), "{first}");
        let unknown = reply_text(&world.verify(ANA, "nobody@example.org", "WRONG222").await).0;
        assert!(unknown.contains("don't match") && unknown.contains("1 attempt"), "same wording for an unknown email: {unknown}");
        let last = reply_text(&world.verify(ANA, "ana@example.org", "WRONG333").await).0;
        assert!(last.contains("last attempt"), "{last}");

        let reason = world.wait_for_kick(ANA).await;
        assert_eq!(reason.as_deref(), Some("Verification failed too many times"));
        crate::discord::wait_for("the kick to be recorded", || async {
            (world.app.events("kind=discord_kicked_for_attempts").await.len() == 1).then_some(())
        })
        .await;
    }

    async fn a_member_who_does_not_verify_in_time_is_kicked(backend: Backend) {
        let world = World::start(backend, &[]).await;
        // Discord delivers the farewell after the kick only to someone still sharing a server.
        world.discord.share_another_server(ANA);
        world.discord.member_join(ANA, "ana").await;
        world.prompt_for(ANA).await;
        world.app.advance(chrono::Duration::minutes(6));
        let reason = world.wait_for_kick(ANA).await;
        assert_eq!(reason.as_deref(), Some("Verification timeout"));
        world.discord.wait_until("the farewell", PATIENCE, |d| {
            d.dms_to(ANA).iter().any(|m| m["content"].as_str().is_some_and(|c| c.contains("did not verify in time"))).then_some(())
        }).await;
        crate::discord::wait_for("the kick to be recorded", || async {
            (world.app.events("kind=discord_kicked_for_timeout").await.len() == 1).then_some(())
        })
        .await;
        // Nothing more happens to them.
        world.sweeper_moved_on(PROBE).await;
        let kicked: Vec<u64> = world.discord.kicks().into_iter().map(|(user, _)| user).collect();
        assert_eq!(kicked, [ANA, PROBE]);
    }

    async fn closed_dms_send_the_prompt_to_the_verification_channel(backend: Backend) {
        let world = World::start(backend, &[]).await;
        let (_, token) = world.app.invite("ana@example.org").await;
        world.add_old_member(BO);
        world.discord.close_dms(ANA);
        world.discord.member_join(ANA, "ana").await;

        let (message, custom_id) = world.discord.wait_until("a prompt in #verification", PATIENCE, |d| {
            d.channel_messages(world.verification_channel).iter().find_map(|m| {
                let mentions = m["content"].as_str()?.contains(&ANA.to_string());
                let custom_id = crate::discord::custom_id_of(m)?;
                mentions.then(|| (crate::discord::message_id(m), custom_id))
            })
        }).await;

        let stranger = world.discord.press_button(BO, message, &custom_id).await.response().await;
        let (text, ephemeral) = reply_text(&stranger);
        assert!(ephemeral && text.contains("not for you"), "{text}");

        let modal = world.discord.press_button(ANA, message, &custom_id).await.response().await;
        assert_eq!(modal["type"], 9);
        let modal_id = modal["data"]["custom_id"].as_str().unwrap().to_owned();
        let reply = world.discord.submit_modal(ANA, &modal_id, &[("email", "ana@example.org"), ("token", &token)]).await.response().await;
        assert!(reply_text(&reply).0.contains("verified"));
        world.wait_for_role(ANA, world.member_role).await;
        assert_eq!(world.app.events("kind=discord_prompt_fell_back_to_channel").await.len(), 1);
    }

    async fn a_verified_member_who_rejoins_gets_the_role_without_a_prompt(backend: Backend) {
        let world = World::start(backend, &[]).await;
        let (_, token) = world.app.invite("ana@example.org").await;
        world.discord.member_join(ANA, "ana").await;
        world.verify(ANA, "ana@example.org", &token).await;
        world.wait_for_role(ANA, world.member_role).await;
        let prompts = world.prompts_to(ANA).len();

        world.discord.member_leave(ANA).await;
        world.discord.member_join(ANA, "ana").await;
        world.wait_for_role(ANA, world.member_role).await;
        // Logged once the join is dealt with: a prompt would have gone before.
        world.wait_for_log("rejoined and was verified before").await;
        assert_eq!(world.prompts_to(ANA).len(), prompts, "no second prompt");
        assert!(!world.roles_of(ANA).contains(&world.unverified_role));
    }

    async fn someone_verified_before_joining_passes_the_bot_with_their_invitation(backend: Backend) {
        let world = World::start(backend, &[]).await;
        let (invitee_id, token) = world.app.invite("ana@example.org").await;
        // Verified without a Discord account, as the API without one (or an admin's
        // "Mark verified") leaves an invitee.
        let verified = world.app.post("/api/verify")
            .json(&serde_json::json!({ "email": "ana@example.org", "token": token }))
            .send().await.unwrap();
        assert!(verified.status().is_success(), "{}", verified.status());
        world.discord.member_join(ANA, "ana").await;
        world.prompt_for(ANA).await;

        world.verify(ANA, "ana@example.org", &token).await;
        world.wait_for_role(ANA, world.member_role).await;
        let invitee: Value = world.app.get(&format!("/api/users/{invitee_id}")).send().await.unwrap().json().await.unwrap();
        assert_eq!(invitee["discord_user_id"], ANA.to_string(), "the account is linked");
        let linked = world.app.events("kind=discord_account_linked").await;
        assert_eq!(linked.len(), 1);
        assert_eq!(linked[0]["detail"]["discord_user_id"], ANA.to_string());
        assert!(world.app.events("kind=verification_failed").await.is_empty(), "no failure counted");

        // The invitation now belongs to that account.
        world.discord.member_join(BO, "bo").await;
        let reply = reply_text(&world.verify(BO, "ana@example.org", &token).await).0;
        assert!(reply.contains("don't match a valid invitation"), "{reply}");
        assert!(!world.roles_of(BO).contains(&world.member_role));
    }

    async fn rejoining_before_the_deadline_keeps_the_deadline(backend: Backend) {
        let world = World::start(backend, &[("VERIFICATION_TIMEOUT", "600")]).await;
        world.discord.member_join(ANA, "ana").await;
        world.prompt_for(ANA).await;
        world.discord.member_leave(ANA).await;
        world.app.advance(chrono::Duration::minutes(5));
        world.discord.member_join(ANA, "ana").await;
        let prompts = world.discord.wait_until("a second prompt", PATIENCE, |_| {
            let prompts = world.prompts_to(ANA);
            (prompts.len() == 2).then_some(prompts)
        }).await;
        assert_eq!(prompt_deadline(&prompts[1]), prompt_deadline(&prompts[0]), "the first deadline applies");
        // Past the first deadline, well before a fresh one (15 minutes from the start).
        world.app.advance(chrono::Duration::minutes(5) + chrono::Duration::seconds(2));
        world.wait_for_kick(ANA).await;
    }

    async fn members_in_screening_are_prompted_once_they_accept_the_rules(backend: Backend) {
        let world = World::start(backend, &[]).await;
        world.discord.member_join_pending(ANA, "ana").await;
        // A join after theirs is prompted: theirs has been dealt with.
        world.discord.member_join(PROBE, "probe").await;
        world.prompt_for(PROBE).await;
        assert!(world.prompts_to(ANA).is_empty(), "not while pending");
        assert_eq!(world.member_state(ANA).await, None, "no verification started");
        world.discord.complete_screening(ANA).await;
        world.prompt_for(ANA).await;
    }

    async fn bots_are_ignored(backend: Backend) {
        let world = World::start(backend, &[]).await;
        world.discord.bot_join(BO, "another-bot").await;
        // A join after theirs is prompted: theirs has been dealt with.
        world.discord.member_join(PROBE, "probe").await;
        world.prompt_for(PROBE).await;
        assert_eq!(world.member_state(BO).await, None, "no verification started");
        assert!(world.discord.dms_to(BO).is_empty());
        assert!(world.roles_of(BO).is_empty());
    }
}

on_both_databases! {
    async fn roster_rules_put_a_verified_member_in_their_cohort(backend: Backend) {
        let world = World::start(backend, &[("ROLE_RULES", "year=2026:Class of 2026;branch=ECE:ECE")]).await;
        let cohort = world.discord.add_role("Class of 2026", 1);
        let ece = world.discord.add_role("ECE", 1);
        let (_, token) = world.app.invite("ana@example.org").await; // year 2026, branch CSE
        world.discord.member_join(ANA, "ana").await;
        world.verify(ANA, "ana@example.org", &token).await;
        world.wait_for_role(ANA, cohort).await;
        world.wait_for_role(ANA, world.member_role).await;
        assert!(!world.roles_of(ANA).contains(&ece), "rules that do not match give nothing");
    }

    async fn an_invitation_used_by_another_account_is_refused_neutrally_and_logged(backend: Backend) {
        let world = World::start(backend, &[]).await;
        let (_, token) = world.app.invite("ana@example.org").await;
        world.discord.member_join(ANA, "ana").await;
        world.verify(ANA, "ana@example.org", &token).await;
        world.wait_for_role(ANA, world.member_role).await;

        world.discord.member_join(BO, "bo").await;
        let reply = reply_text(&world.verify(BO, "ana@example.org", &token).await).0;
        assert!(reply.contains("don't match a valid invitation"), "{reply}");
        assert!(!world.roles_of(BO).contains(&world.member_role));
        let conflicts = world.app.events("kind=discord_account_conflict").await;
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0]["detail"]["discord_user_id"], BO.to_string());
        assert_eq!(conflicts[0]["detail"]["linked_discord_user_id"], ANA.to_string());
    }

    async fn buttons_keep_working_across_a_restart(backend: Backend) {
        let mut world = World::start(backend, &[]).await;
        let (_, token) = world.app.invite("ana@example.org").await;
        world.discord.member_join(ANA, "ana").await;
        world.prompt_for(ANA).await;
        world.restart(&[]).await;
        let reply = reply_text(&world.verify(ANA, "ana@example.org", &token).await).0;
        assert!(reply.contains("verified"), "{reply}");
        world.wait_for_role(ANA, world.member_role).await;
    }

    async fn the_log_channel_hears_of_each_step(backend: Backend) {
        let world = World::start(backend, &[]).await;
        let (_, token) = world.app.invite("ana@example.org").await;
        world.discord.member_join(ANA, "ana").await;
        world.verify(ANA, "ana@example.org", "WRONG222").await;
        world.verify(ANA, "ana@example.org", &token).await;
        let lines = world.discord.wait_until("three log lines", PATIENCE, |d| {
            let lines: Vec<String> = d.channel_messages(world.log_channel).iter()
                .filter_map(|m| m["content"].as_str().map(str::to_owned)).collect();
            (lines.len() >= 3).then_some(lines)
        }).await;
        assert!(lines[0].contains("asked to verify"), "{lines:?}");
        assert!(lines[1].contains("failed to verify"), "{lines:?}");
        assert!(lines[2].contains("verified"), "{lines:?}");
    }

    async fn a_missing_member_role_is_reported_to_admins(backend: Backend) {
        let world = World::start(backend, &[("MEMBER_ROLE_NAME", "no-such-role")]).await;
        let (_, token) = world.app.invite("ana@example.org").await;
        world.discord.member_join(ANA, "ana").await;
        let reply = reply_text(&world.verify(ANA, "ana@example.org", &token).await).0;
        assert!(reply.contains("verified"));
        let problems = crate::discord::wait_for("a problem event", || async {
            let events = world.app.events("kind=discord_problem").await;
            (!events.is_empty()).then_some(events)
        }).await;
        assert!(problems[0]["detail"]["problem"].as_str().unwrap().contains("no-such-role"));
    }

    async fn a_raid_of_joins_is_prompted_within_the_rate_limits(backend: Backend) {
        let world = World::start(backend, &[]).await;
        world.discord.set_bucket_limit(5, std::time::Duration::from_millis(500));
        let raiders: Vec<u64> = (0..40).map(|i| ANA + 100 + i).collect();
        for raider in &raiders {
            world.discord.member_join(*raider, "raider").await;
        }
        for raider in &raiders {
            world.prompt_for(*raider).await;
        }
        let unhandled: Vec<_> = world.discord.requests().into_iter().filter(|(_, _, status)| *status >= 500).collect();
        assert!(unhandled.is_empty(), "{unhandled:?}");
    }
}
