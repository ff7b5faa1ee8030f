//! One writer per chat at a time: the chat's inbox worker, the backfill that fills its
//! new portal, and the rebuild that moves it to a room with more history all post into
//! the same room, so each takes the chat's lock and the room's order stays the order
//! of the chat.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OwnedMutexGuard;

/// A chat of a linked device: its device ID and JID.
type ChatKey = (i32, String);

#[derive(Default)]
pub(super) struct ChatLocks {
    locks: Mutex<HashMap<ChatKey, Arc<tokio::sync::Mutex<()>>>>,
}

impl ChatLocks {
    /// Waits for the chat (of a device, by JID) to be free and holds it.
    pub(super) async fn hold(&self, device_id: i32, chat_jid: &str) -> OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
            // Drop locks nobody holds or waits for, so the map stays as small as the
            // number of chats busy right now.
            locks.retain(|_, lock| Arc::strong_count(lock) > 1);
            locks
                .entry((device_id, chat_jid.to_owned()))
                .or_default()
                .clone()
        };
        lock.lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_chat_has_one_holder_and_other_chats_are_free() {
        let locks = Arc::new(ChatLocks::default());
        let held = locks.hold(1, "a@s.whatsapp.net").await;
        let other = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            locks.hold(1, "b@s.whatsapp.net"),
        )
        .await;
        assert!(other.is_ok(), "another chat is not blocked");
        let waiter = {
            let locks = locks.clone();
            tokio::spawn(async move { locks.hold(1, "a@s.whatsapp.net").await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "the same chat waits");
        drop(held);
        let second = tokio::time::timeout(std::time::Duration::from_secs(1), waiter).await;
        assert!(
            matches!(second, Ok(Ok(_))),
            "it gets the chat once it is free"
        );
    }
}
