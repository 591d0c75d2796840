//! Payload checks with Discord's documented limits. Each problem is reported as
//! `(path, code, message)`, and `form_errors` nests them the way Discord's 50035
//! "Invalid Form Body" answers do: `{"embeds": {"0": {"title": {"_errors": [...]}}}}`.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

pub type Problems = Vec<(String, &'static str, String)>;

/// Message flags accepted on messages the bot creates.
const SUPPRESS_EMBEDS: u64 = 1 << 2;
const EPHEMERAL: u64 = 1 << 6;
const SUPPRESS_NOTIFICATIONS: u64 = 1 << 12;
pub const IS_COMPONENTS_V2: u64 = 1 << 15;

pub fn form_errors(problems: &Problems) -> Value {
    let mut root = Value::Object(Map::new());
    for (path, code, message) in problems {
        let mut node = &mut root;
        for part in path.split('.').filter(|p| !p.is_empty()) {
            node = node
                .as_object_mut()
                .expect("object")
                .entry(part.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
        }
        let errors = node
            .as_object_mut()
            .expect("object")
            .entry("_errors")
            .or_insert_with(|| json!([]));
        errors
            .as_array_mut()
            .expect("array")
            .push(json!({"code": code, "message": message}));
    }
    root
}

fn join(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_owned()
    } else {
        format!("{prefix}.{field}")
    }
}

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

/// A string field: optional or required, with a length range in characters.
fn text(p: &mut Problems, v: &Value, path: &str, required: bool, min: usize, max: usize) {
    match v {
        Value::Null => {
            if required {
                p.push((
                    path.into(),
                    "BASE_TYPE_REQUIRED",
                    "This field is required".into(),
                ));
            }
        }
        Value::String(s) => {
            let n = s.chars().count();
            if n < min || n > max {
                if min == 0 {
                    p.push((
                        path.into(),
                        "BASE_TYPE_MAX_LENGTH",
                        format!("Must be {max} or fewer in length."),
                    ));
                } else {
                    p.push((
                        path.into(),
                        "BASE_TYPE_BAD_LENGTH",
                        format!("Must be between {min} and {max} in length."),
                    ));
                }
            }
        }
        _ => p.push((path.into(), "BASE_TYPE_STRING", "Must be a string.".into())),
    }
}

fn array<'a>(p: &mut Problems, v: &'a Value, path: &str, max: usize) -> &'a [Value] {
    match v {
        Value::Null => &[],
        Value::Array(a) => {
            if a.len() > max {
                p.push((
                    path.into(),
                    "BASE_TYPE_MAX_LENGTH",
                    format!("Must be {max} or fewer in length."),
                ));
            }
            a
        }
        _ => {
            p.push((path.into(), "BASE_TYPE_LIST", "Must be a list.".into()));
            &[]
        }
    }
}

/// A message body (Create Message, Edit Message, interaction responses, followups).
/// `creating` demands some content; edits may change a single field.
pub fn message(body: &Value, creating: bool, allowed_flags: u64) -> Problems {
    let mut p = Problems::new();
    if !body.is_object() {
        p.push((
            String::new(),
            "DICT_TYPE_CONVERT",
            "Only dictionaries may be used in a DictType".into(),
        ));
        return p;
    }
    let flags = body.get("flags").and_then(Value::as_u64).unwrap_or(0);
    if flags & !(allowed_flags | SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | IS_COMPONENTS_V2) != 0 {
        p.push((
            "flags".into(),
            "MESSAGE_FLAGS_INVALID",
            "Invalid flags".into(),
        ));
    }
    let v2 = flags & IS_COMPONENTS_V2 != 0;
    let content = body.get("content").unwrap_or(&Value::Null);
    text(&mut p, content, "content", false, 0, 2000);
    let embeds = array(
        &mut p,
        body.get("embeds").unwrap_or(&Value::Null),
        "embeds",
        10,
    );
    let mut total = 0;
    for (i, e) in embeds.iter().enumerate() {
        total += embed(&mut p, e, &format!("embeds.{i}"));
    }
    if total > 6000 {
        p.push((
            "embeds".into(),
            "MAX_EMBED_SIZE_EXCEEDED",
            "Embed size exceeds maximum size of 6000".into(),
        ));
    }
    let components = body.get("components").unwrap_or(&Value::Null);
    let mut ids = HashSet::new();
    if v2 {
        if chars(content) > 0 || !embeds.is_empty() {
            p.push((
                "content".into(),
                "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                "The 'content' and 'embeds' fields cannot be used when using MessageFlags.IS_COMPONENTS_V2".into(),
            ));
        }
        let list = array(&mut p, components, "components", 40);
        for (i, c) in list.iter().enumerate() {
            v2_component(&mut p, c, &format!("components.{i}"), &mut ids);
        }
    } else {
        let rows = array(&mut p, components, "components", 5);
        for (i, row) in rows.iter().enumerate() {
            action_row(&mut p, row, &format!("components.{i}"), &mut ids);
        }
    }
    if creating {
        let has_stickers = body
            .get("sticker_ids")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        let has_components = components.as_array().is_some_and(|a| !a.is_empty());
        if chars(content) == 0
            && embeds.is_empty()
            && !has_components
            && !has_stickers
            && p.is_empty()
        {
            p.push((
                String::new(),
                "EMPTY",
                "Cannot send an empty message".into(),
            ));
        }
    }
    p
}

fn embed(p: &mut Problems, e: &Value, path: &str) -> usize {
    if !e.is_object() {
        p.push((
            path.into(),
            "DICT_TYPE_CONVERT",
            "Only dictionaries may be used in a DictType".into(),
        ));
        return 0;
    }
    let get = |k: &str| e.get(k).unwrap_or(&Value::Null);
    text(p, get("title"), &join(path, "title"), false, 0, 256);
    text(
        p,
        get("description"),
        &join(path, "description"),
        false,
        0,
        4096,
    );
    let mut total = chars(get("title")) + chars(get("description"));
    if let Some(c) = e.get("color")
        && !c.is_null()
        && c.as_u64().is_none_or(|c| c > 0xFF_FFFF)
    {
        p.push((
            join(path, "color"),
            "NUMBER_TYPE_MAX",
            "int value should be less than or equal to 16777215.".into(),
        ));
    }
    if let Some(url) = e.get("url").and_then(Value::as_str)
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        p.push((
            join(path, "url"),
            "URL_TYPE_INVALID_URL",
            "Not a well formed URL.".into(),
        ));
    }
    if let Some(footer) = e.get("footer").filter(|f| !f.is_null()) {
        let t = footer.get("text").unwrap_or(&Value::Null);
        text(p, t, &join(path, "footer.text"), true, 1, 2048);
        total += chars(t);
    }
    if let Some(author) = e.get("author").filter(|f| !f.is_null()) {
        let n = author.get("name").unwrap_or(&Value::Null);
        text(p, n, &join(path, "author.name"), true, 1, 256);
        total += chars(n);
    }
    let fields = array(p, get("fields"), &join(path, "fields"), 25);
    for (i, f) in fields.iter().enumerate() {
        let fp = join(path, &format!("fields.{i}"));
        let name = f.get("name").unwrap_or(&Value::Null);
        let value = f.get("value").unwrap_or(&Value::Null);
        text(p, name, &join(&fp, "name"), true, 1, 256);
        text(p, value, &join(&fp, "value"), true, 1, 1024);
        total += chars(name) + chars(value);
    }
    total
}

fn custom_id(p: &mut Problems, c: &Value, path: &str, ids: &mut HashSet<String>) {
    let id = c.get("custom_id").unwrap_or(&Value::Null);
    text(p, id, &join(path, "custom_id"), true, 1, 100);
    if let Some(s) = id.as_str()
        && !ids.insert(s.to_owned())
    {
        p.push((
            join(path, "custom_id"),
            "COMPONENT_CUSTOM_ID_DUPLICATED",
            "Component custom id cannot be duplicated".into(),
        ));
    }
}

fn kind(c: &Value) -> u64 {
    c.get("type").and_then(Value::as_u64).unwrap_or(0)
}

fn action_row(p: &mut Problems, row: &Value, path: &str, ids: &mut HashSet<String>) {
    if kind(row) != 1 {
        p.push((
            join(path, "type"),
            "UNION_TYPE_CHOICES",
            "Value of field \"type\" must be one of (1,).".into(),
        ));
        return;
    }
    let children = row.get("components").unwrap_or(&Value::Null);
    let list = array(p, children, &join(path, "components"), 5);
    if list.is_empty() {
        p.push((
            join(path, "components"),
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 5 in length.".into(),
        ));
    }
    let selects = list.iter().filter(|c| matches!(kind(c), 3 | 5..=8)).count();
    if selects > 0 && list.len() > 1 {
        p.push((
            join(path, "components"),
            "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
            "The specified component exceeds the maximum width".into(),
        ));
    }
    for (i, c) in list.iter().enumerate() {
        let cp = join(path, &format!("components.{i}"));
        match kind(c) {
            2 => button(p, c, &cp, ids),
            3 | 5..=8 => select(p, c, &cp, ids),
            _ => p.push((
                join(&cp, "type"),
                "UNION_TYPE_CHOICES",
                "Value of field \"type\" must be one of (2, 3, 5, 6, 7, 8).".into(),
            )),
        }
    }
}

fn button(p: &mut Problems, c: &Value, path: &str, ids: &mut HashSet<String>) {
    let style = c.get("style").and_then(Value::as_u64).unwrap_or(0);
    text(
        p,
        c.get("label").unwrap_or(&Value::Null),
        &join(path, "label"),
        false,
        0,
        80,
    );
    match style {
        1..=4 => custom_id(p, c, path, ids),
        5 => {
            if c.get("custom_id").is_some_and(|v| !v.is_null()) {
                p.push((
                    join(path, "custom_id"),
                    "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED",
                    "A custom id cannot be specified for link buttons".into(),
                ));
            }
            text(
                p,
                c.get("url").unwrap_or(&Value::Null),
                &join(path, "url"),
                true,
                1,
                512,
            );
        }
        6 => {
            if c.get("sku_id").is_none_or(Value::is_null) {
                p.push((
                    join(path, "sku_id"),
                    "BASE_TYPE_REQUIRED",
                    "This field is required".into(),
                ));
            }
        }
        _ => p.push((
            join(path, "style"),
            "BASE_TYPE_CHOICES",
            "Value must be one of {1, 2, 3, 4, 5, 6}.".into(),
        )),
    }
    if style != 6
        && c.get("label").is_none_or(Value::is_null)
        && c.get("emoji").is_none_or(Value::is_null)
    {
        p.push((
            path.into(),
            "BUTTON_COMPONENT_INVALID",
            "A label or an emoji is required".into(),
        ));
    }
}

fn select(p: &mut Problems, c: &Value, path: &str, ids: &mut HashSet<String>) {
    custom_id(p, c, path, ids);
    text(
        p,
        c.get("placeholder").unwrap_or(&Value::Null),
        &join(path, "placeholder"),
        false,
        0,
        150,
    );
    if kind(c) == 3 {
        let opts = c.get("options").unwrap_or(&Value::Null);
        let list = array(p, opts, &join(path, "options"), 25);
        if list.is_empty() {
            p.push((
                join(path, "options"),
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 25 in length.".into(),
            ));
        }
        for (i, o) in list.iter().enumerate() {
            let op = join(path, &format!("options.{i}"));
            text(
                p,
                o.get("label").unwrap_or(&Value::Null),
                &join(&op, "label"),
                true,
                1,
                100,
            );
            text(
                p,
                o.get("value").unwrap_or(&Value::Null),
                &join(&op, "value"),
                true,
                1,
                100,
            );
        }
    }
}

fn v2_component(p: &mut Problems, c: &Value, path: &str, ids: &mut HashSet<String>) {
    match kind(c) {
        1 => action_row(p, c, path, ids),
        10 => text(
            p,
            c.get("content").unwrap_or(&Value::Null),
            &join(path, "content"),
            true,
            1,
            4000,
        ),
        9 | 17 => {
            let children = array(
                p,
                c.get("components").unwrap_or(&Value::Null),
                &join(path, "components"),
                40,
            );
            for (i, child) in children.iter().enumerate() {
                v2_component(p, child, &join(path, &format!("components.{i}")), ids);
            }
            if let Some(acc) = c.get("accessory").filter(|a| kind(a) == 2) {
                button(p, acc, &join(path, "accessory"), ids);
            }
        }
        11..=14 => {}
        _ => p.push((
            join(path, "type"),
            "UNION_TYPE_CHOICES",
            "Value of field \"type\" must be one of (1, 9, 10, 11, 12, 13, 14, 17).".into(),
        )),
    }
}

/// The `data` of a MODAL interaction response (type 9).
pub fn modal(data: &Value) -> Problems {
    let mut p = Problems::new();
    let mut ids = HashSet::new();
    text(
        &mut p,
        data.get("custom_id").unwrap_or(&Value::Null),
        "data.custom_id",
        true,
        1,
        100,
    );
    text(
        &mut p,
        data.get("title").unwrap_or(&Value::Null),
        "data.title",
        true,
        1,
        45,
    );
    let comps = data.get("components").unwrap_or(&Value::Null);
    let list = array(&mut p, comps, "data.components", 5);
    if list.is_empty() {
        p.push((
            "data.components".into(),
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 5 in length.".into(),
        ));
    }
    for (i, c) in list.iter().enumerate() {
        let cp = format!("data.components.{i}");
        match kind(c) {
            1 => {
                let children = c
                    .get("components")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                if children.len() != 1 {
                    p.push((
                        join(&cp, "components"),
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be between 1 and 1 in length.".into(),
                    ));
                }
                for (j, t) in children.iter().enumerate() {
                    let tp = join(&cp, &format!("components.{j}"));
                    if kind(t) != 4 {
                        p.push((
                            join(&tp, "type"),
                            "UNION_TYPE_CHOICES",
                            "Value of field \"type\" must be one of (4,).".into(),
                        ));
                        continue;
                    }
                    text_input(&mut p, t, &tp, true, &mut ids);
                }
            }
            18 => {
                text(
                    &mut p,
                    c.get("label").unwrap_or(&Value::Null),
                    &join(&cp, "label"),
                    true,
                    1,
                    45,
                );
                text(
                    &mut p,
                    c.get("description").unwrap_or(&Value::Null),
                    &join(&cp, "description"),
                    false,
                    0,
                    100,
                );
                let inner = c.get("component").unwrap_or(&Value::Null);
                let ip = join(&cp, "component");
                match kind(inner) {
                    4 => text_input(&mut p, inner, &ip, false, &mut ids),
                    3 | 5..=8 => select(&mut p, inner, &ip, &mut ids),
                    19 | 21 | 22 | 23 => custom_id(&mut p, inner, &ip, &mut ids),
                    _ => p.push((join(&ip, "type"), "UNION_TYPE_CHOICES", "Value of field \"type\" must be one of (3, 4, 5, 6, 7, 8, 19, 21, 22, 23).".into())),
                }
            }
            10 => text(
                &mut p,
                c.get("content").unwrap_or(&Value::Null),
                &join(&cp, "content"),
                true,
                1,
                4000,
            ),
            _ => p.push((
                join(&cp, "type"),
                "UNION_TYPE_CHOICES",
                "Value of field \"type\" must be one of (1, 10, 18).".into(),
            )),
        }
    }
    p
}

fn text_input(
    p: &mut Problems,
    t: &Value,
    path: &str,
    needs_label: bool,
    ids: &mut HashSet<String>,
) {
    custom_id(p, t, path, ids);
    let style = t.get("style").and_then(Value::as_u64);
    if !matches!(style, Some(1 | 2)) {
        p.push((
            join(path, "style"),
            "BASE_TYPE_CHOICES",
            "Value must be one of {1, 2}.".into(),
        ));
    }
    text(
        p,
        t.get("label").unwrap_or(&Value::Null),
        &join(path, "label"),
        needs_label,
        1,
        45,
    );
    text(
        p,
        t.get("placeholder").unwrap_or(&Value::Null),
        &join(path, "placeholder"),
        false,
        0,
        100,
    );
    text(
        p,
        t.get("value").unwrap_or(&Value::Null),
        &join(path, "value"),
        false,
        0,
        4000,
    );
    let min = t.get("min_length").and_then(Value::as_u64);
    let max = t.get("max_length").and_then(Value::as_u64);
    if min.is_some_and(|m| m > 4000) {
        p.push((
            join(path, "min_length"),
            "NUMBER_TYPE_MAX",
            "int value should be less than or equal to 4000.".into(),
        ));
    }
    if max.is_some_and(|m| m == 0 || m > 4000) {
        p.push((
            join(path, "max_length"),
            "NUMBER_TYPE_MAX",
            "int value should be between 1 and 4000.".into(),
        ));
    }
    if let (Some(a), Some(b)) = (min, max)
        && a > b
    {
        p.push((
            join(path, "min_length"),
            "BASE_TYPE_BAD_LENGTH",
            "min_length must not exceed max_length".into(),
        ));
    }
}

fn command_name_ok(name: &str, chat_input: bool) -> bool {
    let n = name.chars().count();
    (1..=32).contains(&n)
        && (!chat_input
            || name.chars().all(|c| {
                c == '-' || c == '_' || c == '\'' || (c.is_alphanumeric() && !c.is_uppercase())
            }))
}

/// One application command (Create / Bulk Overwrite).
pub fn command(c: &Value, path: &str) -> Problems {
    let mut p = Problems::new();
    let kind = c.get("type").and_then(Value::as_u64).unwrap_or(1);
    let chat = kind == 1;
    match c.get("name").and_then(Value::as_str) {
        Some(name) if command_name_ok(name, chat) => {}
        Some(_) => p.push((
            join(path, "name"),
            "APPLICATION_COMMAND_INVALID_NAME",
            "Command name is invalid".into(),
        )),
        None => p.push((
            join(path, "name"),
            "BASE_TYPE_REQUIRED",
            "This field is required".into(),
        )),
    }
    let desc = c.get("description").unwrap_or(&Value::Null);
    if chat {
        text(&mut p, desc, &join(path, "description"), true, 1, 100);
    } else if chars(desc) > 0 {
        p.push((
            join(path, "description"),
            "APPLICATION_COMMAND_INVALID_DESCRIPTION",
            "Description must be empty for user and message commands".into(),
        ));
    }
    if let Some(perms) = c.get("default_member_permissions")
        && !perms.is_null()
        && perms.as_str().is_none_or(|s| s.parse::<u64>().is_err())
    {
        p.push((
            join(path, "default_member_permissions"),
            "BASE_TYPE_STRING",
            "Must be a string of a permission integer.".into(),
        ));
    }
    options(
        &mut p,
        c.get("options").unwrap_or(&Value::Null),
        &join(path, "options"),
    );
    p
}

fn options(p: &mut Problems, opts: &Value, path: &str) {
    let list = array(p, opts, path, 25);
    let mut names = HashSet::new();
    let mut seen_optional = false;
    for (i, o) in list.iter().enumerate() {
        let op = join(path, &format!("{i}"));
        let kind = o.get("type").and_then(Value::as_u64).unwrap_or(0);
        if !(1..=11).contains(&kind) {
            p.push((
                join(&op, "type"),
                "BASE_TYPE_CHOICES",
                "Value must be one of {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}.".into(),
            ));
        }
        match o.get("name").and_then(Value::as_str) {
            Some(n) if command_name_ok(n, true) => {
                if !names.insert(n.to_owned()) {
                    p.push((
                        join(&op, "name"),
                        "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                        "Option name already exists".into(),
                    ));
                }
            }
            _ => p.push((
                join(&op, "name"),
                "APPLICATION_COMMAND_INVALID_NAME",
                "Command name is invalid".into(),
            )),
        }
        text(
            p,
            o.get("description").unwrap_or(&Value::Null),
            &join(&op, "description"),
            true,
            1,
            100,
        );
        let required = o.get("required").and_then(Value::as_bool).unwrap_or(false);
        if kind > 2 {
            if required && seen_optional {
                p.push((
                    join(&op, "required"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options".into(),
                ));
            }
            seen_optional |= !required;
        }
        array(
            p,
            o.get("choices").unwrap_or(&Value::Null),
            &join(&op, "choices"),
            25,
        );
        if kind <= 2 {
            options(
                p,
                o.get("options").unwrap_or(&Value::Null),
                &join(&op, "options"),
            );
        }
    }
}
