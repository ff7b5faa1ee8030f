//! The running WhatsApp sessions, one per linked device.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;

use crate::whatsapp::session::Session;
use crate::whatsapp::session_event::SessionEvent;

#[derive(Default)]
pub struct Sessions {
    running: Arc<Mutex<HashMap<i32, Session>>>,
}

impl Sessions {
    /// Keeps a session running after its login, and follows its events.
    pub fn adopt(
        &self,
        device_id: i32,
        session: Session,
        mut events: mpsc::UnboundedReceiver<SessionEvent>,
    ) {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(device_id, session);
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                tracing::info!(device_id, ?event, "WhatsApp session event");
            }
        });
    }

    /// Takes a session out (to log it out or stop it).
    pub fn take(&self, device_id: i32) -> Option<Session> {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&device_id)
    }

    pub fn is_connected(&self, device_id: i32) -> bool {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&device_id)
            .is_some_and(Session::is_connected)
    }
}
