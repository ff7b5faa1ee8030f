//! The login flow as a state machine. Time is passed in (milliseconds), so every rule here
//! is tested without waiting.

use std::time::Duration;

use crate::whatsapp::login_event::LoginEvent;
use crate::whatsapp::phone::{PhoneError, PhoneNumber};

/// How the user links: scanning a QR code, or typing a code on the phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginMethod {
    Qr,
    PairingCode,
}

/// What the front-end shows next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginUpdate {
    /// Ask for the phone number (pairing-code login without one).
    AskPhone,
    /// Show this QR code; `rotation` 0 is the first, later ones replace it.
    Qr {
        code: String,
        rotation: u32,
        expires_at_ms: i64,
    },
    /// Show the pairing code, formatted `XXXX-XXXX`.
    PairCode {
        code: String,
        expires_at_ms: i64,
    },
    Succeeded {
        phone: PhoneNumber,
    },
    TimedOut,
    Cancelled,
    Failed {
        reason: String,
    },
}

impl LoginUpdate {
    /// Whether the flow ends with this update.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Self::Succeeded { .. } | Self::TimedOut | Self::Cancelled | Self::Failed { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    AwaitingPhone {
        since_ms: i64,
    },
    /// Waiting for WhatsApp's first code.
    Starting {
        since_ms: i64,
    },
    ShowingQr {
        rotation: u32,
        expires_at_ms: i64,
    },
    ShowingCode {
        expires_at_ms: i64,
    },
    Finished,
}

/// A person has this long to send their phone number, and WhatsApp this long to send
/// the first code.
const ASK_PHONE_TIMEOUT: Duration = Duration::from_secs(5 * 60);
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Slack after a code's validity before the flow gives up waiting for the next event.
const GRACE: Duration = Duration::from_secs(15);

#[derive(Debug, Clone)]
pub struct LoginFlow {
    method: LoginMethod,
    phone: Option<PhoneNumber>,
    state: State,
}

impl LoginFlow {
    /// Starts a flow; returns it with the first update to show, if any.
    pub fn start(
        method: LoginMethod,
        phone: Option<PhoneNumber>,
        now_ms: i64,
    ) -> (Self, Option<LoginUpdate>) {
        let needs_phone = method == LoginMethod::PairingCode && phone.is_none();
        let state = if needs_phone {
            State::AwaitingPhone { since_ms: now_ms }
        } else {
            State::Starting { since_ms: now_ms }
        };
        let first = needs_phone.then_some(LoginUpdate::AskPhone);
        (
            Self {
                method,
                phone,
                state,
            },
            first,
        )
    }

    pub fn method(&self) -> LoginMethod {
        self.method
    }

    /// The number to request a pairing code for, once known.
    pub fn phone(&self) -> Option<&PhoneNumber> {
        self.phone.as_ref()
    }

    pub fn is_awaiting_phone(&self) -> bool {
        matches!(self.state, State::AwaitingPhone { .. })
    }

    pub fn is_finished(&self) -> bool {
        self.state == State::Finished
    }

    /// The user's answer to `AskPhone`. A bad number leaves the flow waiting for another.
    pub fn provide_phone(&mut self, input: &str, now_ms: i64) -> Result<&PhoneNumber, PhoneError> {
        let phone = PhoneNumber::parse(input)?;
        self.state = State::Starting { since_ms: now_ms };
        Ok(self.phone.insert(phone))
    }

    /// Feeds one event from the WhatsApp session.
    pub fn on_event(&mut self, event: LoginEvent, now_ms: i64) -> Option<LoginUpdate> {
        if self.is_finished() {
            return None;
        }
        let expires = |valid_for: Duration| now_ms.saturating_add(millis(valid_for));
        match event {
            LoginEvent::Qr { code, valid_for } if self.method == LoginMethod::Qr => {
                let rotation = match self.state {
                    State::ShowingQr { rotation, .. } => rotation + 1,
                    _ => 0,
                };
                let expires_at_ms = expires(valid_for);
                self.state = State::ShowingQr {
                    rotation,
                    expires_at_ms,
                };
                Some(LoginUpdate::Qr {
                    code,
                    rotation,
                    expires_at_ms,
                })
            }
            LoginEvent::PairCode { code, valid_for } if self.method == LoginMethod::PairingCode => {
                let expires_at_ms = expires(valid_for);
                self.state = State::ShowingCode { expires_at_ms };
                Some(LoginUpdate::PairCode {
                    code: format_pair_code(&code),
                    expires_at_ms,
                })
            }
            // A code of the other kind is not for this flow.
            LoginEvent::Qr { .. } | LoginEvent::PairCode { .. } => None,
            LoginEvent::QrExhausted => self.finish(LoginUpdate::TimedOut),
            LoginEvent::Paired { phone } => self.finish(LoginUpdate::Succeeded { phone }),
            LoginEvent::Failed { reason } => self.finish(LoginUpdate::Failed { reason }),
        }
    }

    /// Gives up when nothing happened in time.
    pub fn tick(&mut self, now_ms: i64) -> Option<LoginUpdate> {
        let deadline = match self.state {
            State::AwaitingPhone { since_ms } => since_ms.saturating_add(millis(ASK_PHONE_TIMEOUT)),
            State::Starting { since_ms } => since_ms.saturating_add(millis(START_TIMEOUT)),
            State::ShowingQr { expires_at_ms, .. } | State::ShowingCode { expires_at_ms } => {
                expires_at_ms.saturating_add(millis(GRACE))
            }
            State::Finished => return None,
        };
        (now_ms >= deadline)
            .then(|| self.finish(LoginUpdate::TimedOut))
            .flatten()
    }

    pub fn cancel(&mut self) -> Option<LoginUpdate> {
        self.finish(LoginUpdate::Cancelled)
    }

    fn finish(&mut self, update: LoginUpdate) -> Option<LoginUpdate> {
        if self.is_finished() {
            return None;
        }
        self.state = State::Finished;
        Some(update)
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// `ABCDEFGH` → `ABCD-EFGH`, as the phone shows it; other lengths are left alone.
pub fn format_pair_code(code: &str) -> String {
    let plain: String = code.chars().filter(|c| *c != '-').collect();
    if plain.chars().count() == 8 {
        let (first, second) = plain.split_at(4);
        format!("{first}-{second}")
    } else {
        code.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: i64 = 1000;

    fn qr(code: &str, secs: u64) -> LoginEvent {
        LoginEvent::Qr {
            code: code.into(),
            valid_for: Duration::from_secs(secs),
        }
    }

    fn phone() -> PhoneNumber {
        PhoneNumber::parse("+15551234567").expect("phone")
    }

    #[test]
    fn qr_rotations_replace_each_other_then_success() {
        let (mut flow, first) = LoginFlow::start(LoginMethod::Qr, None, 0);
        assert_eq!(first, None);
        assert_eq!(
            flow.on_event(qr("ref1", 60), 0),
            Some(LoginUpdate::Qr {
                code: "ref1".into(),
                rotation: 0,
                expires_at_ms: 60 * SEC
            })
        );
        assert_eq!(
            flow.on_event(qr("ref2", 20), 60 * SEC),
            Some(LoginUpdate::Qr {
                code: "ref2".into(),
                rotation: 1,
                expires_at_ms: 80 * SEC
            })
        );
        assert_eq!(flow.tick(70 * SEC), None, "still valid");
        assert_eq!(
            flow.on_event(LoginEvent::Paired { phone: phone() }, 75 * SEC),
            Some(LoginUpdate::Succeeded { phone: phone() })
        );
        assert!(flow.is_finished());
        assert_eq!(
            flow.on_event(qr("late", 20), 76 * SEC),
            None,
            "nothing after the end"
        );
        assert_eq!(flow.cancel(), None);
    }

    #[test]
    fn exhausted_qr_codes_time_out() {
        let (mut flow, _) = LoginFlow::start(LoginMethod::Qr, None, 0);
        flow.on_event(qr("ref1", 60), 0);
        assert_eq!(
            flow.on_event(LoginEvent::QrExhausted, 160 * SEC),
            Some(LoginUpdate::TimedOut)
        );
    }

    #[test]
    fn silence_after_a_code_times_out() {
        let (mut flow, _) = LoginFlow::start(LoginMethod::Qr, None, 0);
        flow.on_event(qr("ref1", 20), 0);
        assert_eq!(flow.tick(34 * SEC), None);
        assert_eq!(flow.tick(35 * SEC), Some(LoginUpdate::TimedOut));
        assert_eq!(flow.tick(36 * SEC), None, "times out once");
    }

    #[test]
    fn whatsapp_that_never_sends_a_code_times_out() {
        let (mut flow, _) = LoginFlow::start(LoginMethod::Qr, None, 0);
        assert_eq!(flow.tick(59 * SEC), None);
        assert_eq!(flow.tick(60 * SEC), Some(LoginUpdate::TimedOut));
    }

    #[test]
    fn pairing_code_asks_for_the_number_then_shows_the_code() {
        let (mut flow, first) = LoginFlow::start(LoginMethod::PairingCode, None, 0);
        assert_eq!(first, Some(LoginUpdate::AskPhone));
        assert!(flow.is_awaiting_phone());
        assert!(flow.provide_phone("07700 900123", SEC).is_err());
        assert!(
            flow.is_awaiting_phone(),
            "a bad number keeps the flow waiting"
        );
        assert_eq!(
            flow.provide_phone("+1 555 123 4567", 2 * SEC)
                .map(|p| p.digits().to_owned()),
            Ok("15551234567".into())
        );
        assert_eq!(flow.phone(), Some(&phone()));
        let code = LoginEvent::PairCode {
            code: "ABCDEFGH".into(),
            valid_for: Duration::from_secs(180),
        };
        assert_eq!(
            flow.on_event(code, 3 * SEC),
            Some(LoginUpdate::PairCode {
                code: "ABCD-EFGH".into(),
                expires_at_ms: 183 * SEC
            })
        );
        assert_eq!(flow.on_event(qr("not for us", 20), 4 * SEC), None);
        assert_eq!(flow.tick(198 * SEC), Some(LoginUpdate::TimedOut));
    }

    #[test]
    fn a_number_given_up_front_skips_the_question() {
        let (flow, first) = LoginFlow::start(LoginMethod::PairingCode, Some(phone()), 0);
        assert_eq!(first, None);
        assert!(!flow.is_awaiting_phone());
    }

    #[test]
    fn waiting_for_a_number_ends() {
        let (mut flow, _) = LoginFlow::start(LoginMethod::PairingCode, None, 0);
        assert_eq!(flow.tick(299 * SEC), None);
        assert_eq!(flow.tick(300 * SEC), Some(LoginUpdate::TimedOut));
    }

    #[test]
    fn cancel_and_failure_end_the_flow_once() {
        let (mut flow, _) = LoginFlow::start(LoginMethod::Qr, None, 0);
        assert_eq!(flow.cancel(), Some(LoginUpdate::Cancelled));
        assert_eq!(flow.cancel(), None);
        let (mut flow, _) = LoginFlow::start(LoginMethod::Qr, None, 0);
        let failed = flow.on_event(
            LoginEvent::Failed {
                reason: "client outdated".into(),
            },
            0,
        );
        assert_eq!(
            failed,
            Some(LoginUpdate::Failed {
                reason: "client outdated".into()
            })
        );
        assert_eq!(flow.tick(i64::MAX), None);
    }

    #[test]
    fn pair_codes_are_shown_in_two_halves() {
        assert_eq!(format_pair_code("ABCDEFGH"), "ABCD-EFGH");
        assert_eq!(format_pair_code("ABCD-EFGH"), "ABCD-EFGH");
        assert_eq!(format_pair_code("ABC"), "ABC");
    }
}
