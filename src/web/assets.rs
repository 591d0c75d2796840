//! The admin UI's static files, embedded in the binary and served under
//! `/admin/assets/` with a content hash in each name, so a browser may keep them forever
//! and still picks up a new version the moment the name changes.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

pub const PREFIX: &str = "/admin/assets/";

struct Asset {
    /// The name as written here; served as `stem.<hash>.ext`.
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

/// An asset from `assets/<dir>/<name>`, served as `name`.
macro_rules! asset {
    ($dir:literal / $name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            bytes: include_bytes!(concat!("../../assets/", $dir, "/", $name)),
        }
    };
}

const SCRIPT: &str = "text/javascript; charset=utf-8";

const FILES: &[Asset] = &[
    asset!("web" / "doorman.css", "text/css; charset=utf-8"),
    asset!("vendor" / "htmx-2.0.11.min.js", SCRIPT),
    asset!("web" / "countdown.js", SCRIPT),
    asset!("web" / "invitees.js", SCRIPT),
    asset!("web" / "icon.svg", "image/svg+xml"),
];

struct Served {
    asset: &'static Asset,
    /// `stem.<hash>.ext`.
    file: String,
}

static SERVED: LazyLock<Vec<Served>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|asset| Served {
            asset,
            file: hashed_name(asset.name, asset.bytes),
        })
        .collect()
});

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn hashed_name(name: &str, bytes: &[u8]) -> String {
    let hash = &sha256_hex(bytes)[..12];
    match name.rsplit_once('.') {
        Some((stem, ext)) => format!("{stem}.{hash}.{ext}"),
        None => format!("{name}.{hash}"),
    }
}

/// The address a page links to for the asset written here as `name`.
pub fn url(name: &str) -> String {
    let served = SERVED
        .iter()
        .find(|s| s.asset.name == name)
        .unwrap_or_else(|| panic!("no asset named {name}"));
    format!("{PREFIX}{}", served.file)
}

pub async fn serve(Path(file): Path<String>) -> Response {
    let Some(served) = SERVED.iter().find(|s| s.file == file) else {
        return (StatusCode::NOT_FOUND, "Not found").into_response();
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(served.asset.content_type),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        served.asset.bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vendored_htmx_is_the_one_recorded() {
        let readme = include_str!("../../assets/vendor/README.md");
        let htmx = FILES.iter().find(|a| a.name.starts_with("htmx-")).unwrap();
        let row = readme
            .lines()
            .find(|line| line.contains(&format!("`{}`", htmx.name)))
            .expect("the README records the vendored file");
        assert!(
            row.contains(&sha256_hex(htmx.bytes)),
            "{} does not match its recorded sha256",
            htmx.name
        );
    }

    #[test]
    fn names_carry_their_content_hash() {
        assert_eq!(hashed_name("a.css", b"x"), "a.2d711642b726.css");
        assert!(url("doorman.css").starts_with("/admin/assets/doorman."));
        let names: Vec<_> = SERVED.iter().map(|s| s.file.as_str()).collect();
        let mut unique = names.clone();
        unique.dedup();
        assert_eq!(names, unique);
    }
}
