//! One person, one ghost. WhatsApp names a person by phone number or by LID, and tells
//! which LID is which number only now and then. Until the bridge knows, a LID speaks
//! through a `lid-<n>` ghost in a chat keyed by the LID; once it knows, everything kept
//! under the LID moves to the phone number: the direct chat's portal (the same room),
//! the message map, and the ghost's place in every portal (the number's ghost joins,
//! the LID's ghost leaves). Every later message by either address lands on the number.

use ruma::OwnedRoomId;

use super::{Bridge, BridgeError};
use crate::bridge::ghosts::ghost_identifier;
use crate::whatsapp::address::{WaChat, WaUser};
use crate::whatsapp::inbox::InboxEntry;

/// The (LID, phone digits) pair a message tells, when it names its sender both ways.
pub(super) fn mapping_in(entry: &InboxEntry) -> Option<(String, String)> {
    match (
        WaUser::parse(&entry.sender)?,
        WaUser::parse(&entry.sender_alt)?,
    ) {
        (WaUser::Lid(lid), WaUser::Phone(phone)) | (WaUser::Phone(phone), WaUser::Lid(lid)) => {
            Some((lid, phone))
        }
        _ => None,
    }
}

impl Bridge {
    /// `user` by phone number when the bridge knows it.
    pub(super) async fn by_phone(&self, user: WaUser) -> WaUser {
        let WaUser::Lid(lid) = &user else {
            return user;
        };
        match self.db.phone_for_lid(lid).await {
            Ok(Some(phone)) => WaUser::Phone(phone),
            Ok(None) => user,
            Err(err) => {
                tracing::warn!(error = %err, "cannot look up a LID's phone number");
                user
            }
        }
    }

    /// Writes a message's LID addresses (sender, direct chat) by phone number where the
    /// bridge knows it, so it reaches the person's one ghost and one portal.
    pub(super) async fn address_by_phone(&self, entry: &mut InboxEntry) {
        if let Some(sender @ WaUser::Lid(_)) = WaUser::parse(&entry.sender)
            && WaUser::parse(&entry.sender_alt).is_none()
            && let phone @ WaUser::Phone(_) = self.by_phone(sender).await
        {
            entry.sender_alt = phone.jid();
        }
        if let Some(WaChat::Direct(person @ WaUser::Lid(_))) = WaChat::parse(&entry.chat)
            && let phone @ WaUser::Phone(_) = self.by_phone(person).await
        {
            entry.chat = phone.jid();
        }
    }

    /// The (LID, phone digits) pair of a message that names its sender, or its direct
    /// chat, by a LID alone whose number the bridge knows but has not moved to yet.
    pub(super) async fn unsettled_pair(&self, entry: &InboxEntry) -> Option<(String, String)> {
        let lid = match (WaUser::parse(&entry.sender), WaChat::parse(&entry.chat)) {
            (Some(WaUser::Lid(lid)), _) if WaUser::parse(&entry.sender_alt).is_none() => lid,
            (_, Some(WaChat::Direct(WaUser::Lid(lid)))) => lid,
            _ => return None,
        };
        if !self.lid_unsettled(&lid) {
            return None;
        }
        match self.by_phone(WaUser::Lid(lid.clone())).await {
            WaUser::Phone(phone) => Some((lid, phone)),
            WaUser::Lid(_) => None,
        }
    }

    /// True when what the bridge keeps under `lid` may still need moving to its number
    /// (checked once per LID and run).
    pub(super) fn lid_unsettled(&self, lid: &str) -> bool {
        !self.ghosts.lid_settled(lid)
    }

    /// Remembers that `lid` is `phone` and moves everything kept under the LID to the
    /// number. Safe to repeat: after a crash in the middle, the next message that tells
    /// the pair finishes the move.
    pub(super) async fn settle_lid(&self, lid: &str, phone: &str) -> Result<(), BridgeError> {
        self.db
            .learn_lid_phone(lid, phone, self.clock.now_ms())
            .await?;
        let lid_user = WaUser::Lid(lid.to_owned());
        let phone_user = WaUser::Phone(phone.to_owned());
        let moved = self
            .db
            .move_lid_to_phone(&lid_user.jid(), &phone_user.jid())
            .await?;
        for room in moved {
            self.retitle_moved_portal(&room, &lid_user, &phone_user)
                .await;
        }
        let identifier = ghost_identifier(&lid_user);
        if self.db.ghost_display_name(&identifier).await?.is_some() {
            self.merge_ghost(&identifier, &phone_user).await?;
            self.db.forget_ghost(&identifier).await?;
        }
        self.ghosts.settle_lid(lid);
        Ok(())
    }

    /// The LID's ghost hands its place in every portal to the number's ghost.
    async fn merge_ghost(&self, identifier: &str, phone_user: &WaUser) -> Result<(), BridgeError> {
        let lid_ghost = self
            .ids
            .ghost(identifier)
            .map_err(|err| BridgeError::Identity(err.to_string()))?;
        let phone_ghost = self.ghost(phone_user, "").await?;
        let rooms: Vec<OwnedRoomId> = self.client.joined_rooms(&lid_ghost).await?;
        let reason = format!("the same person as {phone_user}");
        for room in rooms {
            if self.db.portal_for_room(&room).await?.is_none() {
                continue;
            }
            self.ghost_in_room(&room, &phone_ghost).await?;
            self.client.leave(&lid_ghost, &room, Some(&reason)).await?;
            self.ghosts.left(&room, &lid_ghost);
        }
        tracing::debug!(%lid_ghost, %phone_ghost, "merged a LID's ghost into the phone number's");
        Ok(())
    }

    /// A moved direct portal says which chat it is by the new address, and is listed in
    /// its owner's `m.direct` under the number's ghost (best effort).
    async fn retitle_moved_portal(&self, room: &str, lid_user: &WaUser, phone_user: &WaUser) {
        let Ok(room) = OwnedRoomId::try_from(room) else {
            return;
        };
        if let Ok(Some(portal)) = self.db.portal_for_room(&room).await
            && let Ok(Some(login)) = self.db.login_of_device(portal.device_id).await
            && let Ok(partner) = self.ids.ghost(&ghost_identifier(phone_user))
        {
            self.mark_direct(&login.user_id, &partner, &room).await;
        }
        let name = self
            .known_name(phone_user)
            .await
            .unwrap_or_else(|_| phone_user.to_string());
        if let Err(err) = self
            .client
            .move_bridge_channel(
                self.ids.bot(),
                &room,
                "whatsapp",
                &lid_user.jid(),
                &phone_user.jid(),
                &name,
            )
            .await
        {
            tracing::warn!(%room, error = %err, "cannot update a moved portal's bridge state");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(sender: &str, sender_alt: &str) -> InboxEntry {
        InboxEntry {
            sender: sender.into(),
            sender_alt: sender_alt.into(),
            ..InboxEntry::default()
        }
    }

    #[test]
    fn a_message_tells_the_pair_whichever_way_round() {
        let pair = Some(("987".to_owned(), "15550002001".to_owned()));
        assert_eq!(
            mapping_in(&entry("987@lid", "15550002001@s.whatsapp.net")),
            pair
        );
        assert_eq!(
            mapping_in(&entry("15550002001:3@s.whatsapp.net", "987:3@lid")),
            pair
        );
        assert_eq!(mapping_in(&entry("987@lid", "")), None);
        assert_eq!(
            mapping_in(&entry(
                "15550002001@s.whatsapp.net",
                "15550002002@s.whatsapp.net"
            )),
            None
        );
    }
}
