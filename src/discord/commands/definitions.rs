//! The commands doorman registers, and their registration.

use twilight_model::application::command::{Command, CommandType};
use twilight_model::application::interaction::InteractionContextType;
use twilight_model::guild::Permissions;
use twilight_model::id::Id;
use twilight_model::id::marker::GuildMarker;
use twilight_util::builder::command::{CommandBuilder, IntegerBuilder, UserBuilder};

use super::MAX_TIMEOUT_MINUTES;
use crate::discord::Bot;

fn admin(name: &str, description: &str) -> CommandBuilder {
    CommandBuilder::new(name, description, CommandType::ChatInput)
        .default_member_permissions(Permissions::ADMINISTRATOR)
        .contexts([InteractionContextType::Guild])
}

fn definitions() -> Vec<Command> {
    vec![
        admin(
            "verification_status",
            "Members waiting to verify, with the time they have left",
        )
        .build(),
        admin("force_verify", "Let a member in without a token")
            .option(UserBuilder::new("member", "The member to verify").required(true))
            .build(),
        admin(
            "set_timeout",
            "How long newcomers have to verify (for new joins)",
        )
        .option(
            IntegerBuilder::new("minutes", "Minutes, 1 to 10080")
                .required(true)
                .min_value(1)
                .max_value(MAX_TIMEOUT_MINUTES),
        )
        .build(),
        admin(
            "setup_roles",
            "Create the member and unverified roles and check the server's set-up",
        )
        .build(),
        admin(
            "doorman_status",
            "Database, email and bot health, and counts",
        )
        .build(),
        admin(
            "confirm_kicks",
            "Carry out kicks held back because too many came due at once",
        )
        .build(),
        admin(
            "cancel_kicks",
            "Call off held kicks and give those members a fresh deadline",
        )
        .build(),
        CommandBuilder::new(
            "verify",
            "Get your verification prompt again",
            CommandType::ChatInput,
        )
        .contexts([InteractionContextType::Guild])
        .build(),
    ]
}

impl Bot {
    /// Registers the commands: in one server when DISCORD_GUILD_ID names it (instant),
    /// else globally (Discord may take a while to show them).
    pub(in crate::discord) async fn register_commands(&self, guild_id: Option<Id<GuildMarker>>) {
        let Some(application_id) = self.application_id.get() else {
            return;
        };
        let commands = definitions();
        let client = self.http.interaction(*application_id);
        let registered = match guild_id {
            Some(guild_id) => client.set_guild_commands(guild_id, &commands).await,
            None => client.set_global_commands(&commands).await,
        };
        if let Err(error) = registered {
            tracing::warn!(%error, "cannot register slash commands");
        }
    }
}
