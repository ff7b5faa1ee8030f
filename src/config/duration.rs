//! Durations in the config are human strings ("90s", "1m", "12days"), not bare numbers,
//! so an admin never has to guess the unit.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&humantime::format_duration(*value).to_string())
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    humantime::parse_duration(text.trim()).map_err(|err| {
        serde::de::Error::custom(format!(
            "`{text}` is not a duration ({err}); write it like `30s`, `1m`, `12h` or `12days`"
        ))
    })
}
