//! Portals: the Matrix room of each WhatsApp chat of a linked device, created the first
//! time the chat has something to show.

use super::sessions::Owner;
use super::{Bridge, BridgeError};
use crate::db::portals::PortalRow;
use crate::matrix::rooms::NewRoom;
use crate::whatsapp::address::WaChat;

impl Bridge {
    /// The chat's portal; created (with the owner invited) when there is none.
    pub(super) async fn portal(
        &self,
        device_id: i32,
        owner: &Owner,
        chat: &WaChat,
        chat_name: &str,
    ) -> Result<PortalRow, BridgeError> {
        let chat_jid = chat.jid();
        if let Some(portal) = self.db.portal_for_chat(device_id, &chat_jid).await? {
            return Ok(portal);
        }
        let room = NewRoom {
            name: Some(chat_name.to_owned()),
            topic: match chat {
                WaChat::Direct(_) => Some(format!("WhatsApp chat with {chat_name}")),
                WaChat::Group(_) => None,
            },
            owner: owner.user.clone(),
            is_direct: !chat.is_group(),
            protocol: "whatsapp",
            channel_id: chat_jid.clone(),
            channel_name: chat_name.to_owned(),
            alias: self
                .ids
                .portal_alias(device_id, &chat_jid)
                .map_err(|err| BridgeError::Identity(err.to_string()))?,
        };
        let room_id = self
            .client
            .create_portal_room(self.ids.bot(), &room)
            .await?;
        let row = PortalRow {
            device_id,
            chat_jid,
            room_id,
            is_group: chat.is_group(),
        };
        // Only this chat's worker creates its portal, so the row is ours. A crash before
        // this line leaves a room without a row; the alias finds it on the next try.
        let recorded = self.db.add_portal(&row, self.clock.now_ms()).await?;
        Ok(recorded.unwrap_or(row))
    }
}
