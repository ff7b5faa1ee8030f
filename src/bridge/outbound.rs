//! Matrix → WhatsApp: what the owner of a portal writes in it goes to the chat, from
//! their linked account. A message that cannot go gets a notice in the room saying why.

use ruma::events::room::message::{OriginalRoomMessageEvent, Relation, RoomMessageEventContent};
use ruma::{EventId, OwnedTransactionId};
use sha2::{Digest, Sha256};

use super::{Bridge, BridgeError};
use crate::convert::to_whatsapp;
use crate::db::message_map::MappedMessage;
use crate::db::portals::PortalRow;
use crate::whatsapp::address::{WaChat, WaUser};

/// The WhatsApp message ID of a Matrix event: the same event is always the same WhatsApp
/// message, so sending it again after a crash duplicates nothing on the phones.
pub fn wa_message_id(event: &EventId) -> String {
    let digest = Sha256::digest(event.as_str());
    let hex: String = digest[..9].iter().map(|b| format!("{b:02X}")).collect();
    format!("3EB0{hex}")
}

pub(super) async fn on_message(
    bridge: &Bridge,
    portal: &PortalRow,
    message: &OriginalRoomMessageEvent,
) -> Result<(), BridgeError> {
    let Some(login) = bridge.db.login_of_device(portal.device_id).await? else {
        return Ok(());
    };
    // Only the portal's owner speaks through it; nobody is sent as someone else.
    if message.sender != login.user_id {
        return Ok(());
    }
    if matches!(message.content.relates_to, Some(Relation::Replacement(_))) {
        return notice(
            bridge,
            portal,
            &message.event_id,
            "Edits are not bridged to WhatsApp yet.",
        )
        .await;
    }
    if bridge
        .db
        .mapped_by_event(&portal.room_id, &message.event_id)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let chat = WaChat::parse(&portal.chat_jid)
        .ok_or_else(|| BridgeError::Identity(format!("unreadable chat {}", portal.chat_jid)))?;
    let outgoing = match to_whatsapp::convert(&message.content) {
        Ok(outgoing) => outgoing,
        Err(reason) => {
            return notice(
                bridge,
                portal,
                &message.event_id,
                &format!("Not sent: {reason}."),
            )
            .await;
        }
    };
    let Some(sender) = bridge.sessions.sender(portal.device_id) else {
        return notice(
            bridge,
            portal,
            &message.event_id,
            "Not sent: your WhatsApp account is not connected (send `reconnect` to the bot).",
        )
        .await;
    };
    let id = wa_message_id(&message.event_id);
    if let Err(err) = sender.send(&chat, outgoing, &id).await {
        return notice(
            bridge,
            portal,
            &message.event_id,
            &format!("Not sent: {err}."),
        )
        .await;
    }
    let own = WaUser::Phone(login.phone.clone());
    let mapped = MappedMessage {
        device_id: portal.device_id,
        chat_jid: portal.chat_jid.clone(),
        wa_message_id: id,
        part: 0,
        wa_sender: own.jid(),
        event_id: message.event_id.clone(),
        sent_at_ms: bridge.clock.now_ms(),
    };
    bridge.db.map_message(&mapped, &portal.room_id).await?;
    Ok(())
}

async fn notice(
    bridge: &Bridge,
    portal: &PortalRow,
    about: &EventId,
    text: &str,
) -> Result<(), BridgeError> {
    let content = RoomMessageEventContent::notice_plain(text);
    let txn = OwnedTransactionId::from(format!("notbridged.{}", wa_message_id(about)));
    bridge
        .client
        .send_message(bridge.ids.bot(), &portal.room_id, txn, &content)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_look_like_whatsapp_web_ones_and_are_stable() {
        let event = ruma::event_id!("$abc:localhost");
        let id = wa_message_id(event);
        assert_eq!(id.len(), 22);
        assert!(id.starts_with("3EB0"));
        assert_eq!(id, wa_message_id(event));
        assert_ne!(id, wa_message_id(ruma::event_id!("$abd:localhost")));
    }
}
