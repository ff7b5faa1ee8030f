//! Portals: the Matrix room of each WhatsApp chat of a linked device, created the first
//! time the chat has something to show.

use super::ghosts::ghost_identifier;
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
        let alias = self
            .ids
            .portal_alias(device_id, &chat_jid)
            .map_err(|err| BridgeError::Identity(err.to_string()))?;
        let room_id = self
            .new_portal_room(owner, chat, chat_name, alias, None)
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
        if let WaChat::Direct(person) = chat
            && let Ok(partner) = self.ids.ghost(&ghost_identifier(person))
        {
            self.mark_direct(&owner.user, &partner, &row.room_id).await;
        }
        Ok(recorded.unwrap_or(row))
    }

    /// A chat's portal moved to a new room: it is listed as a direct chat again, or
    /// gets the group's name, topic, members and picture (best effort).
    pub(super) async fn set_up_moved_portal(
        &self,
        owner: &Owner,
        portal: &PortalRow,
        chat: &WaChat,
    ) {
        match chat {
            WaChat::Direct(person) => {
                if let Ok(partner) = self.ids.ghost(&ghost_identifier(person)) {
                    self.mark_direct(&owner.user, &partner, &portal.room_id)
                        .await;
                }
            }
            WaChat::Group(_) => {
                let Some(session) = self.sessions.sender(portal.device_id) else {
                    return;
                };
                match session.group_info(chat).await {
                    Ok(info) => {
                        if let Err(err) = super::groups::apply(self, owner, portal, &info).await {
                            tracing::warn!(room = %portal.room_id, error = %err, "could not set up a moved group portal");
                        }
                        if let Err(err) = self.refresh_group_avatar(portal).await {
                            tracing::info!(room = %portal.room_id, error = %err, "could not bring a group's picture over");
                        }
                    }
                    Err(err) => {
                        tracing::warn!(room = %portal.room_id, error = %err, "could not read a group for its moved portal")
                    }
                }
            }
        }
    }

    /// A new room for the chat, with the owner invited; `alias` makes it findable again
    /// after a crash, `predecessor` names the room it takes over from.
    pub(super) async fn new_portal_room(
        &self,
        owner: &Owner,
        chat: &WaChat,
        chat_name: &str,
        alias: ruma::OwnedRoomAliasId,
        predecessor: Option<ruma::OwnedRoomId>,
    ) -> Result<ruma::OwnedRoomId, BridgeError> {
        let room = NewRoom {
            name: Some(chat_name.to_owned()),
            topic: match chat {
                WaChat::Direct(_) => Some(format!("WhatsApp chat with {chat_name}")),
                WaChat::Group(_) => None,
            },
            owner: owner.user.clone(),
            is_direct: !chat.is_group(),
            protocol: "whatsapp",
            channel_id: chat.jid(),
            channel_name: chat_name.to_owned(),
            alias,
            predecessor,
        };
        Ok(self
            .client
            .create_portal_room(self.ids.bot(), &room)
            .await?)
    }
}
