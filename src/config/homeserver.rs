use std::time::Duration;

use ruma::ServerName;
use serde::{Deserialize, Serialize};
use url::Url;

use super::{ConfigError, Docs};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HomeserverConfig {
    pub address: Url,
    pub domain: String,
    #[serde(with = "super::duration")]
    pub request_timeout: Duration,
}

impl Default for HomeserverConfig {
    fn default() -> Self {
        Self {
            address: Url::parse("http://localhost:8008").expect("constant URL"),
            domain: "example.com".into(),
            request_timeout: Duration::from_secs(30),
        }
    }
}

pub(super) const DOCS: Docs = &[
    ("", "How the bridge reaches your Matrix homeserver."),
    (
        "address",
        "The URL the bridge uses to talk to the homeserver's client-server API.\nIn Docker Compose next to Synapse this is usually http://synapse:8008.",
    ),
    (
        "domain",
        "The homeserver's server name: the part after the colon in user IDs (@alice:example.com).",
    ),
    (
        "request_timeout",
        "How long one request to the homeserver may take before it is retried or fails.",
    ),
];

impl HomeserverConfig {
    pub(super) fn validate(&self, errors: &mut Vec<ConfigError>) {
        if !matches!(self.address.scheme(), "http" | "https") {
            errors.push(ConfigError::invalid(
                "homeserver.address",
                format!(
                    "`{}` must be an http:// or https:// URL",
                    self.address.as_str()
                ),
            ));
        }
        if ServerName::parse(&self.domain).is_err() {
            errors.push(ConfigError::invalid(
                "homeserver.domain",
                format!(
                    "`{}` is not a Matrix server name; write the domain only, like `example.com`",
                    self.domain
                ),
            ));
        }
        if self.request_timeout.is_zero() {
            errors.push(ConfigError::invalid(
                "homeserver.request_timeout",
                "must be longer than zero",
            ));
        }
    }
}
