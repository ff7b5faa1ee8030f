//! The running WhatsApp sessions, one per linked device, with what each connection
//! is doing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use ruma::OwnedUserId;

use super::connection::{Connection, LinkState};
use crate::whatsapp::phone::PhoneNumber;
use crate::whatsapp::session::{Session, SessionSender};

/// Whose login a session is.
#[derive(Debug, Clone)]
pub struct Owner {
    pub user: OwnedUserId,
    pub phone: PhoneNumber,
}

struct Running {
    session: Session,
    connection: Arc<Mutex<Connection>>,
}

#[derive(Default)]
pub struct Sessions {
    running: Mutex<HashMap<i32, Running>>,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i32, Running>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps a session running; returns the connection its events update. A session
    /// already kept for the device is handed back, to be stopped.
    pub fn insert(
        &self,
        device_id: i32,
        session: Session,
        phone_seen_ms: Option<i64>,
    ) -> (Arc<Mutex<Connection>>, Option<Session>) {
        let connection = Arc::new(Mutex::new(Connection::new(phone_seen_ms)));
        let previous = self.lock().insert(
            device_id,
            Running {
                session,
                connection: connection.clone(),
            },
        );
        (connection, previous.map(|running| running.session))
    }

    /// Takes every session out (to stop them all).
    pub fn take_all(&self) -> Vec<Session> {
        self.lock()
            .drain()
            .map(|(_, running)| running.session)
            .collect()
    }

    /// Takes a session out (to log it out or stop it).
    pub fn take(&self, device_id: i32) -> Option<Session> {
        self.lock()
            .remove(&device_id)
            .map(|running| running.session)
    }

    /// Takes the session out only if `connection` is still the one it runs with (a
    /// newer session of the same device stays).
    pub fn take_if_current(
        &self,
        device_id: i32,
        connection: &Arc<Mutex<Connection>>,
    ) -> Option<Session> {
        let mut running = self.lock();
        let current = running
            .get(&device_id)
            .is_some_and(|entry| Arc::ptr_eq(&entry.connection, connection));
        if current {
            running.remove(&device_id).map(|entry| entry.session)
        } else {
            None
        }
    }

    /// A sender for the device's running session.
    pub fn sender(&self, device_id: i32) -> Option<SessionSender> {
        self.lock()
            .get(&device_id)
            .map(|running| running.session.sender())
    }

    /// Whether the device's session runs and its socket is down right now, in a state it
    /// leaves by itself (connecting, reconnecting); not banned, refused or replaced.
    pub fn is_reconnecting(&self, device_id: i32) -> bool {
        let running = self.lock();
        let Some(entry) = running.get(&device_id) else {
            return false;
        };
        !entry.session.is_connected()
            && !entry
                .connection
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .state()
                .is_stopped()
    }

    /// When the device's phone was last heard from, while its session runs.
    pub fn phone_seen(&self, device_id: i32) -> Option<i64> {
        let running = self.lock();
        let entry = running.get(&device_id)?;
        entry
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .phone_seen_ms()
    }

    /// What `list-logins` says about a device: None when no session runs.
    pub fn state(&self, device_id: i32) -> Option<LinkState> {
        let running = self.lock();
        let entry = running.get(&device_id)?;
        let state = entry
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .state()
            .clone();
        // The library knows best whether the socket is up right now.
        Some(match state {
            LinkState::Connecting | LinkState::Reconnecting { .. }
                if entry.session.is_connected() =>
            {
                LinkState::Connected
            }
            other => other,
        })
    }
}
