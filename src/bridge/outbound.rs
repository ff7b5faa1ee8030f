//! Matrix → WhatsApp: what the owner of a portal does in it goes to the chat, from their
//! linked account: messages (replies included), edits, reactions, and deleting their own
//! messages. What cannot go gets a notice in the room saying why.

use ruma::events::reaction::OriginalReactionEvent;
use ruma::events::room::message::{
    MessageFormat, MessageType, OriginalRoomMessageEvent, Relation, RoomMessageEventContent,
};
use ruma::events::room::redaction::{OriginalRoomRedactionEvent, RoomRedactionEvent};
use ruma::events::sticker::OriginalStickerEvent;
use ruma::events::{AnyMessageLikeEvent, MessageLikeEvent};
use ruma::{EventId, OwnedTransactionId, UserId};
use sha2::{Digest, Sha256};

use super::{Bridge, BridgeError};
use crate::convert::media_out;
use crate::convert::to_whatsapp::{self, NotBridged, Outgoing, Quote, WaTarget};
use crate::db::logins::LoginRow;
use crate::db::message_map::MappedMessage;
use crate::db::portals::PortalRow;
use crate::db::reactions::Reaction;
use crate::metrics::Direction;
use crate::whatsapp::address::{WaChat, WaUser};
use crate::whatsapp::outgoing::OutgoingMessage;

/// The WhatsApp message ID of a Matrix event: the same event is always the same WhatsApp
/// message, so sending it again after a crash duplicates nothing on the phones.
pub fn wa_message_id(event: &EventId) -> String {
    let digest = Sha256::digest(event.as_str());
    let hex: String = digest[..9].iter().map(|b| format!("{b:02X}")).collect();
    format!("3EB0{hex}")
}

/// The portal's owner, when `sender` is them: only they speak through it, and nobody
/// is sent as someone else.
pub(super) async fn owner_login(
    bridge: &Bridge,
    portal: &PortalRow,
    sender: &UserId,
) -> Result<Option<LoginRow>, BridgeError> {
    Ok(bridge
        .db
        .login_of_device(portal.device_id)
        .await?
        .filter(|login| login.user_id == sender))
}

/// What a mapped message is on WhatsApp.
fn target_of(portal: &PortalRow, login: &LoginRow, mapped: &MappedMessage) -> WaTarget {
    WaTarget {
        chat_jid: portal.chat_jid.clone(),
        message_id: mapped.wa_message_id.clone(),
        sender_jid: mapped.wa_sender.clone(),
        from_me: mapped.wa_sender == WaUser::Phone(login.phone.clone()).jid(),
        is_group: portal.is_group,
    }
}

async fn target_event(
    bridge: &Bridge,
    portal: &PortalRow,
    login: &LoginRow,
    event: &EventId,
) -> Result<Option<WaTarget>, BridgeError> {
    Ok(bridge
        .db
        .mapped_by_event(&portal.room_id, event)
        .await?
        .map(|mapped| target_of(portal, login, &mapped)))
}

/// The HTML body of a text or notice, where pills live.
fn html_of(msgtype: &MessageType) -> Option<&str> {
    let formatted = match msgtype {
        MessageType::Text(text) => text.formatted.as_ref(),
        MessageType::Notice(notice) => notice.formatted.as_ref(),
        MessageType::Emote(emote) => emote.formatted.as_ref(),
        MessageType::Image(image) => image.formatted.as_ref(),
        MessageType::Video(video) => video.formatted.as_ref(),
        MessageType::Audio(audio) => audio.formatted.as_ref(),
        MessageType::File(file) => file.formatted.as_ref(),
        _ => None,
    }?;
    (formatted.format == MessageFormat::Html).then_some(formatted.body.as_str())
}

/// Sends one event of the portal's owner to WhatsApp (the outbox's worker calls this).
pub(super) async fn dispatch(
    bridge: &Bridge,
    portal: &PortalRow,
    event: &AnyMessageLikeEvent,
) -> Result<(), BridgeError> {
    match event {
        AnyMessageLikeEvent::RoomMessage(MessageLikeEvent::Original(message)) => {
            on_message(bridge, portal, message).await
        }
        AnyMessageLikeEvent::Sticker(MessageLikeEvent::Original(sticker)) => {
            on_sticker(bridge, portal, sticker).await
        }
        AnyMessageLikeEvent::Reaction(MessageLikeEvent::Original(reaction)) => {
            on_reaction(bridge, portal, reaction).await
        }
        AnyMessageLikeEvent::UnstablePollStart(MessageLikeEvent::Original(poll)) => {
            on_poll(bridge, portal, poll).await
        }
        AnyMessageLikeEvent::UnstablePollResponse(MessageLikeEvent::Original(response)) => {
            on_poll_response(bridge, portal, response).await
        }
        AnyMessageLikeEvent::RoomRedaction(RoomRedactionEvent::Original(redaction)) => {
            on_redaction(bridge, portal, redaction).await
        }
        _ => Ok(()),
    }
}

/// Whether the event is one `dispatch` sends.
pub(super) fn is_sendable(event: &AnyMessageLikeEvent) -> bool {
    matches!(
        event,
        AnyMessageLikeEvent::RoomMessage(MessageLikeEvent::Original(_))
            | AnyMessageLikeEvent::Sticker(MessageLikeEvent::Original(_))
            | AnyMessageLikeEvent::Reaction(MessageLikeEvent::Original(_))
            | AnyMessageLikeEvent::UnstablePollStart(MessageLikeEvent::Original(_))
            | AnyMessageLikeEvent::UnstablePollResponse(MessageLikeEvent::Original(_))
            | AnyMessageLikeEvent::RoomRedaction(RoomRedactionEvent::Original(_))
    )
}

pub(super) async fn on_message(
    bridge: &Bridge,
    portal: &PortalRow,
    message: &OriginalRoomMessageEvent,
) -> Result<(), BridgeError> {
    let Some(login) = owner_login(bridge, portal, &message.sender).await? else {
        return Ok(());
    };
    let now = bridge.clock.now_ms();
    let mentions = bridge.mentions_from_matrix(&login, html_of(&message.content.msgtype));
    let outgoing = match &message.content.relates_to {
        Some(Relation::Replacement(replacement)) => {
            let Some(target) = target_event(bridge, portal, &login, &replacement.event_id).await?
            else {
                return notice(
                    bridge,
                    portal,
                    &message.event_id,
                    "Not sent: the edited message is not on WhatsApp.",
                )
                .await;
            };
            if !target.from_me {
                return notice(
                    bridge,
                    portal,
                    &message.event_id,
                    "Not sent: only your own messages can be edited on WhatsApp.",
                )
                .await;
            }
            let new_content = RoomMessageEventContent::new(replacement.new_content.msgtype.clone());
            let mentions = bridge.mentions_from_matrix(&login, html_of(&new_content.msgtype));
            to_whatsapp::edit(&target, &new_content, &mentions, now)
                .map(|edit| Outgoing::Ready(Box::new(edit)))
        }
        Some(Relation::Reply(reply)) => {
            let quote =
                match target_event(bridge, portal, &login, &reply.in_reply_to.event_id).await? {
                    Some(target) => {
                        let text = bridge
                            .client
                            .message_body(
                                bridge.ids.bot(),
                                &portal.room_id,
                                &reply.in_reply_to.event_id,
                            )
                            .await
                            .ok()
                            .flatten()
                            .unwrap_or_default();
                        Some(Quote { target, text })
                    }
                    // An answer to something WhatsApp never saw goes as a plain message.
                    None => None,
                };
            to_whatsapp::convert(&message.content, quote.as_ref(), &mentions)
        }
        _ => to_whatsapp::convert(&message.content, None, &mentions),
    };
    let kind = match &message.content.relates_to {
        Some(Relation::Replacement(_)) => "edit",
        _ => "text",
    };
    send(bridge, portal, &login, &message.event_id, kind, outgoing).await
}

pub(super) async fn on_sticker(
    bridge: &Bridge,
    portal: &PortalRow,
    sticker: &OriginalStickerEvent,
) -> Result<(), BridgeError> {
    let Some(login) = owner_login(bridge, portal, &sticker.sender).await? else {
        return Ok(());
    };
    let outgoing =
        media_out::from_sticker(&sticker.content).map(|media| Outgoing::Media(Box::new(media)));
    send(bridge, portal, &login, &sticker.event_id, "media", outgoing).await
}

pub(super) async fn on_poll(
    bridge: &Bridge,
    portal: &PortalRow,
    poll: &ruma::events::poll::unstable_start::OriginalUnstablePollStartEvent,
) -> Result<(), BridgeError> {
    use ruma::events::poll::unstable_start::UnstablePollStartEventContent;
    let Some(login) = owner_login(bridge, portal, &poll.sender).await? else {
        return Ok(());
    };
    let message_id = wa_message_id(&poll.event_id);
    // A poll sent again after a crash keeps its first secret: WhatsApp may have that one.
    let secret: [u8; 32] = bridge
        .db
        .poll_secret(portal.device_id, &portal.chat_jid, &message_id)
        .await?
        .and_then(|kept| <[u8; 32]>::try_from(kept.as_slice()).ok())
        .unwrap_or_else(rand::random);
    let outgoing = match &poll.content {
        UnstablePollStartEventContent::New(content) => {
            crate::convert::poll_out::poll(&content.poll_start, secret)
                .map(|message| Outgoing::Ready(Box::new(message)))
        }
        _ => Err(NotBridged::Unsupported("an edit of a poll")),
    };
    if outgoing.is_ok() {
        // Kept before sending: a vote may come back before the send returns.
        bridge
            .db
            .keep_poll_secret(portal.device_id, &portal.chat_jid, &message_id, &secret)
            .await?;
    }
    send(bridge, portal, &login, &poll.event_id, "poll", outgoing).await
}

/// The owner's vote in a poll: encrypted with the poll's secret, as WhatsApp expects.
pub(super) async fn on_poll_response(
    bridge: &Bridge,
    portal: &PortalRow,
    response: &ruma::events::poll::unstable_response::OriginalUnstablePollResponseEvent,
) -> Result<(), BridgeError> {
    let Some(login) = owner_login(bridge, portal, &response.sender).await? else {
        return Ok(());
    };
    let poll_event = &response.content.relates_to.event_id;
    let Some(target) = target_event(bridge, portal, &login, poll_event).await? else {
        return notice(
            bridge,
            portal,
            &response.event_id,
            "Not sent: the poll is not on WhatsApp.",
        )
        .await;
    };
    let secret = bridge
        .db
        .poll_secret(portal.device_id, &portal.chat_jid, &target.message_id)
        .await?;
    let Some(secret) = secret else {
        return notice(
            bridge,
            portal,
            &response.event_id,
            "Not sent: the bridge does not have this poll's key.",
        )
        .await;
    };
    let answers = bridge
        .client
        .poll_answers(bridge.ids.bot(), &portal.room_id, poll_event)
        .await?;
    let chosen: Vec<String> = answers
        .into_iter()
        .filter(|(id, _)| response.content.poll_response.answers.contains(id))
        .map(|(_, text)| text.trim().to_owned())
        .collect();
    let voter = WaUser::Phone(login.phone.clone()).jid();
    let creator = if target.from_me {
        voter.clone()
    } else {
        crate::whatsapp::poll::without_device(&target.sender_jid)
    };
    let outgoing =
        crate::whatsapp::poll::encrypt_vote(&chosen, &secret, &target.message_id, &creator, &voter)
            .map(|(payload, iv)| {
                Outgoing::Ready(Box::new(crate::convert::poll_out::vote(
                    &target,
                    payload,
                    iv,
                    bridge.clock.now_ms(),
                )))
            })
            .map_err(|_| NotBridged::Invalid("the vote could not be encrypted"));
    send(bridge, portal, &login, &response.event_id, "vote", outgoing).await
}

pub(super) async fn on_reaction(
    bridge: &Bridge,
    portal: &PortalRow,
    reaction: &OriginalReactionEvent,
) -> Result<(), BridgeError> {
    let Some(login) = owner_login(bridge, portal, &reaction.sender).await? else {
        return Ok(());
    };
    let annotation = &reaction.content.relates_to;
    let Some(target) = target_event(bridge, portal, &login, &annotation.event_id).await? else {
        return notice(
            bridge,
            portal,
            &reaction.event_id,
            "Not sent: the message is not on WhatsApp.",
        )
        .await;
    };
    let outgoing = to_whatsapp::reaction(&target, &annotation.key, bridge.clock.now_ms());
    send(
        bridge,
        portal,
        &login,
        &reaction.event_id,
        "reaction",
        Ok(Outgoing::Ready(Box::new(outgoing))),
    )
    .await?;
    let own = WaUser::Phone(login.phone.clone()).jid();
    let record = Reaction {
        device_id: portal.device_id,
        chat_jid: portal.chat_jid.clone(),
        target_wa_id: target.message_id,
        wa_sender: own,
        event_id: reaction.event_id.clone(),
        emoji: annotation.key.clone(),
    };
    bridge.db.set_reaction(&record, &portal.room_id).await?;
    Ok(())
}

pub(super) async fn on_redaction(
    bridge: &Bridge,
    portal: &PortalRow,
    redaction: &OriginalRoomRedactionEvent,
) -> Result<(), BridgeError> {
    let Some(login) = owner_login(bridge, portal, &redaction.sender).await? else {
        return Ok(());
    };
    let Some(redacted) = redaction
        .content
        .redacts
        .as_ref()
        .or(redaction.redacts.as_ref())
    else {
        return Ok(());
    };
    // Taking a reaction back: the same reaction, empty.
    if let Some(reaction) = bridge
        .db
        .reaction_by_event(&portal.room_id, redacted)
        .await?
    {
        let Some(target) = bridge
            .db
            .mapped_by_wa_id(portal.device_id, &portal.chat_jid, &reaction.target_wa_id)
            .await?
            .into_iter()
            .next()
            .map(|mapped| target_of(portal, &login, &mapped))
        else {
            return Ok(());
        };
        let outgoing = to_whatsapp::reaction(&target, "", bridge.clock.now_ms());
        send(
            bridge,
            portal,
            &login,
            &redaction.event_id,
            "reaction",
            Ok(Outgoing::Ready(Box::new(outgoing))),
        )
        .await?;
        bridge
            .db
            .remove_reaction(
                portal.device_id,
                &portal.chat_jid,
                &reaction.target_wa_id,
                &reaction.wa_sender,
            )
            .await?;
        return Ok(());
    }
    let Some(target) = target_event(bridge, portal, &login, redacted).await? else {
        return Ok(());
    };
    if !target.from_me {
        return notice(
            bridge,
            portal,
            &redaction.event_id,
            "Not deleted on WhatsApp: only your own messages can be deleted for everyone.",
        )
        .await;
    }
    send(
        bridge,
        portal,
        &login,
        &redaction.event_id,
        "redaction",
        Ok(Outgoing::Ready(Box::new(to_whatsapp::revoke(&target)))),
    )
    .await
}

/// Sends on the owner's session and records the event ⇄ message pair.
async fn send(
    bridge: &Bridge,
    portal: &PortalRow,
    login: &LoginRow,
    event: &EventId,
    kind: &'static str,
    outgoing: Result<Outgoing, NotBridged>,
) -> Result<(), BridgeError> {
    let started = std::time::Instant::now();
    // A replayed event was sent already.
    if bridge
        .db
        .mapped_by_event(&portal.room_id, event)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let failed = |reason| bridge.metrics.failed(Direction::ToWhatsApp, reason);
    let outgoing = match outgoing {
        Ok(outgoing) => outgoing,
        Err(reason) => {
            failed("not_bridgeable");
            return notice(bridge, portal, event, &format!("Not sent: {reason}.")).await;
        }
    };
    let kind = match outgoing {
        Outgoing::Media(_) if kind == "text" => "media",
        _ => kind,
    };
    let chat = WaChat::parse(&portal.chat_jid)
        .ok_or_else(|| BridgeError::Identity(format!("unreadable chat {}", portal.chat_jid)))?;
    // A session that is reconnecting comes back by itself: the event waits in the
    // outbox for it. One that is not running needs the owner (`reconnect`).
    if bridge.sessions.is_reconnecting(portal.device_id) {
        return Err(BridgeError::NotConnected);
    }
    let Some(sender) = bridge.sessions.sender(portal.device_id) else {
        failed("not_connected");
        return notice(
            bridge,
            portal,
            event,
            "Not sent: your WhatsApp account is not connected (send `reconnect` to the bot).",
        )
        .await;
    };
    let outgoing: OutgoingMessage = match outgoing {
        Outgoing::Ready(message) => *message,
        Outgoing::Media(media) => {
            match super::media::send_over(bridge, portal.device_id, &media).await {
                Ok(file) => media.message(&file, bridge.clock.now_ms()),
                Err(_) if bridge.sessions.is_reconnecting(portal.device_id) => {
                    return Err(BridgeError::NotConnected);
                }
                Err(err) => {
                    failed("media");
                    return notice(bridge, portal, event, &format!("Not sent: {err}.")).await;
                }
            }
        }
    };
    let id = wa_message_id(event);
    // Until the pair is stored, a receipt for this message waits for it.
    let _sending = bridge.sending.begin(portal.device_id, &id);
    if let Err(err) = sender.send(&chat, outgoing, &id).await {
        if bridge.sessions.is_reconnecting(portal.device_id) {
            // Sent again under the same ID once connected: the phones keep one.
            return Err(BridgeError::NotConnected);
        }
        failed("whatsapp_refused");
        return notice(bridge, portal, event, &format!("Not sent: {err}.")).await;
    }
    let mapped = MappedMessage {
        device_id: portal.device_id,
        chat_jid: portal.chat_jid.clone(),
        wa_message_id: id,
        part: 0,
        wa_sender: WaUser::Phone(login.phone.clone()).jid(),
        event_id: event.to_owned(),
        sent_at_ms: bridge.clock.now_ms(),
    };
    bridge.db.map_message(&mapped, &portal.room_id).await?;
    bridge
        .metrics
        .bridged(Direction::ToWhatsApp, kind, started.elapsed());
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
