//! Catch-up after the bridge was away: WhatsApp delivers everything that waited, and
//! the inbox holds it all. A chat that received more than `max_catchup_messages`
//! meanwhile shows only the newest of them; the rest stay stored (the owner is told,
//! and `more-history` in the chat's room brings them), so nothing is lost.

use ruma::OwnedTransactionId;
use ruma::events::room::message::RoomMessageEventContent;

use super::Bridge;
use super::sessions::Owner;
use crate::whatsapp::address::WaChat;
use crate::whatsapp::inbox::Inbox;

/// Applies the limit to what waits in the inbox now.
pub(super) async fn limit(bridge: &Bridge, device_id: i32, owner: &Owner, inbox: &Inbox) {
    let keep = i64::from(bridge.config.backfill.max_catchup_messages);
    let waiting = match inbox.pending_per_chat().await {
        Ok(waiting) => waiting,
        Err(err) => {
            tracing::warn!(device_id, error = %err, "cannot count what waits in the inbox");
            return;
        }
    };
    for (chat, count) in waiting.into_iter().filter(|(_, count)| *count > keep) {
        match inbox.pass_over_oldest(&chat, keep).await {
            Ok(0) => {}
            Ok(passed) => {
                tracing::info!(
                    device_id,
                    passed,
                    "a chat got more while the bridge was away than catch-up shows"
                );
                tell(bridge, owner, &chat, count, passed).await;
            }
            Err(err) => {
                tracing::warn!(device_id, error = %err, "cannot apply the catch-up limit");
            }
        }
    }
}

async fn tell(bridge: &Bridge, owner: &Owner, chat: &str, arrived: i64, passed: u64) {
    let Ok(Some(room)) = bridge.db.management_room(&owner.user).await else {
        return;
    };
    let who = match WaChat::parse(chat) {
        Some(WaChat::Direct(person)) => format!("your chat with {person}"),
        _ => "a group".to_owned(),
    };
    let text = format!(
        "While the bridge was away, {arrived} messages came in {who}. Its room shows the newest {}; the other {passed} are stored, and `more-history` in that room brings them all.",
        arrived - i64::try_from(passed).unwrap_or(0)
    );
    let content = RoomMessageEventContent::notice_plain(text);
    let txn = OwnedTransactionId::from(format!("catch-up.{:x}", rand::random::<u64>()));
    if let Err(err) = bridge
        .client
        .send_message(bridge.ids.bot(), &room, txn, &content)
        .await
    {
        tracing::warn!(error = %err, "could not tell the owner about the catch-up limit");
    }
}
