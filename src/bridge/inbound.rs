//! WhatsApp → Matrix. A pump per linked device reads the inbox (where every message is
//! durably stored before WhatsApp was acknowledged) in arrival order and hands each
//! message to its chat's worker; a worker bridges its chat's messages one at a time, in
//! order, and marks each bridged once its event is in Matrix. After a crash the pump
//! starts again from what is not marked: a message is posted again under the same
//! transaction ID (the homeserver returns the first event) or found in the message map.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ruma::OwnedTransactionId;
use sha2::{Digest, Sha256};
use tokio::sync::{Notify, mpsc};

use super::contact_names::ContactNames;
use super::identities;
use super::sessions::Owner;
use super::{Bridge, BridgeError, is_transient};
use ruma::events::poll::unstable_start::NewUnstablePollStartEventContent;

use crate::convert::media_in::MediaContent;
use crate::convert::to_matrix::{self, Part, ToMatrix};
use crate::db::message_map::{MappedMessage, PLACEHOLDER_PART};
use crate::db::portals::PortalRow;
use crate::metrics::Direction;
use crate::whatsapp::address::{WaChat, WaUser};
use crate::whatsapp::inbox::{Inbox, InboxEntry};

/// Messages read from the inbox at a time.
const BATCH: i64 = 200;
/// A pump also looks by itself this often, in case a wake-up was missed.
const IDLE_LOOK: Duration = Duration::from_secs(30);
const RETRY_FIRST: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// A chat's worker ends after this long without a message (so a quiet chat holds no
/// task); the chat's next message starts another.
const WORKER_IDLE: Duration = Duration::from_secs(30);

/// How long a starting pump waits for WhatsApp to deliver what waited while the
/// bridge was away, before it bridges anyway.
const CATCH_UP_WAIT: Duration = Duration::from_secs(15);

/// How long the inbox must stay the same size before catch-up counts it, and the
/// longest it waits for that.
const SETTLE_QUIET: Duration = Duration::from_secs(1);
const SETTLE_MAX: Duration = Duration::from_secs(5);

async fn settle(inbox: &Inbox) {
    let waiting = || async {
        inbox
            .pending_per_chat()
            .await
            .map(|chats| chats.iter().map(|(_, count)| count).sum::<i64>())
            .unwrap_or(0)
    };
    let deadline = tokio::time::Instant::now() + SETTLE_MAX;
    let mut last = waiting().await;
    let mut quiet_since = tokio::time::Instant::now();
    while tokio::time::Instant::now() < deadline && quiet_since.elapsed() < SETTLE_QUIET {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = waiting().await;
        if now != last {
            last = now;
            quiet_since = tokio::time::Instant::now();
        }
    }
}

/// What tells a device's pump to look.
pub(super) struct PumpSignals {
    /// Messages arrived in the inbox.
    pub arrivals: Arc<Notify>,
    /// WhatsApp delivered everything that waited while the session was away.
    pub caught_up: Arc<Notify>,
}

/// Starts the pump of a device.
pub(super) fn start(bridge: Bridge, device_id: i32, owner: Owner) -> PumpSignals {
    let signals = PumpSignals {
        arrivals: Arc::new(Notify::new()),
        caught_up: Arc::new(Notify::new()),
    };
    tokio::spawn(pump(
        bridge,
        device_id,
        owner,
        signals.arrivals.clone(),
        signals.caught_up.clone(),
    ));
    signals
}

async fn pump(
    bridge: Bridge,
    device_id: i32,
    owner: Owner,
    wake: Arc<Notify>,
    caught_up: Arc<Notify>,
) {
    let inbox = Inbox::new(bridge.db.clone(), device_id);
    // Catch-up: what came while the bridge was away is all in the inbox once WhatsApp
    // says so; a chat with more than `max_catchup_messages` of it shows the newest ones.
    if tokio::time::timeout(CATCH_UP_WAIT, caught_up.notified())
        .await
        .is_err()
    {
        tracing::info!(
            device_id,
            "WhatsApp has not finished delivering what waited; bridging what is here"
        );
    }
    // The last of what waited may still be on its way into the inbox: wait until the
    // inbox stops growing.
    settle(&inbox).await;
    super::catch_up::limit(&bridge, device_id, &owner, &inbox).await;
    let mut workers: HashMap<WaChat, ChatWorker> = HashMap::new();
    let mut handed_out = 0i64;
    loop {
        let batch = match inbox.pending(handed_out, BATCH).await {
            Ok(batch) => batch,
            Err(err) => {
                tracing::warn!(device_id, error = %err, "cannot read the inbox; trying again");
                tokio::time::sleep(RETRY_MAX).await;
                continue;
            }
        };
        let full = batch.len() as i64 == BATCH;
        for mut entry in batch {
            handed_out = entry.seq;
            // A pair the message tells, or one the bridge (or the library) learned
            // elsewhere: either way what the LID holds moves before the message is
            // addressed by number, so it cannot open a second portal.
            let pair = match identities::mapping_in(&entry) {
                Some(pair) => Some(pair),
                None => bridge.unsettled_pair(&entry).await,
            };
            if let Some((lid, phone)) = pair
                && bridge.lid_unsettled(&lid)
            {
                // What the LID's chat already holds goes first, into its room as it is.
                if let Some(worker) = workers.remove(&WaChat::Direct(WaUser::Lid(lid.clone()))) {
                    worker.finish().await;
                }
                settle_patiently(&bridge, device_id, &lid, &phone).await;
            }
            bridge.address_by_phone(&mut entry).await;
            let Some(chat) = chat_of(&entry) else {
                // Status updates, broadcasts, newsletters: not chats the bridge mirrors.
                tracing::debug!(device_id, chat = %entry.chat, "not a chat the bridge mirrors");
                if let Err(err) = inbox.mark_bridged(entry.seq).await {
                    tracing::warn!(device_id, error = %err, "could not mark a message done");
                }
                continue;
            };
            let mut entry = entry;
            loop {
                let worker = workers.entry(chat.clone()).or_insert_with(|| {
                    let (tx, rx) = mpsc::unbounded_channel();
                    let done = tokio::spawn(chat_worker(
                        bridge.clone(),
                        device_id,
                        owner.clone(),
                        chat.clone(),
                        rx,
                    ));
                    ChatWorker { tx, done }
                });
                match worker.tx.send(entry) {
                    Ok(()) => break,
                    Err(mpsc::error::SendError(back)) => {
                        // The worker closed its queue after a quiet spell: it bridges
                        // what it still holds, then another takes the chat on.
                        if let Some(closed) = workers.remove(&chat) {
                            closed.finish().await;
                        }
                        entry = back;
                    }
                }
            }
        }
        if !full {
            let _ = tokio::time::timeout(IDLE_LOOK, wake.notified()).await;
        }
    }
}

/// How often a LID's move to its number is tried before the message goes on anyway.
const SETTLE_TRIES: u32 = 5;

/// Moves what a LID holds to its number, trying again while the database or the
/// homeserver is briefly away.
async fn settle_patiently(bridge: &Bridge, device_id: i32, lid: &str, phone: &str) {
    let mut wait = RETRY_FIRST;
    for attempt in 1..=SETTLE_TRIES {
        match bridge.settle_lid(lid, phone).await {
            Ok(()) => return,
            Err(err) if attempt < SETTLE_TRIES => {
                tracing::info!(device_id, error = %err, attempt, "could not move a LID's chats and ghost to its number yet; trying again");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(RETRY_MAX);
            }
            Err(err) => {
                tracing::warn!(device_id, error = %err, "could not move a LID's chats and ghost to its number; the next message by the LID tries again");
            }
        }
    }
}

/// One chat's ordered worker and its queue.
struct ChatWorker {
    tx: mpsc::UnboundedSender<InboxEntry>,
    done: tokio::task::JoinHandle<()>,
}

impl ChatWorker {
    /// Closes the queue and waits until everything in it was bridged.
    async fn finish(self) {
        drop(self.tx);
        let _ = self.done.await;
    }
}

/// The chat a message belongs to, by phone number when WhatsApp gave it (one person,
/// one portal, whichever address a message came by).
fn chat_of(entry: &InboxEntry) -> Option<WaChat> {
    match WaChat::parse(&entry.chat)? {
        WaChat::Direct(user) => {
            let alt = if entry.from_me {
                None
            } else {
                WaUser::parse(&entry.sender_alt)
            };
            Some(WaChat::Direct(user.prefer_phone(alt)))
        }
        group => Some(group),
    }
}

async fn chat_worker(
    bridge: Bridge,
    device_id: i32,
    owner: Owner,
    chat: WaChat,
    mut entries: mpsc::UnboundedReceiver<InboxEntry>,
) {
    let inbox = Inbox::new(bridge.db.clone(), device_id);
    let mut history_checked = false;
    loop {
        let entry = match tokio::time::timeout(WORKER_IDLE, entries.recv()).await {
            Ok(Some(entry)) => entry,
            Ok(None) => break,
            Err(_) => {
                // Quiet: take no more, bridge what came before the close, and end.
                entries.close();
                continue;
            }
        };
        let _chat = bridge.chat_locks.hold(device_id, &chat.jid()).await;
        if !history_checked {
            // A chat the phone's history knows gets its portal filled first, so its
            // older messages come before this one.
            history_checked = true;
            if let Err(err) = bridge
                .fill_from_history(device_id, &owner, &chat, None)
                .await
            {
                tracing::warn!(device_id, error = %err, "could not bring a chat's history over");
            }
        }
        bridge_patiently(&bridge, device_id, &owner, &chat, &entry).await;
        if let Err(err) = inbox.mark_bridged(entry.seq).await {
            tracing::warn!(device_id, error = %err, "could not mark a message done; it will be looked at again");
        }
    }
}

/// Bridges one message, waiting out what passes (the homeserver or the database away,
/// the WhatsApp connection down); what cannot pass is told to the owner.
pub(super) async fn bridge_patiently(
    bridge: &Bridge,
    device_id: i32,
    owner: &Owner,
    chat: &WaChat,
    entry: &InboxEntry,
) {
    let mut wait = RETRY_FIRST;
    let started = std::time::Instant::now();
    loop {
        match bridge_one(bridge, device_id, owner, chat, entry).await {
            Ok(None) => break,
            Ok(Some(kind)) => {
                bridge
                    .metrics
                    .bridged(Direction::ToMatrix, kind, started.elapsed());
                break;
            }
            Err(BridgeError::Homeserver(err)) if is_transient(&err) => {
                tracing::warn!(device_id, error = %err, "the homeserver is not taking messages; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(RETRY_MAX);
            }
            Err(BridgeError::Database(err)) => {
                tracing::warn!(device_id, error = %err, "database error while bridging; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(RETRY_MAX);
            }
            Err(BridgeError::NotConnected) => {
                // A file waits for the connection to WhatsApp to come back.
                tracing::debug!(device_id, "waiting for the WhatsApp connection");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(RETRY_MAX);
            }
            Err(err) => {
                // Retrying cannot help (the homeserver refuses this event). The
                // message stays in the inbox, and its owner is told.
                tracing::error!(device_id, message_id = %entry.message_id, error = %err, "could not bridge a WhatsApp message");
                bridge
                    .metrics
                    .failed(Direction::ToMatrix, failure_reason(&err));
                if let Err(err) = tell_owner(bridge, owner, chat, entry, &err).await {
                    tracing::warn!(device_id, error = %err, "could not tell the owner either");
                }
                break;
            }
        }
    }
}

/// Why a message could not be bridged, as the metrics count it.
fn failure_reason(err: &BridgeError) -> &'static str {
    match err {
        BridgeError::Homeserver(_) => "homeserver_refused",
        BridgeError::Database(_) => "database",
        BridgeError::QrImage(_) | BridgeError::Identity(_) | BridgeError::Metrics(_) => {
            "unreadable"
        }
        BridgeError::NotConnected => "not_connected",
    }
}

/// Says in the owner's management room that a message did not make it.
async fn tell_owner(
    bridge: &Bridge,
    owner: &Owner,
    chat: &WaChat,
    entry: &InboxEntry,
    err: &BridgeError,
) -> Result<(), BridgeError> {
    let Some(room) = bridge.db.management_room(&owner.user).await? else {
        return Ok(());
    };
    let who = match chat {
        WaChat::Direct(person) => person.to_string(),
        WaChat::Group(id) => format!("the group {id}"),
    };
    let text = format!(
        "A WhatsApp message in your chat with {who} could not be bridged ({err}). It is on your phone."
    );
    let content = ruma::events::room::message::RoomMessageEventContent::notice_plain(text);
    let txn = txn_for(entry.seq as i32, &entry.chat, &entry.message_id, usize::MAX);
    bridge
        .client
        .send_message(bridge.ids.bot(), &room, txn, &content)
        .await?;
    Ok(())
}

/// The transaction ID of one part: the same message part always gets the same one.
pub(super) fn txn_for(
    device_id: i32,
    chat: &str,
    message_id: &str,
    part: usize,
) -> OwnedTransactionId {
    let digest = Sha256::digest(format!(
        "{device_id}\u{0}{chat}\u{0}{message_id}\u{0}{part}"
    ));
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    OwnedTransactionId::from(format!("wa.{hex}"))
}

/// Everything a converted message needs in Matrix: who says it, where.
pub(super) struct Speaker {
    pub ghost: ruma::OwnedUserId,
    pub sender: WaUser,
    pub portal: PortalRow,
}

async fn bridge_one(
    bridge: &Bridge,
    device_id: i32,
    owner: &Owner,
    chat: &WaChat,
    entry: &InboxEntry,
) -> Result<Option<&'static str>, BridgeError> {
    let chat_jid = chat.jid();
    let mapped = bridge
        .db
        .mapped_by_wa_id(device_id, &chat_jid, &entry.message_id)
        .await?;
    let placeholder = mapped
        .iter()
        .find(|part| part.part == PLACEHOLDER_PART)
        .cloned();
    if mapped.iter().any(|part| part.part != PLACEHOLDER_PART)
        || (entry.undecryptable && placeholder.is_some())
    {
        return Ok(None);
    }
    if entry.undecryptable {
        let speaker = speaker(bridge, device_id, owner, chat, entry).await?;
        return super::placeholders::hold_place(bridge, device_id, chat, entry, &speaker)
            .await
            .map(|()| Some("placeholder"));
    }
    let mentioned = to_matrix::mentioned_jids(entry);
    let mentions = bridge.mentions_from_whatsapp(owner, &mentioned).await;
    let converted = to_matrix::convert(entry, &mentions);
    let is_poll = matches!(&converted, ToMatrix::Post { parts, .. }
        if parts.iter().any(|part| matches!(part, Part::Poll(_))));
    if is_poll && let Some(secret) = to_matrix::poll_secret(entry) {
        bridge
            .db
            .keep_poll_secret(device_id, &chat_jid, &entry.message_id, &secret)
            .await?;
    }
    if matches!(converted, ToMatrix::Nothing) && placeholder.is_none() {
        return Ok(None);
    }
    let kind = kind_of(&converted);
    let speaker = speaker(bridge, device_id, owner, chat, entry).await?;
    if let Some(placeholder) = &placeholder
        && super::placeholders::edit_in_place(
            bridge,
            chat,
            entry,
            &speaker,
            placeholder,
            &converted,
        )
        .await?
    {
        return Ok(Some(kind));
    }
    let target_event = |target: String| async move {
        let parts = bridge
            .db
            .mapped_by_wa_id(device_id, &chat_jid, &target)
            .await?;
        Ok::<_, BridgeError>(parts.into_iter().next().map(|part| part.event_id))
    };
    let outcome = match converted {
        ToMatrix::Nothing => Ok(()),
        ToMatrix::Post { parts, reply_to } => {
            let reply_to = match reply_to {
                Some(target) => target_event(target).await?,
                None => None,
            };
            post(bridge, device_id, chat, entry, &speaker, parts, reply_to).await
        }
        ToMatrix::React { target, emoji } => {
            react(bridge, device_id, chat, entry, &speaker, target, emoji).await
        }
        ToMatrix::Edit { target, content } => {
            let Some(original) = target_event(target).await? else {
                // The original was never bridged: show the new text as a message.
                return post(
                    bridge,
                    device_id,
                    chat,
                    entry,
                    &speaker,
                    vec![Part::Ready(content)],
                    None,
                )
                .await
                .map(|()| Some(kind));
            };
            let edit = content.make_replacement(
                ruma::events::room::message::ReplacementMetadata::new(original, None),
            );
            let txn = txn_for(device_id, &chat.jid(), &entry.message_id, 0);
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
            Ok(())
        }
        ToMatrix::EditCaption { target, caption } => {
            super::captions::edit_caption(bridge, chat, entry, &speaker, &target, &caption).await
        }
        ToMatrix::Vote(vote) => {
            super::votes::vote(bridge, owner, chat, entry, &speaker, &vote).await
        }
        ToMatrix::Revoke { target } => {
            let parts = bridge
                .db
                .mapped_by_wa_id(device_id, &chat.jid(), &target)
                .await?;
            for (index, part) in parts.iter().enumerate() {
                let txn = txn_for(device_id, &chat.jid(), &entry.message_id, index);
                bridge
                    .client
                    .redact(
                        &speaker.ghost,
                        &speaker.portal.room_id,
                        &part.event_id,
                        txn,
                        Some("deleted on WhatsApp"),
                    )
                    .await?;
            }
            Ok(())
        }
    };
    outcome?;
    if let Some(placeholder) = placeholder {
        super::placeholders::remove(bridge, chat, entry, &speaker, &placeholder).await?;
    }
    Ok(Some(kind))
}

/// The kind of a converted message, as the metrics count it.
fn kind_of(converted: &ToMatrix) -> &'static str {
    match converted {
        ToMatrix::Post { parts, .. } => {
            if parts.iter().any(|part| matches!(part, Part::Poll(_))) {
                "poll"
            } else if parts
                .iter()
                .any(|part| matches!(part, Part::Media(_) | Part::Attachment(_)))
            {
                "media"
            } else {
                "text"
            }
        }
        ToMatrix::React { .. } => "reaction",
        ToMatrix::Edit { .. } | ToMatrix::EditCaption { .. } => "edit",
        ToMatrix::Vote(_) => "vote",
        ToMatrix::Revoke { .. } => "redaction",
        ToMatrix::Nothing => "other",
    }
}

/// The sender's ghost (named, in the portal) and the portal (created if needed).
pub(super) async fn speaker(
    bridge: &Bridge,
    device_id: i32,
    owner: &Owner,
    chat: &WaChat,
    entry: &InboxEntry,
) -> Result<Speaker, BridgeError> {
    let sender = if entry.from_me {
        WaUser::from_phone(&owner.phone)
    } else {
        WaUser::parse(&entry.sender)
            .ok_or_else(|| BridgeError::Identity(format!("unreadable sender {}", entry.sender)))?
            .prefer_phone(WaUser::parse(&entry.sender_alt))
    };
    let names = if entry.from_me {
        ContactNames::default()
    } else {
        ContactNames {
            push_name: &entry.push_name,
            business_name: &entry.business_name,
            contact_name: "",
        }
    };
    let ghost = bridge.ghost_named(&sender, &names).await?;
    if !entry.from_me {
        bridge.check_avatar_once(device_id, &sender, &ghost);
    }
    let portal = match chat {
        WaChat::Direct(person) => {
            let chat_name = if entry.from_me {
                person.to_string()
            } else {
                bridge.chat_name(person, &names)
            };
            bridge.portal(device_id, owner, chat, &chat_name).await?
        }
        WaChat::Group(_) => bridge.group_portal(device_id, owner, chat).await?,
    };
    bridge.ghost_in_room(&portal.room_id, &ghost).await?;
    Ok(Speaker {
        ghost,
        sender,
        portal,
    })
}

pub(super) async fn post(
    bridge: &Bridge,
    device_id: i32,
    chat: &WaChat,
    entry: &InboxEntry,
    speaker: &Speaker,
    parts: Vec<Part>,
    reply_to: Option<ruma::OwnedEventId>,
) -> Result<(), BridgeError> {
    use ruma::events::room::message::Relation;
    let chat_jid = chat.jid();
    for (part, content) in parts.into_iter().enumerate() {
        let content = match content {
            Part::Ready(content) => Postable::Message(*content),
            Part::Media(media) => {
                match super::media::bring_over(bridge, device_id, &speaker.ghost, &media).await? {
                    MediaContent::Message(content) => Postable::Message(content),
                    MediaContent::Sticker(content) => Postable::Sticker(content),
                    MediaContent::Json(content) => Postable::Json(content),
                }
            }
            Part::Attachment(file) => {
                Postable::Message(super::media::attach(bridge, &speaker.ghost, &file).await?)
            }
            Part::Poll(poll) => Postable::Poll(poll),
        };
        let reply = (part == 0)
            .then(|| reply_to.clone())
            .flatten()
            .map(ruma::events::relation::Reply::with_event_id);
        let txn = txn_for(device_id, &chat_jid, &entry.message_id, part);
        let room = &speaker.portal.room_id;
        let (ghost, at) = (&speaker.ghost, entry.sent_at_ms);
        let event_id = match content {
            Postable::Message(mut content) => {
                content.relates_to = reply.map(Relation::Reply);
                bridge
                    .client
                    .send_message_at(ghost, room, txn, &content, at)
                    .await?
            }
            Postable::Sticker(mut content) => {
                content.relates_to = reply.map(Relation::Reply);
                bridge
                    .client
                    .send_event_at(ghost, room, txn, &content, at)
                    .await?
            }
            Postable::Poll(poll) => {
                bridge
                    .client
                    .send_event_at(ghost, room, txn, &*poll, at)
                    .await?
            }
            Postable::Json(mut content) => {
                if let Some(reply) = reply
                    && let Some(fields) = content.as_object_mut()
                {
                    fields.insert(
                        "m.relates_to".into(),
                        serde_json::json!({ "m.in_reply_to": { "event_id": reply.in_reply_to.event_id } }),
                    );
                }
                bridge
                    .client
                    .send_json_message_at(ghost, room, txn, &content, at)
                    .await?
            }
        };
        let mapped = MappedMessage {
            device_id,
            chat_jid: chat_jid.clone(),
            wa_message_id: entry.message_id.clone(),
            part: i32::try_from(part).unwrap_or(i32::MAX),
            wa_sender: speaker.sender.jid(),
            event_id,
            sent_at_ms: entry.sent_at_ms,
        };
        bridge.db.map_message(&mapped, room).await?;
    }
    Ok(())
}

/// One event of a message, ready for the homeserver.
enum Postable {
    Message(ruma::events::room::message::RoomMessageEventContent),
    Sticker(ruma::events::sticker::StickerEventContent),
    Poll(Box<NewUnstablePollStartEventContent>),
    Json(serde_json::Value),
}

/// A reaction replaces the sender's earlier one on the same message (or removes it).
async fn react(
    bridge: &Bridge,
    device_id: i32,
    chat: &WaChat,
    entry: &InboxEntry,
    speaker: &Speaker,
    target: String,
    emoji: String,
) -> Result<(), BridgeError> {
    let chat_jid = chat.jid();
    let sender = speaker.sender.jid();
    let room = &speaker.portal.room_id;
    let earlier = bridge
        .db
        .reaction(device_id, &chat_jid, &target, &sender)
        .await?;
    if let Some(earlier) = &earlier {
        if earlier.emoji == emoji {
            return Ok(());
        }
        let txn = txn_for(device_id, &chat_jid, &entry.message_id, 1);
        bridge
            .client
            .redact(&speaker.ghost, room, &earlier.event_id, txn, None)
            .await?;
        bridge
            .db
            .remove_reaction(device_id, &chat_jid, &target, &sender)
            .await?;
    }
    if emoji.is_empty() {
        return Ok(());
    }
    let Some(target_event) = bridge
        .db
        .mapped_by_wa_id(device_id, &chat_jid, &target)
        .await?
        .into_iter()
        .next()
    else {
        // A reaction to a message the bridge never showed has nothing to hang on.
        return Ok(());
    };
    let content = ruma::events::reaction::ReactionEventContent::new(
        ruma::events::relation::Annotation::new(target_event.event_id, emoji.clone()),
    );
    let txn = txn_for(device_id, &chat_jid, &entry.message_id, 0);
    let event_id = bridge
        .client
        .send_event_at(&speaker.ghost, room, txn, &content, entry.sent_at_ms)
        .await?;
    let reaction = crate::db::reactions::Reaction {
        device_id,
        chat_jid,
        target_wa_id: target,
        wa_sender: sender,
        event_id,
        emoji,
    };
    bridge.db.set_reaction(&reaction, room).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(chat: &str, sender_alt: &str, from_me: bool) -> InboxEntry {
        InboxEntry {
            seq: 1,
            chat: chat.into(),
            sender: chat.into(),
            sender_alt: sender_alt.into(),
            message_id: "M".into(),
            sent_at_ms: 0,
            push_name: String::new(),
            from_me,
            payload: Vec::new(),
            undecryptable: false,
            business_name: String::new(),
        }
    }

    #[test]
    fn a_person_is_one_chat_whichever_address_they_wrote_from() {
        let by_phone = chat_of(&entry("15550002001@s.whatsapp.net", "987@lid", false));
        let by_lid = chat_of(&entry("987@lid", "15550002001@s.whatsapp.net", false));
        assert_eq!(by_phone, by_lid);
        assert_eq!(
            by_phone,
            Some(WaChat::Direct(WaUser::Phone("15550002001".into())))
        );
        assert_eq!(chat_of(&entry("status@broadcast", "", false)), None);
    }

    #[test]
    fn transaction_ids_are_stable_and_distinct() {
        let a = txn_for(1, "c", "m", 0);
        assert_eq!(a, txn_for(1, "c", "m", 0));
        assert_ne!(a, txn_for(1, "c", "m", 1));
        assert_ne!(a, txn_for(2, "c", "m", 0));
        assert_ne!(a, txn_for(1, "c", "n", 0));
    }
}
