use clap::Parser;

/// glibc's allocator serialises threads that free what another thread allocated (SQLite's
/// rows are built on sqlx's worker thread and dropped on tokio's); mimalloc does not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // A missing .env is normal; a malformed one is worth saying.
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("error: .env: {e}");
        return std::process::ExitCode::FAILURE;
    }
    match doorman::config::LogFormat::from_env() {
        Ok(format) => doorman::observe::logging::init(format),
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    }

    let cli = doorman::cli::Cli::parse();
    match doorman::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
