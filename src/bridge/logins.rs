//! What every front-end does to a finished login: log it out, reconnect it, read its
//! state. The bot's commands and the provisioning APIs share these.

use ruma::UserId;

use super::connection::LinkState;
use super::sessions::Owner;
use super::{Bridge, BridgeError};
use crate::config::PermissionLevel;
use crate::db::logins::LoginRow;
use crate::whatsapp::phone::PhoneNumber;
use crate::whatsapp::store::WaStore;

/// How a logout went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoggedOut {
    /// WhatsApp was told: the bridge is no longer a linked device of the account.
    Unlinked,
    /// Forgotten here, but WhatsApp could not be told (not connected).
    ForgottenOnly,
}

/// How a reconnect went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reconnect {
    AlreadyConnected,
    Started,
    Failed(String),
}

/// A login as a front-end shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginStatus {
    pub login: LoginRow,
    /// None when no session runs for it.
    pub link: Option<LinkState>,
    /// When the phone was last heard from (ms).
    pub phone_seen_ms: Option<i64>,
}

impl Bridge {
    /// Whether `user` may link a WhatsApp account (`bridge.permissions` at `user` or more).
    pub fn may_log_in(&self, user: &UserId) -> bool {
        self.config.bridge.permissions.level_of(user) >= PermissionLevel::User
    }

    pub async fn logins_of(&self, user: &UserId) -> Result<Vec<LoginRow>, BridgeError> {
        Ok(self.db.logins_of(user).await?)
    }

    /// The user's login of that device, if it is theirs.
    pub async fn login_of(
        &self,
        user: &UserId,
        device_id: i32,
    ) -> Result<Option<LoginRow>, BridgeError> {
        let login = self.db.login_of_device(device_id).await?;
        Ok(login.filter(|login| login.user_id == user))
    }

    pub fn login_status(&self, login: LoginRow) -> LoginStatus {
        let link = self.sessions.state(login.device_id);
        let phone_seen_ms = self
            .sessions
            .phone_seen(login.device_id)
            .or(login.phone_last_seen_ms);
        LoginStatus {
            login,
            link,
            phone_seen_ms,
        }
    }

    /// Unlinks the bridge from the account (when connected) and forgets the login.
    pub async fn log_out(&self, login: &LoginRow) -> Result<LoggedOut, BridgeError> {
        let outcome = match self.sessions.take(login.device_id) {
            Some(session) => {
                session.logout().await;
                LoggedOut::Unlinked
            }
            None => LoggedOut::ForgottenOnly,
        };
        WaStore::delete_device(&self.db, login.device_id).await?;
        Ok(outcome)
    }

    /// Restarts the login's session unless it is connected.
    pub async fn reconnect(&self, login: &LoginRow) -> Reconnect {
        if self.sessions.state(login.device_id) == Some(LinkState::Connected) {
            return Reconnect::AlreadyConnected;
        }
        let Ok(phone) = PhoneNumber::parse(&login.phone) else {
            return Reconnect::Failed("the stored number is unreadable; log in again".into());
        };
        if let Some(session) = self.sessions.take(login.device_id) {
            session.stop().await;
        }
        let owner = Owner {
            user: login.user_id.clone(),
            phone,
        };
        match self
            .start_session(login.device_id, owner, login.phone_last_seen_ms)
            .await
        {
            Ok(()) => Reconnect::Started,
            Err(err) => Reconnect::Failed(err.to_string()),
        }
    }
}

/// What a dashboard asks about the bridge and a user (`whoami`).
#[derive(Debug, Clone)]
pub struct BridgeFacts {
    pub bot: ruma::OwnedUserId,
    pub homeserver: String,
    pub command_prefix: String,
    pub management_room: Option<ruma::OwnedRoomId>,
}

impl Bridge {
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub async fn facts_for(&self, user: &UserId) -> Result<BridgeFacts, BridgeError> {
        Ok(BridgeFacts {
            bot: self.ids.bot().to_owned(),
            homeserver: self.config.homeserver.domain.to_string(),
            command_prefix: self.config.bridge.command_prefix.clone(),
            management_room: self.db.management_room(user).await?,
        })
    }
}
