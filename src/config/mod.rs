//! The bridge's configuration: typed sections, each with its documentation and its
//! `validate()`. The example config is generated from the same structs and their defaults.

mod appservice;
mod backfill;
mod bridge;
mod database;
mod duration;
mod error;
mod example;
mod homeserver;
mod permissions;
mod service;
mod token_patch;
mod unknown_keys;
mod whatsapp;

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use appservice::{
    AppserviceConfig, BotConfig, TOKEN_PLACEHOLDER, USERNAME_PLACEHOLDER, is_localpart,
};
pub use backfill::{BackfillConfig, HistorySyncConfig};
pub use bridge::{AS_TOKEN_PREFIX, BridgeConfig, NameSource};
pub use database::{DatabaseConfig, DatabaseType};
pub use error::ConfigError;
pub use example::example_config;
pub use homeserver::HomeserverConfig;
pub use permissions::{PermissionLevel, Permissions};
pub use service::{
    DeviceApiCredential, LogFormat, LoggingConfig, MetricsConfig, ProvisioningConfig,
};
pub use token_patch::{TokenPatchError, set_appservice_tokens};
pub use whatsapp::{PhoneWatchdogConfig, WhatsappConfig};

/// Documentation of a section's keys: (key relative to the section, comment). The key ""
/// documents the section itself.
type Docs = &'static [(&'static str, &'static str)];

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub homeserver: HomeserverConfig,
    pub appservice: AppserviceConfig,
    pub database: DatabaseConfig,
    pub bridge: BridgeConfig,
    pub whatsapp: WhatsappConfig,
    pub backfill: BackfillConfig,
    pub history_sync: HistorySyncConfig,
    pub provisioning: ProvisioningConfig,
    pub metrics: MetricsConfig,
    pub logging: LoggingConfig,
}

/// Sections in file order, with their docs.
const SECTIONS: &[(&str, Docs)] = &[
    ("homeserver", homeserver::DOCS),
    ("appservice", appservice::DOCS),
    ("database", database::DOCS),
    ("bridge", bridge::DOCS),
    ("whatsapp", whatsapp::DOCS),
    ("backfill", backfill::DOCS),
    ("history_sync", backfill::HISTORY_SYNC_DOCS),
    ("provisioning", service::PROVISIONING_DOCS),
    ("metrics", service::METRICS_DOCS),
    ("logging", service::LOGGING_DOCS),
];

/// Keys whose value is a map chosen by the admin, not a fixed set of fields.
const FREE_FORM_KEYS: &[&str] = &[
    "bridge.permissions",
    "bridge.double_puppet_secrets",
    "provisioning.device_api",
];

type SecretSetter = fn(&mut Config, String);

/// Environment variables that may carry secrets instead of the file.
const SECRET_ENV_VARS: &[(&str, SecretSetter)] = &[
    ("MATRIX_WHATSAPP_AS_TOKEN", |config, value| {
        config.appservice.as_token = value
    }),
    ("MATRIX_WHATSAPP_HS_TOKEN", |config, value| {
        config.appservice.hs_token = value
    }),
    ("MATRIX_WHATSAPP_DATABASE_URI", |config, value| {
        config.database.uri = value
    }),
    (
        "MATRIX_WHATSAPP_PROVISIONING_SHARED_SECRET",
        |config, value| config.provisioning.shared_secret = value,
    ),
];

impl Config {
    /// Reads, parses and validates the config file, taking secrets from the process
    /// environment where they are set there.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let env = |name: &str| std::env::var(name).ok();
        Self::from_yaml(&text, &env)
    }

    /// Parses and validates, with `env` standing in for the process environment.
    pub fn from_yaml(
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut config = Self::parse_unvalidated(text)?;
        config.apply_env(env);
        config.validate()?;
        Ok(config)
    }

    /// Parses without validating: used to read tokens from an admin's file before they exist.
    pub fn parse_unvalidated(text: &str) -> Result<Self, ConfigError> {
        let raw: serde_norway::Value =
            serde_norway::from_str(text).map_err(|err| ConfigError::Syntax(err.to_string()))?;
        let raw = match raw {
            serde_norway::Value::Null => serde_norway::Value::Mapping(Default::default()),
            other => other,
        };
        unknown_keys::check(&raw)?;
        if raw.as_mapping().is_some_and(|map| map.is_empty()) {
            return Ok(Self::default());
        }
        // Typed parsing from the text (not the Value) keeps the key path in errors.
        serde_norway::from_str(text).map_err(|err| wrong_type(err.to_string()))
    }

    fn apply_env(&mut self, env: &dyn Fn(&str) -> Option<String>) {
        for (name, set) in SECRET_ENV_VARS {
            if let Some(value) = env(name).filter(|value| !value.is_empty()) {
                set(self, value);
            }
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut errors = Vec::new();
        self.homeserver.validate(&mut errors);
        self.appservice.validate(&mut errors);
        self.database.validate(&mut errors);
        self.bridge.validate(&mut errors);
        self.whatsapp.validate(&mut errors);
        self.history_sync.validate(&mut errors);
        self.provisioning.validate(&mut errors);
        self.logging.validate(&mut errors);
        match ConfigError::from_list(errors) {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

/// serde_norway reports type errors as "path.to.key: message at line L column C".
fn wrong_type(message: String) -> ConfigError {
    match message.split_once(": ") {
        Some((key, problem)) if !key.contains(' ') => ConfigError::WrongType {
            key: key.to_owned(),
            problem: problem.to_owned(),
        },
        _ => ConfigError::Syntax(message),
    }
}

#[cfg(test)]
mod tests;
