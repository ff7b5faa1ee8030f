//! Ghosts: the Matrix users that stand for WhatsApp contacts. Registered once, their
//! display name kept current, joined to the portals they speak in.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use ruma::{OwnedRoomId, OwnedUserId, RoomId};

use super::contact_names::{ContactNames, render};
use super::{Bridge, BridgeError};
use crate::config::NameSource;
use crate::whatsapp::address::{WaChat, WaUser};

/// What the bridge already did for ghosts in this run, so it is not asked again.
#[derive(Default)]
pub struct GhostCache {
    registered: Mutex<HashSet<OwnedUserId>>,
    joined: Mutex<HashSet<(OwnedRoomId, OwnedUserId)>>,
    avatar_checked: Mutex<HashSet<OwnedUserId>>,
    /// LIDs whose phone number is known and whose ghost and chats were moved to it.
    settled_lids: Mutex<HashSet<String>>,
}

impl GhostCache {
    fn is_registered(&self, ghost: &OwnedUserId) -> bool {
        self.registered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(ghost)
    }

    fn registered(&self, ghost: OwnedUserId) {
        self.registered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(ghost);
    }

    fn is_joined(&self, room: &RoomId, ghost: &OwnedUserId) -> bool {
        self.joined
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&(room.to_owned(), ghost.clone()))
    }

    fn joined(&self, room: &RoomId, ghost: OwnedUserId) {
        self.joined
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((room.to_owned(), ghost));
    }

    /// True the first time it is asked for a ghost in this run: its picture is worth a
    /// look then (later changes come as notifications).
    pub(super) fn first_avatar_check(&self, ghost: &OwnedUserId) -> bool {
        self.avatar_checked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(ghost.clone())
    }

    pub(super) fn lid_settled(&self, lid: &str) -> bool {
        self.settled_lids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(lid)
    }

    pub(super) fn settle_lid(&self, lid: &str) {
        self.settled_lids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(lid.to_owned());
    }

    pub(super) fn left(&self, room: &RoomId, ghost: &OwnedUserId) {
        self.joined
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(room.to_owned(), ghost.clone()));
    }
}

/// The ghost's identifier inside the username template: phone digits, or `lid-<n>` for
/// someone known only by LID.
pub fn ghost_identifier(user: &WaUser) -> String {
    match user {
        WaUser::Phone(digits) => digits.clone(),
        WaUser::Lid(lid) => format!("lid-{lid}"),
    }
}

/// The WhatsApp person a ghost identifier (`digits` or `lid-<n>`) stands for.
pub(super) fn user_of_identifier(identifier: &str) -> Option<WaUser> {
    let user = match identifier.strip_prefix("lid-") {
        Some(lid) => WaUser::Lid(lid.to_owned()),
        None => WaUser::Phone(identifier.to_owned()),
    };
    let digits = match &user {
        WaUser::Phone(digits) | WaUser::Lid(digits) => digits,
    };
    (!digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())).then_some(user)
}

impl Bridge {
    /// Whether display names may come from the users' address books.
    fn uses_contact_names(&self) -> bool {
        self.config
            .bridge
            .displayname_sources
            .contains(&NameSource::ContactName)
    }

    /// A user's phone saved `user` in its address book as `name`: kept, and the ghost
    /// (if there is one) renamed when names come from address books.
    pub(super) async fn contact_named(&self, user: &WaUser, name: &str) -> Result<(), BridgeError> {
        let identifier = ghost_identifier(user);
        let changed = self
            .db
            .set_contact_name(&identifier, name, self.clock.now_ms())
            .await?;
        if changed
            && self.uses_contact_names()
            && self.db.ghost_display_name(&identifier).await?.is_some()
        {
            let names = ContactNames {
                contact_name: name,
                ..ContactNames::default()
            };
            self.ghost_named(user, &names).await?;
        }
        Ok(())
    }

    /// `sync contacts`: the address book is read from WhatsApp again (names arrive as
    /// they come), and the people of the direct chats get their names and pictures
    /// looked at again.
    pub(super) async fn sync_contacts(&self, device_id: i32) -> Result<String, BridgeError> {
        let Some(session) = self.sessions.sender(device_id) else {
            return Ok(
                "Your WhatsApp account is not connected right now; send `reconnect` and try again."
                    .into(),
            );
        };
        session.resync_contacts().await;
        let mut people = 0;
        for portal in self.db.direct_portals(device_id).await? {
            let Some(WaChat::Direct(person)) = WaChat::parse(&portal.chat_jid) else {
                continue;
            };
            self.ghost_named(&person, &ContactNames::default()).await?;
            self.refresh_avatar_later(device_id, person);
            people += 1;
        }
        Ok(format!(
            "Read your contacts from WhatsApp again; the {people} {} of your direct chats {} brought up to date.",
            if people == 1 { "person" } else { "people" },
            if people == 1 { "is" } else { "are" },
        ))
    }

    /// The name a contact shows, by the configured template.
    pub(super) fn display_name(&self, user: &WaUser, names: &ContactNames) -> String {
        let bridge = &self.config.bridge;
        render(
            &bridge.displayname_template,
            &bridge.displayname_sources,
            user,
            names,
        )
    }

    /// The name of a direct chat with `user`: the contact's name without the template's
    /// decoration.
    pub(super) fn chat_name(&self, user: &WaUser, names: &ContactNames) -> String {
        render(
            "{name}",
            &self.config.bridge.displayname_sources,
            user,
            names,
        )
    }

    /// What a direct chat with `person` is called: the name their ghost has, or the name
    /// the template gives them now.
    pub(super) async fn known_name(&self, person: &WaUser) -> Result<String, BridgeError> {
        Ok(self
            .db
            .ghost_display_name(&ghost_identifier(person))
            .await?
            .unwrap_or_else(|| self.chat_name(person, &ContactNames::default())))
    }

    /// The ghost of `user`, registered and named (its push name, when given, updates it).
    pub(super) async fn ghost(
        &self,
        user: &WaUser,
        push_name: &str,
    ) -> Result<OwnedUserId, BridgeError> {
        let names = ContactNames {
            push_name,
            ..ContactNames::default()
        };
        self.ghost_named(user, &names).await
    }

    /// The ghost of `user`, registered and named from what WhatsApp told of them.
    pub(super) async fn ghost_named(
        &self,
        user: &WaUser,
        names: &ContactNames<'_>,
    ) -> Result<OwnedUserId, BridgeError> {
        let identifier = ghost_identifier(user);
        let ghost = self
            .ids
            .ghost(&identifier)
            .map_err(|err| BridgeError::Identity(err.to_string()))?;
        if !self.ghosts.is_registered(&ghost) {
            self.client.ensure_registered(&ghost).await?;
            self.ghosts.registered(ghost.clone());
        }
        let address_book = if self.uses_contact_names() && names.contact_name.is_empty() {
            self.db.contact_name(&identifier).await?
        } else {
            None
        };
        let names = &ContactNames {
            contact_name: address_book.as_deref().unwrap_or(names.contact_name),
            ..*names
        };
        let known = self.db.ghost_display_name(&identifier).await?;
        // Not knowing a name never replaces a name the ghost already has.
        if known.is_none() || !names.is_empty() {
            let name = self.display_name(user, names);
            if known.as_deref() != Some(name.as_str()) {
                self.client.set_display_name(&ghost, &name).await?;
                self.db
                    .set_ghost_display_name(&identifier, &name, self.clock.now_ms())
                    .await?;
            }
        }
        Ok(ghost)
    }

    /// Makes sure the ghost is in the room (the bot invites, the ghost joins).
    pub(super) async fn ghost_in_room(
        &self,
        room: &RoomId,
        ghost: &OwnedUserId,
    ) -> Result<(), BridgeError> {
        if self.ghosts.is_joined(room, ghost) {
            return Ok(());
        }
        self.client.invite(self.ids.bot(), room, ghost).await?;
        self.client.join(ghost, room).await?;
        self.ghosts.joined(room, ghost.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ghost_identifiers_name_people() {
        assert_eq!(
            user_of_identifier("15550002001"),
            Some(WaUser::Phone("15550002001".into()))
        );
        assert_eq!(
            user_of_identifier("lid-987"),
            Some(WaUser::Lid("987".into()))
        );
        assert_eq!(user_of_identifier("lid-"), None);
        assert_eq!(user_of_identifier("abc"), None);
        assert_eq!(user_of_identifier(""), None);
    }

    #[test]
    fn identifiers_and_names() {
        let phone = WaUser::Phone("15550002001".into());
        assert_eq!(ghost_identifier(&phone), "15550002001");
        assert_eq!(ghost_identifier(&WaUser::Lid("987".into())), "lid-987");
    }
}
