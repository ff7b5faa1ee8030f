//! The messages being sent to WhatsApp right now. A contact's phone can read a message
//! before our send returns and its event ⇄ message pair is stored; a receipt for such a
//! message waits here for the pair instead of finding nothing and being forgotten.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

/// A message of a linked device: its device ID and WhatsApp message ID.
type SendingKey = (i32, String);

#[derive(Default)]
pub(super) struct Sending {
    ids: Mutex<HashSet<SendingKey>>,
    done: Notify,
}

/// Marks one message as being sent until it is dropped.
pub(super) struct SendingGuard<'a> {
    sending: &'a Sending,
    key: SendingKey,
}

impl Drop for SendingGuard<'_> {
    fn drop(&mut self) {
        self.sending
            .ids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.key);
        self.sending.done.notify_waiters();
    }
}

impl Sending {
    /// Marks a message as being sent; its pair must be stored before the guard drops.
    pub(super) fn begin(&self, device_id: i32, message_id: &str) -> SendingGuard<'_> {
        let key = (device_id, message_id.to_owned());
        self.ids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone());
        SendingGuard { sending: self, key }
    }

    fn any_of(&self, device_id: i32, message_ids: &[String]) -> bool {
        let ids = self.ids.lock().unwrap_or_else(PoisonError::into_inner);
        message_ids
            .iter()
            .any(|id| ids.contains(&(device_id, id.clone())))
    }

    /// Waits (at most `at_most`) until none of the messages is still being sent.
    pub(super) async fn settled(&self, device_id: i32, message_ids: &[String], at_most: Duration) {
        let deadline = tokio::time::Instant::now() + at_most;
        loop {
            let finished = self.done.notified();
            tokio::pin!(finished);
            // Registered before the check, so a send ending in between still wakes us.
            finished.as_mut().enable();
            if !self.any_of(device_id, message_ids) {
                return;
            }
            if tokio::time::timeout_at(deadline, finished).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reader_waits_for_the_send_and_others_do_not() {
        let sending = std::sync::Arc::new(Sending::default());
        let guard = sending.begin(1, "A");
        let other = ["B".to_owned()];
        tokio::time::timeout(
            Duration::from_millis(100),
            sending.settled(1, &other, Duration::from_secs(5)),
        )
        .await
        .expect("a message not being sent does not wait");
        let waiter = {
            let sending = sending.clone();
            tokio::spawn(async move {
                sending
                    .settled(1, &["A".to_owned()], Duration::from_secs(5))
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "the reader waits while A is sent");
        drop(guard);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("the reader goes on once A is stored")
            .expect("the task ends");
    }

    #[tokio::test]
    async fn a_send_that_never_ends_is_waited_for_only_so_long() {
        let sending = Sending::default();
        let _guard = sending.begin(1, "A");
        let waited = tokio::time::timeout(
            Duration::from_secs(2),
            sending.settled(1, &["A".to_owned()], Duration::from_millis(50)),
        )
        .await;
        assert!(waited.is_ok(), "the wait ends after its limit");
    }
}
