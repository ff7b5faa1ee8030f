//! Ghosts: the Matrix users that stand for WhatsApp contacts. Registered once, their
//! display name kept current, joined to the portals they speak in.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use ruma::{OwnedRoomId, OwnedUserId, RoomId};

use super::{Bridge, BridgeError};
use crate::whatsapp::address::WaUser;

/// What the bridge already did for ghosts in this run, so it is not asked again.
#[derive(Default)]
pub struct GhostCache {
    registered: Mutex<HashSet<OwnedUserId>>,
    joined: Mutex<HashSet<(OwnedRoomId, OwnedUserId)>>,
    avatar_checked: Mutex<HashSet<OwnedUserId>>,
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

/// The name a ghost shows: the contact's push name, else their number.
pub fn display_name(user: &WaUser, push_name: &str) -> String {
    let push_name = push_name.trim();
    // WhatsApp uses "-" for "no name"; control characters never render well.
    if !push_name.is_empty() && push_name != "-" {
        return push_name.chars().filter(|c| !c.is_control()).collect();
    }
    user.to_string()
}

impl Bridge {
    /// The ghost of `user`, registered and named (a push name updates the name).
    pub(super) async fn ghost(
        &self,
        user: &WaUser,
        push_name: &str,
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
        let known = self.db.ghost_display_name(&identifier).await?;
        // An empty push name never replaces a name the ghost already has.
        if known.is_none() || !push_name.trim().is_empty() {
            let name = display_name(user, push_name);
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
    fn identifiers_and_names() {
        let phone = WaUser::Phone("15550002001".into());
        assert_eq!(ghost_identifier(&phone), "15550002001");
        assert_eq!(ghost_identifier(&WaUser::Lid("987".into())), "lid-987");
        assert_eq!(display_name(&phone, " Alice "), "Alice");
        assert_eq!(display_name(&phone, "-"), "+15550002001");
        assert_eq!(display_name(&phone, ""), "+15550002001");
        assert_eq!(display_name(&phone, "Bob\u{0}\n"), "Bob");
    }
}
