//! Discord's side of a join: the code exchanged for the user's access token, who the
//! user is, and adding them to the server with their roles. The access token lives only
//! for the length of one callback: it is never stored, logged or put in an error.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::{JoinSettings, Secret};
use crate::domain::invitee::Invitee;

/// How Discord let a step down.
#[derive(Debug, thiserror::Error)]
pub enum DiscordError {
    /// Discord answered, and said no (a used code, a missing permission): `what` says
    /// which step, `status` and Discord's own words say why.
    #[error("Discord refused {what} ({status}): {message}")]
    Refused {
        what: &'static str,
        status: u16,
        message: String,
    },
    /// Discord did not answer, or not as documented.
    #[error("Discord failed at {what}: {problem}")]
    Failed { what: &'static str, problem: String },
}

/// The step that reads the server's roles, as errors name it.
const LISTING_ROLES: &str = "listing the server's roles";

/// Calls Discord's REST API for the join pages.
#[derive(Clone)]
pub struct DiscordOauth {
    http: reqwest::Client,
    pub settings: JoinSettings,
    role_rules: Vec<crate::config::RoleRule>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
}

#[derive(Deserialize)]
struct User {
    id: String,
}

#[derive(Deserialize)]
struct Role {
    id: String,
    name: String,
}

#[derive(Deserialize)]
struct Member {
    roles: Vec<String>,
}

impl DiscordOauth {
    pub fn new(settings: JoinSettings, role_rules: Vec<crate::config::RoleRule>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client builds");
        Self {
            http,
            settings,
            role_rules,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.api_base)
    }

    fn bot(&self) -> String {
        format!("Bot {}", self.settings.bot_token.expose())
    }

    /// Sends `request` and reads a JSON answer (Null for 204); 4xx is a refusal.
    async fn send(
        &self,
        what: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<(u16, Value), DiscordError> {
        let failed = |problem: String| DiscordError::Failed { what, problem };
        let response = request
            .send()
            .await
            // Without the URL: nothing of the request reaches an error message.
            .map_err(|e| failed(e.without_url().to_string()))?;
        let status = response.status().as_u16();
        let body: Value = if status == 204 {
            Value::Null
        } else {
            response
                .json()
                .await
                .map_err(|_| failed(format!("an answer ({status}) that is not JSON")))?
        };
        match status {
            200..=299 => Ok((status, body)),
            400..=499 => {
                let message = body["error_description"]
                    .as_str()
                    .or(body["error"].as_str())
                    .or(body["message"].as_str())
                    .unwrap_or("no reason given")
                    .to_owned();
                Err(DiscordError::Refused {
                    what,
                    status,
                    message,
                })
            }
            _ => Err(failed(format!("status {status}"))),
        }
    }

    /// Exchanges the authorization code for the user's access token.
    pub async fn exchange(&self, code: &str) -> Result<Secret<String>, DiscordError> {
        let what = "the sign-in code";
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.settings.redirect_uri.as_str()),
        ];
        let request = self
            .http
            .post(self.url("/oauth2/token"))
            .basic_auth(
                &self.settings.client_id,
                Some(self.settings.client_secret.expose()),
            )
            .form(&form);
        let (_, body) = self.send(what, request).await?;
        let answer: TokenAnswer =
            serde_json::from_value(body).map_err(|_| DiscordError::Failed {
                what,
                problem: "a token answer without an access token".into(),
            })?;
        Ok(Secret::new(answer.access_token))
    }

    /// The Discord user the access token belongs to.
    pub async fn user_id(&self, token: &Secret<String>) -> Result<String, DiscordError> {
        let what = "reading your Discord account";
        let request = self
            .http
            .get(self.url("/users/@me"))
            .bearer_auth(token.expose());
        let (_, body) = self.send(what, request).await?;
        let user: User = serde_json::from_value(body).map_err(|_| DiscordError::Failed {
            what,
            problem: "a user without an id".into(),
        })?;
        Ok(user.id)
    }

    /// The member role and the roster's roles for `invitee`, as ids.
    async fn roles_for(&self, invitee: &Invitee) -> Result<Vec<String>, DiscordError> {
        let roles = self
            .server_roles()
            .await?
            .ok_or_else(|| DiscordError::Failed {
                what: LISTING_ROLES,
                problem: "roles that are not a list".into(),
            })?;
        let id_of = |name: &str| {
            roles
                .iter()
                .find(|r| r.name.eq_ignore_ascii_case(name))
                .map(|r| r.id.clone())
        };
        let member =
            id_of(&self.settings.member_role_name).ok_or_else(|| DiscordError::Refused {
                what: "giving the member role",
                status: 404,
                message: format!(
                    "the server has no '{}' role",
                    self.settings.member_role_name
                ),
            })?;
        let mut ids = vec![member];
        let roster = self
            .role_rules
            .iter()
            .filter(|rule| rule.applies(&invitee.college, &invitee.branch, &invitee.year))
            .filter_map(|rule| id_of(&rule.role));
        for id in roster {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Adds the user to the server with the member role and the roster's roles (true);
    /// someone already there gets those roles instead, and loses the unverified one (false).
    pub async fn add_member(
        &self,
        user_id: &str,
        token: &Secret<String>,
        invitee: &Invitee,
    ) -> Result<bool, DiscordError> {
        let roles = self.roles_for(invitee).await?;
        let member_url = self.url(&format!(
            "/guilds/{}/members/{user_id}",
            self.settings.guild_id
        ));
        let request = self
            .http
            .put(&member_url)
            .header("authorization", self.bot())
            .json(&json!({ "access_token": token.expose(), "roles": roles }));
        let (status, _) = self.send("adding you to the server", request).await?;
        if status == 201 {
            return Ok(true);
        }
        // Already a member: Discord changed nothing, so set the roles now.
        let what = "giving you your roles";
        let request = self
            .http
            .get(&member_url)
            .header("authorization", self.bot());
        let (_, body) = self.send(what, request).await?;
        let member: Member = serde_json::from_value(body).map_err(|_| DiscordError::Failed {
            what,
            problem: "a member without roles".into(),
        })?;
        let unverified = self.unverified_role_id().await?;
        let mut wanted: Vec<String> = member
            .roles
            .into_iter()
            .filter(|r| Some(r) != unverified.as_ref())
            .collect();
        for role in roles {
            if !wanted.contains(&role) {
                wanted.push(role);
            }
        }
        let request = self
            .http
            .patch(&member_url)
            .header("authorization", self.bot())
            .json(&json!({ "roles": wanted }));
        self.send(what, request).await?;
        Ok(false)
    }

    /// The server's roles; `None` for an answer that is not a list of them.
    async fn server_roles(&self) -> Result<Option<Vec<Role>>, DiscordError> {
        let request = self
            .http
            .get(self.url(&format!("/guilds/{}/roles", self.settings.guild_id)))
            .header("authorization", self.bot());
        let (_, body) = self.send(LISTING_ROLES, request).await?;
        Ok(serde_json::from_value(body).ok())
    }

    async fn unverified_role_id(&self) -> Result<Option<String>, DiscordError> {
        // Without the list, there is no unverified role to take away.
        let roles = self.server_roles().await?.unwrap_or_default();
        Ok(roles
            .into_iter()
            .find(|r| {
                r.name
                    .eq_ignore_ascii_case(&self.settings.unverified_role_name)
            })
            .map(|r| r.id))
    }
}
