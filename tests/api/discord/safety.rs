//! The bot never removes someone it must not, never nags, and always answers.

use doorman::domain::MemberState;
use serde_json::json;

use super::{PATIENCE, World, reply_text, wait_for};
use crate::helpers::Backend;
use crate::on_both_databases;

const ADMIN: u64 = 800_000_000_000_000_001;
const ANA: u64 = 800_000_000_000_000_002;
const BO: u64 = 800_000_000_000_000_003;

/// The bot role's usual permissions without Kick Members (Manage Roles, View Channel,
/// Send Messages, Embed Links).
const BOT_WITHOUT_KICK: u64 = (1 << 28) | (1 << 10) | (1 << 11) | (1 << 14);
const BOT_DEFAULT: u64 = BOT_WITHOUT_KICK | (1 << 1);

async fn member_state(world: &World, user: u64) -> Option<MemberState> {
    world.member_state(user).await
}

/// Kick attempts on this member so far, with the status the fake answered.
fn kick_attempts(world: &World, user: u64) -> Vec<u16> {
    world
        .discord
        .requests()
        .into_iter()
        .filter(|(method, path, _)| {
            method == "DELETE" && path.ends_with(&format!("/members/{user}"))
        })
        .map(|(_, _, status)| status)
        .collect()
}

fn log_lines_with(world: &World, text: &str) -> usize {
    world
        .discord
        .channel_messages(world.log_channel)
        .iter()
        .filter(|m| m["content"].as_str().is_some_and(|c| c.contains(text)))
        .count()
}

fn farewells_to(world: &World, user: u64) -> usize {
    world
        .discord
        .dms_to(user)
        .iter()
        .filter(|m| {
            m["content"]
                .as_str()
                .is_some_and(|c| c.contains("did not verify in time"))
        })
        .count()
}

on_both_databases! {
    async fn verify_never_puts_a_member_from_before_doorman_on_a_deadline(backend: Backend) {
        let world = World::start(backend, &[("VERIFICATION_TIMEOUT", "1")]).await;
        world.add_old_member(ADMIN);
        world.add_old_member(BO);
        let reply = world.discord.run_command(BO, "verify", json!([]), false).await.response().await;
        let (text, ephemeral) = reply_text(&reply);
        assert!(ephemeral && text.contains("don't need to verify"), "{text}");
        assert!(crate::discord::custom_id_of(&reply["data"]).is_none(), "no Verify button");
        assert_eq!(member_state(&world, BO).await, None, "no verification started");

        // Nor does the persistent panel start one.
        world.discord.run_command(ADMIN, "setup_roles", json!([]), true).await.response().await;
        let panel = world.discord.wait_until("the panel", PATIENCE, |d| {
            d.channel_messages(world.verification_channel).into_iter().find(|m| crate::discord::custom_id_of(m).is_some())
        }).await;
        let custom_id = crate::discord::custom_id_of(&panel).unwrap();
        let pressed = world.discord.press_button(BO, crate::discord::message_id(&panel), &custom_id).await.response().await;
        assert!(reply_text(&pressed).0.contains("no verification waiting"));
        assert_eq!(member_state(&world, BO).await, None);
        assert!(world.discord.kicks().is_empty());
    }

    async fn a_member_from_before_doorman_with_an_unverified_role_is_left_alone(backend: Backend) {
        let mut world = World::start(backend, &[("VERIFICATION_TIMEOUT", "1")]).await;
        world.add_old_member(ADMIN);
        // Given the role by someone else, long before doorman.
        let long_ago = chrono::Utc::now() - chrono::Duration::days(365);
        world.discord.add_existing_member(ANA, "old-timer", long_ago, &[world.unverified_role]);
        world.app.stop().await;
        // Someone who joins while doorman is down is caught up after ANA (ids in order).
        world.discord.member_join(BO, "bo").await;
        world.restart(&[("VERIFICATION_TIMEOUT", "1")]).await;
        world.prompt_for(BO).await;
        assert_eq!(member_state(&world, ANA).await, None, "no verification started");
        assert!(world.discord.dms_to(ANA).is_empty());
    }

    async fn verify_leaves_a_held_kick_to_the_admins(backend: Backend) {
        let world = World::start(backend, &[("VERIFICATION_TIMEOUT", "1"), ("KICK_BURST_LIMIT", "1")]).await;
        world.add_old_member(ADMIN);
        world.discord.member_join(ANA, "ana").await;
        world.discord.member_join(BO, "bo").await;
        world.discord.wait_until("held kicks", PATIENCE, |d| {
            d.channel_messages(world.log_channel).iter().any(|m| m["content"].as_str().is_some_and(|c| c.contains("held"))).then_some(())
        }).await;
        wait_for("both to be held", || async {
            (member_state(&world, ANA).await == Some(MemberState::Held)
                && member_state(&world, BO).await == Some(MemberState::Held))
            .then_some(())
        })
        .await;
        let reply = world.discord.run_command(ANA, "verify", json!([]), false).await.response().await;
        let (text, ephemeral) = reply_text(&reply);
        assert!(ephemeral && text.contains("administrators"), "{text}");
        assert_eq!(member_state(&world, ANA).await, Some(MemberState::Held), "still held, no deadline");
        assert!(world.discord.kicks().is_empty());
    }

    async fn a_refused_kick_backs_off_and_tells_the_admin_once(backend: Backend) {
        let world = World::start(backend, &[("VERIFICATION_TIMEOUT", "1")]).await;
        world.add_old_member(ADMIN);
        world.discord.set_role_permissions(world.discord.bot_role_id(), BOT_WITHOUT_KICK);
        // Reachable by DM after a removal, so an early farewell would show.
        world.discord.share_another_server(ANA);
        world.discord.member_join(ANA, "ana").await;
        world.prompt_for(ANA).await;
        wait_for("the refusal to be reported", || async {
            (world.app.events("kind=discord_problem").await.len() == 1).then_some(())
        })
        .await;
        assert_eq!(kick_attempts(&world, ANA), [403]);

        // The wait before the next try is in the database; let it run out twice over (an
        // hour is the longest wait, and well short of the six hours before a reminder).
        for tries in [2, 3] {
            world.app.advance(chrono::Duration::minutes(61));
            wait_for("the next refusal to be recorded", || async {
                let member = world.member(ANA).await?;
                (member.membership.kick_refusals == tries).then_some(())
            })
            .await;
        }
        assert_eq!(kick_attempts(&world, ANA), [403, 403, 403]);
        assert_eq!(world.app.events("kind=discord_problem").await.len(), 1, "told once");
        assert_eq!(log_lines_with(&world, "refused to remove"), 1, "one log line");
        assert_eq!(farewells_to(&world, ANA), 0, "not told they were removed while they are in");
        assert!(world.discord.is_member(ANA));

        // Once doorman may kick, the next try removes them, and only then are they told.
        world.discord.set_role_permissions(world.discord.bot_role_id(), BOT_DEFAULT);
        world.app.advance(chrono::Duration::minutes(61));
        world.wait_for_kick(ANA).await;
        world.discord.wait_until("the farewell", PATIENCE, |_| (farewells_to(&world, ANA) == 1).then_some(())).await;
        assert_eq!(world.app.events("kind=discord_problem").await.len(), 1);
    }

    async fn a_failed_command_answers_the_admin_with_what_went_wrong(backend: Backend) {
        let world = World::start(backend, &[("MEMBER_ROLE_NAME", "verified-member")]).await;
        world.add_old_member(ADMIN);
        // Without Manage Roles, Discord refuses to create the missing role.
        world.discord.set_role_permissions(world.discord.bot_role_id(), BOT_DEFAULT & !(1 << 28));
        let reply = world.discord.run_command(ADMIN, "setup_roles", json!([]), true).await.response().await;
        let (text, ephemeral) = reply_text(&reply);
        assert!(ephemeral, "{reply}");
        assert!(text.contains("/setup_roles failed") && text.contains("Discord refused (50013"), "{text}");
        assert!(text.contains("creating the role verified-member"), "{text}");
    }

    async fn a_slow_command_is_deferred_and_then_answered(backend: Backend) {
        let world = World::start(backend, &[("MEMBER_ROLE_NAME", "verified-member")]).await;
        world.add_old_member(ADMIN);
        // Creating the missing role waits out a rate limit longer than Discord's window.
        world.discord.rate_limit("POST", "/guilds/{guild_id}/roles", 1, 3.5);
        let interaction = world.discord.run_command(ADMIN, "setup_roles", json!([]), true).await;
        let first = interaction.response().await;
        assert_eq!(first["type"], 5, "deferred: {first}");
        assert!(first["data"]["flags"].as_u64().is_some_and(|f| f & 64 != 0), "ephemeral");
        let answer = interaction
            .original_when(|m| m["content"].as_str().is_some_and(|c| c.contains("created the role 'verified-member'")))
            .await;
        assert!(answer["content"].as_str().unwrap().contains("posted the Verify panel"), "{answer}");
    }

    async fn a_refused_role_on_force_verify_is_told_to_the_admin(backend: Backend) {
        let world = World::start(backend, &[]).await;
        world.add_old_member(ADMIN);
        world.discord.member_join(ANA, "ana").await;
        world.prompt_for(ANA).await;
        world.discord.set_role_position(world.member_role, 100);
        let reply = world.discord.run_command(ADMIN, "force_verify", json!([{ "name": "member", "type": 6, "value": ANA.to_string() }]), true).await.response().await;
        let text = reply_text(&reply).0;
        assert!(text.contains("Discord refused to give them"), "{text}");
    }

    async fn an_unknown_stored_state_is_an_error_not_a_guess(backend: Backend) {
        let world = World::start(backend, &[]).await;
        world.discord.member_join(ANA, "ana").await;
        world.prompt_for(ANA).await;
        world.app.sql("UPDATE discord_members SET state = 'paused'").await;
        let guild = twilight_model::id::Id::new(world.discord.guild_id());
        let read = world.app.doorman.discord_member(guild, twilight_model::id::Id::new(ANA)).await;
        assert!(read.is_err(), "{read:?}");
    }

    async fn an_attempt_after_the_member_changed_never_counts(backend: Backend) {
        let world = World::start(backend, &[("MAX_VERIFY_ATTEMPTS", "1")]).await;
        world.add_old_member(ADMIN);
        world.discord.member_join(ANA, "ana").await;
        world.prompt_for(ANA).await;
        let user = ANA.to_string();
        let read = world.member(ANA).await.expect("pending");
        // An admin lets them in while their (wrong) attempt is being checked.
        world.discord.run_command(ADMIN, "force_verify", json!([{ "name": "member", "type": 6, "value": user }]), true).await.response().await;
        let rules = doorman::service::GateRules {
            default_timeout: std::time::Duration::from_secs(600),
            max_attempts: 1,
            kick_burst_limit: 10,
        };
        let outcome = world.app.doorman.count_failed_attempt(&read, &rules).await.unwrap();
        assert!(matches!(outcome, doorman::service::MemberVerification::NotPending), "{outcome:?}");
        assert_eq!(member_state(&world, ANA).await, Some(MemberState::Verified));
        let member = world.member(ANA).await.unwrap();
        assert_eq!(member.membership.failed_attempts, 0);
    }
}
