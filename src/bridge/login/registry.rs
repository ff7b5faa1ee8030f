//! At most one login flow per key (a Matrix user, or a user's device in the device API),
//! and the way to reach a running flow: the user's next words, or `cancel`.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("You already have a login in progress. Finish it, or send `cancel` to stop it.")]
pub struct AlreadyInProgress;

/// What a person can tell a running flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowInput {
    /// A message that was not a command: the phone number, when the flow asked for one.
    Text(String),
    Cancel,
}

type Running<K> = Arc<Mutex<HashMap<K, mpsc::UnboundedSender<FlowInput>>>>;

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
    /// Takes the key's slot; the receiver gets what the person says to the flow.
    pub fn begin(
        &self,
        key: K,
    ) -> Result<(FlowSlot<K>, mpsc::UnboundedReceiver<FlowInput>), AlreadyInProgress> {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if running.contains_key(&key) {
            return Err(AlreadyInProgress);
        }
        let (tx, rx) = mpsc::unbounded_channel();
        running.insert(key.clone(), tx);
        let slot = FlowSlot {
            key,
            running: self.running.clone(),
        };
        Ok((slot, rx))
    }

    /// Passes `input` to the key's flow; false when none is running.
    pub fn tell(&self, key: &K, input: FlowInput) -> bool {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        running
            .get(key)
            .is_some_and(|flow| flow.send(input).is_ok())
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
        let (alice, mut alice_inputs) = flows.begin("alice").expect("first");
        assert_eq!(flows.begin("alice").err(), Some(AlreadyInProgress));
        let (bob, _) = flows.begin("bob").expect("another user");
        assert!(flows.tell(&"alice", FlowInput::Text("+15551234567".into())));
        assert_eq!(
            alice_inputs.try_recv().ok(),
            Some(FlowInput::Text("+15551234567".into()))
        );
        drop(alice);
        assert!(!flows.tell(&"alice", FlowInput::Cancel), "nobody to tell");
        assert!(
            flows.begin("alice").is_ok(),
            "free again after the flow ended"
        );
        drop(bob);
    }
}
