//! Newest-first listings a page at a time, and telling an htmx request for a page's part
//! from a whole page load.

use axum::http::HeaderMap;
use axum::response::Response;

use super::layout;

pub const PAGE_SIZE: i64 = 50;

/// What the rows of page `page` (from 1) are asked for with: one more than a page, to
/// know whether an older page exists, and where they start.
fn window(page: i64) -> (i64, i64) {
    (PAGE_SIZE + 1, (page - 1) * PAGE_SIZE)
}

/// The links around one page (`templates/pager.html`).
pub struct Pager {
    pub page: i64,
    pub newer_href: Option<String>,
    pub older_href: Option<String>,
}

impl Pager {
    /// Cuts the rows read with [`window`] down to the page, and links its neighbours.
    fn cut<T>(rows: &mut Vec<T>, page: i64, href: impl Fn(i64) -> String) -> Self {
        let has_older = rows.len() as i64 > PAGE_SIZE;
        rows.truncate(PAGE_SIZE as usize);
        Self {
            page,
            newer_href: (page > 1).then(|| href(page - 1)),
            older_href: has_older.then(|| href(page + 1)),
        }
    }
}

/// Page `page` (from 1) of a newest-first listing, as `read` reads it from a limit and an
/// offset, and the links to its neighbours; a failed read is the error page.
pub async fn read_page<T, E: std::fmt::Display>(
    page: i64,
    href: impl Fn(i64) -> String,
    read: impl AsyncFnOnce(i64, i64) -> Result<Vec<T>, E>,
) -> Result<(Vec<T>, Pager), Response> {
    let (limit, offset) = window(page);
    let mut rows = read(limit, offset).await.map_err(layout::internal)?;
    let pager = Pager::cut(&mut rows, page, href);
    Ok((rows, pager))
}

/// An htmx request for part of a page; a boosted link or form wants the whole page.
pub fn wants_part(headers: &HeaderMap) -> bool {
    headers.contains_key("hx-request") && !headers.contains_key("hx-boosted")
}
