//! `start-chat <number>` (`pm`): opens the direct chat with a WhatsApp number, creating
//! its portal when there is none, after WhatsApp confirmed the number has an account.

use super::account::Context;
use super::sessions::Owner;
use super::{Bridge, BridgeError};
use crate::whatsapp::address::{WaChat, WaUser};
use crate::whatsapp::phone::PhoneNumber;

const USAGE: &str = "Send `start-chat +<number>` with the number in international form, like `start-chat +15551234567`.";

pub(super) async fn start_chat(context: &Context<'_>, args: &str) -> Result<String, BridgeError> {
    let bridge = context.bridge;
    let input = args.trim();
    if input.is_empty() {
        return Ok(USAGE.into());
    }
    let phone = match PhoneNumber::parse(input) {
        Ok(phone) => phone,
        Err(err) => return Ok(format!("`{input}` is not a phone number: {err}.")),
    };
    let Some(login) = bridge.db.logins_of(context.user).await?.into_iter().next() else {
        return Ok(
            "You are not logged in to WhatsApp. Send `login qr` or `login phone` first.".into(),
        );
    };
    if login.phone == phone.digits() {
        return Ok("That is your own number; chats with yourself are not bridged yet.".into());
    }
    let Some(sender) = bridge.sessions.sender(login.device_id) else {
        return Ok(
            "Your WhatsApp account is not connected right now; send `reconnect` and try again."
                .into(),
        );
    };
    let person = format!("+{}", phone.digits());
    match sender.is_on_whatsapp(&phone).await {
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
    let room = bridge
        .open_direct_chat(login.device_id, &owner, &phone)
        .await?;
    Ok(format!(
        "Your chat with {person} is [here](https://matrix.to/#/{room}) (you are invited)."
    ))
}

impl Bridge {
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
        let name = self
            .db
            .ghost_display_name(&super::ghosts::ghost_identifier(&person))
            .await?
            .unwrap_or_else(|| self.chat_name(&person, &Default::default()));
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
