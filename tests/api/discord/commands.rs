//! Slash commands, by administrators and by everyone else.

use serde_json::json;

use super::{PATIENCE, World, reply_text};
use crate::helpers::Backend;
use crate::on_both_databases;

const ADMIN: u64 = 600_000_000_000_000_001;
const ANA: u64 = 600_000_000_000_000_002;
const BO: u64 = 600_000_000_000_000_003;
const CY: u64 = 600_000_000_000_000_004;

fn user_option(name: &str, user: u64) -> serde_json::Value {
    json!([{ "name": name, "type": 6, "value": user.to_string() }])
}

on_both_databases! {
    async fn commands_are_registered_for_the_server_and_admin_only(backend: Backend) {
        let world = World::start(backend, &[]).await;
        for user in [ADMIN, BO, CY] { world.add_old_member(user); }
        let commands = world.discord.wait_until("commands to be registered", PATIENCE, |d| {
            let c = d.registered_commands();
            (!c.is_empty()).then_some(c)
        }).await;
        let names: Vec<&str> = commands.iter().map(|c| c["name"].as_str().unwrap()).collect();
        for name in ["verification_status", "force_verify", "set_timeout", "setup_roles", "doorman_status", "verify", "confirm_kicks", "cancel_kicks"] {
            assert!(names.contains(&name), "{name} not registered: {names:?}");
        }
        let force = commands.iter().find(|c| c["name"] == "force_verify").unwrap();
        assert_eq!(force["default_member_permissions"], "8");
    }

    async fn admin_commands_refuse_non_admins(backend: Backend) {
        let world = World::start(backend, &[]).await;
        for user in [ADMIN, BO, CY] { world.add_old_member(user); }
        world.discord.member_join(ANA, "ana").await;
        world.prompt_for(ANA).await;
        for (name, options) in [("verification_status", json!([])), ("force_verify", user_option("member", ANA)), ("set_timeout", json!([{"name": "minutes", "type": 4, "value": 1}]))] {
            let reply = world.discord.run_command(BO, name, options, false).await.response().await;
            let (text, ephemeral) = reply_text(&reply);
            assert!(ephemeral && text.contains("Only administrators"), "{name}: {text}");
        }
        assert!(!world.roles_of(ANA).contains(&world.member_role));
    }

    async fn verification_status_lists_pending_members_with_time_left(backend: Backend) {
        let world = World::start(backend, &[]).await;
        for user in [ADMIN, BO, CY] { world.add_old_member(user); }
        world.discord.member_join(ANA, "ana").await;
        world.prompt_for(ANA).await;
        let reply = world.discord.run_command(ADMIN, "verification_status", json!([]), true).await.response().await;
        let (text, ephemeral) = reply_text(&reply);
        assert!(ephemeral);
        assert!(text.contains(&format!("<@{ANA}>")) && text.contains("min left"), "{text}");
    }

    async fn force_verify_lets_a_member_in(backend: Backend) {
        let world = World::start(backend, &[]).await;
        for user in [ADMIN, BO, CY] { world.add_old_member(user); }
        world.discord.member_join(ANA, "ana").await;
        world.prompt_for(ANA).await;
        let reply = world.discord.run_command(ADMIN, "force_verify", user_option("member", ANA), true).await.response().await;
        assert!(reply_text(&reply).0.contains("is verified"));
        world.wait_for_role(ANA, world.member_role).await;
        let events = world.app.events("kind=discord_force_verified").await;
        assert_eq!(events[0]["actor"], format!("discord_admin:{ADMIN}"));
    }

    async fn set_timeout_applies_to_new_joins_and_survives_a_restart(backend: Backend) {
        let mut world = World::start(backend, &[]).await;
        for user in [ADMIN, BO, CY] { world.add_old_member(user); }
        let reply = world.discord.run_command(ADMIN, "set_timeout", json!([{"name": "minutes", "type": 4, "value": 1}]), true).await.response().await;
        assert!(reply_text(&reply).0.contains("1 minute"));
        world.restart(&[]).await;
        world.discord.member_join(ANA, "ana").await;
        world.prompt_for(ANA).await;
        let status = world.discord.run_command(ADMIN, "verification_status", json!([]), true).await.response().await;
        let text = reply_text(&status).0;
        assert!(text.contains(" s left") || text.contains("1 min left"), "{text}");
    }

    async fn setup_roles_creates_missing_roles_and_posts_the_panel(backend: Backend) {
        let world = World::start(backend, &[("MEMBER_ROLE_NAME", "verified-member"), ("UNVERIFIED_ROLE_NAME", "newcomer")]).await;
        for user in [ADMIN, BO, CY] { world.add_old_member(user); }
        let reply = world.discord.run_command(ADMIN, "setup_roles", json!([]), true).await.response().await;
        let text = reply_text(&reply).0;
        assert!(text.contains("created the role 'verified-member'") && text.contains("created the role 'newcomer'"), "{text}");
        let panel = world.discord.wait_until("the panel", PATIENCE, |d| {
            d.channel_messages(world.verification_channel).into_iter().find(|m| crate::discord::custom_id_of(m).is_some())
        }).await;
        let custom_id = crate::discord::custom_id_of(&panel).unwrap();

        // The panel opens the modal for someone pending, and only for them.
        world.discord.member_join(ANA, "ana").await;
        world.prompt_for(ANA).await;
        let modal = world.discord.press_button(ANA, crate::discord::message_id(&panel), &custom_id).await.response().await;
        assert_eq!(modal["type"], 9);
        let other = world.discord.press_button(CY, crate::discord::message_id(&panel), &custom_id).await.response().await;
        assert!(reply_text(&other).0.contains("no verification waiting"));
    }

    async fn verify_gives_a_member_their_prompt_again(backend: Backend) {
        let world = World::start(backend, &[]).await;
        for user in [ADMIN, BO, CY] { world.add_old_member(user); }
        world.discord.close_dms(ANA);
        world.discord.member_join(ANA, "ana").await;
        world.discord.wait_until("the channel prompt", PATIENCE, |d| (!d.channel_messages(world.verification_channel).is_empty()).then_some(())).await;
        let reply = world.discord.run_command(ANA, "verify", json!([]), false).await.response().await;
        let (text, ephemeral) = reply_text(&reply);
        assert!(ephemeral && text.contains("Press Verify"), "{text}");
        assert!(crate::discord::custom_id_of(&reply["data"]).is_some(), "with a button");
    }

    async fn doorman_status_reports_counts(backend: Backend) {
        let world = World::start(backend, &[]).await;
        for user in [ADMIN, BO, CY] { world.add_old_member(user); }
        world.app.invite("ana@example.org").await;
        let reply = world.discord.run_command(ADMIN, "doorman_status", json!([]), true).await.response().await;
        let text = reply_text(&reply).0;
        assert!(text.contains("Database: connected") && text.contains("Invitees: 1"), "{text}");
        assert!(text.contains("Email: outbox route"), "{text}");
    }
}
