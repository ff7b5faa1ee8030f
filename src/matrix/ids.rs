//! The bridge's Matrix identities: the bot and the ghost namespace. The ghost MXID format
//! lives here and nowhere else.

use ruma::{OwnedServerName, OwnedUserId, UserId};

use crate::config::{AppserviceConfig, USERNAME_PLACEHOLDER};

#[derive(Debug, thiserror::Error)]
pub enum IdError {
    #[error("`{0}` does not make a valid Matrix user ID")]
    InvalidUserId(String),
}

/// Who the bridge is on Matrix.
#[derive(Debug, Clone)]
pub struct BridgeIds {
    bot: OwnedUserId,
    domain: OwnedServerName,
    ghost_prefix: String,
    ghost_suffix: String,
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
        Ok(Self {
            bot,
            domain,
            ghost_prefix: prefix.to_owned(),
            ghost_suffix: suffix.to_owned(),
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
    }
}
