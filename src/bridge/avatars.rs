//! Avatars from WhatsApp pictures. Ghosts: looked at the first time a contact speaks in
//! a run and whenever WhatsApp says the picture changed. Group portals: whenever the group
//! is brought up to date. Uploaded only when the picture's ID differs from the one the
//! avatar shows.

use ruma::OwnedMxcUri;

use super::ghosts::ghost_identifier;
use super::{Bridge, BridgeError};
use crate::whatsapp::address::WaUser;

impl Bridge {
    /// Looks at the contact's picture when this run has not yet; in the background.
    pub(super) fn check_avatar_once(
        &self,
        device_id: i32,
        user: &WaUser,
        ghost: &ruma::OwnedUserId,
    ) {
        if !self.ghosts.first_avatar_check(ghost) {
            return;
        }
        self.refresh_avatar_later(device_id, user.clone());
    }

    /// Brings the contact's current picture to their ghost, in the background.
    pub(super) fn refresh_avatar_later(&self, device_id: i32, user: WaUser) {
        let bridge = self.clone();
        tokio::spawn(async move {
            if let Err(err) = bridge.refresh_avatar(device_id, &user).await {
                tracing::debug!(device_id, %user, error = %err, "could not bring a profile picture over");
            }
        });
    }

    async fn refresh_avatar(&self, device_id: i32, user: &WaUser) -> Result<(), BridgeError> {
        let sender = self
            .sessions
            .sender(device_id)
            .ok_or(BridgeError::NotConnected)?;
        let identifier = ghost_identifier(user);
        let ghost = self.ghost(user, "").await?;
        let shown = self
            .db
            .ghost_avatar_id(&identifier)
            .await?
            .unwrap_or_default();
        let photo = sender
            .profile_picture(user)
            .await
            .map_err(|err| BridgeError::Identity(err.to_string()))?;
        let (avatar, id) = match photo {
            Some(photo) if photo.id == shown => return Ok(()),
            Some(photo) => {
                let mxc = self
                    .client
                    .upload(&ghost, photo.jpeg, "image/jpeg", "avatar.jpg")
                    .await?;
                (mxc, photo.id)
            }
            None if shown.is_empty() => return Ok(()),
            // The picture was removed (or hidden): so is the avatar.
            None => (OwnedMxcUri::from(""), String::new()),
        };
        self.client.set_avatar(&ghost, avatar).await?;
        self.db
            .set_ghost_avatar_id(&identifier, &id, self.clock.now_ms())
            .await?;
        Ok(())
    }

    /// Brings the group's picture to its portal's avatar (`m.room.avatar`).
    pub(super) async fn refresh_group_avatar(
        &self,
        portal: &crate::db::portals::PortalRow,
    ) -> Result<(), BridgeError> {
        let Some(chat) = crate::whatsapp::address::WaChat::parse(&portal.chat_jid) else {
            return Ok(());
        };
        let sender = self
            .sessions
            .sender(portal.device_id)
            .ok_or(BridgeError::NotConnected)?;
        let shown = self.db.portal_avatar_id(&portal.room_id).await?;
        let photo = sender
            .group_picture(&chat)
            .await
            .map_err(|err| BridgeError::Identity(err.to_string()))?;
        let (content, id) = match photo {
            Some(photo) if photo.id == shown => return Ok(()),
            Some(photo) => {
                let mxc = self
                    .client
                    .upload(self.ids.bot(), photo.jpeg, "image/jpeg", "group.jpg")
                    .await?;
                (serde_json::json!({ "url": mxc }), photo.id)
            }
            None if shown.is_empty() => return Ok(()),
            // The picture was removed: so is the room's avatar.
            None => (serde_json::json!({}), String::new()),
        };
        self.client
            .set_state(
                self.ids.bot(),
                &portal.room_id,
                "m.room.avatar",
                "",
                &content,
            )
            .await?;
        self.db.set_portal_avatar_id(&portal.room_id, &id).await?;
        Ok(())
    }
}
