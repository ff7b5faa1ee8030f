use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Docs, Permissions};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BridgeConfig {
    pub command_prefix: String,
    pub permissions: Permissions,
    pub displayname_template: String,
    pub displayname_sources: Vec<NameSource>,
    /// Double puppeting: per homeserver name, `as_token:<token>` of an appservice whose
    /// (non-exclusive) user namespace covers that server's users.
    pub double_puppet_secrets: BTreeMap<String, String>,
}

/// Where a contact's name can come from, for `{name}` in the display name template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NameSource {
    /// The verified name of a business account.
    BusinessName,
    /// The name the contact gave themselves in WhatsApp.
    PushName,
    /// `+` and the phone number.
    Phone,
    /// The name the contact has in your phone's address book (not among the defaults:
    /// it is your name for them, and others using the bridge see it too).
    ContactName,
}

/// The placeholders a display name template may use.
pub const NAME_PLACEHOLDERS: &[&str] = &["{name}", "{push_name}", "{business_name}", "{phone}"];

impl Default for BridgeConfig {
    fn default() -> Self {
        Self {
            command_prefix: "!wa".into(),
            permissions: Permissions::default(),
            displayname_template: "{name}".into(),
            displayname_sources: vec![
                NameSource::BusinessName,
                NameSource::PushName,
                NameSource::Phone,
            ],
            double_puppet_secrets: BTreeMap::new(),
        }
    }
}

pub(super) const DOCS: Docs = &[
    ("", "How the bridge behaves towards Matrix users."),
    (
        "command_prefix",
        "Commands to the bot start with this prefix (`!wa help`). In a direct chat with the bot\n(the management room) the prefix may be left out.",
    ),
    (
        "permissions",
        "Who may use the bridge. Keys are `*` (everyone), a server name, or a user ID; the most\nspecific key wins. Levels: block (ignored), relay (may not use the bot), commands (bot\ncommands but no login), user (may log in), admin (may also administer the bridge).",
    ),
    (
        "displayname_template",
        "The display name of a contact's ghost. `{name}` is the first of `displayname_sources`\nthe contact has; `{push_name}`, `{business_name}` and `{phone}` (+ and the number) are\nthemselves. For example `{name} (WA)`.",
    ),
    (
        "displayname_sources",
        "Where `{name}` comes from, first match wins: business_name, push_name, phone, and\ncontact_name (the name in your phone's address book; off by default, as everyone on\nthe bridge sees the same ghost). The phone number is used when none of them is known.",
    ),
    (
        "double_puppet_secrets",
        "Double puppeting: the bridge acts as your own Matrix account for what only you can do\n(marking portals as direct chats in your `m.direct`, and showing in Matrix what you read\non the phone). Per homeserver name, `as_token:` and the token of a second appservice\nregistration whose user namespace is that server's users (non-exclusive, `url: null`):\n`{\"example.com\": \"as_token:…\"}`. Empty: off.",
    ),
];

/// How a double puppeting secret starts.
pub const AS_TOKEN_PREFIX: &str = "as_token:";

impl BridgeConfig {
    pub(super) fn validate(&self, errors: &mut Vec<ConfigError>) {
        let prefix = &self.command_prefix;
        if prefix.trim().is_empty() || prefix.chars().any(char::is_whitespace) {
            errors.push(ConfigError::invalid(
                "bridge.command_prefix",
                format!("`{prefix}` must be non-empty and contain no spaces, like `!wa`"),
            ));
        }
        self.permissions.validate(errors);
        let template = &self.displayname_template;
        if !NAME_PLACEHOLDERS.iter().any(|name| template.contains(name)) {
            errors.push(ConfigError::invalid(
                "bridge.displayname_template",
                format!(
                    "`{template}` names nobody: use at least one of {}",
                    NAME_PLACEHOLDERS.join(", ")
                ),
            ));
        }
        let mut rest = template.as_str();
        while let Some(start) = rest.find('{') {
            let after = &rest[start..];
            let end = after.find('}').map_or(after.len(), |end| end + 1);
            let placeholder = &after[..end];
            if !NAME_PLACEHOLDERS.contains(&placeholder) {
                errors.push(ConfigError::invalid(
                    "bridge.displayname_template",
                    format!(
                        "`{placeholder}` is not a placeholder; the known ones are {}",
                        NAME_PLACEHOLDERS.join(", ")
                    ),
                ));
                break;
            }
            rest = &after[end..];
        }
        for (server, secret) in &self.double_puppet_secrets {
            let token = secret.strip_prefix(AS_TOKEN_PREFIX).unwrap_or_default();
            if server.trim().is_empty() || token.trim().is_empty() {
                errors.push(ConfigError::invalid(
                    format!("bridge.double_puppet_secrets.{server}"),
                    "must map a homeserver name to `as_token:` and the token of the double puppeting appservice",
                ));
            }
        }
        if self.displayname_sources.is_empty() {
            errors.push(ConfigError::invalid(
                "bridge.displayname_sources",
                "must list at least one of business_name, push_name, phone",
            ));
        }
    }
}
