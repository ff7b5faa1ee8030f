//! At most one login flow per key, and the ways to reach a running flow: what the person
//! tells it (their number, `cancel`), and what it shows, for front-ends that follow it
//! from outside (the provisioning APIs).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use ruma::OwnedUserId;
use tokio::sync::{mpsc, watch};

use super::{LoginMethod, LoginUpdate};
use crate::whatsapp::phone::PhoneNumber;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("You already have a login in progress. Finish it, or send `cancel` to stop it.")]
pub struct AlreadyInProgress;

/// Where a flow was started, so each front-end reaches only its own flows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FlowOrigin {
    /// The management room: one flow per user.
    Chat,
    /// The device API: one flow per device of the user.
    Device(String),
    /// The Matrix-style provisioning API: one flow per login process.
    Provisioning(String),
}

/// Whose flow, started where.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub user: OwnedUserId,
    pub origin: FlowOrigin,
}

impl FlowKey {
    /// The user's flow in the management room.
    pub fn chat(user: &ruma::UserId) -> Self {
        Self {
            user: user.to_owned(),
            origin: FlowOrigin::Chat,
        }
    }
}

/// What a person can tell a running flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowInput {
    /// A message that was not a command: the phone number, when the flow asked for one.
    Text(String),
    Cancel,
}

/// What a flow has shown so far: the latest update, numbered so a follower can wait for
/// the next one. A finished flow keeps its last update.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// 0 before the first update; +1 with each.
    pub seq: u64,
    pub latest: Option<LoginUpdate>,
}

impl Progress {
    pub fn is_finished(&self) -> bool {
        self.latest.as_ref().is_some_and(LoginUpdate::is_final)
    }
}

/// A running flow, as a front-end outside it sees it.
#[derive(Debug, Clone)]
pub struct FlowHandle {
    method: LoginMethod,
    phone: Option<PhoneNumber>,
    inputs: mpsc::UnboundedSender<FlowInput>,
    progress: watch::Receiver<Progress>,
}

impl FlowHandle {
    pub fn method(&self) -> LoginMethod {
        self.method
    }

    /// The number a pairing-code flow was started with.
    pub fn phone(&self) -> Option<PhoneNumber> {
        self.phone.clone()
    }

    /// False when the flow has ended.
    pub fn tell(&self, input: FlowInput) -> bool {
        self.inputs.send(input).is_ok()
    }

    pub fn progress(&self) -> Progress {
        self.progress.borrow().clone()
    }

    /// Waits until the flow shows something after update `seen` (or has ended), and
    /// returns what it shows then.
    pub async fn next_after(&self, seen: u64) -> Progress {
        let mut progress = self.progress.clone();
        // An error means the flow is gone: what it showed last stays readable.
        let _ = progress
            .wait_for(|now| now.seq > seen || now.is_finished())
            .await;
        progress.borrow().clone()
    }
}

/// The driver's end of a flow: what the person says, and where to publish updates.
#[derive(Debug)]
pub struct FlowChannels {
    pub inputs: mpsc::UnboundedReceiver<FlowInput>,
    pub progress: watch::Sender<Progress>,
}

type Running<K> = Arc<Mutex<HashMap<K, FlowHandle>>>;

/// Who has a login running. Taking a slot returns a guard; the slot frees itself when
/// the guard is dropped, whatever way the flow ended.
#[derive(Debug)]
pub struct LoginFlows<K: Eq + Hash + Clone> {
    running: Running<K>,
}

impl<K: Eq + Hash + Clone> Default for LoginFlows<K> {
    fn default() -> Self {
        Self {
            running: Arc::new(Mutex::new(HashMap::new())),
        }
    }
}

#[derive(Debug)]
pub struct FlowSlot<K: Eq + Hash + Clone> {
    key: K,
    running: Running<K>,
}

impl<K: Eq + Hash + Clone> LoginFlows<K> {
    /// Takes the key's slot; returns the slot, the driver's channels and a handle.
    pub fn begin(
        &self,
        key: K,
        method: LoginMethod,
        phone: Option<PhoneNumber>,
    ) -> Result<(FlowSlot<K>, FlowChannels, FlowHandle), AlreadyInProgress> {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if running.contains_key(&key) {
            return Err(AlreadyInProgress);
        }
        let (inputs_tx, inputs) = mpsc::unbounded_channel();
        let (progress, progress_rx) = watch::channel(Progress::default());
        let handle = FlowHandle {
            method,
            phone,
            inputs: inputs_tx,
            progress: progress_rx,
        };
        running.insert(key.clone(), handle.clone());
        let slot = FlowSlot {
            key,
            running: self.running.clone(),
        };
        Ok((slot, FlowChannels { inputs, progress }, handle))
    }

    /// The key's running flow, if any.
    pub fn get(&self, key: &K) -> Option<FlowHandle> {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        running.get(key).cloned()
    }

    /// Passes `input` to the key's flow; false when none is running.
    pub fn tell(&self, key: &K, input: FlowInput) -> bool {
        self.get(key).is_some_and(|flow| flow.tell(input))
    }
}

impl<K: Eq + Hash + Clone> Drop for FlowSlot<K> {
    fn drop(&mut self) {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_flow_per_key_and_the_slot_frees_itself() {
        let flows = LoginFlows::default();
        let (alice, mut alice_flow, _) =
            flows.begin("alice", LoginMethod::Qr, None).expect("first");
        assert_eq!(
            flows.begin("alice", LoginMethod::Qr, None).err(),
            Some(AlreadyInProgress)
        );
        let (bob, _, _) = flows
            .begin("bob", LoginMethod::Qr, None)
            .expect("another user");
        assert!(flows.tell(&"alice", FlowInput::Text("+15551234567".into())));
        assert_eq!(
            alice_flow.inputs.try_recv().ok(),
            Some(FlowInput::Text("+15551234567".into()))
        );
        drop(alice);
        assert!(!flows.tell(&"alice", FlowInput::Cancel), "nobody to tell");
        assert!(
            flows.begin("alice", LoginMethod::Qr, None).is_ok(),
            "free again after the flow ended"
        );
        drop(bob);
    }

    #[tokio::test]
    async fn a_follower_sees_each_update_and_the_end_after_the_flow_is_gone() {
        let flows = LoginFlows::default();
        let (slot, channels, handle) = flows.begin("alice", LoginMethod::Qr, None).expect("first");
        assert_eq!(handle.progress().seq, 0);
        let waiting = tokio::spawn({
            let handle = handle.clone();
            async move { handle.next_after(0).await }
        });
        channels.progress.send_modify(|progress| {
            progress.seq = 1;
            progress.latest = Some(LoginUpdate::TimedOut);
        });
        let seen = waiting.await.expect("follower");
        assert_eq!(seen.seq, 1);
        drop(channels);
        drop(slot);
        assert!(flows.get(&"alice").is_none());
        let after_end = handle.next_after(1).await;
        assert_eq!(
            after_end.latest,
            Some(LoginUpdate::TimedOut),
            "the end stays readable"
        );
    }
}
