//! `doorman serve`.

use crate::config::{SecretSource, Settings};
use crate::startup::{Application, shutdown_signal};

pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    // Held until the process ends.
    let _serving = super::serve_lock::claim(settings.database_url.expose())?;
    let app = Application::build(settings).await?;
    let addr = app.local_addr();
    print_banner(settings, addr);
    tracing::info!(%addr, database = settings.database_backend(), "doorman is listening");
    app.run_until(shutdown_signal()).await
}

/// What a newcomer needs to start using the API. Printed to stdout, not logged: the
/// generated key is shown once, when it is made, and the logs never carry it.
fn print_banner(settings: &Settings, addr: std::net::SocketAddr) {
    let host = if addr.ip().is_unspecified() {
        "localhost".to_owned()
    } else {
        addr.ip().to_string()
    };
    let base = format!("http://{host}:{}", addr.port());
    println!();
    println!(
        "  doorman {} is running on {}",
        env!("CARGO_PKG_VERSION"),
        settings.database_backend()
    );
    println!("  API:       {base}/api");
    println!("  API docs:  {base}/api/docs");
    match &settings.api_key_source {
        SecretSource::Generated(path) => {
            println!(
                "  API key:   {}   (generated; kept in {})",
                settings.api_key.expose(),
                path.display()
            );
        }
        SecretSource::File(path) => println!("  API key:   in {}", path.display()),
        SecretSource::Environment => println!("  API key:   SECRET_KEY"),
    }
    println!();
}
