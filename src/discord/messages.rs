//! What the bot says: prompts, the verification modal, replies. Ids that buttons and
//! modals carry are built and parsed here, and hold everything needed to act on them, so
//! they keep working across restarts.

use chrono::{DateTime, Utc};
use twilight_model::channel::message::component::{
    ActionRow, Button, ButtonStyle, Component, Label, TextInput, TextInputStyle,
};
use twilight_model::channel::message::{Embed, MessageFlags};
use twilight_model::http::interaction::{
    InteractionResponse, InteractionResponseData, InteractionResponseType,
};
use twilight_model::id::Id;
use twilight_model::id::marker::{GuildMarker, UserMarker};
use twilight_util::builder::embed::EmbedBuilder;

use super::parse_id;

/// What a button or modal id says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomId {
    /// The button on one member's prompt.
    Verify {
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
    },
    /// The persistent panel in the verification channel, for anyone pending.
    Panel { guild_id: Id<GuildMarker> },
    /// The modal with the email and token fields.
    Modal { guild_id: Id<GuildMarker> },
}

impl CustomId {
    pub fn encode(&self) -> String {
        match self {
            Self::Verify { guild_id, user_id } => format!("doorman:verify:{guild_id}:{user_id}"),
            Self::Panel { guild_id } => format!("doorman:panel:{guild_id}"),
            Self::Modal { guild_id } => format!("doorman:modal:{guild_id}"),
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        let mut parts = raw.split(':');
        if parts.next()? != "doorman" {
            return None;
        }
        let kind = parts.next()?;
        // A zero or malformed id in a custom id is not one doorman made.
        let guild_id = parse_id(parts.next()?)?;
        let id = match kind {
            "verify" => Self::Verify {
                guild_id,
                user_id: parse_id(parts.next()?)?,
            },
            "panel" => Self::Panel { guild_id },
            "modal" => Self::Modal { guild_id },
            _ => return None,
        };
        parts.next().is_none().then_some(id)
    }
}

pub const EMAIL_FIELD: &str = "email";
pub const TOKEN_FIELD: &str = "token";
const BLURPLE: u32 = 0x5865F2;

fn verify_button(custom_id: String) -> Component {
    Component::ActionRow(ActionRow {
        id: None,
        components: vec![Component::Button(Button {
            custom_id: Some(custom_id),
            disabled: false,
            emoji: None,
            id: None,
            label: Some("Verify".into()),
            sku_id: None,
            style: ButtonStyle::Primary,
            url: None,
        })],
    })
}

/// The prompt a newcomer gets (by DM, or in the channel when DMs are closed).
pub fn prompt(
    community: &str,
    guild_id: Id<GuildMarker>,
    user_id: Id<UserMarker>,
    deadline: DateTime<Utc>,
) -> (Embed, Component) {
    let when = deadline.timestamp();
    let embed = EmbedBuilder::new()
        .title(format!("Welcome to {community}!"))
        .description(format!(
            "To get in, verify with the **email address you were invited with** and the **token** from \
             your invitation email.\n\nPress **Verify** below. You have until <t:{when}:t> (<t:{when}:R>); \
             after that you will be removed from the server."
        ))
        .color(BLURPLE)
        .build();
    (
        embed,
        verify_button(CustomId::Verify { guild_id, user_id }.encode()),
    )
}

/// The persistent panel `/setup_roles` posts in the verification channel.
pub fn panel(community: &str, guild_id: Id<GuildMarker>) -> (Embed, Component) {
    let embed = EmbedBuilder::new()
        .title(format!("Verify to join {community}"))
        .description("Lost your prompt? Press **Verify** and enter your invited email and token.")
        .color(BLURPLE)
        .build();
    (embed, verify_button(CustomId::Panel { guild_id }.encode()))
}

fn text_input(custom_id: &str, label: &str, placeholder: &str, max_length: u16) -> Component {
    Component::Label(Label {
        component: Box::new(Component::TextInput(TextInput {
            custom_id: custom_id.into(),
            id: None,
            #[allow(deprecated)]
            label: None,
            max_length: Some(max_length),
            min_length: Some(1),
            placeholder: Some(placeholder.into()),
            required: Some(true),
            style: TextInputStyle::Short,
            value: None,
        })),
        description: None,
        id: None,
        label: label.into(),
    })
}

pub fn modal(guild_id: Id<GuildMarker>) -> InteractionResponse {
    InteractionResponse {
        kind: InteractionResponseType::Modal,
        data: Some(InteractionResponseData {
            custom_id: Some(CustomId::Modal { guild_id }.encode()),
            title: Some("Verify your invitation".into()),
            components: Some(vec![
                text_input(EMAIL_FIELD, "Invited email", "you@example.org", 254),
                text_input(TOKEN_FIELD, "Token from the email", "ABCD-EFGH", 64),
            ]),
            ..Default::default()
        }),
    }
}

/// A reply only the person who interacted sees.
pub fn ephemeral(text: impl Into<String>) -> InteractionResponse {
    InteractionResponse {
        kind: InteractionResponseType::ChannelMessageWithSource,
        data: Some(InteractionResponseData {
            content: Some(text.into()),
            flags: Some(MessageFlags::EPHEMERAL),
            ..Default::default()
        }),
    }
}

/// "Thinking…", seen only by the person who interacted; the answer follows.
pub fn deferred_ephemeral() -> InteractionResponse {
    InteractionResponse {
        kind: InteractionResponseType::DeferredChannelMessageWithSource,
        data: Some(InteractionResponseData {
            flags: Some(MessageFlags::EPHEMERAL),
            ..Default::default()
        }),
    }
}

/// An ephemeral reply with a Verify button (for `/verify`).
pub fn ephemeral_with_button(
    text: impl Into<String>,
    guild_id: Id<GuildMarker>,
    user_id: Id<UserMarker>,
) -> InteractionResponse {
    let mut response = ephemeral(text);
    if let Some(data) = response.data.as_mut() {
        data.components = Some(vec![verify_button(
            CustomId::Verify { guild_id, user_id }.encode(),
        )]);
    }
    response
}

pub fn time_left(deadline: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (deadline - now).num_seconds();
    if secs <= 0 {
        return "due now".into();
    }
    match secs {
        s if s < 120 => format!("{s} s left"),
        s if s < 7200 => format!("{} min left", s / 60),
        s => format!("{} h left", s / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_ids_round_trip() {
        for id in [
            CustomId::Verify {
                guild_id: Id::new(1),
                user_id: Id::new(80351110224678912),
            },
            CustomId::Verify {
                guild_id: Id::new(1),
                user_id: Id::new(u64::MAX),
            },
            CustomId::Panel {
                guild_id: Id::new(42),
            },
            CustomId::Modal {
                guild_id: Id::new(7),
            },
        ] {
            let encoded = id.encode();
            assert!(encoded.len() <= 100, "Discord allows 100 characters");
            assert_eq!(CustomId::parse(&encoded), Some(id));
        }
    }

    #[test]
    fn zero_malformed_or_foreign_ids_are_refused() {
        for raw in [
            "",
            "doorman",
            "doorman:verify:1",
            "other:panel:1",
            "doorman:panel:x",
            "doorman:panel:1:2",
            "doorman:verify:0:5",
            "doorman:verify:5:0",
            "doorman:panel:0",
            "doorman:modal:0",
            "doorman:modal:",
            "doorman:modal:+5",
            "doorman:modal:-5",
            "doorman:modal:5x",
            "doorman:modal:99999999999999999999",
            "doorman:verify:5",
            "doorman:panel:5:6",
            "doorman:other:5",
            "someone:modal:5",
        ] {
            assert_eq!(CustomId::parse(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn time_left_reads_naturally() {
        let now = Utc::now();
        assert_eq!(
            time_left(now + chrono::Duration::seconds(30), now),
            "30 s left"
        );
        assert_eq!(
            time_left(now + chrono::Duration::minutes(5), now),
            "5 min left"
        );
        assert_eq!(
            time_left(now - chrono::Duration::minutes(5), now),
            "due now"
        );
    }
}
