use std::collections::HashMap;

use super::*;

fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap().to_owned();
    let mut map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    map.entry("DATA_DIR".into()).or_insert(data_dir);
    let result = Settings::from_lookup(|name| map.get(name).cloned());
    drop(dir);
    result
}

#[test]
fn nothing_configured_gives_sqlite_on_localhost_with_generated_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap().to_owned();
    let lookup = |name: &str| (name == "DATA_DIR").then(|| data_dir.clone());
    let first = Settings::from_lookup(lookup).unwrap();
    assert_eq!(first.bind_addr.to_string(), DEFAULT_BIND_ADDR);
    assert_eq!(first.database_backend(), "sqlite");
    assert!(matches!(first.api_key_source, SecretSource::Generated(_)));
    assert!(first.api_key.expose().len() >= 32);
    assert_ne!(
        first.api_key.expose().as_bytes(),
        first.token_secret.expose().as_slice()
    );

    let second = Settings::from_lookup(lookup).unwrap();
    assert_eq!(second.api_key, first.api_key, "the generated key is kept");
    assert_eq!(second.token_secret, first.token_secret);
    assert!(matches!(second.api_key_source, SecretSource::File(_)));
}

#[test]
fn port_alone_listens_on_every_interface() {
    let s = settings(&[("PORT", "9000")]).unwrap();
    assert_eq!(s.bind_addr.to_string(), "0.0.0.0:9000");
    let s = settings(&[("PORT", "9000"), ("BIND_ADDR", "127.0.0.1:7000")]).unwrap();
    assert_eq!(s.bind_addr.to_string(), "127.0.0.1:7000");
}

#[test]
fn the_original_db_variables_build_a_postgres_url() {
    let s = settings(&[
        ("DB_HOST", "db.example.org"),
        ("DB_USER", "app"),
        ("DB_PASSWORD", "p@ss word"),
        ("DB_NAME", "invites"),
        ("DB_SSL", "true"),
    ])
    .unwrap();
    assert_eq!(
        s.database_url.expose(),
        "postgres://app:p%40ss%20word@db.example.org:5432/invites?sslmode=require"
    );
    assert_eq!(s.database_backend(), "postgres");
}

#[test]
fn database_url_wins_over_db_variables() {
    let s = settings(&[("DATABASE_URL", "postgres://u@h/d"), ("DB_HOST", "other")]).unwrap();
    assert_eq!(s.database_url.expose(), "postgres://u@h/d");
}

#[test]
fn bad_values_name_the_variable() {
    let cases = [
        ("TOKEN_LENGTH", "5"),
        ("TOKEN_LENGTH", "eight"),
        ("TOKEN_EXPIRY_DAYS", "0"),
        ("BIND_ADDR", "localhost"),
        ("PORT", "99999"),
        ("DATABASE_URL", "mysql://x"),
        ("SECRET_KEY", "short"),
        ("VERIFY_MAX_FAILURES", "0"),
        ("MAX_UPLOAD_MB", "-1"),
        ("DB_SSL", "maybe"),
    ];
    for (var, value) in cases {
        let mut vars = vec![(var, value)];
        if var == "DB_SSL" {
            vars.extend([("DB_HOST", "h"), ("DB_USER", "u"), ("DB_NAME", "n")]);
        }
        let error = settings(&vars).expect_err(&format!("{var}={value} should be refused"));
        assert_eq!(error.var, var);
        assert!(error.to_string().starts_with(var), "{error}");
    }
}

#[test]
fn secrets_do_not_show_in_debug_output() {
    let s = settings(&[("SECRET_KEY", "a-very-secret-admin-key")]).unwrap();
    let debug = format!("{s:?}");
    assert!(!debug.contains("a-very-secret-admin-key"));
    assert!(!debug.contains(&String::from_utf8_lossy(s.token_secret.expose()).to_string()));
}
