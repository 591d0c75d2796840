//! The invitation's templates, shipped in the binary (or an operator's files), rendered
//! for one recipient with every inserted value escaped in the HTML body.
//!
//! The syntax is deliberately tiny: `{{name}}` inserts a value, `{{#key}}...{{/key}}`
//! keeps its content only when the value is set. Anything else in braces is an error at
//! start-up, so a typo in an operator's template is found before the first email.

use std::path::Path;

use super::compose::Values;

const HTML: &str = include_str!("templates/invitation.html");
const TEXT: &str = include_str!("templates/invitation.txt");
const HTML_FILE: &str = "invitation.html";
const TEXT_FILE: &str = "invitation.txt";

/// The values a template may use.
pub const KEYS: [&str; 9] = [
    "name",
    "email",
    "token",
    "expires_at",
    "expires_in_days",
    "community",
    "invite_url",
    "join_url",
    "reminder",
];

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("{file} cannot be read: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: {problem}")]
    Syntax { file: String, problem: String },
}

/// The HTML and plain-text templates, checked.
#[derive(Debug, Clone)]
pub struct Templates {
    html: String,
    text: String,
}

impl Templates {
    /// The built-in templates, each replaced by the file of the same name in `dir` if
    /// there is one.
    pub fn load(dir: Option<&Path>) -> Result<Self, TemplateError> {
        let read = |file: &str, builtin: &str| -> Result<String, TemplateError> {
            let Some(dir) = dir else {
                return Ok(builtin.to_owned());
            };
            let path = dir.join(file);
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => builtin.to_owned(),
                Err(source) => {
                    return Err(TemplateError::Read {
                        file: path.display().to_string(),
                        source,
                    });
                }
            };
            check(&text).map_err(|problem| TemplateError::Syntax {
                file: path.display().to_string(),
                problem,
            })?;
            Ok(text)
        };
        Ok(Self {
            html: read(HTML_FILE, HTML)?,
            text: read(TEXT_FILE, TEXT)?,
        })
    }

    pub fn html(&self, values: &Values) -> String {
        render(&self.html, &|key| values.get(key).map(|v| escape_html(&v)))
    }

    pub fn text(&self, values: &Values) -> String {
        render(&self.text, &|key| values.get(key))
    }
}

pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One piece of a parsed template.
enum Piece<'a> {
    Text(&'a str),
    Value(&'a str),
    Open(&'a str),
    Close(&'a str),
}

fn pieces(template: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push(Piece::Text(&rest[..start]));
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| "a '{{' is never closed with '}}'".to_owned())?;
        let tag = after[..end].trim();
        let piece = if let Some(key) = tag.strip_prefix('#') {
            Piece::Open(key.trim())
        } else if let Some(key) = tag.strip_prefix('/') {
            Piece::Close(key.trim())
        } else {
            Piece::Value(tag)
        };
        let key = match piece {
            Piece::Open(k) | Piece::Close(k) | Piece::Value(k) => k,
            Piece::Text(_) => unreachable!(),
        };
        if !KEYS.contains(&key) {
            return Err(format!(
                "unknown placeholder {{{{{tag}}}}}; known: {}",
                KEYS.join(", ")
            ));
        }
        out.push(piece);
        rest = &after[end + 2..];
    }
    out.push(Piece::Text(rest));
    Ok(out)
}

/// Checks a template's syntax: known keys, sections closed in order.
fn check(template: &str) -> Result<(), String> {
    let mut open = Vec::new();
    for piece in pieces(template)? {
        match piece {
            Piece::Open(key) => open.push(key),
            Piece::Close(key) => match open.pop() {
                Some(k) if k == key => {}
                _ => return Err(format!("{{{{/{key}}}}} does not close the open section")),
            },
            _ => {}
        }
    }
    match open.pop() {
        Some(key) => Err(format!("{{{{#{key}}}}} is never closed")),
        None => Ok(()),
    }
}

fn render(template: &str, value: &dyn Fn(&str) -> Option<String>) -> String {
    let Ok(pieces) = pieces(template) else {
        // Templates are checked when loaded; the built-in ones by a test.
        return template.to_owned();
    };
    let mut out = String::with_capacity(template.len() + 256);
    // How many enclosing sections are switched off.
    let mut hidden = 0usize;
    let mut stack = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Text(text) if hidden == 0 => out.push_str(text),
            Piece::Value(key) if hidden == 0 => out.push_str(&value(key).unwrap_or_default()),
            Piece::Open(key) => {
                let shown = hidden == 0 && value(key).is_some_and(|v| !v.is_empty());
                if !shown {
                    hidden += 1;
                }
                stack.push(shown);
            }
            Piece::Close(_) if stack.pop() == Some(false) => hidden -= 1,
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values {
        Values {
            name: "<script>alert('x')</script> & Co".into(),
            email: "ana@example.org".into(),
            token: "ABCD-EFGH".into(),
            expires_at: "2026-12-01 14:00 UTC".into(),
            expires_in_days: "7".into(),
            community: "Rustaceans".into(),
            invite_url: Some("https://discord.gg/abc".into()),
            join_url: Some("https://doorman.example.org/join/ABCDEFGH".into()),
            reminder: false,
        }
    }

    #[test]
    fn the_built_in_templates_are_valid() {
        check(HTML).unwrap();
        check(TEXT).unwrap();
    }

    #[test]
    fn names_arrive_as_text_in_html_and_unchanged_in_plain_text() {
        let t = Templates::load(None).unwrap();
        let html = t.html(&values());
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co"));
        let text = t.text(&values());
        assert!(text.contains("Hello <script>alert('x')</script> & Co,"));
    }

    #[test]
    fn the_email_shows_token_link_and_validity() {
        let t = Templates::load(None).unwrap();
        for body in [t.html(&values()), t.text(&values())] {
            for needle in [
                "ABCD-EFGH",
                "https://discord.gg/abc",
                "7 days",
                "2026-12-01 14:00 UTC",
                "Rustaceans",
            ] {
                assert!(body.contains(needle), "{needle} missing from {body}");
            }
            assert!(!body.contains("reminder"), "{body}");
        }
    }

    #[test]
    fn sections_disappear_when_their_value_is_unset() {
        let t = Templates::load(None).unwrap();
        let mut v = values();
        v.invite_url = None;
        v.reminder = true;
        let text = t.text(&v);
        assert!(!text.contains("Join the Discord server"), "{text}");
        assert!(text.starts_with("A reminder"), "{text}");
    }

    #[test]
    fn an_operator_template_replaces_the_built_in_one_and_typos_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("invitation.txt"), "Hi {{name}}: {{token}}").unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        assert_eq!(
            t.text(&values()),
            "Hi <script>alert('x')</script> & Co: ABCD-EFGH"
        );
        assert!(
            t.html(&values()).contains("<!doctype html>"),
            "the HTML stays built in"
        );

        std::fs::write(dir.path().join("invitation.html"), "Hi {{nmae}}").unwrap();
        let error = Templates::load(Some(dir.path())).unwrap_err().to_string();
        assert!(
            error.contains("invitation.html") && error.contains("nmae"),
            "{error}"
        );
        std::fs::write(dir.path().join("invitation.html"), "{{#reminder}}x").unwrap();
        assert!(Templates::load(Some(dir.path())).is_err());
    }
}
