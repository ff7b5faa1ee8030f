//! Writes the example config from `Config::default()` and the sections' docs, so the example
//! can never drift from what the bridge parses.

use serde_norway::Value;

use super::{Config, FREE_FORM_KEYS, SECTIONS};

const HEADER: &str = "\
# matrix-whatsapp configuration.
#
# Every key may be left out: a missing key takes the value shown here. Keys the bridge
# does not know are refused at start, with the closest valid name.
# This file is what `matrix-whatsapp --generate-example-config` prints.
";

/// The example config: every key with its default value and a comment.
pub fn example_config() -> String {
    let mut out = String::from(HEADER);
    for (section, value) in default_sections() {
        out.push('\n');
        render_entry(&mut out, &section, &section, &value, 0);
    }
    out
}

fn default_sections() -> Vec<(String, Value)> {
    match serde_norway::to_value(Config::default()) {
        Ok(Value::Mapping(map)) => map
            .into_iter()
            .filter_map(|(key, value)| key.as_str().map(|key| (key.to_owned(), value)))
            .collect(),
        // Config derives Serialize over plain fields; anything else is a programming error.
        _ => unreachable!("Config serializes to a mapping"),
    }
}

fn render_entry(out: &mut String, path: &str, key: &str, value: &Value, depth: usize) {
    let indent = "  ".repeat(depth);
    for line in doc_for(path).unwrap_or_default().lines() {
        out.push_str(&format!("{indent}# {line}\n"));
    }
    match value {
        Value::Mapping(map) if !map.is_empty() && !FREE_FORM_KEYS.contains(&path) => {
            out.push_str(&format!("{indent}{key}:\n"));
            for (child_key, child) in map {
                let child_key = child_key.as_str().unwrap_or_default();
                render_entry(
                    out,
                    &format!("{path}.{child_key}"),
                    child_key,
                    child,
                    depth + 1,
                );
            }
        }
        Value::Mapping(map) if !map.is_empty() => {
            out.push_str(&format!("{indent}{key}:\n"));
            for (entry_key, entry) in map {
                out.push_str(&format!(
                    "{indent}  {}: {}\n",
                    scalar(entry_key),
                    scalar(entry)
                ));
            }
        }
        _ => out.push_str(&format!("{indent}{key}: {}\n", scalar(value))),
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::Mapping(map) if map.is_empty() => "{}".into(),
        Value::Sequence(items) if items.is_empty() => "[]".into(),
        // A list of scalars fits on its key's line in flow style: `[a, b, c]`.
        Value::Sequence(items) => format!(
            "[{}]",
            items.iter().map(scalar).collect::<Vec<_>>().join(", ")
        ),
        other => serde_norway::to_string(other)
            .map(|text| text.trim_end().to_owned())
            .unwrap_or_default(),
    }
}

/// The comment for a dotted key path, if one is written.
pub(super) fn doc_for(path: &str) -> Option<&'static str> {
    let (section, rest) = path.split_once('.').unwrap_or((path, ""));
    SECTIONS
        .iter()
        .find(|(name, _)| *name == section)
        .and_then(|(_, docs)| docs.iter().find(|(key, _)| *key == rest))
        .map(|(_, doc)| *doc)
}

/// Every key path of the default config, free-form maps counted as one key.
#[cfg(test)]
pub(super) fn all_key_paths() -> Vec<String> {
    fn collect(prefix: &str, map: &serde_norway::Mapping, out: &mut Vec<String>) {
        for (key, value) in map {
            let Some(key) = key.as_str() else { continue };
            let path = if prefix.is_empty() {
                key.to_owned()
            } else {
                format!("{prefix}.{key}")
            };
            if let Value::Mapping(child) = value
                && !FREE_FORM_KEYS.contains(&path.as_str())
            {
                collect(&path, child, out);
            }
            out.push(path);
        }
    }
    let mut out = Vec::new();
    if let Ok(Value::Mapping(map)) = serde_norway::to_value(Config::default()) {
        collect("", &map, &mut out);
    }
    out
}

/// Every key as a Markdown table (key, default, what it does), for docs/configuration.md:
/// the same defaults and comments as the example config.
#[cfg(test)]
pub(super) fn key_reference() -> String {
    fn rows(prefix: &str, map: &serde_norway::Mapping, out: &mut String) {
        for (key, value) in map {
            let Some(key) = key.as_str() else { continue };
            let path = if prefix.is_empty() {
                key.to_owned()
            } else {
                format!("{prefix}.{key}")
            };
            let doc = doc_for(&path)
                .unwrap_or_default()
                .replace('\n', " ")
                .replace('|', "\\|");
            match value {
                Value::Mapping(child) if !FREE_FORM_KEYS.contains(&path.as_str()) => {
                    out.push_str(&format!("| **`{path}`** | | {doc} |\n"));
                    rows(&path, child, out);
                }
                _ => {
                    // A free-form map's entries on one line, as a table cell needs.
                    let default = scalar(value).replace('\n', ", ").replace('|', "\\|");
                    let default = if default.is_empty() || default == "''" {
                        "(empty)".to_owned()
                    } else {
                        format!("`{default}`")
                    };
                    out.push_str(&format!("| `{path}` | {default} | {doc} |\n"));
                }
            }
        }
    }
    let mut out = String::from("| key | default | what it does |\n|---|---|---|\n");
    if let Ok(Value::Mapping(map)) = serde_norway::to_value(Config::default()) {
        rows("", &map, &mut out);
    }
    out
}
