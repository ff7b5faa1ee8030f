//! At most one login flow per key (a Matrix user, or a user's device in the device API).

use std::collections::HashSet;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("You already have a login in progress. Finish it, or send `cancel` to stop it.")]
pub struct AlreadyInProgress;

/// Who has a login running. Taking a slot returns a guard; the slot frees itself when
/// the guard is dropped, whatever way the flow ended.
#[derive(Debug)]
pub struct LoginFlows<K: Eq + Hash + Clone> {
    running: Arc<Mutex<HashSet<K>>>,
}

impl<K: Eq + Hash + Clone> Default for LoginFlows<K> {
    fn default() -> Self {
        Self {
            running: Arc::new(Mutex::new(HashSet::new())),
        }
    }
}

#[derive(Debug)]
pub struct FlowSlot<K: Eq + Hash + Clone> {
    key: K,
    running: Arc<Mutex<HashSet<K>>>,
}

impl<K: Eq + Hash + Clone> LoginFlows<K> {
    pub fn begin(&self, key: K) -> Result<FlowSlot<K>, AlreadyInProgress> {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if !running.insert(key.clone()) {
            return Err(AlreadyInProgress);
        }
        Ok(FlowSlot {
            key,
            running: self.running.clone(),
        })
    }

    pub fn is_running(&self, key: &K) -> bool {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(key)
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
        let alice = flows.begin("alice").expect("first");
        assert_eq!(flows.begin("alice").err(), Some(AlreadyInProgress));
        let bob = flows.begin("bob").expect("another user");
        assert!(flows.is_running(&"alice"));
        drop(alice);
        assert!(!flows.is_running(&"alice"));
        assert!(
            flows.begin("alice").is_ok(),
            "free again after the flow ended"
        );
        drop(bob);
    }
}
