use serde::{Deserialize, Serialize};

use super::{ConfigError, Docs, Permissions};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BridgeConfig {
    pub command_prefix: String,
    pub permissions: Permissions,
    pub displayname_template: String,
    pub displayname_sources: Vec<NameSource>,
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
        "Where `{name}` comes from, first match wins: business_name, push_name, phone. The\nphone number is used when none of them is known.",
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
        if self.displayname_sources.is_empty() {
            errors.push(ConfigError::invalid(
                "bridge.displayname_sources",
                "must list at least one of business_name, push_name, phone",
            ));
        }
    }
}
