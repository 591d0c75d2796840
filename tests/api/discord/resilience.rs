//! When things go wrong: restarts, dropped connections, rate limits, raids.

use doorman::domain::{Clock, MemberState};
use serde_json::json;

use super::{PATIENCE, World, reply_text};
use crate::helpers::Backend;
use crate::on_both_databases;

const ADMIN: u64 = 700_000_000_000_000_001;
const ANA: u64 = 700_000_000_000_000_002;
const PROBE: u64 = 700_000_000_000_000_090;

on_both_databases! {
    async fn a_shutdown_ends_the_gateway_session_for_good(backend: Backend) {
        let mut world = World::start(backend, &[]).await;
        world.app.stop().await;
        // Closed with 1000, not dropped: Discord forgets the session at once rather than
        // holding it for a resume.
        world
            .discord
            .wait_until("the session to be closed with 1000", PATIENCE, |d| {
                let session = d.gateway_connections().into_iter().next()?;
                (session.3 == Some(1000) && d.connected_sessions() == 0).then_some(())
            })
            .await;
        assert_eq!(world.discord.identifies(), 1);
    }

    async fn a_member_pending_across_a_restart_is_kicked_once_after_it(backend: Backend) {
        let mut world = World::start(backend, &[]).await;
        world.add_old_member(ADMIN);
        world.discord.member_join(ANA, "ana").await;
        world.prompt_for(ANA).await;
        world.app.stop().await;
        // The deadline passes while doorman is down.
        world.app.advance(chrono::Duration::minutes(6));
        assert!(world.discord.kicks().is_empty(), "nobody kicks while doorman is down");

        world.restart(&[]).await;
        world.wait_for_kick(ANA).await;
        world.sweeper_moved_on(PROBE).await;
        let kicked: Vec<u64> = world.discord.kicks().into_iter().map(|(user, _)| user).collect();
        assert_eq!(kicked, [ANA, PROBE], "exactly once");
    }

    async fn a_member_who_joined_while_doorman_was_down_is_prompted_on_return(backend: Backend) {
        let mut world = World::start(backend, &[]).await;
        world.add_old_member(ADMIN);
        world.app.stop().await;
        world.discord.member_join(ANA, "ana").await;
        world.restart(&[]).await;
        world.prompt_for(ANA).await;
        world.wait_for_role(ANA, world.unverified_role).await;
    }

    async fn members_from_before_doorman_are_never_prompted(backend: Backend) {
        let discord = crate::fake_discord::FakeDiscord::start().await;
        let long_ago = chrono::Utc::now() - chrono::Duration::days(30);
        discord.add_existing_member(ANA, "old-timer", long_ago, &[]);
        // The catch-up goes through members in id order: once it has prompted this one
        // (who joins after doorman arrives), it has made up its mind about ANA.
        let later = chrono::Utc::now() + chrono::Duration::days(1);
        discord.add_existing_member(PROBE, "newcomer", later, &[]);
        let world = World::start_on(discord, backend, &[("VERIFICATION_TIMEOUT", "1")]).await;
        world.prompt_for(PROBE).await;
        world.wait_for_kick(PROBE).await;
        assert_eq!(world.member_state(ANA).await, None, "no verification started");
        assert!(world.discord.dms_to(ANA).is_empty());
        assert!(world.discord.kicks().iter().all(|(user, _)| *user != ANA));
    }

    async fn a_dropped_gateway_is_resumed_and_nothing_is_missed(backend: Backend) {
        let world = World::start(backend, &[]).await;
        world.add_old_member(ADMIN);
        // Held, so the join happens while doorman is certainly disconnected.
        world.discord.hold_gateway();
        world.discord.drop_gateway().await;
        world.discord.member_join(ANA, "ana").await;
        world.discord.release_gateway();
        world.prompt_for(ANA).await;
        world.discord.wait_until("a RESUME", PATIENCE, |d| (d.resumes() >= 1).then_some(())).await;
        assert_eq!(world.discord.identifies(), 1, "resumed, not re-identified");
    }

    async fn a_rate_limited_role_assignment_is_retried(backend: Backend) {
        let world = World::start(backend, &[]).await;
        world.add_old_member(ADMIN);
        let (_, token) = world.app.invite("ana@example.org").await;
        world.discord.member_join(ANA, "ana").await;
        world.wait_for_role(ANA, world.unverified_role).await;
        world.discord.rate_limit("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", 1, 0.3);
        world.verify(ANA, "ana@example.org", &token).await;
        world.wait_for_role(ANA, world.member_role).await;
        let role_puts: Vec<u16> = world.discord.requests().into_iter()
            .filter(|(method, path, _)| method == "PUT" && path.contains(&format!("/roles/{}", world.member_role)))
            .map(|(_, _, status)| status)
            .collect();
        assert_eq!(role_puts, [429, 204], "retried after the 429");
    }

    async fn a_burst_of_kicks_is_held_until_an_admin_confirms(backend: Backend) {
        let world = World::start(backend, &[("VERIFICATION_TIMEOUT", "1"), ("KICK_BURST_LIMIT", "2")]).await;
        world.add_old_member(ADMIN);
        let raiders: Vec<u64> = (0..3).map(|i| ANA + 10 + i).collect();
        for raider in &raiders {
            world.discord.member_join(*raider, "raider").await;
        }
        world.discord.wait_until("a held-kicks notice in the log channel", PATIENCE, |d| {
            d.channel_messages(world.log_channel).iter().any(|m| m["content"].as_str().is_some_and(|c| c.contains("held"))).then_some(())
        }).await;
        assert!(world.discord.kicks().is_empty(), "nobody kicked yet");
        assert_eq!(world.app.events("kind=discord_kicks_held").await.len(), 1);

        let reply = world.discord.run_command(ADMIN, "confirm_kicks", json!([]), true).await.response().await;
        assert!(reply_text(&reply).0.contains("3 held kick(s) confirmed"), "{}", reply_text(&reply).0);
        world.discord.wait_until("all three kicked", PATIENCE, |d| (d.kicks().len() == 3).then_some(())).await;
    }

    async fn cancelled_kicks_give_a_fresh_deadline(backend: Backend) {
        let world = World::start(backend, &[("VERIFICATION_TIMEOUT", "1"), ("KICK_BURST_LIMIT", "1")]).await;
        world.add_old_member(ADMIN);
        for i in 0..2 {
            world.discord.member_join(ANA + 20 + i, "raider").await;
        }
        world.discord.wait_until("held kicks", PATIENCE, |d| {
            d.channel_messages(world.log_channel).iter().any(|m| m["content"].as_str().is_some_and(|c| c.contains("held"))).then_some(())
        }).await;
        // A long timeout for the fresh deadlines, so nothing comes due again in this test.
        world.discord.run_command(ADMIN, "set_timeout", json!([{"name": "minutes", "type": 4, "value": 60}]), true).await.response().await;
        let reply = world.discord.run_command(ADMIN, "cancel_kicks", json!([]), true).await.response().await;
        assert!(reply_text(&reply).0.contains("2 held kick(s) called off"));
        let fresh = world.app.clock.now() + chrono::Duration::minutes(59);
        for i in 0..2 {
            let member = world.member(ANA + 20 + i).await.expect("known").membership;
            assert_eq!(member.state, MemberState::Pending);
            assert!(member.deadline.is_some_and(|d| d > fresh), "a fresh deadline: {member:?}");
        }
        assert!(world.discord.kicks().is_empty());
    }
}
