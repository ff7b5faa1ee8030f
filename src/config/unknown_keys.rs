//! Rejects keys the bridge does not know, naming the closest valid one: a typo in a config
//! key must never be silently ignored.

use serde_norway::{Mapping, Value};

use super::{Config, ConfigError, FREE_FORM_KEYS};

pub(super) fn check(raw: &Value) -> Result<(), ConfigError> {
    let known = serde_norway::to_value(Config::default())
        .map_err(|err| ConfigError::Syntax(err.to_string()))?;
    let mut errors = Vec::new();
    if let (Value::Mapping(raw), Value::Mapping(known)) = (raw, &known) {
        walk("", raw, known, &mut errors);
    } else if !matches!(raw, Value::Mapping(_)) {
        return Err(ConfigError::Syntax(
            "the file must be a mapping of sections (homeserver:, appservice:, …)".into(),
        ));
    }
    match ConfigError::from_list(errors) {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

fn walk(prefix: &str, raw: &Mapping, known: &Mapping, errors: &mut Vec<ConfigError>) {
    for (key, value) in raw {
        let Some(name) = key.as_str() else {
            errors.push(ConfigError::WrongType {
                key: format!("{prefix}{key:?}"),
                problem: "keys must be text".into(),
            });
            continue;
        };
        let path = format!("{prefix}{name}");
        match known.get(name) {
            None => errors.push(ConfigError::UnknownKey {
                suggestion: closest(name, known).map(|best| format!("{prefix}{best}")),
                key: path,
            }),
            Some(Value::Mapping(known_child)) if !FREE_FORM_KEYS.contains(&path.as_str()) => {
                if let Value::Mapping(raw_child) = value {
                    walk(&format!("{path}."), raw_child, known_child, errors);
                }
            }
            Some(_) => {}
        }
    }
}

fn closest<'a>(name: &str, known: &'a Mapping) -> Option<&'a str> {
    known
        .keys()
        .filter_map(Value::as_str)
        .map(|candidate| (strsim::jaro_winkler(name, candidate), candidate))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}
