//! A Discord server's setup as the bot found it, and what an admin must do about it.

use serde::{Deserialize, Serialize};

/// What the bot found when it last looked at a server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuildSetup {
    pub member_role: bool,
    pub unverified_role: bool,
    /// doorman's highest role sits above both of its roles (those that exist).
    pub role_above: bool,
    pub manage_roles: bool,
    pub kick_members: bool,
    /// The verification channel exists (members whose DMs are closed are asked there).
    pub channel: bool,
    /// Discord sends member joins: the Server Members Intent is on.
    pub members_intent: bool,
}

/// The names doorman is configured with.
#[derive(Debug, Clone, Copy)]
pub struct SetupNames<'a> {
    pub member_role: &'a str,
    pub unverified_role: &'a str,
    pub channel: &'a str,
}

/// One line of the setup checklist: what must hold, and how to fix it when it does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupStep {
    pub done: bool,
    pub what: String,
    pub fix: String,
}

impl GuildSetup {
    pub fn is_complete(&self) -> bool {
        self.steps(SetupNames {
            member_role: "",
            unverified_role: "",
            channel: "",
        })
        .iter()
        .all(|s| s.done)
    }

    /// The checklist, in the order an admin would work through it.
    pub fn steps(&self, names: SetupNames<'_>) -> Vec<SetupStep> {
        let step = |done: bool, what: String, fix: String| SetupStep { done, what, fix };
        let role_fix = |name: &str| {
            format!(
                "Create a role named '{name}' (Server Settings → Roles), or run /setup_roles in the server."
            )
        };
        vec![
            step(
                self.members_intent,
                "The Server Members Intent is on".into(),
                "Turn on Server Members Intent for doorman's bot (Discord Developer Portal → your application → Bot → Privileged Gateway Intents), then restart doorman.".into(),
            ),
            step(
                self.member_role,
                format!("The role '{}' exists", names.member_role),
                role_fix(names.member_role),
            ),
            step(
                self.unverified_role,
                format!("The role '{}' exists", names.unverified_role),
                role_fix(names.unverified_role),
            ),
            step(
                self.role_above,
                "doorman's role sits above the roles it gives".into(),
                format!(
                    "Drag doorman's role above '{}' and '{}' (Server Settings → Roles).",
                    names.member_role, names.unverified_role
                ),
            ),
            step(
                self.manage_roles && self.kick_members,
                "doorman may manage roles and kick members".into(),
                "Give doorman's role the Manage Roles and Kick Members permissions (Server Settings → Roles → doorman → Permissions).".into(),
            ),
            step(
                self.channel,
                format!("The channel #{} exists", names.channel),
                format!(
                    "Create a text channel named #{} where doorman can post (members whose DMs are closed are asked there).",
                    names.channel
                ),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: SetupNames<'static> = SetupNames {
        member_role: "member",
        unverified_role: "unverified",
        channel: "verification",
    };

    #[test]
    fn each_missing_part_says_how_to_fix_it() {
        let all = GuildSetup {
            member_role: true,
            unverified_role: true,
            role_above: true,
            manage_roles: true,
            kick_members: true,
            channel: true,
            members_intent: true,
        };
        assert!(all.is_complete());
        assert!(all.steps(NAMES).iter().all(|s| s.done));
        let no_channel = GuildSetup {
            channel: false,
            kick_members: false,
            ..all
        };
        assert!(!no_channel.is_complete());
        let missing: Vec<_> = no_channel
            .steps(NAMES)
            .into_iter()
            .filter(|s| !s.done)
            .collect();
        assert_eq!(missing.len(), 2);
        assert!(missing[0].fix.contains("Kick Members"));
        assert!(missing[1].fix.contains("#verification"));
        assert!(!GuildSetup::default().is_complete());
    }
}
