//! Secrets that must never be printed, and the ones doorman makes for itself.

use std::fmt;
use std::io::Write;
use std::path::Path;

use rand::Rng;

/// A value that never shows up in `Debug` output, so a stray `{:?}` in a log line or an
/// error message cannot leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Where a secret came from, so start-up can tell the operator where to find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Environment,
    /// Read from a file doorman generated on an earlier start.
    File(std::path::PathBuf),
    /// Generated on this start and written to the file.
    Generated(std::path::PathBuf),
}

/// Reads `data_dir/name`, or writes a fresh random secret there (readable by the owner only).
pub(super) fn load_or_generate_text(
    data_dir: &Path,
    name: &str,
) -> Result<(String, SecretSource), String> {
    let path = data_dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => {
            return Ok((text.trim().to_owned(), SecretSource::File(path)));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("{} cannot be read: {e}", path.display())),
    }
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("DATA_DIR {} cannot be created: {e}", data_dir.display()))?;
    let secret = random_text(32);
    write_private(&path, &secret)
        .map_err(|e| format!("{} cannot be written: {e}", path.display()))?;
    Ok((secret, SecretSource::Generated(path)))
}

/// `bytes` of CSPRNG output, URL-safe base64 encoded.
fn random_text(bytes: usize) -> String {
    use base64::Engine;
    let mut buf = vec![0u8; bytes];
    // ThreadRng is a CSPRNG reseeded from the operating system.
    rand::rng().fill(buf.as_mut_slice());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    // create_new: two processes starting at once must not overwrite each other's key.
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

/// Admin keys published in examples (ours and the original system's): a server running
/// with one of them is open to anyone who has read the same page.
const PLACEHOLDER_KEYS: &[&str] = &[
    "change-me-to-a-long-random-string",
    "your-super-secret-api-key",
    "your-secret-key",
    "your-api-key",
    "changeme",
    "change-me",
    "secret",
];

/// Below this the key is accepted (earlier deployments chose such keys) but called out.
pub const RECOMMENDED_KEY_LENGTH: usize = 32;

/// What is wrong with an admin key the operator chose: `Err` stops start-up, `Ok(Some)`
/// is a warning to log.
pub(super) fn check_admin_key(key: &str) -> Result<Option<String>, String> {
    if PLACEHOLDER_KEYS
        .iter()
        .any(|placeholder| key.eq_ignore_ascii_case(placeholder))
    {
        return Err(
            "is a placeholder from an example configuration; set a long random key \
             (or unset it and doorman generates one)"
                .into(),
        );
    }
    if key.len() < 16 {
        return Err("must be at least 16 characters long".into());
    }
    if key.len() < RECOMMENDED_KEY_LENGTH {
        return Ok(Some(format!(
            "SECRET_KEY is only {} characters long; anyone who guesses it controls doorman. \
             Use at least {RECOMMENDED_KEY_LENGTH} random characters (or unset it and doorman \
             generates one)",
            key.len()
        )));
    }
    Ok(None)
}
