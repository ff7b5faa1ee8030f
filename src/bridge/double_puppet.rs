//! Double puppeting: what only the bridge user's own Matrix account can do, done as that
//! account through the admin's double puppeting appservice (`bridge.double_puppet_secrets`):
//! listing direct portals in the user's `m.direct`, and moving the user's read receipt
//! when they read on the phone. Without a secret for the user's server, none of it
//! happens and nothing else changes.

use ruma::{EventId, RoomId, UserId};

use super::{Bridge, BridgeError};
use crate::config::AS_TOKEN_PREFIX;
use crate::matrix::client::HomeserverClient;

impl Bridge {
    /// A client acting as `user` themselves, when their server has a secret.
    pub(super) fn as_user(&self, user: &UserId) -> Option<HomeserverClient> {
        let secret = self
            .config
            .bridge
            .double_puppet_secrets
            .get(user.server_name().as_str())?;
        let token = secret.strip_prefix(AS_TOKEN_PREFIX)?;
        Some(self.client.with_as_token(token))
    }

    /// Lists a direct portal in its owner's `m.direct` (best effort: a portal that is not
    /// listed still works, clients just show it among the rooms).
    pub(super) async fn mark_direct(&self, owner: &UserId, partner: &UserId, room: &RoomId) {
        let Some(client) = self.as_user(owner) else {
            return;
        };
        if let Err(err) = client.add_direct_room(owner, partner, room).await {
            tracing::warn!(%room, error = %err, "could not list a direct portal in m.direct");
        }
    }

    /// The owner read messages on the phone: their read receipt moves to the newest of
    /// them in each portal.
    pub(super) async fn owner_read_on_phone(
        &self,
        device_id: i32,
        owner: &UserId,
        message_ids: &[String],
    ) -> Result<(), BridgeError> {
        let Some(client) = self.as_user(owner) else {
            return Ok(());
        };
        for (room, event) in self.db.read_on_phone(device_id, message_ids).await? {
            let (Ok(room), Ok(event)) = (RoomId::parse(&room), EventId::parse(&event)) else {
                continue;
            };
            client.send_read_receipt(owner, &room, &event).await?;
        }
        Ok(())
    }
}
