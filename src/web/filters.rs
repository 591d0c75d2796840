//! What a listing's address asks for (filters, a page), read leniently: a filter that
//! cannot be used is no filter; and the same choices written back into its links.

/// Far enough back for any listing; bounds the offset a URL can ask for.
pub const MAX_PAGE: i64 = 100_000;

/// A value the URL gives: blank is not given.
pub fn given(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// A row's id, as a filter or a cursor: only a positive whole number is one.
pub fn positive_id(value: Option<&str>) -> Option<i64> {
    given(value)
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|v| *v > 0)
}

/// The page asked for, from 1 to [`MAX_PAGE`]; the first without one.
pub fn page_number(value: Option<&str>) -> i64 {
    given(value)
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .clamp(1, MAX_PAGE)
}

/// The listing at `path` with the pairs that have a value, in their order, as its query.
pub fn href<'a>(path: &str, pairs: impl IntoIterator<Item = (&'a str, Option<String>)>) -> String {
    let mut url = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        if let Some(value) = value {
            url.append_pair(name, &value);
        }
    }
    match url.finish() {
        query if query.is_empty() => path.to_owned(),
        query => format!("{path}?{query}"),
    }
}

/// One option of a filter's menu.
pub struct Choice {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

/// A filter's menu: its `(value, label)` options, the one `chosen` selected.
pub fn choices(
    options: impl IntoIterator<Item = (&'static str, &'static str)>,
    chosen: Option<&str>,
) -> Vec<Choice> {
    options
        .into_iter()
        .map(|(value, label)| Choice {
            value,
            label,
            selected: chosen == Some(value),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_values_are_not_given() {
        assert_eq!(given(Some("  ")), None);
        assert_eq!(given(Some(" ana ")), Some("ana"));
        assert_eq!(positive_id(Some("-3")), None);
        assert_eq!(positive_id(Some("zz")), None);
        assert_eq!(positive_id(Some(" 7 ")), Some(7));
        assert_eq!(page_number(Some("0")), 1);
        assert_eq!(page_number(None), 1);
        assert_eq!(page_number(Some("999999999")), MAX_PAGE);
    }

    #[test]
    fn links_carry_only_the_pairs_with_a_value() {
        let pairs = [("q", Some("a&b".to_owned())), ("page", None)];
        assert_eq!(href("/admin/x", pairs), "/admin/x?q=a%26b");
        assert_eq!(href("/admin/x", [("page", None)]), "/admin/x");
    }

    #[test]
    fn the_chosen_option_is_selected() {
        let menu = choices([("a", "A"), ("b", "B")], Some("b"));
        let selected: Vec<_> = menu.iter().map(|c| c.selected).collect();
        assert_eq!(selected, [false, true]);
        assert!(choices([("a", "A")], None).iter().all(|c| !c.selected));
    }
}
