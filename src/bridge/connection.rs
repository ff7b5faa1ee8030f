//! What a linked account's connection is doing, and what its owner is told about it.
//! Pure: events and time go in, the state and at most one notice come out, so the
//! debouncing is tested without a network or a wait.

use std::time::Duration;

use crate::whatsapp::session_event::{LogoutReason, SessionEvent};

/// A drop shorter than this is never mentioned: WhatsApp connections flap, and the
/// session reconnects by itself.
pub const QUIET_RECONNECT: Duration = Duration::from_secs(30);

/// The state `list-logins` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    Connecting,
    Connected,
    /// Down since this time (ms); the session is reconnecting.
    Reconnecting {
        since_ms: i64,
    },
    /// WhatsApp unlinked the device; the login is gone.
    LoggedOut(LogoutReason),
    /// Banned until this time (ms).
    TemporarilyBanned {
        until_ms: i64,
    },
    ClientOutdated,
    /// Another connection took the session over; the bridge stopped.
    Replaced,
    /// WhatsApp refused the connection with this code.
    Refused {
        code: i32,
    },
}

impl LinkState {
    /// A state the session does not leave by itself.
    pub fn is_stopped(&self) -> bool {
        matches!(
            self,
            Self::LoggedOut(_) | Self::ClientOutdated | Self::Replaced | Self::Refused { .. }
        )
    }
}

/// What the owner of the login is told, in the management room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Reconnecting,
    Reconnected,
    LoggedOut(LogoutReason),
    TemporarilyBanned {
        until_ms: i64,
    },
    ClientOutdated,
    Replaced,
    Refused {
        code: i32,
        message: Option<String>,
    },
    /// The phone has not been seen since this time (ms).
    PhoneSilent {
        since_ms: i64,
    },
    /// The phone was seen again after a warning.
    PhoneBack,
}

#[derive(Debug)]
pub struct Connection {
    state: LinkState,
    /// Whether the owner was told the connection is down (so they hear when it is back).
    told_down: bool,
    /// The last stop notice, so a stream of identical refusals is said once.
    last_stop: Option<Notice>,
    /// When the account's phone was last heard from (ms).
    phone_seen_ms: Option<i64>,
}

impl Default for Connection {
    fn default() -> Self {
        Self::new(None)
    }
}

impl Connection {
    pub fn new(phone_seen_ms: Option<i64>) -> Self {
        Self {
            state: LinkState::Connecting,
            told_down: false,
            last_stop: None,
            phone_seen_ms,
        }
    }

    pub fn state(&self) -> &LinkState {
        &self.state
    }

    pub fn phone_seen_ms(&self) -> Option<i64> {
        self.phone_seen_ms
    }

    pub fn on_event(&mut self, event: &SessionEvent, now_ms: i64) -> Option<Notice> {
        match event {
            SessionEvent::Connected => {
                self.state = LinkState::Connected;
                self.last_stop = None;
                std::mem::take(&mut self.told_down).then_some(Notice::Reconnected)
            }
            SessionEvent::Disconnected => {
                if !matches!(self.state, LinkState::Reconnecting { .. }) && !self.state.is_stopped()
                {
                    self.state = LinkState::Reconnecting { since_ms: now_ms };
                }
                None
            }
            SessionEvent::LoggedOut(reason) => self.stop(
                LinkState::LoggedOut(reason.clone()),
                Notice::LoggedOut(reason.clone()),
            ),
            SessionEvent::TemporaryBan { expires_in } => {
                let until_ms = now_ms.saturating_add(duration_ms(*expires_in));
                self.state = LinkState::TemporarilyBanned { until_ms };
                // A ban repeated at every attempt is said once.
                let repeated = matches!(self.last_stop, Some(Notice::TemporarilyBanned { .. }));
                let notice = Notice::TemporarilyBanned { until_ms };
                self.last_stop = Some(notice.clone());
                (!repeated).then_some(notice)
            }
            SessionEvent::ClientOutdated => {
                self.stop(LinkState::ClientOutdated, Notice::ClientOutdated)
            }
            SessionEvent::StreamReplaced => self.stop(LinkState::Replaced, Notice::Replaced),
            SessionEvent::ConnectFailure { code, message } => self.stop(
                LinkState::Refused { code: *code },
                Notice::Refused {
                    code: *code,
                    message: message.clone(),
                },
            ),
            SessionEvent::PhoneSeen => {
                self.phone_seen_ms = Some(now_ms);
                None
            }
            SessionEvent::Login(_)
            | SessionEvent::MessagesStored
            | SessionEvent::HistoryStored(_)
            | SessionEvent::CaughtUp
            | SessionEvent::GroupChanged(_)
            | SessionEvent::Read { .. }
            | SessionEvent::ReadElsewhere { .. }
            | SessionEvent::ContactName { .. }
            | SessionEvent::PictureChanged(_)
            | SessionEvent::Call { .. }
            | SessionEvent::Typing { .. } => None,
        }
    }

    /// Called regularly: tells the owner about a drop that lasted.
    pub fn tick(&mut self, now_ms: i64) -> Option<Notice> {
        match self.state {
            LinkState::Reconnecting { since_ms }
                if !self.told_down
                    && now_ms.saturating_sub(since_ms) >= duration_ms(QUIET_RECONNECT) =>
            {
                self.told_down = true;
                Some(Notice::Reconnecting)
            }
            _ => None,
        }
    }

    fn stop(&mut self, state: LinkState, notice: Notice) -> Option<Notice> {
        self.state = state;
        self.told_down = false;
        if self.last_stop.as_ref() == Some(&notice) {
            return None;
        }
        self.last_stop = Some(notice.clone());
        Some(notice)
    }
}

fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUIET: i64 = QUIET_RECONNECT.as_millis() as i64;

    #[test]
    fn a_short_drop_is_not_mentioned() {
        let mut connection = Connection::default();
        assert_eq!(connection.on_event(&SessionEvent::Connected, 0), None);
        assert_eq!(
            connection.on_event(&SessionEvent::Disconnected, 1_000),
            None
        );
        assert_eq!(connection.tick(1_000 + QUIET - 1), None);
        assert_eq!(
            connection.on_event(&SessionEvent::Connected, 1_000 + QUIET - 1),
            None
        );
        assert_eq!(connection.tick(10 * QUIET), None);
        assert_eq!(connection.state(), &LinkState::Connected);
    }

    #[test]
    fn a_long_drop_is_said_once_and_so_is_the_recovery() {
        let mut connection = Connection::default();
        connection.on_event(&SessionEvent::Connected, 0);
        connection.on_event(&SessionEvent::Disconnected, 0);
        assert_eq!(connection.state(), &LinkState::Reconnecting { since_ms: 0 });
        assert_eq!(connection.tick(QUIET), Some(Notice::Reconnecting));
        // The session keeps failing to reconnect: no more notices.
        for attempt in 1..20 {
            assert_eq!(
                connection.on_event(&SessionEvent::Disconnected, QUIET + attempt),
                None
            );
            assert_eq!(connection.tick(QUIET * (attempt + 2)), None);
        }
        assert_eq!(
            connection.on_event(&SessionEvent::Connected, QUIET * 30),
            Some(Notice::Reconnected)
        );
        assert_eq!(
            connection.on_event(&SessionEvent::Connected, QUIET * 31),
            None
        );
    }

    #[test]
    fn stops_are_said_at_once_and_not_repeated() {
        let mut connection = Connection::default();
        let ban = SessionEvent::TemporaryBan {
            expires_in: Duration::from_secs(3600),
        };
        assert_eq!(
            connection.on_event(&ban, 1_000),
            Some(Notice::TemporarilyBanned {
                until_ms: 1_000 + 3_600_000
            })
        );
        assert_eq!(connection.on_event(&ban, 2_000), None);
        assert_eq!(
            connection.state(),
            &LinkState::TemporarilyBanned {
                until_ms: 2_000 + 3_600_000
            }
        );
        assert_eq!(
            connection.on_event(&SessionEvent::ClientOutdated, 3_000),
            Some(Notice::ClientOutdated)
        );
        assert_eq!(
            connection.on_event(&SessionEvent::ClientOutdated, 4_000),
            None
        );
        assert!(connection.state().is_stopped());
        // A stop is not a drop: no "reconnecting" later.
        connection.on_event(&SessionEvent::Disconnected, 5_000);
        assert_eq!(connection.tick(5_000 + 2 * QUIET), None);
        assert_eq!(connection.state(), &LinkState::ClientOutdated);

        let unlinked = SessionEvent::LoggedOut(LogoutReason::Unlinked);
        assert_eq!(
            connection.on_event(&unlinked, 6_000),
            Some(Notice::LoggedOut(LogoutReason::Unlinked))
        );
        assert_eq!(
            connection.on_event(&SessionEvent::StreamReplaced, 7_000),
            Some(Notice::Replaced)
        );
    }

    #[test]
    fn the_phone_is_remembered_when_heard_from() {
        let mut connection = Connection::new(Some(5));
        assert_eq!(connection.phone_seen_ms(), Some(5));
        assert_eq!(connection.on_event(&SessionEvent::PhoneSeen, 9_000), None);
        assert_eq!(connection.phone_seen_ms(), Some(9_000));
        assert_eq!(connection.state(), &LinkState::Connecting);
    }

    #[test]
    fn after_a_recovery_the_same_stop_is_said_again() {
        let mut connection = Connection::default();
        assert_eq!(
            connection.on_event(&SessionEvent::ClientOutdated, 0),
            Some(Notice::ClientOutdated)
        );
        connection.on_event(&SessionEvent::Connected, 1);
        assert_eq!(
            connection.on_event(&SessionEvent::ClientOutdated, 2),
            Some(Notice::ClientOutdated)
        );
    }
}
