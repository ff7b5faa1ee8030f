//! Poll votes from WhatsApp: decrypted with the poll's secret and posted as the voter's
//! poll response on the poll's Matrix event (MSC3381), answers found by their text's hash.

use ruma::events::poll::unstable_response::UnstablePollResponseEventContent;

use super::inbound::{Speaker, txn_for};
use super::sessions::Owner;
use super::{Bridge, BridgeError};
use crate::db::message_map::MappedMessage;
use crate::whatsapp::address::{WaChat, WaUser};
use crate::whatsapp::inbox::InboxEntry;
use crate::whatsapp::poll::{EncryptedVote, decrypt_vote, option_hash, without_device};

/// Posts a vote; a vote the bridge cannot read (unknown poll, wrong key) becomes a notice.
pub(super) async fn vote(
    bridge: &Bridge,
    owner: &Owner,
    chat: &WaChat,
    entry: &InboxEntry,
    speaker: &Speaker,
    vote: &EncryptedVote,
) -> Result<(), BridgeError> {
    let device_id = speaker.portal.device_id;
    let chat_jid = chat.jid();
    let poll_event = bridge
        .db
        .mapped_by_wa_id(device_id, &chat_jid, &vote.poll_id)
        .await?
        .into_iter()
        .next();
    let secret = bridge
        .db
        .poll_secret(device_id, &chat_jid, &vote.poll_id)
        .await?;
    let (Some(poll_event), Some(secret)) = (poll_event, secret) else {
        return unreadable(
            bridge,
            device_id,
            chat,
            entry,
            speaker,
            "a poll the bridge never saw",
        )
        .await;
    };
    let own = WaUser::from_phone(&owner.phone).jid();
    let voter = if entry.from_me {
        own.clone()
    } else {
        without_device(&entry.sender)
    };
    // The key is written from the voter's side: `fromMe` means the voter made the poll.
    let creator = match (&vote.poll_creator, chat) {
        _ if vote.poll_by_voter => voter.clone(),
        (Some(participant), _) => without_device(participant),
        (None, WaChat::Direct(person)) if entry.from_me => person.jid(),
        (None, WaChat::Direct(_)) => own,
        (None, WaChat::Group(_)) => poll_event.wa_sender.clone(),
    };
    let chosen = match decrypt_vote(vote, &secret, &creator, &voter) {
        Ok(chosen) => chosen,
        Err(err) => {
            tracing::info!(device_id, poll = %vote.poll_id, error = %err, "an unreadable vote");
            return unreadable(
                bridge,
                device_id,
                chat,
                entry,
                speaker,
                "a vote the bridge cannot decrypt",
            )
            .await;
        }
    };
    let answers = bridge
        .client
        .poll_answers(
            bridge.ids.bot(),
            &speaker.portal.room_id,
            &poll_event.event_id,
        )
        .await?;
    let ids: Vec<String> = answers
        .into_iter()
        .filter(|(_, text)| {
            chosen
                .iter()
                .any(|hash| hash[..] == option_hash(text.trim())[..])
        })
        .map(|(id, _)| id)
        .collect();
    let content = UnstablePollResponseEventContent::new(ids, poll_event.event_id.clone());
    let txn = txn_for(device_id, &chat_jid, &entry.message_id, 0);
    let event_id = bridge
        .client
        .send_event_at(
            &speaker.ghost,
            &speaker.portal.room_id,
            txn,
            &content,
            entry.sent_at_ms,
        )
        .await?;
    let mapped = MappedMessage {
        device_id,
        chat_jid,
        wa_message_id: entry.message_id.clone(),
        part: 0,
        wa_sender: speaker.sender.jid(),
        event_id,
        sent_at_ms: entry.sent_at_ms,
    };
    bridge
        .db
        .map_message(&mapped, &speaker.portal.room_id)
        .await?;
    Ok(())
}

async fn unreadable(
    bridge: &Bridge,
    device_id: i32,
    chat: &WaChat,
    entry: &InboxEntry,
    speaker: &Speaker,
    what: &str,
) -> Result<(), BridgeError> {
    let content = ruma::events::room::message::RoomMessageEventContent::notice_plain(format!(
        "Voted in {what} (see the votes on your phone)."
    ));
    let txn = txn_for(device_id, &chat.jid(), &entry.message_id, 0);
    bridge
        .client
        .send_message_at(
            &speaker.ghost,
            &speaker.portal.room_id,
            txn,
            &content,
            entry.sent_at_ms,
        )
        .await?;
    Ok(())
}
