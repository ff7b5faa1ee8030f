//! Calls: the bridge cannot take them, so the portal says one is ringing (answer it on
//! the phone) and, when it rang out or rang while the bridge was away, that it was missed.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use ruma::OwnedTransactionId;
use ruma::events::room::message::RoomMessageEventContent;
use sha2::{Digest, Sha256};

use super::sessions::Owner;
use super::{Bridge, BridgeError};
use crate::whatsapp::address::{WaChat, WaUser};
use crate::whatsapp::session_event::CallState;

/// Calls that ring now, by login and call ID, with the chat they ring in: a call that
/// rings out is missed only if it rang here.
#[derive(Default)]
pub struct RingingCalls(Mutex<HashMap<(i32, String), WaChat>>);

impl RingingCalls {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(i32, String), WaChat>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What a call notice says.
fn call_text(video: bool, missed: bool) -> &'static str {
    match (missed, video) {
        (true, _) => "Missed call.",
        (false, true) => "Incoming video call. Answer it in the WhatsApp app on your phone.",
        (false, false) => "Incoming voice call. Answer it in the WhatsApp app on your phone.",
    }
}

/// The same call notice always has the same transaction, so a repeat posts nothing.
fn call_txn(device_id: i32, call_id: &str, missed: bool) -> OwnedTransactionId {
    let digest = Sha256::digest(format!("{device_id}\0{call_id}\0{missed}"));
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    OwnedTransactionId::from(format!("call.{hex}"))
}

/// A call, as WhatsApp told it.
pub(super) struct Call {
    pub chat: WaChat,
    pub caller: WaUser,
    pub call_id: String,
    pub video: bool,
    pub state: CallState,
}

impl Bridge {
    /// Says in the chat's portal (created if needed) that `call` rings or was missed.
    pub(super) async fn on_call(
        &self,
        device_id: i32,
        owner: &Owner,
        call: &Call,
    ) -> Result<(), BridgeError> {
        if call.caller == WaUser::from_phone(&owner.phone) {
            // The user's own call from the phone: nothing to tell them.
            return Ok(());
        }
        let key = (device_id, call.call_id.clone());
        let (chat, missed) = match call.state {
            CallState::Ringing => {
                self.calls.lock().insert(key, call.chat.clone());
                (call.chat.clone(), false)
            }
            CallState::RangOut => match self.calls.lock().remove(&key) {
                Some(chat) => (chat, true),
                None => return Ok(()),
            },
            CallState::MissedWhileAway => (call.chat.clone(), true),
        };
        let ghost = self.ghost(&call.caller, "").await?;
        let portal = match &chat {
            WaChat::Direct(person) => {
                let name = self.known_name(person).await?;
                self.portal(device_id, owner, &chat, &name).await?
            }
            WaChat::Group(_) => self.group_portal(device_id, owner, &chat).await?,
        };
        self.ghost_in_room(&portal.room_id, &ghost).await?;
        let content = RoomMessageEventContent::notice_plain(call_text(call.video, missed));
        self.client
            .send_message(
                &ghost,
                &portal.room_id,
                call_txn(device_id, &call.call_id, missed),
                &content,
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_say_what_rang() {
        assert!(call_text(false, false).starts_with("Incoming voice call"));
        assert!(call_text(true, false).starts_with("Incoming video call"));
        assert_eq!(call_text(true, true), "Missed call.");
        assert_eq!(call_txn(1, "A", false), call_txn(1, "A", false));
        assert_ne!(call_txn(1, "A", false), call_txn(1, "A", true));
        assert_ne!(call_txn(1, "A", false), call_txn(2, "A", false));
    }
}
