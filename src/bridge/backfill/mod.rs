//! Backfill: the phone's history becomes portals. Every payload is kept the moment it
//! arrives (`whatsapp::history`); once the phone has sent nothing for `dispatch_wait`,
//! the dispatcher of the linked device chooses the most recent chats (up to
//! `max_initial_conversations`), marks them queued, and fills their portals one by one,
//! newest chat first, telling the owner how far it got. The queue is in the database,
//! so a restart in the middle carries on with the chats not done yet; each message is
//! posted under its fixed transaction ID and mapped, so nothing lands twice.

mod fill;
pub(super) mod more_history;

use futures_util::StreamExt;
use ruma::OwnedTransactionId;
use ruma::events::room::message::RoomMessageEventContent;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::sessions::Owner;
use super::{Bridge, BridgeError};
use crate::whatsapp::address::{WaChat, WaUser};
use crate::whatsapp::history::{BackfillState, HistoryRead, HistoryStore};

/// Starts the device's dispatcher; send it what each stored payload held.
pub(super) fn start(
    bridge: Bridge,
    device_id: i32,
    owner: Owner,
) -> mpsc::UnboundedSender<HistoryRead> {
    let (news, arrivals) = mpsc::unbounded_channel();
    tokio::spawn(dispatcher(bridge, device_id, owner, arrivals));
    news
}

async fn dispatcher(
    bridge: Bridge,
    device_id: i32,
    owner: Owner,
    mut arrivals: mpsc::UnboundedReceiver<HistoryRead>,
) {
    let history = HistoryStore::new(bridge.db.clone(), device_id);
    let wait = bridge.config.history_sync.dispatch_wait;
    let mut due = left_over(&bridge, &history, &owner).await.map(|now| {
        if now {
            Instant::now()
        } else {
            Instant::now() + wait
        }
    });
    loop {
        let sleep_until =
            due.unwrap_or_else(|| Instant::now() + std::time::Duration::from_secs(3600));
        tokio::select! {
            arrival = arrivals.recv() => {
                let Some(read) = arrival else { break };
                if read.chats > 0 || read.messages > 0 {
                    due = Some(Instant::now() + wait);
                    trim(&bridge, &history).await;
                }
            }
            () = tokio::time::sleep_until(sleep_until), if due.is_some() => {
                due = None;
                if let Err(err) = dispatch(&bridge, device_id, &owner, &history).await {
                    tracing::warn!(device_id, error = %err, "the history dispatch stopped; it carries on at the next start");
                }
            }
        }
    }
}

/// Applies the storage limit, when the config sets one.
async fn trim(bridge: &Bridge, history: &HistoryStore) {
    let keep = bridge.config.history_sync.max_stored_messages_per_chat;
    if keep < 0 {
        return;
    }
    match history.trim(i64::from(keep)).await {
        Ok(0) => {}
        Ok(dropped) => tracing::info!(
            dropped,
            "dropped the oldest stored history beyond the configured limit"
        ),
        Err(err) => tracing::warn!(error = %err, "could not apply the stored history limit"),
    }
}

/// What an earlier run left: Some(true) to carry on now (chats were chosen but not
/// filled), Some(false) to dispatch after the usual wait (history came but was never
/// dispatched), None when there is nothing to do.
async fn left_over(bridge: &Bridge, history: &HistoryStore, owner: &Owner) -> Option<bool> {
    let own_jid = WaUser::from_phone(&owner.phone).jid();
    let read = match history.read_waiting(&own_jid, bridge.clock.now_ms()).await {
        Ok(read) => read,
        Err(err) => {
            tracing::warn!(error = %err, "cannot read the history payloads kept before");
            HistoryRead::default()
        }
    };
    let queued = history.chats_in(BackfillState::Queued).await.ok()?;
    if !queued.is_empty() {
        return Some(true);
    }
    let never_dispatched = history.chosen_count().await.ok()? == 0
        && !history
            .chats_in(BackfillState::Stored)
            .await
            .ok()?
            .is_empty();
    (read.payloads > 0 || never_dispatched).then_some(false)
}

/// Chooses the chats that get portals and fills them, newest first.
async fn dispatch(
    bridge: &Bridge,
    device_id: i32,
    owner: &Owner,
    history: &HistoryStore,
) -> Result<(), BridgeError> {
    if !bridge.config.backfill.enabled {
        return Ok(());
    }
    let max = bridge.config.history_sync.max_initial_conversations;
    let capacity = if max < 0 {
        usize::MAX
    } else {
        usize::try_from(i64::from(max) - history.chosen_count().await?).unwrap_or(0)
    };
    for chat in history
        .chats_in(BackfillState::Stored)
        .await?
        .into_iter()
        .take(capacity)
    {
        // A chat whose portal a new message made before its history came keeps that
        // room as it is: older messages posted after newer ones would read wrong.
        // Only a chat queued here and cut short by a crash is filled into a room that
        // exists.
        let state = if bridge
            .db
            .portal_for_chat(device_id, &chat.chat)
            .await?
            .is_some()
        {
            BackfillState::Done
        } else {
            BackfillState::Queued
        };
        history.set_state(&chat.chat, state).await?;
    }
    let queued = history.chats_in(BackfillState::Queued).await?;
    if queued.is_empty() {
        return Ok(());
    }
    let run: u64 = rand::random();
    tell(bridge, owner, run, 0, &starting_text(queued.len())).await;
    // A few chats side by side (each in its own order, under its chat's lock): one
    // after another left the homeserver idle between one chat's messages (measured in
    // docs/benchmarks.md).
    // Their portals are still made one after another, in the queue's order (the most
    // recent chat first): each waits until the one before has its room.
    let mut turns = Vec::with_capacity(queued.len());
    let mut previous: Option<oneshot::Receiver<()>> = None;
    for described in &queued {
        let (made, next) = oneshot::channel();
        turns.push((described.chat.clone(), previous.replace(next), made));
    }
    let history = &history;
    let fills = futures_util::stream::iter(turns)
        .map(|(jid, after, made)| async move {
            if let Some(after) = after {
                // An error is the one before ending without a room: the turn is ours.
                let _ = after.await;
            }
            fill_one(bridge, device_id, owner, history, &jid, made).await
        })
        .buffer_unordered(CHATS_AT_ONCE);
    let mut fills = std::pin::pin!(fills);
    let (mut chats, mut messages, mut done) = (0, 0, 0);
    while let Some(filled) = fills.next().await {
        done += 1;
        if let Some(count) = filled? {
            chats += 1;
            messages += count;
        }
        if done % PROGRESS_EVERY == 0 && done < queued.len() {
            tell(bridge, owner, run, done, &progress_text(done, queued.len())).await;
        }
    }
    tell(
        bridge,
        owner,
        run,
        usize::MAX,
        &summary_text(chats, messages),
    )
    .await;
    Ok(())
}

/// Fills one queued chat's portal; the number of messages posted, None when nothing was
/// (a failure is logged: the chat is tried again at the next start).
async fn fill_one(
    bridge: &Bridge,
    device_id: i32,
    owner: &Owner,
    history: &HistoryStore,
    chat_jid: &str,
    portal_made: oneshot::Sender<()>,
) -> Result<Option<usize>, BridgeError> {
    let Some(chat) = WaChat::parse(chat_jid) else {
        history.set_state(chat_jid, BackfillState::Done).await?;
        return Ok(None);
    };
    let _chat = bridge.chat_locks.hold(device_id, chat_jid).await;
    match bridge
        .fill_from_history(device_id, owner, &chat, Some(portal_made))
        .await
    {
        Ok(filled) => Ok(filled.map(|filled| filled.messages)),
        Err(err) => {
            tracing::warn!(device_id, error = %err, "could not fill a portal from the history; it is tried again at the next start");
            Ok(None)
        }
    }
}

/// How many chats are filled side by side.
const CHATS_AT_ONCE: usize = 4;

/// A progress notice after this many chats.
const PROGRESS_EVERY: usize = 10;

fn plural(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

fn starting_text(chats: usize) -> String {
    format!(
        "Creating {} from your WhatsApp history…",
        plural(chats, "chat", "chats")
    )
}

fn progress_text(done: usize, of: usize) -> String {
    format!("History: {done} of {of} chats are ready…")
}

fn summary_text(chats: usize, messages: usize) -> String {
    if chats == 0 {
        return "Your WhatsApp history is in; no new chats were needed.".into();
    }
    format!(
        "Your WhatsApp history is in: {} with {}. Older messages stay stored; send `more-history` in a chat to see them all.",
        plural(chats, "chat", "chats"),
        plural(messages, "message", "messages")
    )
}

/// A notice in the owner's management room (best effort).
async fn tell(bridge: &Bridge, owner: &Owner, run: u64, step: usize, text: &str) {
    let room = match bridge.db.management_room(&owner.user).await {
        Ok(Some(room)) => room,
        Ok(None) => return,
        Err(err) => {
            tracing::warn!(error = %err, "cannot find the owner's management room");
            return;
        }
    };
    let content = RoomMessageEventContent::notice_markdown(text);
    let txn = OwnedTransactionId::from(format!("history.{run:x}.{step}"));
    if let Err(err) = bridge
        .client
        .send_message(bridge.ids.bot(), &room, txn, &content)
        .await
    {
        tracing::warn!(error = %err, "could not tell the owner how the history is going");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notices_count_right() {
        assert_eq!(
            starting_text(1),
            "Creating 1 chat from your WhatsApp history…"
        );
        assert_eq!(
            starting_text(37),
            "Creating 37 chats from your WhatsApp history…"
        );
        assert!(summary_text(12, 600).contains("12 chats with 600 messages"));
        assert!(summary_text(1, 1).contains("1 chat with 1 message."));
        assert!(summary_text(0, 0).contains("no new chats"));
    }
}
