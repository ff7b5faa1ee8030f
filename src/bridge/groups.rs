//! Group portals follow their WhatsApp group: the room's name and topic are the group's
//! name and description, its members' ghosts are in the room, and admins have power.
//! A device's syncer reads a group from WhatsApp whenever WhatsApp says it changed
//! (and every group portal once after connecting, at most hourly, for changes missed
//! while away) and brings the room in line; it is idempotent, so reading twice is
//! harmless and nothing depends on having seen each change.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ruma::{OwnedUserId, UserId};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::sessions::Owner;
use super::{Bridge, BridgeError};
use crate::db::portals::PortalRow;
use crate::whatsapp::address::{WaChat, WaUser};
use crate::whatsapp::group::{GroupError, GroupInfo, GroupRole};

/// Power of a group's super admin (its creator) and of its admins in the room; the
/// portal's owner has 100.
pub const SUPER_ADMIN_LEVEL: i64 = 95;
pub const ADMIN_LEVEL: i64 = 75;
/// Every group portal is read again after a connect, but not more often than this.
const FULL_RESYNC_EVERY: Duration = Duration::from_secs(3600);

/// What a device's group syncer is asked to do.
#[derive(Debug, Clone)]
pub(super) enum GroupSync {
    /// This group (a JID) changed on WhatsApp.
    Changed(String),
    /// The session connected: look at every group portal if it has been a while.
    Connected,
}

/// Starts the syncer of a device; it ends when the returned sender is dropped.
pub(super) fn start(
    bridge: Bridge,
    device_id: i32,
    owner: Owner,
) -> mpsc::UnboundedSender<GroupSync> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(syncer(bridge, device_id, owner, rx));
    tx
}

async fn syncer(
    bridge: Bridge,
    device_id: i32,
    owner: Owner,
    mut requests: mpsc::UnboundedReceiver<GroupSync>,
) {
    let mut last_full: Option<tokio::time::Instant> = None;
    while let Some(first) = requests.recv().await {
        // One notification is often several events (one per action): read once.
        let mut groups = BTreeSet::new();
        let mut pending = vec![first];
        while let Ok(more) = requests.try_recv() {
            pending.push(more);
        }
        for request in pending {
            match request {
                GroupSync::Changed(jid) => {
                    groups.insert(jid);
                }
                GroupSync::Connected
                    if last_full.is_none_or(|at| at.elapsed() >= FULL_RESYNC_EVERY) =>
                {
                    last_full = Some(tokio::time::Instant::now());
                    match bridge.db.group_portals(device_id).await {
                        Ok(portals) => groups.extend(portals.into_iter().map(|p| p.chat_jid)),
                        Err(err) => {
                            tracing::warn!(device_id, error = %err, "cannot list group portals")
                        }
                    }
                }
                GroupSync::Connected => {}
            }
        }
        for jid in groups {
            if let Err(err) = sync(&bridge, device_id, &owner, &jid).await {
                tracing::warn!(device_id, group = %jid, error = %err, "could not bring a group portal up to date");
            }
        }
    }
}

async fn sync(
    bridge: &Bridge,
    device_id: i32,
    owner: &Owner,
    jid: &str,
) -> Result<(), BridgeError> {
    let Some(chat) = WaChat::parse(jid).filter(WaChat::is_group) else {
        return Ok(());
    };
    let Some(portal) = bridge.db.portal_for_chat(device_id, &chat.jid()).await? else {
        // No portal yet: the group's first message creates it, up to date.
        return Ok(());
    };
    let Some(session) = bridge.sessions.sender(device_id) else {
        return Ok(());
    };
    match session.group_info(&chat).await {
        Ok(info) => {
            apply(bridge, owner, &portal, &info).await?;
            group_avatar(bridge, &portal).await;
            Ok(())
        }
        Err(GroupError::NotMember) => {
            tracing::info!(device_id, group = %jid, "the account is no longer in a group");
            Ok(())
        }
        Err(err) => {
            tracing::warn!(device_id, group = %jid, error = %err, "could not read a group");
            Ok(())
        }
    }
}

impl Bridge {
    /// `sync groups`: a portal for every group the account is in (created when missing),
    /// each brought up to date; the answer for the person.
    pub(super) async fn sync_all_groups(
        &self,
        device_id: i32,
        owner: &Owner,
    ) -> Result<String, BridgeError> {
        let Some(session) = self.sessions.sender(device_id) else {
            return Ok(
                "Your WhatsApp account is not connected right now; send `reconnect` and try again."
                    .into(),
            );
        };
        let groups = match session.participating_groups().await {
            Ok(groups) => groups,
            Err(err) => {
                return Ok(format!(
                    "WhatsApp did not list your groups ({err}); try again."
                ));
            }
        };
        let mut created = 0;
        for chat in &groups {
            if self
                .db
                .portal_for_chat(device_id, &chat.jid())
                .await?
                .is_some()
            {
                sync(self, device_id, owner, &chat.jid()).await?;
            } else {
                self.group_portal(device_id, owner, chat).await?;
                created += 1;
            }
        }
        Ok(format!(
            "Synced {} group{}: {created} new portal{} (you are invited to them).",
            groups.len(),
            if groups.len() == 1 { "" } else { "s" },
            if created == 1 { "" } else { "s" },
        ))
    }

    /// A group's portal; a new one starts with the group's name, topic and members.
    pub(super) async fn group_portal(
        &self,
        device_id: i32,
        owner: &Owner,
        chat: &WaChat,
    ) -> Result<PortalRow, BridgeError> {
        if let Some(portal) = self.db.portal_for_chat(device_id, &chat.jid()).await? {
            return Ok(portal);
        }
        let info = match self.sessions.sender(device_id) {
            Some(session) => match session.group_info(chat).await {
                Ok(info) => Some(info),
                Err(err) => {
                    tracing::warn!(device_id, group = %chat.jid(), error = %err, "could not read a new group; its portal starts unnamed");
                    None
                }
            },
            None => None,
        };
        let name = info
            .as_ref()
            .map(|info| info.name.trim())
            .filter(|name| !name.is_empty())
            .unwrap_or("WhatsApp group")
            .to_owned();
        let portal = self.portal(device_id, owner, chat, &name).await?;
        if let Some(info) = info {
            apply(self, owner, &portal, &info).await?;
            group_avatar(self, &portal).await;
        }
        Ok(portal)
    }
}

/// The group's picture as the room's avatar; a failure is logged (the next sync retries).
async fn group_avatar(bridge: &Bridge, portal: &PortalRow) {
    if let Err(err) = bridge.refresh_group_avatar(portal).await {
        tracing::info!(group = %portal.chat_jid, error = %err, "could not bring a group's picture over");
    }
}

/// Brings the room in line with the group: name, topic, member ghosts, power levels.
pub(super) async fn apply(
    bridge: &Bridge,
    owner: &Owner,
    portal: &PortalRow,
    info: &GroupInfo,
) -> Result<(), BridgeError> {
    let bot = bridge.ids.bot();
    let room = &portal.room_id;
    let client = &bridge.client;

    let name = client.state_content(bot, room, "m.room.name", "").await?;
    let name_now = name.as_ref().and_then(|content| content["name"].as_str());
    if !info.name.trim().is_empty() && name_now != Some(info.name.as_str()) {
        client
            .set_state(bot, room, "m.room.name", "", &json!({ "name": info.name }))
            .await?;
    }
    let topic = client.state_content(bot, room, "m.room.topic", "").await?;
    let topic_now = topic
        .as_ref()
        .and_then(|content| content["topic"].as_str())
        .unwrap_or_default();
    let topic_wanted = info.description.as_deref().unwrap_or_default();
    if topic_now != topic_wanted {
        client
            .set_state(
                bot,
                room,
                "m.room.topic",
                "",
                &json!({ "topic": topic_wanted }),
            )
            .await?;
    }

    // The owner is in the room as themselves; their phone's ghost only joins to speak.
    let own = WaUser::from_phone(&owner.phone);
    let own_ghost = bridge.ghost(&own, "").await?;
    let mut wanted: BTreeMap<OwnedUserId, GroupRole> = BTreeMap::new();
    for member in info.members.iter().filter(|member| member.user != own) {
        let ghost = bridge.ghost(&member.user, "").await?;
        wanted.insert(ghost, member.role);
    }
    let joined: BTreeSet<OwnedUserId> = client
        .joined_members(bot, room)
        .await?
        .into_iter()
        .filter(|user| bridge.ids.ghost_identifier(user).is_some() && *user != own_ghost)
        .collect();
    for ghost in wanted.keys().filter(|ghost| !joined.contains(*ghost)) {
        bridge.ghost_in_room(room, ghost).await?;
    }
    for ghost in joined.iter().filter(|ghost| !wanted.contains_key(*ghost)) {
        client.leave(ghost, room, None).await?;
        bridge.ghosts.left(room, ghost);
    }

    let levels: BTreeMap<String, i64> = wanted
        .iter()
        .filter_map(|(ghost, role)| level_of(*role).map(|level| (ghost.to_string(), level)))
        .collect();
    let current = client
        .state_content(bot, room, "m.room.power_levels", "")
        .await?
        .unwrap_or_else(|| json!({}));
    let is_ghost = |user: &str| {
        UserId::parse(user)
            .is_ok_and(|user| bridge.ids.ghost_identifier(&user).is_some() && user != own_ghost)
    };
    if let Some(updated) = with_ghost_levels(current, &levels, is_ghost) {
        client
            .set_state(bot, room, "m.room.power_levels", "", &updated)
            .await?;
    }
    Ok(())
}

fn level_of(role: GroupRole) -> Option<i64> {
    match role {
        GroupRole::SuperAdmin => Some(SUPER_ADMIN_LEVEL),
        GroupRole::Admin => Some(ADMIN_LEVEL),
        GroupRole::Member => None,
    }
}

/// The power levels with the ghosts' entries exactly `levels` (others untouched); None
/// when nothing changes.
fn with_ghost_levels(
    mut content: Value,
    levels: &BTreeMap<String, i64>,
    is_ghost: impl Fn(&str) -> bool,
) -> Option<Value> {
    let users = content
        .as_object_mut()?
        .entry("users")
        .or_insert_with(|| json!({}))
        .as_object_mut()?;
    let before = users.clone();
    users.retain(|user, _| !is_ghost(user) || levels.contains_key(user));
    for (user, level) in levels {
        users.insert(user.clone(), json!(level));
    }
    (*users != before).then_some(content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ghost_levels_follow_the_group_and_nothing_else_moves() {
        let current = json!({
            "users": { "@alice:hs": 100, "@whatsapp_1:hs": 75, "@whatsapp_2:hs": 75 },
            "events_default": 0,
        });
        let is_ghost = |user: &str| user.starts_with("@whatsapp_");
        let levels = BTreeMap::from([
            ("@whatsapp_1:hs".to_owned(), SUPER_ADMIN_LEVEL),
            ("@whatsapp_3:hs".to_owned(), ADMIN_LEVEL),
        ]);
        let updated = with_ghost_levels(current, &levels, is_ghost).expect("a change");
        assert_eq!(
            updated,
            json!({
                "users": { "@alice:hs": 100, "@whatsapp_1:hs": 95, "@whatsapp_3:hs": 75 },
                "events_default": 0,
            })
        );
        assert_eq!(with_ghost_levels(updated, &levels, is_ghost), None);
    }
}
