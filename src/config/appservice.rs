use serde::{Deserialize, Serialize};
use url::Url;

use super::{ConfigError, Docs};

/// The placeholder the example config ships with; the bridge refuses to start with it.
pub const TOKEN_PLACEHOLDER: &str = "This value is generated when generating the registration";

/// What must stand in the username template where the WhatsApp identifier goes.
pub const USERNAME_PLACEHOLDER: &str = "{{.}}";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppserviceConfig {
    pub address: Url,
    pub hostname: String,
    pub port: u16,
    pub id: String,
    pub bot: BotConfig,
    pub username_template: String,
    pub as_token: String,
    pub hs_token: String,
    pub ephemeral_events: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BotConfig {
    pub username: String,
    pub displayname: String,
    pub avatar: String,
}

impl Default for AppserviceConfig {
    fn default() -> Self {
        Self {
            address: Url::parse("http://localhost:29318").expect("constant URL"),
            hostname: "127.0.0.1".into(),
            port: 29318,
            id: "whatsapp".into(),
            bot: BotConfig::default(),
            username_template: "whatsapp_{{.}}".into(),
            as_token: TOKEN_PLACEHOLDER.into(),
            hs_token: TOKEN_PLACEHOLDER.into(),
            ephemeral_events: true,
        }
    }
}

impl Default for BotConfig {
    fn default() -> Self {
        Self {
            username: "whatsappbot".into(),
            displayname: "WhatsApp bridge bot".into(),
            avatar: String::new(),
        }
    }
}

pub(super) const DOCS: Docs = &[
    (
        "",
        "The bridge as a Matrix application service: where the homeserver reaches it, and who it is.",
    ),
    (
        "address",
        "The URL the homeserver uses to reach the bridge (written into the registration file).",
    ),
    (
        "hostname",
        "The address the bridge listens on. Use 0.0.0.0 inside a container, 127.0.0.1 otherwise.",
    ),
    ("port", "The port the bridge listens on."),
    (
        "id",
        "The application service ID, unique on the homeserver (written into the registration).",
    ),
    (
        "bot",
        "The bridge bot: the user people talk to in order to log in.",
    ),
    (
        "bot.username",
        "The localpart of the bot's user ID (@whatsappbot:example.com).",
    ),
    ("bot.displayname", "The bot's display name."),
    (
        "bot.avatar",
        "The bot's avatar as an mxc:// URI; empty leaves the avatar as it is.",
    ),
    (
        "username_template",
        "The localpart of the users that stand for WhatsApp contacts. {{.}} is replaced by the\nphone number (digits only) or by lid-<number> for contacts known only by their LID.",
    ),
    (
        "as_token",
        "The token the bridge uses towards the homeserver. Written by --generate-registration;\ncan also come from the MATRIX_WHATSAPP_AS_TOKEN environment variable.",
    ),
    (
        "hs_token",
        "The token the homeserver uses towards the bridge. Written by --generate-registration;\ncan also come from the MATRIX_WHATSAPP_HS_TOKEN environment variable.",
    ),
    (
        "ephemeral_events",
        "Receive typing notifications and read receipts from the homeserver.",
    ),
];

impl AppserviceConfig {
    pub(super) fn validate(&self, errors: &mut Vec<ConfigError>) {
        if !matches!(self.address.scheme(), "http" | "https") {
            errors.push(ConfigError::invalid(
                "appservice.address",
                format!(
                    "`{}` must be an http:// or https:// URL",
                    self.address.as_str()
                ),
            ));
        }
        if self.hostname.parse::<std::net::IpAddr>().is_err() {
            errors.push(ConfigError::invalid(
                "appservice.hostname",
                format!(
                    "`{}` is not an IP address; use 0.0.0.0, 127.0.0.1 or another address of this host",
                    self.hostname
                ),
            ));
        }
        if self.port == 0 {
            errors.push(ConfigError::invalid(
                "appservice.port",
                "must be a port number from 1 to 65535",
            ));
        }
        if self.id.is_empty()
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        {
            errors.push(ConfigError::invalid(
                "appservice.id",
                "must be non-empty and use only letters, digits, `_`, `-` and `.`",
            ));
        }
        if !is_localpart(&self.bot.username) {
            errors.push(ConfigError::invalid(
                "appservice.bot.username",
                format!(
                    "`{}` is not a valid user localpart; use lowercase letters, digits and `._=-/`",
                    self.bot.username
                ),
            ));
        }
        if !self.bot.avatar.is_empty() && !self.bot.avatar.starts_with("mxc://") {
            errors.push(ConfigError::invalid(
                "appservice.bot.avatar",
                "must be empty or an mxc:// URI",
            ));
        }
        self.validate_username_template(errors);
        validate_token("appservice.as_token", &self.as_token, errors);
        validate_token("appservice.hs_token", &self.hs_token, errors);
        if self.as_token == self.hs_token && self.as_token != TOKEN_PLACEHOLDER {
            errors.push(ConfigError::invalid(
                "appservice.hs_token",
                "must differ from appservice.as_token",
            ));
        }
    }

    fn validate_username_template(&self, errors: &mut Vec<ConfigError>) {
        let template = &self.username_template;
        let key = "appservice.username_template";
        if template.matches(USERNAME_PLACEHOLDER).count() != 1 {
            errors.push(ConfigError::invalid(
                key,
                format!("`{template}` must contain {USERNAME_PLACEHOLDER} exactly once"),
            ));
            return;
        }
        let fixed = template.replace(USERNAME_PLACEHOLDER, "");
        if fixed.is_empty() || !is_localpart(&fixed) {
            errors.push(ConfigError::invalid(
                key,
                format!(
                    "`{template}` needs a prefix or suffix of valid localpart characters (lowercase letters, digits, `._=-/`)"
                ),
            ));
        }
        let bot = &self.bot.username;
        if let Some((prefix, suffix)) = template.split_once(USERNAME_PLACEHOLDER)
            && bot.starts_with(prefix)
            && bot.ends_with(suffix)
            && bot.len() > prefix.len() + suffix.len()
        {
            errors.push(ConfigError::invalid(
                key,
                format!("`{template}` would also match the bot user `{bot}`; pick names that do not overlap"),
            ));
        }
    }
}

/// Matrix user localparts: lowercase ASCII letters, digits and `._=-/+`.
pub fn is_localpart(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._=-/+".contains(c))
}

fn validate_token(key: &str, token: &str, errors: &mut Vec<ConfigError>) {
    if token == TOKEN_PLACEHOLDER || token.trim().is_empty() {
        errors.push(ConfigError::invalid(
            key,
            "is not set; run `matrix-whatsapp --generate-registration` to create the tokens, \
             or set them from the environment",
        ));
    } else if token.len() < 16 {
        errors.push(ConfigError::invalid(
            key,
            "is too short to be secret; use at least 16 random characters",
        ));
    } else if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        errors.push(ConfigError::invalid(
            key,
            "must not contain spaces or control characters",
        ));
    }
}
