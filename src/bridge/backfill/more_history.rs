//! `more-history`: a portal shows what the bridge posted into it, and Matrix cannot put
//! older events before newer ones. So the chat moves to a new room that holds
//! everything stored for it (the phone's history, older messages fetched from the phone
//! on demand, and every message bridged since), oldest first; the old room gets an
//! `m.room.tombstone` pointing there, which clients show as "this room continues".

use std::collections::HashMap;
use std::time::Duration;

use ruma::events::room::message::RoomMessageEventContent;
use ruma::{OwnedTransactionId, RoomId};

use super::super::inbound::bridge_patiently;
use super::super::sessions::Owner;
use super::super::{Bridge, BridgeError};
use crate::db::portals::PortalRow;
use crate::whatsapp::address::WaChat;
use crate::whatsapp::history::HistoryStore;
use crate::whatsapp::inbox::{Inbox, InboxEntry};
use crate::whatsapp::phone::PhoneNumber;

/// How many older messages to ask the phone for.
const ON_DEMAND_COUNT: i32 = 500;
/// How long to wait for the phone's answer before going on with what is stored.
const ON_DEMAND_WAIT: Duration = Duration::from_secs(20);
/// The answer is looked for this often.
const ON_DEMAND_LOOK: Duration = Duration::from_millis(500);
/// Once messages come in, the answer is taken as complete after this much quiet.
const ON_DEMAND_SETTLE: Duration = Duration::from_secs(2);

/// The command, sent in a portal: checks it is the sender's chat and starts the move.
pub(in crate::bridge) async fn more_history(
    bridge: &Bridge,
    user: &ruma::UserId,
    room: &RoomId,
) -> Result<String, BridgeError> {
    let Some(portal) = bridge.db.portal_for_room(room).await? else {
        return Ok("Send `more-history` in the room of a WhatsApp chat.".into());
    };
    let Some(login) = bridge.db.login_of_device(portal.device_id).await? else {
        return Ok("This chat's WhatsApp account is not linked any more.".into());
    };
    if login.user_id != user {
        return Ok("Only the owner of this chat's WhatsApp account can do that.".into());
    }
    let (Ok(phone), Some(chat)) = (
        PhoneNumber::parse(&login.phone),
        WaChat::parse(&portal.chat_jid),
    ) else {
        return Ok("The bridge cannot read this chat's address.".into());
    };
    let owner = Owner {
        user: user.to_owned(),
        phone,
    };
    let bridge = bridge.clone();
    tokio::spawn(async move {
        if let Err(err) = move_to_full_room(&bridge, &owner, &portal, &chat).await {
            tracing::warn!(room = %portal.room_id, error = %err, "could not move a chat to a room with its full history");
            let text = format!(
                "Bringing the full history over failed ({err}). Send `more-history` to try again."
            );
            notice(&bridge, &portal.room_id, "failed", &text).await;
        }
    });
    Ok("Gathering this chat's full history (asking the phone for older messages too); a new room with all of it follows in a moment.".into())
}

async fn move_to_full_room(
    bridge: &Bridge,
    owner: &Owner,
    old: &PortalRow,
    chat: &WaChat,
) -> Result<(), BridgeError> {
    let device_id = old.device_id;
    let history = HistoryStore::new(bridge.db.clone(), device_id);
    let fetched = ask_phone(bridge, &history, device_id, chat).await?;
    let _chat = bridge.chat_locks.hold(device_id, &old.chat_jid).await;
    let entries = everything_stored(bridge, &history, device_id, chat).await?;

    let name = match chat {
        WaChat::Direct(person) => bridge.known_name(person).await?,
        WaChat::Group(_) => bridge
            .client
            .state_content(bridge.ids.bot(), &old.room_id, "m.room.name", "")
            .await
            .ok()
            .flatten()
            .and_then(|content| content["name"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "WhatsApp group".into()),
    };
    let alias = bridge
        .ids
        .successor_alias(device_id, &old.chat_jid, &old.room_id)
        .map_err(|err| BridgeError::Identity(err.to_string()))?;
    let new_room = bridge
        .new_portal_room(owner, chat, &name, alias, Some(old.room_id.clone()))
        .await?;
    bridge
        .db
        .move_portal(device_id, &old.chat_jid, &new_room)
        .await?;
    bridge
        .db
        .forget_room_mappings(device_id, &old.chat_jid, &old.room_id)
        .await?;
    let portal = PortalRow {
        room_id: new_room.clone(),
        ..old.clone()
    };
    bridge.set_up_moved_portal(owner, &portal, chat).await;
    for entry in &entries {
        bridge_patiently(bridge, device_id, owner, chat, entry).await;
    }
    if let Some(described) = history.chat(&old.chat_jid).await? {
        bridge.apply_chat_settings(owner, &portal, &described).await;
    }
    let body = "This WhatsApp chat continues in a new room that holds its full history.";
    bridge
        .client
        .tombstone(bridge.ids.bot(), &old.room_id, &new_room, body)
        .await?;
    let fetched_text = match fetched {
        Some(0) | None => String::from("The phone had nothing older."),
        Some(count) => format!("{count} of them came from the phone just now."),
    };
    let text = format!(
        "This room holds the {} of this chat the bridge has, oldest first. {fetched_text}",
        if entries.len() == 1 {
            "1 message".to_owned()
        } else {
            format!("{} messages", entries.len())
        }
    );
    notice(bridge, &new_room, "summary", &text).await;
    tracing::info!(device_id, old = %old.room_id, new = %new_room, messages = entries.len(), "moved a chat to a room with its full history");
    Ok(())
}

/// Asks the phone for what is older than the oldest stored message and waits for the
/// answer to be stored; Some(how many came), None when the phone could not be asked.
async fn ask_phone(
    bridge: &Bridge,
    history: &HistoryStore,
    device_id: i32,
    chat: &WaChat,
) -> Result<Option<i64>, BridgeError> {
    let chat_jid = chat.jid();
    let inbox_oldest = Inbox::new(bridge.db.clone(), device_id)
        .of_chat(&chat_jid)
        .await?
        .into_iter()
        .min_by_key(|entry| entry.sent_at_ms);
    let oldest = [history.oldest(&chat_jid).await?, inbox_oldest]
        .into_iter()
        .flatten()
        .min_by_key(|entry| entry.sent_at_ms);
    let Some(session) = bridge.sessions.sender(device_id) else {
        return Ok(None);
    };
    let (id, from_me, at) = match &oldest {
        Some(entry) => (entry.message_id.as_str(), entry.from_me, entry.sent_at_ms),
        None => ("", false, bridge.clock.now_ms()),
    };
    let before = history.count(&chat_jid).await?;
    if let Err(err) = session
        .request_older(chat, id, from_me, at, ON_DEMAND_COUNT)
        .await
    {
        tracing::info!(device_id, error = %err, "could not ask the phone for older messages");
        return Ok(None);
    }
    let deadline = tokio::time::Instant::now() + ON_DEMAND_WAIT;
    let mut last_growth: Option<(i64, tokio::time::Instant)> = None;
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(ON_DEMAND_LOOK).await;
        let now_count = history.count(&chat_jid).await?;
        match last_growth {
            Some((count, at)) if count == now_count && at.elapsed() >= ON_DEMAND_SETTLE => break,
            Some((count, _)) if count == now_count => {}
            _ if now_count > before => last_growth = Some((now_count, tokio::time::Instant::now())),
            _ => {}
        }
    }
    Ok(Some(history.count(&chat_jid).await? - before))
}

/// The history's messages and the inbox's, once each (the inbox's copy wins), in
/// WhatsApp time order.
async fn everything_stored(
    bridge: &Bridge,
    history: &HistoryStore,
    device_id: i32,
    chat: &WaChat,
) -> Result<Vec<InboxEntry>, BridgeError> {
    let chat_jid = chat.jid();
    let mut by_id: HashMap<String, InboxEntry> = HashMap::new();
    for entry in history.newest(&chat_jid, -1).await? {
        by_id.insert(entry.message_id.clone(), entry);
    }
    for entry in Inbox::new(bridge.db.clone(), device_id)
        .of_chat(&chat_jid)
        .await?
    {
        by_id.insert(entry.message_id.clone(), entry);
    }
    let mut entries: Vec<InboxEntry> = by_id.into_values().collect();
    entries.sort_by(|a, b| {
        (a.sent_at_ms, a.seq, &a.message_id).cmp(&(b.sent_at_ms, b.seq, &b.message_id))
    });
    Ok(entries)
}

/// A notice from the bot in a room (best effort).
async fn notice(bridge: &Bridge, room: &RoomId, what: &str, text: &str) {
    let content = RoomMessageEventContent::notice_plain(text);
    let txn = OwnedTransactionId::from(format!("more-history.{what}.{:x}", rand::random::<u64>()));
    if let Err(err) = bridge
        .client
        .send_message(bridge.ids.bot(), room, txn, &content)
        .await
    {
        tracing::warn!(%room, error = %err, "could not post a notice about the history");
    }
}
