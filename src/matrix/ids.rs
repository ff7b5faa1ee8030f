//! The bridge's Matrix identities: the bot, the ghost namespace and the portal aliases.
//! The ghost MXID and portal alias formats live here and nowhere else.

use ruma::{OwnedRoomAliasId, OwnedServerName, OwnedUserId, RoomAliasId, UserId};
use sha2::{Digest, Sha256};

use crate::config::{AppserviceConfig, USERNAME_PLACEHOLDER};

#[derive(Debug, thiserror::Error)]
pub enum IdError {
    #[error("`{0}` does not make a valid Matrix user ID")]
    InvalidUserId(String),
    #[error("`{0}` does not make a valid Matrix room alias")]
    InvalidAlias(String),
}

/// Bytes of the keyed hash in a portal alias (128 bits, 32 hex digits).
const PORTAL_ALIAS_HASH_BYTES: usize = 16;

/// Who the bridge is on Matrix.
#[derive(Debug, Clone)]
pub struct BridgeIds {
    bot: OwnedUserId,
    domain: OwnedServerName,
    ghost_prefix: String,
    ghost_suffix: String,
    alias_prefix: String,
    alias_key: [u8; 32],
}

impl BridgeIds {
    pub fn new(appservice: &AppserviceConfig, domain: &str) -> Result<Self, IdError> {
        let domain = OwnedServerName::try_from(domain)
            .map_err(|_| IdError::InvalidUserId(format!("@x:{domain}")))?;
        let bot = UserId::parse(format!("@{}:{domain}", appservice.bot.username))
            .map_err(|_| IdError::InvalidUserId(appservice.bot.username.clone()))?;
        let (prefix, suffix) = appservice
            .username_template
            .split_once(USERNAME_PLACEHOLDER)
            .unwrap_or((appservice.username_template.as_str(), ""));
        let alias_key = Sha256::new()
            .chain_update(b"portal alias key\0")
            .chain_update(appservice.as_token.as_bytes())
            .finalize()
            .into();
        Ok(Self {
            alias_prefix: format!("{}_portal_", appservice.bot.username),
            bot,
            domain,
            ghost_prefix: prefix.to_owned(),
            ghost_suffix: suffix.to_owned(),
            alias_key,
        })
    }

    pub fn bot(&self) -> &UserId {
        &self.bot
    }

    pub fn domain(&self) -> &ruma::ServerName {
        &self.domain
    }

    /// The ghost for a WhatsApp identifier (phone digits or `lid-<n>`).
    pub fn ghost(&self, identifier: &str) -> Result<OwnedUserId, IdError> {
        let localpart = format!("{}{identifier}{}", self.ghost_prefix, self.ghost_suffix);
        UserId::parse(format!("@{localpart}:{}", self.domain))
            .map_err(|_| IdError::InvalidUserId(localpart))
    }

    /// The WhatsApp identifier of a ghost, if `user` is one of ours.
    pub fn ghost_identifier<'a>(&self, user: &'a UserId) -> Option<&'a str> {
        if user.server_name() != self.domain {
            return None;
        }
        let identifier = user
            .localpart()
            .strip_prefix(&self.ghost_prefix)?
            .strip_suffix(&self.ghost_suffix)?;
        (!identifier.is_empty()).then_some(identifier)
    }

    /// The bot or a ghost: users whose events the bridge itself sent.
    pub fn is_bridge_user(&self, user: &UserId) -> bool {
        user == self.bot || self.ghost_identifier(user).is_some()
    }

    /// The registration regex for ghosts; `.+` in place of the identifier.
    pub fn ghost_regex(&self) -> String {
        format!(
            "^@{}.+{}:{}$",
            regex_escape(&self.ghost_prefix),
            regex_escape(&self.ghost_suffix),
            regex_escape(self.domain.as_str())
        )
    }

    /// The private alias of the room that takes over from `predecessor` as the portal of
    /// `chat`: fixed too, so a rebuild cut short by a crash finds its room again.
    pub fn successor_alias(
        &self,
        device_id: i32,
        chat: &str,
        predecessor: &ruma::RoomId,
    ) -> Result<OwnedRoomAliasId, IdError> {
        self.portal_alias(device_id, &format!("{chat}\u{0}{predecessor}"))
    }

    /// The private alias of the portal of `chat` for login `device_id`. It is fixed, so
    /// a portal whose creation was cut short by a crash is found again rather than made
    /// twice; it is a keyed hash, so it says nothing about the chat and cannot be guessed.
    pub fn portal_alias(&self, device_id: i32, chat: &str) -> Result<OwnedRoomAliasId, IdError> {
        let digest = Sha256::new()
            .chain_update(self.alias_key)
            .chain_update(device_id.to_be_bytes())
            .chain_update(chat.as_bytes())
            .finalize();
        let hash: String = digest[..PORTAL_ALIAS_HASH_BYTES]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        let alias = format!("#{}{hash}:{}", self.alias_prefix, self.domain);
        RoomAliasId::parse(&alias).map_err(|_| IdError::InvalidAlias(alias))
    }

    /// The registration regex for portal aliases.
    pub fn portal_alias_regex(&self) -> String {
        format!(
            "^#{}[0-9a-f]+:{}$",
            regex_escape(&self.alias_prefix),
            regex_escape(self.domain.as_str())
        )
    }

    pub fn bot_regex(&self) -> String {
        format!("^{}$", regex_escape(self.bot.as_str()))
    }
}

fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> BridgeIds {
        BridgeIds::new(&AppserviceConfig::default(), "example.com").expect("valid defaults")
    }

    #[test]
    fn ghosts_round_trip() {
        let ids = ids();
        let ghost = ids.ghost("15551234567").expect("ghost");
        assert_eq!(ghost.as_str(), "@whatsapp_15551234567:example.com");
        assert_eq!(ids.ghost_identifier(&ghost), Some("15551234567"));
        let lid = ids.ghost("lid-98765").expect("lid ghost");
        assert_eq!(ids.ghost_identifier(&lid), Some("lid-98765"));
    }

    #[test]
    fn bridge_users_are_recognised() {
        let ids = ids();
        let user = |id: &str| UserId::parse(id).expect("user id");
        assert!(ids.is_bridge_user(&user("@whatsappbot:example.com")));
        assert!(ids.is_bridge_user(&user("@whatsapp_123:example.com")));
        assert!(!ids.is_bridge_user(&user("@whatsapp_123:other.org")));
        assert!(!ids.is_bridge_user(&user("@whatsapp_:example.com")));
        assert!(!ids.is_bridge_user(&user("@alice:example.com")));
    }

    #[test]
    fn regexes_escape_the_domain() {
        let ids = ids();
        assert_eq!(ids.ghost_regex(), "^@whatsapp_.+:example\\.com$");
        assert_eq!(ids.bot_regex(), "^@whatsappbot:example\\.com$");
        assert_eq!(
            ids.portal_alias_regex(),
            "^#whatsappbot_portal_[0-9a-f]+:example\\.com$"
        );
    }

    #[test]
    fn portal_aliases_are_fixed_distinct_and_keyed() {
        let ids = ids();
        let alias = ids
            .portal_alias(1, "15551234567@s.whatsapp.net")
            .expect("alias");
        assert_eq!(
            alias,
            ids.portal_alias(1, "15551234567@s.whatsapp.net")
                .expect("alias")
        );
        assert!(alias.as_str().starts_with("#whatsappbot_portal_"));
        assert!(!alias.as_str().contains("15551234567"));
        assert_ne!(
            alias,
            ids.portal_alias(2, "15551234567@s.whatsapp.net")
                .expect("alias")
        );
        assert_ne!(
            alias,
            ids.portal_alias(1, "15551234568@s.whatsapp.net")
                .expect("alias")
        );
        let other_tokens = AppserviceConfig {
            as_token: "another token".into(),
            ..AppserviceConfig::default()
        };
        let other = BridgeIds::new(&other_tokens, "example.com").expect("ids");
        assert_ne!(
            alias,
            other
                .portal_alias(1, "15551234567@s.whatsapp.net")
                .expect("alias")
        );
    }
}
