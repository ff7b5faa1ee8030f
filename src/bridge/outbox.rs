//! Matrix → WhatsApp, durably: what a portal's owner sends is stored in the outbox before
//! the homeserver hears that the event was taken, and a worker per linked device sends
//! the device's events in order. While the account reconnects, or the homeserver or the
//! database is briefly away, the event waits and is tried again; nothing that was taken
//! is lost to a crash (the worker starts again with the session), and an event sent
//! twice is the same WhatsApp message (`outbound::wa_message_id`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ruma::events::{AnyMessageLikeEvent, AnyTimelineEvent};
use tokio::sync::Notify;

use super::{Bridge, BridgeError, is_transient};
use crate::db::outbox::OutboxRow;
use crate::db::portals::PortalRow;

/// A worker also looks by itself this often, in case a wake-up was missed.
const IDLE_LOOK: Duration = Duration::from_secs(30);
const RETRY_FIRST: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// The running workers, by device: what wakes each.
#[derive(Default)]
pub struct Outboxes {
    workers: Mutex<HashMap<i32, Arc<Notify>>>,
}

impl Outboxes {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i32, Arc<Notify>>> {
        self.workers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Tells the device's worker to look (new event, or the account connected).
    pub fn wake(&self, device_id: i32) {
        if let Some(wake) = self.lock().get(&device_id) {
            wake.notify_one();
        }
    }

    /// The wake-up of a new worker for the device, or None when one runs.
    fn register(&self, device_id: i32) -> Option<Arc<Notify>> {
        let mut workers = self.lock();
        if workers.contains_key(&device_id) {
            return None;
        }
        let wake = Arc::new(Notify::new());
        workers.insert(device_id, wake.clone());
        Some(wake)
    }

    fn forget(&self, device_id: i32, wake: &Arc<Notify>) {
        let mut workers = self.lock();
        if workers
            .get(&device_id)
            .is_some_and(|current| Arc::ptr_eq(current, wake))
        {
            workers.remove(&device_id);
        }
    }
}

/// Stores an event of the portal's owner for WhatsApp. Events from others, and kinds
/// the bridge does not send, are not stored.
pub(super) async fn queue(
    bridge: &Bridge,
    portal: &PortalRow,
    event: &AnyMessageLikeEvent,
    json: &str,
) -> Result<(), BridgeError> {
    if !super::outbound::is_sendable(event)
        || super::outbound::owner_login(bridge, portal, event.sender())
            .await?
            .is_none()
    {
        return Ok(());
    }
    bridge
        .db
        .queue_outgoing(
            portal.device_id,
            event.event_id().as_str(),
            event.room_id().as_str(),
            json,
            bridge.clock.now_ms(),
        )
        .await?;
    bridge.outbox.wake(portal.device_id);
    Ok(())
}

/// Starts the device's worker, unless one runs (then it is told to look).
pub(super) fn start(bridge: Bridge, device_id: i32) {
    match bridge.outbox.register(device_id) {
        Some(wake) => {
            tokio::spawn(work(bridge, device_id, wake));
        }
        None => bridge.outbox.wake(device_id),
    }
}

/// Sends the device's events, oldest first, one at a time; ends with the login.
async fn work(bridge: Bridge, device_id: i32, wake: Arc<Notify>) {
    let mut wait = RETRY_FIRST;
    loop {
        let next = match bridge.db.next_outgoing(device_id).await {
            Ok(next) => next,
            Err(err) => {
                tracing::warn!(device_id, error = %err, "cannot read the outbox; trying again");
                let _ = tokio::time::timeout(RETRY_MAX, wake.notified()).await;
                continue;
            }
        };
        let Some(row) = next else {
            if let Ok(None) = bridge.db.login_of_device(device_id).await {
                break;
            }
            let _ = tokio::time::timeout(IDLE_LOOK, wake.notified()).await;
            continue;
        };
        match send_one(&bridge, &row).await {
            Err(err) if worth_waiting(&err) => {
                tracing::debug!(device_id, event_id = %row.event_id, error = %err, "an outgoing message waits");
                let _ = tokio::time::timeout(wait, wake.notified()).await;
                wait = (wait * 2).min(RETRY_MAX);
                continue;
            }
            Err(err) => {
                tracing::warn!(device_id, event_id = %row.event_id, error = %err, "could not send a Matrix event to WhatsApp");
            }
            Ok(()) => {}
        }
        wait = RETRY_FIRST;
        if let Err(err) = bridge.db.remove_outgoing(row.seq).await {
            // Sent again on the next look: the same WhatsApp message ID, one message.
            tracing::warn!(device_id, error = %err, "could not take a sent event out of the outbox");
        }
    }
    bridge.outbox.forget(device_id, &wake);
}

/// Failures that pass by themselves.
fn worth_waiting(err: &BridgeError) -> bool {
    match err {
        BridgeError::NotConnected | BridgeError::Database(_) => true,
        BridgeError::Homeserver(err) => is_transient(err),
        BridgeError::QrImage(_) | BridgeError::Identity(_) | BridgeError::Metrics(_) => false,
    }
}

async fn send_one(bridge: &Bridge, row: &OutboxRow) -> Result<(), BridgeError> {
    let event = match serde_json::from_str::<AnyTimelineEvent>(&row.event) {
        Ok(AnyTimelineEvent::MessageLike(event)) => event,
        Ok(AnyTimelineEvent::State(_)) => return Ok(()),
        Err(err) => {
            // It was read once when it came; a stored copy that no longer reads is
            // reported and dropped rather than blocking the queue.
            tracing::warn!(event_id = %row.event_id, error = %err, "a stored outgoing event is unreadable");
            return Ok(());
        }
    };
    let Some(portal) = bridge.db.portal_for_room(event.room_id()).await? else {
        return Ok(());
    };
    super::outbound::dispatch(bridge, &portal, &event).await
}
