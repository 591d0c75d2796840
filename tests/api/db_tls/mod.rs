//! PostgreSQL over TLS through doorman's own configuration: `DB_SSL=true` checks the
//! server's certificate chain and name, `DB_SSL_ROOT_CERT` adds a private root, and a
//! `DATABASE_URL`'s own `sslmode`/`sslrootcert` are taken as written.

mod server;

use std::process::Command;

use doorman::config::{ConfigError, Settings};
use doorman::service::Doorman;
use server::TlsPostgres;

/// Settings from these variables alone, as start-up would read them.
fn settings(data_dir: &tempfile::TempDir, vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let data_dir = data_dir.path().display().to_string();
    Settings::from_lookup(|name| match name {
        "DATA_DIR" => Some(data_dir.clone()),
        "SECRET_KEY" => Some(crate::helpers::API_KEY.into()),
        _ => vars
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string()),
    })
}

/// Connects and migrates as doorman does at start-up.
async fn connect(vars: &[(&str, &str)]) -> anyhow::Result<Doorman> {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(&dir, vars).expect("valid settings");
    doorman::startup::connect(&settings).await
}

/// Whether doorman's connection is encrypted, as the server sees it.
async fn uses_tls(doorman: &Doorman) -> bool {
    doorman.database_uses_tls().await.unwrap()
}

fn db_vars(server: &TlsPostgres) -> Vec<(&'static str, String)> {
    vec![
        ("DB_HOST", "127.0.0.1".into()),
        ("DB_PORT", server.port.to_string()),
        ("DB_USER", "postgres".into()),
        ("DB_NAME", "postgres".into()),
        ("DB_SSL", "true".into()),
    ]
}

fn borrowed<'a>(vars: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    vars.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn refused_for(error: anyhow::Error, reason: &str) {
    let message = format!("{error:#}");
    assert!(
        message.contains("invalid peer certificate") && message.contains(reason),
        "expected the certificate refused ({reason}), got: {message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn db_ssl_verifies_the_server_against_db_ssl_root_cert() {
    let Some(server) = TlsPostgres::start(&["127.0.0.1", "localhost"]) else {
        return;
    };
    let vars = db_vars(&server);

    let error = connect(&borrowed(&vars))
        .await
        .err()
        .expect("a certificate from an unknown CA is refused");
    refused_for(error, "UnknownIssuer");

    let mut with_root = vars.clone();
    with_root.push(("DB_SSL_ROOT_CERT", server.ca_pem.display().to_string()));
    let doorman = connect(&borrowed(&with_root))
        .await
        .expect("the server's CA, once trusted, is accepted");
    assert!(uses_tls(&doorman).await);
    doorman.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn db_ssl_refuses_a_certificate_for_another_host() {
    let Some(server) = TlsPostgres::start(&["db.example.invalid"]) else {
        return;
    };
    let mut vars = db_vars(&server);
    vars.push(("DB_SSL_ROOT_CERT", server.ca_pem.display().to_string()));
    let error = connect(&borrowed(&vars))
        .await
        .err()
        .expect("a trusted certificate for another name is refused");
    refused_for(error, "not valid for name");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_url_sslmode_is_taken_as_written() {
    let Some(server) = TlsPostgres::start(&["127.0.0.1", "localhost"]) else {
        return;
    };
    let base = format!("postgres://postgres@127.0.0.1:{}/postgres", server.port);
    let url = |query: &str| format!("{base}?{query}");
    let root = server.ca_pem.display().to_string();

    let doorman = connect(&[(
        "DATABASE_URL",
        &url(&format!("sslmode=verify-full&sslrootcert={root}")),
    )])
    .await
    .unwrap();
    assert!(uses_tls(&doorman).await);
    doorman.close().await;

    // DB_SSL is for the DB_* variables; it does not change the URL's sslmode.
    let doorman = connect(&[
        ("DATABASE_URL", &url("sslmode=disable")),
        ("DB_SSL", "true"),
    ])
    .await
    .unwrap();
    assert!(
        !uses_tls(&doorman).await,
        "sslmode=disable stays unencrypted"
    );
    doorman.close().await;

    let error = connect(&[("DATABASE_URL", &url("sslmode=verify-full"))])
        .await
        .err()
        .expect("verify-full without the root is refused");
    refused_for(error, "UnknownIssuer");
}

#[tokio::test]
async fn an_unusable_db_ssl_root_cert_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "just text\n").unwrap();
    let missing = dir.path().join("missing.pem");
    let cases = [
        (missing.display().to_string(), "cannot read"),
        (dir.path().display().to_string(), "cannot read"),
        (not_pem.display().to_string(), "holds no PEM certificate"),
    ];
    for (path, problem) in cases {
        let output = Command::new(env!("CARGO_BIN_EXE_doorman"))
            .arg("migrate")
            .env_clear()
            .env("DATA_DIR", dir.path())
            .env("DB_HOST", "127.0.0.1")
            .env("DB_USER", "postgres")
            .env("DB_NAME", "postgres")
            .env("DB_SSL", "true")
            .env("DB_SSL_ROOT_CERT", &path)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("DB_SSL_ROOT_CERT")
                && stderr.contains(problem)
                && stderr.contains(&path),
            "{path}: {stderr}"
        );
    }
}

#[test]
fn db_ssl_root_cert_is_refused_where_it_would_not_apply() {
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("ca.pem");
    let pem = pem.to_str().unwrap();
    let db = [("DB_HOST", "h"), ("DB_USER", "u"), ("DB_NAME", "n")];

    let mut without_ssl = db.to_vec();
    without_ssl.push(("DB_SSL_ROOT_CERT", pem));
    let error = settings(&dir, &without_ssl).unwrap_err();
    assert_eq!(error.var, "DB_SSL_ROOT_CERT");
    assert!(error.problem.contains("DB_SSL=true"), "{error}");

    let error = settings(
        &dir,
        &[
            ("DATABASE_URL", "postgres://u@h/d"),
            ("DB_SSL_ROOT_CERT", pem),
        ],
    )
    .unwrap_err();
    assert_eq!(error.var, "DB_SSL_ROOT_CERT");
    assert!(error.problem.contains("sslrootcert"), "{error}");
}
