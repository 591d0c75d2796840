//! Wiring: settings in, a running application out. The binary, the CLI and the tests all
//! start doorman through [`Application::build`].

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::api::{self, AppState};
use crate::config::Settings;
use crate::discord::BotStatus;
use crate::domain::{Clock, SystemClock};
use crate::service::Doorman;
use crate::store::Store;

/// How long a shutdown waits for the gateway's close to go out.
const GATEWAY_CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    http: crate::config::HttpSettings,
    doorman: Doorman,
    /// The bot and other background work; stopped when the server stops. Their work is
    /// in the database, so stopping them mid-task loses nothing.
    background: Vec<tokio::task::JoinHandle<()>>,
    /// The bot's gateway, told to close its session at shutdown, and the way to tell it.
    gateway: Option<(
        tokio::task::JoinHandle<()>,
        tokio::sync::watch::Sender<bool>,
    )>,
    /// How long a shutdown waits for requests in flight (SHUTDOWN_GRACE_SECONDS).
    grace: std::time::Duration,
}

impl Application {
    /// Connects to the database, brings its schema up to date and binds the listener
    /// (port 0 picks a free port, which tests use).
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// As [`Application::build`], reading the time from `clock` (tests move it forward).
    pub async fn build_with_clock(
        settings: &Settings,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let doorman = connect_with_clock(settings, clock).await?;
        let bot_status = BotStatus::default();
        let mut background = Vec::new();
        let mut gateway = None;
        if let Some(discord) = &settings.discord {
            // Only the leader among replicas holds the gateway.
            let (leadership, election) =
                crate::workers::leader::spawn(&doorman, discord.leader_takeover);
            background.extend(election);
            let (stop_gateway, stopping) = tokio::sync::watch::channel(false);
            let bot = crate::discord::spawn(
                discord,
                doorman.clone(),
                bot_status.clone(),
                leadership,
                stopping,
            );
            background.push(bot.sweeper);
            gateway = Some((bot.gateway, stop_gateway));
        }
        let state = AppState {
            doorman: doorman.clone(),
            max_upload_bytes: settings.max_upload_bytes,
            bot: settings.discord.is_some().then_some(bot_status),
            trusted_proxies: settings.trusted_proxies.clone(),
            web: settings.web.clone(),
            discord: settings.discord.clone(),
            metrics_token: settings.observe.metrics_token.clone(),
            join: crate::web::join::JoinContext::new(settings),
        };
        if let Some(bot) = &state.bot {
            doorman.metrics().watch_gateway(bot.clone());
        }
        let listener = TcpListener::bind(settings.bind_addr)
            .await
            .with_context(|| format!("cannot listen on {} (BIND_ADDR)", settings.bind_addr))?;
        Ok(Self {
            listener,
            router: api::router(state, &settings.http),
            http: settings.http,
            doorman,
            background,
            gateway,
            grace: settings.observe.shutdown_grace,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn doorman(&self) -> &Doorman {
        &self.doorman
    }

    /// Serves (and, unless EMAIL_WORKERS=false, sends the email queue) until `shutdown`
    /// resolves. Then, at once, the workers claim nothing more and the server stops
    /// accepting; requests in flight get up to SHUTDOWN_GRACE_SECONDS to finish, and the
    /// sends already under way are finished and recorded. Emails not yet claimed stay
    /// queued for the next start.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let settings = self.doorman.email_settings();
        let workers = settings.workers.then(|| {
            crate::workers::email::spawn(self.doorman.clone(), self.doorman.sending_stopped())
        });
        // Long enough for a send in flight to finish or time out.
        let send_grace = settings.request_timeout + std::time::Duration::from_secs(5);
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let server_stop = {
            let mut stopping = stopping.clone();
            async move {
                let _ = stopping.wait_for(|stop| *stop).await;
            }
        };
        let mut serving = tokio::spawn(crate::server::serve(
            self.listener,
            self.router,
            self.http,
            server_stop,
        ));
        let served = tokio::select! {
            served = &mut serving => served,
            () = shutdown => {
                self.doorman.stop_sending();
                let _ = stop.send(true);
                match tokio::time::timeout(self.grace, &mut serving).await {
                    Ok(served) => served,
                    Err(_) => {
                        serving.abort();
                        tracing::warn!(
                            grace_seconds = self.grace.as_secs(),
                            "requests still in flight after SHUTDOWN_GRACE_SECONDS were cut off"
                        );
                        Ok(Ok(()))
                    }
                }
            }
        };
        self.doorman.stop_sending();
        if let Some(mut workers) = workers
            && tokio::time::timeout(send_grace, &mut workers)
                .await
                .is_err()
        {
            // Whatever was claimed and not recorded is sent again once its lease expires.
            workers.abort();
            tracing::warn!("email workers did not stop in time; unfinished sends will be retried");
        }
        if let Some((mut gateway, stop_gateway)) = self.gateway {
            // Closed with 1000, Discord ends the session at once instead of keeping it
            // for a resume that will never come.
            let _ = stop_gateway.send(true);
            if tokio::time::timeout(GATEWAY_CLOSE_WAIT, &mut gateway)
                .await
                .is_err()
            {
                gateway.abort();
            }
        }
        for task in &self.background {
            task.abort();
        }
        for task in self.background {
            let _ = task.await;
        }
        self.doorman.close().await;
        tracing::info!("stopped");
        served
            .context("the HTTP server failed")?
            .context("the HTTP server failed")
    }
}

/// Opens the store, migrates it, and builds the domain core; for commands that do not serve.
pub async fn connect(settings: &Settings) -> anyhow::Result<Doorman> {
    connect_with_clock(settings, Arc::new(SystemClock)).await
}

async fn connect_with_clock(settings: &Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Doorman> {
    let (store, applied) = open_database(settings, clock.as_ref()).await?;
    if !applied.is_empty() {
        tracing::info!(?applied, "database migrated");
    }
    Ok(Doorman::new(store, settings, clock)?)
}

/// Brings the database `settings` name up to date, as start-up does, and closes it
/// again; returns the migrations this applied (none when another process got there first).
pub async fn migrate(settings: &Settings, clock: &dyn Clock) -> anyhow::Result<Vec<i64>> {
    let (store, applied) = open_database(settings, clock).await?;
    store.close().await;
    Ok(applied)
}

async fn open_database(
    settings: &Settings,
    clock: &dyn Clock,
) -> anyhow::Result<(Store, Vec<i64>)> {
    let backend = settings.database_backend();
    let store = Store::connect_with(settings.database_url.expose(), settings.sqlite_busy_timeout)
        .await
        .with_context(|| {
            format!("cannot connect to the {backend} database (check DATABASE_URL)")
        })?;
    let applied = store
        .migrate(clock.now())
        .await
        .context("cannot migrate the database")?;
    Ok((store, applied))
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
