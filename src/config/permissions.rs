use std::collections::BTreeMap;

use ruma::{ServerName, UserId};
use serde::{Deserialize, Serialize};

use super::ConfigError;

/// What a Matrix user may do with the bridge, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PermissionLevel {
    /// Ignored by the bridge.
    Block,
    /// May talk in rooms with a relay; may not use the bot.
    Relay,
    /// May use bot commands but not log in.
    Commands,
    /// May log in and use the bridge.
    User,
    /// May also administer the bridge.
    Admin,
}

/// `"*"`, a server name or a full user ID, each mapped to a level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Permissions(BTreeMap<String, PermissionLevel>);

impl Default for Permissions {
    fn default() -> Self {
        Self(BTreeMap::from([
            ("*".to_owned(), PermissionLevel::Relay),
            ("example.com".to_owned(), PermissionLevel::User),
            ("@admin:example.com".to_owned(), PermissionLevel::Admin),
        ]))
    }
}

impl Permissions {
    pub fn from_entries<'a>(entries: impl IntoIterator<Item = (&'a str, PermissionLevel)>) -> Self {
        Self(
            entries
                .into_iter()
                .map(|(key, level)| (key.to_owned(), level))
                .collect(),
        )
    }

    /// The most specific entry wins: the exact user, then their server, then `*`;
    /// with no entry at all a user is blocked.
    pub fn level_of(&self, user: &UserId) -> PermissionLevel {
        self.0
            .get(user.as_str())
            .or_else(|| self.0.get(user.server_name().as_str()))
            .or_else(|| self.0.get("*"))
            .copied()
            .unwrap_or(PermissionLevel::Block)
    }

    pub(super) fn validate(&self, errors: &mut Vec<ConfigError>) {
        for key in self.0.keys() {
            let valid = key == "*"
                || (key.starts_with('@') && UserId::parse(key.as_str()).is_ok())
                || (!key.starts_with('@') && ServerName::parse(key.as_str()).is_ok());
            if !valid {
                errors.push(ConfigError::invalid(
                    format!("bridge.permissions.{key}"),
                    format!(
                        "`{key}` is neither `*`, a server name (example.com) nor a user ID (@alice:example.com)"
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> &UserId {
        <&UserId>::try_from(id).expect("test user ID")
    }

    #[test]
    fn most_specific_entry_wins() {
        let permissions = Permissions::from_entries([
            ("*", PermissionLevel::Relay),
            ("example.com", PermissionLevel::User),
            ("@boss:example.com", PermissionLevel::Admin),
            ("@troll:example.com", PermissionLevel::Block),
        ]);
        assert_eq!(
            permissions.level_of(user("@boss:example.com")),
            PermissionLevel::Admin
        );
        assert_eq!(
            permissions.level_of(user("@troll:example.com")),
            PermissionLevel::Block
        );
        assert_eq!(
            permissions.level_of(user("@alice:example.com")),
            PermissionLevel::User
        );
        assert_eq!(
            permissions.level_of(user("@bob:other.org")),
            PermissionLevel::Relay
        );
    }

    #[test]
    fn no_entry_means_blocked() {
        let permissions = Permissions::from_entries([("example.com", PermissionLevel::User)]);
        assert_eq!(
            permissions.level_of(user("@bob:other.org")),
            PermissionLevel::Block
        );
    }

    #[test]
    fn levels_are_ordered() {
        assert!(PermissionLevel::Block < PermissionLevel::Relay);
        assert!(PermissionLevel::Relay < PermissionLevel::Commands);
        assert!(PermissionLevel::Commands < PermissionLevel::User);
        assert!(PermissionLevel::User < PermissionLevel::Admin);
    }

    #[test]
    fn bad_keys_are_named() {
        let permissions = Permissions::from_entries([("not a server!", PermissionLevel::User)]);
        let mut errors = Vec::new();
        permissions.validate(&mut errors);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0]
                .to_string()
                .contains("bridge.permissions.not a server!")
        );
    }
}
