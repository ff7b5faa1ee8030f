//! Starting a direct chat from Matrix: `start-chat <number>` (`pm`), or inviting a
//! contact's ghost to a new room. Both check the number is on WhatsApp, open the chat's
//! portal (created when there is none) and point the person to it. A room the person made
//! with a ghost is not bridged itself: the ghost answers there with the portal's link
//! and leaves.

use ruma::events::room::message::RoomMessageEventContent;
use ruma::{EventId, OwnedTransactionId, RoomId, UserId};

use super::account::Context;
use super::ghosts::user_of_identifier;
use super::sessions::Owner;
use super::{Bridge, BridgeError};
use crate::config::PermissionLevel;
use crate::whatsapp::address::{WaChat, WaUser};
use crate::whatsapp::phone::PhoneNumber;

const USAGE: &str = "Send `start-chat +<number>` with the number in international form, like `start-chat +15551234567`.";

pub(super) async fn start_chat(context: &Context<'_>, args: &str) -> Result<String, BridgeError> {
    let input = args.trim();
    if input.is_empty() {
        return Ok(USAGE.into());
    }
    let phone = match PhoneNumber::parse(input) {
        Ok(phone) => phone,
        Err(err) => return Ok(format!("`{input}` is not a phone number: {err}.")),
    };
    context.bridge.open_chat_for(context.user, &phone).await
}

/// Someone invited a contact's ghost to a room: the ghost answers there with the link
/// to the chat's portal (or why there is none) and leaves.
pub(super) async fn ghost_invited(
    bridge: &Bridge,
    room: &RoomId,
    inviter: &UserId,
    ghost: &UserId,
    identifier: &str,
    invite: &EventId,
) -> Result<(), BridgeError> {
    let Some(WaUser::Phone(digits)) = user_of_identifier(identifier) else {
        return Ok(());
    };
    // Inviting a contact into a portal is not how chats start (adding people to
    // WhatsApp groups from Matrix is not bridged yet).
    if bridge.db.portal_for_room(room).await?.is_some() {
        return Ok(());
    }
    let ghost = ghost.to_owned();
    bridge.client.ensure_registered(&ghost).await?;
    if bridge.config.bridge.permissions.level_of(inviter) < PermissionLevel::User {
        bridge
            .client
            .leave(&ghost, room, Some("not allowed to use this bridge"))
            .await?;
        return Ok(());
    }
    let answer = match PhoneNumber::parse(&digits) {
        Ok(phone) => bridge.open_chat_for(inviter, &phone).await?,
        Err(err) => format!("This contact has no usable number: {err}."),
    };
    bridge.client.join(&ghost, room).await?;
    let txn = OwnedTransactionId::from(format!(
        "ghost-invite.{}",
        invite.as_str().trim_start_matches('$')
    ));
    let content = RoomMessageEventContent::notice_markdown(format!(
        "{answer} This room is not bridged to WhatsApp."
    ));
    bridge
        .client
        .send_message(&ghost, room, txn, &content)
        .await?;
    bridge.client.leave(&ghost, room, None).await?;
    Ok(())
}

impl Bridge {
    /// Opens `user`'s chat with `phone`; the answer for them, in Markdown.
    async fn open_chat_for(
        &self,
        user: &UserId,
        phone: &PhoneNumber,
    ) -> Result<String, BridgeError> {
        let Some(login) = self.db.logins_of(user).await?.into_iter().next() else {
            return Ok("You are not logged in to WhatsApp. Send `login qr` or `login phone` to the bridge bot first.".into());
        };
        if login.phone == phone.digits() {
            return Ok("That is your own number; chats with yourself are not bridged yet.".into());
        }
        let Some(sender) = self.sessions.sender(login.device_id) else {
            return Ok(
                "Your WhatsApp account is not connected right now; send `reconnect` and try again."
                    .into(),
            );
        };
        let person = format!("+{}", phone.digits());
        match sender.is_on_whatsapp(phone).await {
            Ok(true) => {}
            Ok(false) => return Ok(format!("{person} is not on WhatsApp.")),
            Err(err) => {
                return Ok(format!(
                    "WhatsApp could not say whether {person} is on WhatsApp ({err}); try again."
                ));
            }
        }
        let Ok(owner_phone) = PhoneNumber::parse(&login.phone) else {
            return Ok("Your stored login has no readable number; log in again.".into());
        };
        let owner = Owner {
            user: login.user_id.clone(),
            phone: owner_phone,
        };
        let room = self
            .open_direct_chat(login.device_id, &owner, phone)
            .await?;
        Ok(format!(
            "Your chat with {person} is [here](https://matrix.to/#/{room}) (you are invited)."
        ))
    }

    /// The portal of the direct chat with `phone`, created if needed, with the person's
    /// ghost in it and the owner invited (again, if they left).
    async fn open_direct_chat(
        &self,
        device_id: i32,
        owner: &Owner,
        phone: &PhoneNumber,
    ) -> Result<ruma::OwnedRoomId, BridgeError> {
        let person = WaUser::from_phone(phone);
        let ghost = self.ghost(&person, "").await?;
        let name = self.known_name(&person).await?;
        let chat = WaChat::Direct(person.clone());
        let portal = self.portal(device_id, owner, &chat, &name).await?;
        self.ghost_in_room(&portal.room_id, &ghost).await?;
        // Invited again only if they left: a second invite would replace the first
        // (and its `is_direct`).
        let membership = self
            .client
            .state_content(
                self.ids.bot(),
                &portal.room_id,
                "m.room.member",
                owner.user.as_str(),
            )
            .await?;
        let present = membership
            .as_ref()
            .and_then(|content| content["membership"].as_str())
            .is_some_and(|membership| membership == "join" || membership == "invite");
        if !present {
            self.client
                .invite(self.ids.bot(), &portal.room_id, &owner.user)
                .await?;
        }
        self.check_avatar_once(device_id, &person, &ghost);
        Ok(portal.room_id)
    }
}

/// How many contacts `search` lists at most.
const SEARCH_RESULTS: usize = 20;

/// `search <name or number>`: the person's contacts whose name or number matches.
pub(super) async fn search(context: &Context<'_>, args: &str) -> Result<String, BridgeError> {
    let bridge = context.bridge;
    let query = args.trim();
    if query.is_empty() {
        return Ok("Send `search <name or number>`.".into());
    }
    let Some(login) = bridge.db.logins_of(context.user).await?.into_iter().next() else {
        return Ok("You are not logged in to WhatsApp.".into());
    };
    // Only people this login knows: other users' contacts stay theirs.
    let known: std::collections::HashSet<String> = bridge
        .db
        .known_people(login.device_id)
        .await?
        .iter()
        .filter_map(|jid| WaUser::parse(jid))
        .map(|user| super::ghosts::ghost_identifier(&user))
        .collect();
    let query = query.trim_start_matches('+');
    let found: Vec<String> = bridge
        .db
        .search_ghosts(query, 500)
        .await?
        .into_iter()
        .filter(|(identifier, _)| known.contains(identifier))
        .filter_map(|(identifier, name)| {
            let WaUser::Phone(digits) = user_of_identifier(&identifier)? else {
                return None;
            };
            Some(format!("* {name} — `start-chat +{digits}`"))
        })
        .take(SEARCH_RESULTS)
        .collect();
    if found.is_empty() {
        return Ok(format!("No contact of yours matches `{query}`."));
    }
    Ok(format!(
        "Your contacts matching `{query}`:\n\n{}",
        found.join("\n")
    ))
}
