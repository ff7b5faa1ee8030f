//! Messages the bridge could not decrypt: a notice holds their place in the portal, and
//! when WhatsApp sends the message again (after the library's retry request) the notice
//! becomes the message: edited into it when it is a plain message, otherwise removed once
//! the message is posted. The notice is mapped as the message's placeholder part.

use ruma::OwnedTransactionId;
use ruma::events::room::message::{ReplacementMetadata, RoomMessageEventContent};
use sha2::{Digest, Sha256};

use super::inbound::{Speaker, txn_for};
use super::{Bridge, BridgeError};
use crate::convert::to_matrix::{Part, ToMatrix};
use crate::db::message_map::{MappedMessage, PLACEHOLDER_PART};
use crate::whatsapp::address::WaChat;
use crate::whatsapp::inbox::InboxEntry;

const WAITING: &str = "Waiting for this message: WhatsApp could not decrypt it yet and asked the sender's phone to send it again. It will show here when it comes.";

/// The placeholder's own transactions (its notice, its removal), apart from the parts'.
fn placeholder_txn(device_id: i32, chat: &str, message_id: &str, what: &str) -> OwnedTransactionId {
    let digest = Sha256::digest(format!("{device_id}\0{chat}\0{message_id}\0{what}"));
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    OwnedTransactionId::from(format!("wa.hold.{hex}"))
}

/// Posts the notice that holds an undecryptable message's place.
pub(super) async fn hold_place(
    bridge: &Bridge,
    device_id: i32,
    chat: &WaChat,
    entry: &InboxEntry,
    speaker: &Speaker,
) -> Result<(), BridgeError> {
    let chat_jid = chat.jid();
    let txn = placeholder_txn(device_id, &chat_jid, &entry.message_id, "notice");
    let content = RoomMessageEventContent::notice_plain(WAITING);
    let room = &speaker.portal.room_id;
    let event_id = bridge
        .client
        .send_message_at(&speaker.ghost, room, txn, &content, entry.sent_at_ms)
        .await?;
    let mapped = MappedMessage {
        device_id,
        chat_jid,
        wa_message_id: entry.message_id.clone(),
        part: PLACEHOLDER_PART,
        wa_sender: speaker.sender.jid(),
        event_id,
        sent_at_ms: entry.sent_at_ms,
    };
    bridge.db.map_message(&mapped, room).await?;
    Ok(())
}

/// Edits the notice into the message when the message is one plain event that answers
/// nothing; true when done.
pub(super) async fn edit_in_place(
    bridge: &Bridge,
    chat: &WaChat,
    entry: &InboxEntry,
    speaker: &Speaker,
    placeholder: &MappedMessage,
    converted: &ToMatrix,
) -> Result<bool, BridgeError> {
    let ToMatrix::Post {
        parts,
        reply_to: None,
    } = converted
    else {
        return Ok(false);
    };
    let [Part::Ready(content)] = parts.as_slice() else {
        return Ok(false);
    };
    let edit = (**content)
        .clone()
        .make_replacement(ReplacementMetadata::new(placeholder.event_id.clone(), None));
    let chat_jid = chat.jid();
    let txn = txn_for(placeholder.device_id, &chat_jid, &entry.message_id, 0);
    bridge
        .client
        .send_message_at(
            &speaker.ghost,
            &speaker.portal.room_id,
            txn,
            &edit,
            entry.sent_at_ms,
        )
        .await?;
    // Replies, reactions and edits from now on point at the notice's event, which shows
    // the message.
    bridge
        .db
        .promote_placeholder(placeholder.device_id, &chat_jid, &entry.message_id)
        .await?;
    Ok(true)
}

/// Removes the notice once the message was bridged some other way.
pub(super) async fn remove(
    bridge: &Bridge,
    chat: &WaChat,
    entry: &InboxEntry,
    speaker: &Speaker,
    placeholder: &MappedMessage,
) -> Result<(), BridgeError> {
    let chat_jid = chat.jid();
    let txn = placeholder_txn(
        placeholder.device_id,
        &chat_jid,
        &entry.message_id,
        "removal",
    );
    bridge
        .client
        .redact(
            &speaker.ghost,
            &speaker.portal.room_id,
            &placeholder.event_id,
            txn,
            Some("the message arrived"),
        )
        .await?;
    bridge
        .db
        .forget_placeholder(placeholder.device_id, &chat_jid, &entry.message_id)
        .await?;
    Ok(())
}
