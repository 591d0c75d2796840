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
        "postgres://app:p%40ss%20word@db.example.org:5432/invites?sslmode=verify-full"
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
        ("MAX_UPLOAD_MB", "1024"),
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

#[test]
fn email_goes_to_the_first_configured_route() {
    let outbox = settings(&[]).unwrap();
    assert_eq!(outbox.email.route.name(), "outbox");
    let smtp = settings(&[
        ("SMTP_URL", "smtp://u:p@mail.example.org:587"),
        ("EMAIL_FROM", "Club <club@example.org>"),
    ])
    .unwrap();
    assert_eq!(smtp.email.route.name(), "smtp");
    assert_eq!(smtp.email.from.name.as_deref(), Some("Club"));
    assert_eq!(smtp.email.from.email, "club@example.org");
    let sendgrid = settings(&[
        ("SENDGRID_API_KEY", "SG.key"),
        ("SENDGRID_FROM_EMAIL", "invites@example.org"),
        ("SMTP_URL", "smtp://mail.example.org"),
    ])
    .unwrap();
    assert_eq!(sendgrid.email.route.name(), "sendgrid");
    assert_eq!(sendgrid.email.subject, "{community} Discord invitation");
    assert_eq!(sendgrid.email.concurrency, 8);
    assert_eq!(
        sendgrid.email.resend_cooldown,
        chrono::Duration::minutes(10)
    );
}

#[test]
fn reminder_days_are_sorted_and_deduplicated() {
    let s = settings(&[("REMINDER_DAYS", "5, 2,5")]).unwrap();
    assert_eq!(s.email.reminder_days, vec![2, 5]);
}

#[test]
fn bad_email_settings_name_the_variable() {
    let cases: &[(&str, &[(&str, &str)])] = &[
        ("SENDGRID_FROM_EMAIL", &[("SENDGRID_API_KEY", "SG.key")]),
        ("EMAIL_FROM", &[("SMTP_URL", "smtp://mail.example.org")]),
        (
            "SMTP_URL",
            &[
                ("SMTP_URL", "http://mail.example.org"),
                ("EMAIL_FROM", "a@example.org"),
            ],
        ),
        (
            "SENDGRID_API_URL",
            &[
                ("SENDGRID_API_KEY", "k"),
                ("SENDGRID_FROM_EMAIL", "a@example.org"),
                ("SENDGRID_API_URL", "ftp://x"),
            ],
        ),
        ("EMAIL_CONCURRENCY", &[("EMAIL_CONCURRENCY", "0")]),
        ("EMAIL_BATCH_SIZE", &[("EMAIL_BATCH_SIZE", "1001")]),
        ("REMINDER_DAYS", &[("REMINDER_DAYS", "2,soon")]),
        (
            "SENDGRID_WEBHOOK_PUBLIC_KEY",
            &[("SENDGRID_WEBHOOK_PUBLIC_KEY", "not-a-key")],
        ),
        (
            "EMAIL_TEMPLATE_DIR",
            &[("EMAIL_TEMPLATE_DIR", "/no/such/dir")],
        ),
        (
            "EMAIL_LEASE_SECONDS",
            &[
                ("EMAIL_LEASE_SECONDS", "10"),
                ("EMAIL_TIMEOUT_SECONDS", "30"),
            ],
        ),
        ("DISCORD_INVITE_URL", &[("DISCORD_INVITE_URL", "not a url")]),
    ];
    for (var, vars) in cases {
        let error = settings(vars).expect_err(&format!("{vars:?} should be refused"));
        assert_eq!(error.var, *var, "{error}");
    }
}

#[test]
fn email_secrets_do_not_show_in_debug_output_or_errors() {
    let s = settings(&[
        (
            "SMTP_URL",
            "smtp://user:hunter2-secret@mail.example.org:587",
        ),
        ("EMAIL_FROM", "a@example.org"),
    ])
    .unwrap();
    assert!(!format!("{s:?}").contains("hunter2-secret"));
    let s = settings(&[
        ("SENDGRID_API_KEY", "SG.super-secret-key"),
        ("SENDGRID_FROM_EMAIL", "a@example.org"),
    ])
    .unwrap();
    assert!(!format!("{s:?}").contains("super-secret-key"));
    let error = settings(&[
        ("SMTP_URL", "smtps://user:hunter2-secret@"),
        ("EMAIL_FROM", "a@example.org"),
    ])
    .unwrap_err();
    assert!(!error.to_string().contains("hunter2-secret"), "{error}");
}

#[test]
fn a_placeholder_admin_key_stops_start_up() {
    for key in [
        "change-me-to-a-long-random-string",
        "your-super-secret-api-key",
        "YOUR-SUPER-SECRET-API-KEY",
    ] {
        let error = settings(&[("SECRET_KEY", key)]).expect_err(key);
        assert_eq!(error.var, "SECRET_KEY");
        assert!(error.to_string().contains("placeholder"), "{error}");
        assert!(!error.to_string().contains(key), "the key is not echoed");
    }
}

#[test]
fn a_short_admin_key_is_accepted_with_a_warning() {
    let s = settings(&[("SECRET_KEY", "sixteen-chars-ok")]).unwrap();
    assert_eq!(s.api_key.expose(), "sixteen-chars-ok");
    let warning = secret::check_admin_key("sixteen-chars-ok").unwrap();
    assert!(warning.is_some_and(|w| w.contains("SECRET_KEY")));
    assert_eq!(
        secret::check_admin_key("a-key-of-thirty-two-characters-x"),
        Ok(None)
    );
}

#[test]
fn http_limits_have_defaults_and_bounds() {
    let s = settings(&[]).unwrap();
    assert_eq!(s.http.header_timeout, Duration::from_secs(10));
    assert_eq!(s.http.idle_timeout, Duration::from_secs(60));
    assert_eq!(s.http.request_timeout, Duration::from_secs(30));
    assert_eq!(s.http.max_connections, 512);
    for var in [
        "HTTP_HEADER_TIMEOUT_SECONDS",
        "HTTP_IDLE_TIMEOUT_SECONDS",
        "HTTP_REQUEST_TIMEOUT_SECONDS",
        "HTTP_UPLOAD_TIMEOUT_SECONDS",
        "HTTP_MAX_CONNECTIONS",
    ] {
        let error = settings(&[(var, "0")]).expect_err(var);
        assert_eq!(error.var, var);
    }
}
