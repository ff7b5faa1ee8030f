//! Filling a chat's new portal from the stored history: the newest messages (as many as
//! the config says), oldest first, each from its sender's ghost at its WhatsApp time;
//! then what the phone said about the chat (read, pinned, archived, muted) as the
//! owner's own settings for the room.

use ruma::RoomId;

use super::super::contact_names::ContactNames;
use super::super::inbound::bridge_patiently;
use super::super::sessions::Owner;
use super::super::{Bridge, BridgeError};
use crate::db::portals::PortalRow;
use crate::matrix::room_tags::RoomTag;
use crate::whatsapp::address::WaChat;
use crate::whatsapp::history::{BackfillState, HistoryChat, HistoryStore};
use crate::whatsapp::inbox::InboxEntry;

const HOUR_MS: i64 = 60 * 60 * 1000;

/// What filling one portal did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(in crate::bridge) struct Filled {
    pub messages: usize,
}

impl Bridge {
    /// Creates and fills the chat's portal from the stored history, when the history
    /// knows the chat and its portal does not exist yet (or its filling was cut short).
    /// A chat whose portal already holds newer messages keeps its history in the store
    /// (`more-history` brings it). The caller holds the chat's lock. `portal_made`, if
    /// given, is told once the portal exists (so the next chat's is made after it).
    pub(in crate::bridge) async fn fill_from_history(
        &self,
        device_id: i32,
        owner: &Owner,
        chat: &WaChat,
        portal_made: Option<tokio::sync::oneshot::Sender<()>>,
    ) -> Result<Option<Filled>, BridgeError> {
        if !self.config.backfill.enabled {
            return Ok(None);
        }
        let history = HistoryStore::new(self.db.clone(), device_id);
        let chat_jid = chat.jid();
        let Some(state) = history.state(&chat_jid).await? else {
            return Ok(None);
        };
        let portal = self.db.portal_for_chat(device_id, &chat_jid).await?;
        match (state, &portal) {
            (BackfillState::Done, _) => return Ok(None),
            (BackfillState::Stored, Some(_)) => {
                history.set_state(&chat_jid, BackfillState::Done).await?;
                return Ok(None);
            }
            (BackfillState::Stored, None) | (BackfillState::Queued, _) => {}
        }
        history.set_state(&chat_jid, BackfillState::Queued).await?;
        let limit = i64::from(self.config.backfill.max_initial_messages);
        let entries = history.newest(&chat_jid, limit).await?;
        let portal = match portal {
            Some(portal) => portal,
            None => {
                self.history_portal(device_id, owner, chat, &entries)
                    .await?
            }
        };
        if let Some(made) = portal_made {
            let _ = made.send(());
        }
        for entry in &entries {
            bridge_patiently(self, device_id, owner, chat, entry).await;
        }
        if let Some(described) = history.chat(&chat_jid).await? {
            self.apply_chat_settings(owner, &portal, &described).await;
        }
        history.set_state(&chat_jid, BackfillState::Done).await?;
        tracing::info!(device_id, room = %portal.room_id, messages = entries.len(), "filled a portal from the history");
        Ok(Some(Filled {
            messages: entries.len(),
        }))
    }

    /// The chat's portal, named as the history's newest message from the other side
    /// names its sender.
    async fn history_portal(
        &self,
        device_id: i32,
        owner: &Owner,
        chat: &WaChat,
        entries: &[InboxEntry],
    ) -> Result<PortalRow, BridgeError> {
        match chat {
            WaChat::Group(_) => self.group_portal(device_id, owner, chat).await,
            WaChat::Direct(person) => {
                let theirs = entries.iter().rev().find(|entry| !entry.from_me);
                let names = ContactNames {
                    push_name: theirs.map(|entry| entry.push_name.as_str()).unwrap_or(""),
                    business_name: "",
                    contact_name: "",
                };
                let name = self.chat_name(person, &names);
                self.portal(device_id, owner, chat, &name).await
            }
        }
    }

    /// The phone's view of the chat, as the owner's settings for the room: read when it
    /// has nothing unread or has been quiet for `unread_hours_threshold`; pinned →
    /// favourite, archived → low priority, muted → no notifications. Best effort: the
    /// room works without them.
    pub(in crate::bridge) async fn apply_chat_settings(
        &self,
        owner: &Owner,
        portal: &PortalRow,
        chat: &HistoryChat,
    ) {
        let now = self.clock.now_ms();
        let quiet_for = i64::from(self.config.backfill.unread_hours_threshold) * HOUR_MS;
        if chat.unread_count == 0 || now.saturating_sub(chat.last_message_ms) > quiet_for {
            self.read_on_join(owner, &portal.room_id).await;
        }
        let Some(client) = self.as_user(&owner.user) else {
            return;
        };
        let room = &portal.room_id;
        let mut tags = Vec::new();
        if chat.pinned {
            tags.push(RoomTag::Favourite);
        }
        if chat.archived {
            tags.push(RoomTag::LowPriority);
        }
        for tag in tags {
            if let Err(err) = client.set_room_tag(&owner.user, room, tag).await {
                tracing::warn!(%room, error = %err, "could not tag a portal as the phone has it");
            }
        }
        if chat.muted_until_ms > now
            && let Err(err) = client.mute_room(&owner.user, room).await
        {
            tracing::warn!(%room, error = %err, "could not mute a portal as the phone has it");
        }
    }

    /// The owner's read receipt goes to the room's newest message, now if they are in
    /// the room already, else once they join.
    async fn read_on_join(&self, owner: &Owner, room: &RoomId) {
        let newest = match self.db.newest_event_in_room(room).await {
            Ok(Some(event)) => event,
            Ok(None) => return,
            Err(err) => {
                tracing::warn!(%room, error = %err, "cannot find a portal's newest message");
                return;
            }
        };
        if let Err(err) = self.db.set_read_on_join(room, newest.as_str()).await {
            tracing::warn!(%room, error = %err, "cannot note that a portal is read");
            return;
        }
        // Noted first, looked at second: a join in between finds the note.
        let joined = self
            .client
            .state_content(self.ids.bot(), room, "m.room.member", owner.user.as_str())
            .await
            .ok()
            .flatten()
            .is_some_and(|member| member["membership"] == "join");
        if joined && let Err(err) = self.owner_joined(&owner.user, room).await {
            tracing::warn!(%room, error = %err, "could not mark a portal read");
        }
    }

    /// The owner joined a portal: a read mark that waited for them is set now.
    pub(in crate::bridge) async fn owner_joined(
        &self,
        user: &ruma::UserId,
        room: &RoomId,
    ) -> Result<(), BridgeError> {
        let Some(portal) = self.db.portal_for_room(room).await? else {
            return Ok(());
        };
        let Some(login) = self.db.login_of_device(portal.device_id).await? else {
            return Ok(());
        };
        if login.user_id != user {
            return Ok(());
        }
        let Some(event) = self.db.take_read_on_join(room).await? else {
            return Ok(());
        };
        let (Some(client), Ok(event)) = (self.as_user(user), ruma::EventId::parse(&event)) else {
            return Ok(());
        };
        client.send_read_receipt(user, room, &event).await?;
        Ok(())
    }
}
