//! Sections for the bridge's own operation: provisioning API, metrics and logging.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Docs};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProvisioningConfig {
    pub prefix: String,
    pub shared_secret: String,
    /// The device API's HTTP Basic credentials: per username, its password and the
    /// Matrix user whose logins it manages.
    pub device_api: BTreeMap<String, DeviceApiCredential>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceApiCredential {
    pub password: String,
    pub user_id: String,
}

impl Default for ProvisioningConfig {
    fn default() -> Self {
        Self {
            prefix: "/_matrix/provision".into(),
            shared_secret: String::new(),
            device_api: BTreeMap::new(),
        }
    }
}

pub(super) const PROVISIONING_DOCS: Docs = &[
    (
        "",
        "The HTTP API that dashboards and scripts use to log devices in.",
    ),
    ("prefix", "The path under which the API is served."),
    (
        "shared_secret",
        "The bearer token clients must present; empty disables the API.\nCan also come from the MATRIX_WHATSAPP_PROVISIONING_SHARED_SECRET environment variable.",
    ),
    (
        "device_api",
        "The device API (/devices) and the login page (/login): HTTP Basic credentials, each\nbound to the Matrix user whose WhatsApp logins it manages:\n`{\"dashboard\": {\"password\": \"<16+ random characters>\", \"user_id\": \"@alice:example.com\"}}`.\nEmpty: the device API and the page are off.",
    ),
];

impl ProvisioningConfig {
    pub(super) fn validate(&self, errors: &mut Vec<ConfigError>) {
        if !self.prefix.starts_with('/') || self.prefix.ends_with('/') {
            errors.push(ConfigError::invalid(
                "provisioning.prefix",
                "must start with `/` and not end with one, like `/_matrix/provision`",
            ));
        }
        for (username, credential) in &self.device_api {
            let key = format!("provisioning.device_api.{username}");
            if username.is_empty() || username.contains(':') {
                errors.push(ConfigError::invalid(
                    key.clone(),
                    "the username must not be empty nor contain `:` (HTTP Basic cannot carry it)",
                ));
            }
            if credential.password.len() < 16 {
                errors.push(ConfigError::invalid(
                    format!("{key}.password"),
                    "is too short to be secret; use at least 16 random characters",
                ));
            }
            if ruma::UserId::parse(credential.user_id.as_str()).is_err() {
                errors.push(ConfigError::invalid(
                    format!("{key}.user_id"),
                    format!(
                        "`{}` is not a Matrix user ID like @alice:example.com",
                        credential.user_id
                    ),
                ));
            }
        }
        if !self.shared_secret.is_empty() && self.shared_secret.len() < 16 {
            errors.push(ConfigError::invalid(
                "provisioning.shared_secret",
                "is too short to be secret; use at least 16 random characters, or leave it empty to disable the API",
            ));
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    pub enabled: bool,
    pub listen: SocketAddr,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            listen: SocketAddr::from(([127, 0, 0, 1], 8001)),
        }
    }
}

pub(super) const METRICS_DOCS: Docs = &[
    ("", "Prometheus metrics."),
    ("enabled", "Serve metrics at all."),
    (
        "listen",
        "The address and port the metrics endpoint listens on.",
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoggingConfig {
    pub level: String,
    pub format: LogFormat,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Pretty,
        }
    }
}

pub(super) const LOGGING_DOCS: Docs = &[
    ("", "Logging."),
    (
        "level",
        "error, warn, info, debug or trace; per-module filters work too, like\n`info,matrix_whatsapp::matrix=debug`. RUST_LOG, when set, takes precedence.",
    ),
    (
        "format",
        "pretty (for people) or json (for log collectors).",
    ),
];

impl LoggingConfig {
    pub(super) fn validate(&self, errors: &mut Vec<ConfigError>) {
        if let Err(err) = tracing_subscriber::EnvFilter::builder().parse(&self.level) {
            errors.push(ConfigError::invalid(
                "logging.level",
                format!(
                    "`{}` is not a log filter ({err}); use error, warn, info, debug or trace",
                    self.level
                ),
            ));
        }
    }
}
