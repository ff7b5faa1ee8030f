use serde::{Deserialize, Serialize};

use super::{ConfigError, Docs, Permissions};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BridgeConfig {
    pub command_prefix: String,
    pub permissions: Permissions,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        Self {
            command_prefix: "!wa".into(),
            permissions: Permissions::default(),
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
];

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
    }
}
