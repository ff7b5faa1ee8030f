//! Read receipts and typing, both ways. They are momentary: a failure is logged and
//! forgotten (the next receipt covers what this one would have said), never retried.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use ruma::{EventId, OwnedRoomId, RoomId, UserId};

use super::outbound::owner_login;
use super::{Bridge, BridgeError};
use crate::db::read_marks::UnreadMessage;
use crate::whatsapp::address::{WaChat, WaUser};

/// How long a contact shows as typing on Matrix when WhatsApp does not say they stopped.
const TYPING_SHOWN_FOR: Duration = Duration::from_secs(30);

/// How long a receipt waits for a message we are still sending to be stored.
const SENT_PAIR_WAIT: Duration = Duration::from_secs(10);

/// The portals whose owner WhatsApp currently sees typing, so a change is sent once.
#[derive(Default)]
pub struct TypingRooms(Mutex<HashSet<OwnedRoomId>>);

impl TypingRooms {
    /// Records whether the owner types in `room`; true when that changed.
    fn changed(&self, room: &RoomId, typing: bool) -> bool {
        let mut rooms = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if typing {
            rooms.insert(room.to_owned())
        } else {
            rooms.remove(room)
        }
    }
}

impl Bridge {
    /// A contact read messages on WhatsApp: their ghost reads the newest of them.
    pub(super) async fn contact_read(
        &self,
        device_id: i32,
        chat: &WaChat,
        reader: &WaUser,
        message_ids: &[String],
    ) -> Result<(), BridgeError> {
        let Some(portal) = self.db.portal_for_chat(device_id, &chat.jid()).await? else {
            return Ok(());
        };
        // The phone may read what we sent before our send returned and stored its pair.
        self.sending
            .settled(device_id, message_ids, SENT_PAIR_WAIT)
            .await;
        let mut newest = None;
        for id in message_ids {
            // The last part of a message is the one shown last.
            if let Some(part) = self
                .db
                .mapped_by_wa_id(device_id, &portal.chat_jid, id)
                .await?
                .pop()
                && newest.as_ref().is_none_or(|(at, _)| part.sent_at_ms > *at)
            {
                newest = Some((part.sent_at_ms, part.event_id));
            }
        }
        let Some((_, event)) = newest else {
            return Ok(());
        };
        let ghost = self.ghost(reader, "").await?;
        self.ghost_in_room(&portal.room_id, &ghost).await?;
        self.client
            .send_read_receipt(&ghost, &portal.room_id, &event)
            .await?;
        Ok(())
    }

    /// A contact started or stopped typing on WhatsApp: so does their ghost.
    pub(super) async fn contact_typing(
        &self,
        device_id: i32,
        chat: &WaChat,
        who: &WaUser,
        typing: bool,
    ) -> Result<(), BridgeError> {
        let Some(portal) = self.db.portal_for_chat(device_id, &chat.jid()).await? else {
            return Ok(());
        };
        let ghost = self.ghost(who, "").await?;
        self.ghost_in_room(&portal.room_id, &ghost).await?;
        self.client
            .set_typing(&ghost, &portal.room_id, typing.then_some(TYPING_SHOWN_FOR))
            .await?;
        Ok(())
    }

    /// The owner read a portal up to `event` on Matrix: WhatsApp hears they read every
    /// message from others since their last receipt.
    pub(super) async fn owner_read(
        &self,
        room: &RoomId,
        reader: &UserId,
        event: &EventId,
    ) -> Result<(), BridgeError> {
        let Some(portal) = self.db.portal_for_room(room).await? else {
            return Ok(());
        };
        let Some(login) = owner_login(self, &portal, reader).await? else {
            return Ok(());
        };
        let Some(target) = self.db.mapped_by_event(room, event).await? else {
            return Ok(());
        };
        let Some(chat) = WaChat::parse(&portal.chat_jid) else {
            return Ok(());
        };
        let own = WaUser::Phone(login.phone.clone()).jid();
        let unread = self
            .db
            .unread_from_others(portal.device_id, &portal.chat_jid, &own, target.sent_at_ms)
            .await?;
        if unread.is_empty() {
            return Ok(());
        }
        let sender = self
            .sessions
            .sender(portal.device_id)
            .ok_or(BridgeError::NotConnected)?;
        for (who, ids) in by_sender(&unread, portal.is_group) {
            sender
                .mark_read(&chat, who.as_ref(), &ids)
                .await
                .map_err(|err| BridgeError::Identity(err.to_string()))?;
        }
        self.db
            .mark_read_sent(portal.device_id, &portal.chat_jid, &unread)
            .await?;
        Ok(())
    }

    /// Who types in a portal changed on Matrix: WhatsApp sees the owner start or stop.
    pub(super) async fn typing_changed(
        &self,
        room: &RoomId,
        typing_users: &[ruma::OwnedUserId],
    ) -> Result<(), BridgeError> {
        let Some(portal) = self.db.portal_for_room(room).await? else {
            return Ok(());
        };
        let Some(login) = self.db.login_of_device(portal.device_id).await? else {
            return Ok(());
        };
        let typing = typing_users.contains(&login.user_id);
        if !self.typing.changed(room, typing) {
            return Ok(());
        }
        let Some(chat) = WaChat::parse(&portal.chat_jid) else {
            return Ok(());
        };
        let sender = self
            .sessions
            .sender(portal.device_id)
            .ok_or(BridgeError::NotConnected)?;
        sender
            .set_typing(&chat, typing)
            .await
            .map_err(|err| BridgeError::Identity(err.to_string()))
    }
}

/// Read receipts go per sender in a group (WhatsApp names the participant), all at once in
/// a direct chat.
fn by_sender(unread: &[UnreadMessage], is_group: bool) -> Vec<(Option<WaUser>, Vec<String>)> {
    let mut groups: Vec<(Option<WaUser>, Vec<String>)> = Vec::new();
    for message in unread {
        let who = if is_group {
            WaUser::parse(&message.wa_sender)
        } else {
            None
        };
        match groups.iter_mut().find(|(sender, _)| *sender == who) {
            Some((_, ids)) => ids.push(message.wa_message_id.clone()),
            None => groups.push((who, vec![message.wa_message_id.clone()])),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unread(id: &str, sender: &str) -> UnreadMessage {
        UnreadMessage {
            wa_message_id: id.into(),
            wa_sender: sender.into(),
        }
    }

    #[test]
    fn group_receipts_name_each_sender_and_direct_ones_do_not() {
        let messages = [
            unread("A", "1@s.whatsapp.net"),
            unread("B", "2@s.whatsapp.net"),
            unread("C", "1@s.whatsapp.net"),
        ];
        assert_eq!(
            by_sender(&messages, true),
            vec![
                (
                    Some(WaUser::Phone("1".into())),
                    vec!["A".to_owned(), "C".to_owned()]
                ),
                (Some(WaUser::Phone("2".into())), vec!["B".to_owned()]),
            ]
        );
        assert_eq!(
            by_sender(&messages, false),
            vec![(None, vec!["A".to_owned(), "B".to_owned(), "C".to_owned()])]
        );
    }

    #[test]
    fn typing_changes_are_reported_once() {
        let rooms = TypingRooms::default();
        let room: OwnedRoomId = "!r:example.com".try_into().expect("room");
        assert!(!rooms.changed(&room, false), "not typing to begin with");
        assert!(rooms.changed(&room, true));
        assert!(!rooms.changed(&room, true), "still typing");
        assert!(rooms.changed(&room, false));
    }
}
