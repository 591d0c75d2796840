//! The command line: `doorman [serve]`, `migrate`, `import`, `users list`, `token refresh`,
//! `send-emails`, `send-test`, `backup`.

mod emails;
mod import;
mod serve;
mod serve_lock;
mod users;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::Settings;
use crate::domain::event::Actor;

#[derive(Debug, Parser)]
#[command(
    name = "doorman",
    version,
    about = "Invite people by email and admit them to a Discord server once they prove who they are."
)]
#[command(
    long_about = "Invite people by email and admit them to a Discord server once they prove who they are.\n\n\
Configuration comes from environment variables and a .env file in the working directory; see .env.example."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API (and, with DISCORD_TOKEN, the bot); the default.
    Serve,
    /// Bring the database schema up to date, then exit.
    Migrate,
    /// Import invitees from a CSV file (columns: email,name,college,branch,year).
    Import {
        /// The CSV file.
        file: std::path::PathBuf,
    },
    /// Work with invitees.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Work with verification tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Issue fresh tokens and email invitations (to the given invitees or every unverified one).
    SendEmails {
        /// Every invitee who has not verified yet.
        #[arg(long, conflicts_with = "ids", required_unless_present = "ids")]
        all_unverified: bool,
        /// These invitee ids (comma-separated).
        #[arg(long, value_delimiter = ',')]
        ids: Vec<i64>,
        /// Email even within the resend cooldown, and addresses that bounced or were dropped.
        #[arg(long)]
        force: bool,
    },
    /// Send one sample email to ADDRESS through the configured route and show the answer.
    SendTest {
        /// Where to send it.
        address: String,
    },
    /// Copy the SQLite database to FILE, consistently, while doorman serves (PostgreSQL: explains pg_dump).
    Backup {
        /// The new file; an existing one is never overwritten.
        file: std::path::PathBuf,
    },
    /// Print the OpenAPI document as JSON.
    Openapi,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// List invitees.
    List {
        /// Only invitees whose email or name contains this (case-insensitive).
        #[arg(long)]
        search: Option<String>,
        /// Only verified (true) or unverified (false) invitees.
        #[arg(long)]
        verified: Option<bool>,
        /// At most this many.
        #[arg(long)]
        limit: Option<i64>,
        /// Skip this many first.
        #[arg(long, default_value_t = 0)]
        offset: i64,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a new token for the invitee with this email and print it; the old one stops working.
    Refresh {
        /// The invitee's email.
        email: String,
    },
}

/// Runs the command; errors are reported by `main`.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Some(Command::Openapi) = cli.command {
        println!("{}", crate::api::openapi().to_pretty_json()?);
        return Ok(());
    }
    let settings = Settings::from_env()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve::run(&settings).await,
        Command::Migrate => {
            crate::startup::connect(&settings).await?;
            println!(
                "The {} database is up to date.",
                settings.database_backend()
            );
            Ok(())
        }
        Command::Import { file } => import::run(&settings, &file).await,
        Command::Users {
            command:
                UsersCommand::List {
                    search,
                    verified,
                    limit,
                    offset,
                    format,
                },
        } => {
            let filter = crate::domain::invitee::InviteeFilter {
                search,
                verified,
                limit,
                offset,
            };
            users::list(&settings, filter, format).await
        }
        Command::Token {
            command: TokenCommand::Refresh { email },
        } => {
            let doorman = crate::startup::connect(&settings).await?;
            let issued = match doorman.refresh_token_by_email(&email, Actor::Cli).await {
                Err(crate::service::ServiceError::NotFound) => {
                    anyhow::bail!("no invitee has the email {email}")
                }
                other => other?,
            };
            println!("{}", issued.token.expose());
            eprintln!(
                "valid until {}",
                issued.expires_at.format("%Y-%m-%d %H:%M UTC")
            );
            Ok(())
        }
        Command::SendEmails {
            all_unverified,
            ids,
            force,
        } => {
            let recipients = if all_unverified {
                crate::service::Recipients::AllUnverified
            } else {
                crate::service::Recipients::Ids(ids)
            };
            emails::send(&settings, recipients, force).await
        }
        Command::SendTest { address } => emails::test(&settings, &address).await,
        Command::Backup { file } => {
            let doorman = crate::startup::connect(&settings).await?;
            let bytes = doorman.backup_to(&file).await?;
            doorman.close().await;
            println!(
                "The SQLite database is copied to {} ({bytes} bytes).",
                file.display()
            );
            Ok(())
        }
        Command::Openapi => unreachable!("handled above"),
    }
}
