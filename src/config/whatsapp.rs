use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use super::{ConfigError, Docs};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WhatsappConfig {
    pub websocket_url: Url,
    pub version: String,
    pub device_name: String,
    pub phone_watchdog: PhoneWatchdogConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PhoneWatchdogConfig {
    #[serde(with = "super::duration")]
    pub warn_after: Duration,
    #[serde(with = "super::duration")]
    pub ping_after: Duration,
    #[serde(with = "super::duration")]
    pub check_interval: Duration,
}

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

impl Default for WhatsappConfig {
    fn default() -> Self {
        Self {
            websocket_url: Url::parse("wss://web.whatsapp.com/ws/chat").expect("constant URL"),
            version: String::new(),
            device_name: "Matrix bridge".into(),
            phone_watchdog: PhoneWatchdogConfig::default(),
        }
    }
}

impl Default for PhoneWatchdogConfig {
    fn default() -> Self {
        Self {
            warn_after: 12 * DAY,
            ping_after: 10 * DAY,
            check_interval: Duration::from_secs(60 * 60),
        }
    }
}

pub(super) const DOCS: Docs = &[
    ("", "How the bridge connects to WhatsApp."),
    (
        "websocket_url",
        "WhatsApp's websocket endpoint. Change it only to go through a proxy.",
    ),
    (
        "version",
        "The WhatsApp Web version the bridge announces, like 2.3000.1023456789. Empty: ask\nWhatsApp for the current one at start.",
    ),
    (
        "device_name",
        "The name your phone shows for the bridge under \"Linked devices\".",
    ),
    (
        "phone_watchdog",
        "WhatsApp unlinks companion devices when the phone has been offline for about 14 days.",
    ),
    (
        "phone_watchdog.warn_after",
        "Warn in the management room when the phone has not been seen for this long.",
    ),
    (
        "phone_watchdog.ping_after",
        "After this long without the phone, send it a request (at most daily) that an online\nphone answers, so a phone that is merely idle is seen again.",
    ),
    (
        "phone_watchdog.check_interval",
        "How often the phone's last activity is checked.",
    ),
];

impl WhatsappConfig {
    /// The configured version as (primary, secondary, tertiary), if one is set.
    pub fn version_parts(&self) -> Option<(u32, u32, u32)> {
        let mut parts = self.version.split('.').map(|part| part.parse::<u32>().ok());
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(Some(a)), Some(Some(b)), Some(Some(c)), None) => Some((a, b, c)),
            _ => None,
        }
    }

    pub(super) fn validate(&self, errors: &mut Vec<ConfigError>) {
        if !matches!(self.websocket_url.scheme(), "ws" | "wss") {
            errors.push(ConfigError::invalid(
                "whatsapp.websocket_url",
                format!("`{}` must be a ws:// or wss:// URL", self.websocket_url),
            ));
        }
        if !self.version.is_empty() && self.version_parts().is_none() {
            errors.push(ConfigError::invalid(
                "whatsapp.version",
                format!(
                    "`{}` must be empty or three numbers like 2.3000.1023456789",
                    self.version
                ),
            ));
        }
        if self.device_name.trim().is_empty() {
            errors.push(ConfigError::invalid(
                "whatsapp.device_name",
                "must not be empty",
            ));
        }
        let watchdog = &self.phone_watchdog;
        if watchdog.ping_after > watchdog.warn_after {
            errors.push(ConfigError::invalid(
                "whatsapp.phone_watchdog.ping_after",
                "must not be longer than whatsapp.phone_watchdog.warn_after (ping first, then warn)",
            ));
        }
        if watchdog.check_interval < Duration::from_secs(60) {
            errors.push(ConfigError::invalid(
                "whatsapp.phone_watchdog.check_interval",
                "must be at least 1m",
            ));
        }
    }
}
