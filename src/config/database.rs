//! Where the database is: `DATABASE_URL`, or a PostgreSQL URL built from the original
//! system's `DB_*` variables, or an SQLite file in the data directory.

use super::{ConfigError, flag, parse};

/// `DATABASE_URL`, else the original system's `DB_*` variables, else an SQLite file.
pub(super) fn url(
    var: &impl Fn(&str) -> Option<String>,
    data_dir: &std::path::Path,
) -> Result<String, ConfigError> {
    if let Some(url) = var("DATABASE_URL") {
        let scheme_ok = ["postgres://", "postgresql://", "sqlite:"]
            .iter()
            .any(|s| url.starts_with(s));
        if !scheme_ok {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "must start with postgres://, postgresql:// or sqlite:",
            ));
        }
        // The URL's own sslmode and sslrootcert are the whole truth; a root left in
        // DB_SSL_ROOT_CERT would silently not apply, so it is refused instead.
        if var("DB_SSL_ROOT_CERT").is_some() {
            return Err(ConfigError::new(
                "DB_SSL_ROOT_CERT",
                "applies only with DB_HOST; with DATABASE_URL, add sslrootcert=<path> to the URL",
            ));
        }
        return Ok(url);
    }
    if let Some(host) = var("DB_HOST") {
        let port: u16 = parse(var, "DB_PORT", 5432)?;
        let name =
            var("DB_NAME").ok_or_else(|| ConfigError::new("DB_NAME", "required with DB_HOST"))?;
        let user =
            var("DB_USER").ok_or_else(|| ConfigError::new("DB_USER", "required with DB_HOST"))?;
        let mut url = url::Url::parse("postgres://localhost/").expect("static URL parses");
        url.set_host(Some(&host))
            .map_err(|_| ConfigError::new("DB_HOST", format!("'{host}' is not a host name")))?;
        url.set_port(Some(port)).expect("postgres URLs take a port");
        url.set_username(&user).expect("postgres URLs take a user");
        if let Some(password) = var("DB_PASSWORD") {
            url.set_password(Some(&password))
                .expect("postgres URLs take a password");
        }
        url.set_path(&name);
        let verify = flag(var, "DB_SSL", false)?;
        let root_cert = var("DB_SSL_ROOT_CERT");
        if root_cert.is_some() && !verify {
            return Err(ConfigError::new(
                "DB_SSL_ROOT_CERT",
                "needs DB_SSL=true; without it the server's certificate is not checked",
            ));
        }
        // `true` is libpq's verify-full: the chain must end at a trusted root and the
        // certificate must name DB_HOST; `require` would accept any certificate at all.
        url.query_pairs_mut()
            .append_pair("sslmode", if verify { "verify-full" } else { "prefer" });
        if let Some(path) = root_cert {
            check_root_cert(&path)?;
            url.query_pairs_mut().append_pair("sslrootcert", &path);
        }
        return Ok(url.into());
    }
    Ok(format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("doorman.sqlite").display()
    ))
}

/// Reads `DB_SSL_ROOT_CERT` now, so that a wrong path stops start-up instead of failing
/// every connection later (the database driver reads it again for each connection).
fn check_root_cert(path: &str) -> Result<(), ConfigError> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let problem = |p: String| ConfigError::new("DB_SSL_ROOT_CERT", p);
    let pem = std::fs::read(path).map_err(|e| problem(format!("cannot read '{path}': {e}")))?;
    let mut certs = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        cert.map_err(|e| problem(format!("'{path}' is not valid PEM: {e}")))?;
        certs += 1;
    }
    if certs == 0 {
        return Err(problem(format!("'{path}' holds no PEM certificate")));
    }
    Ok(())
}
