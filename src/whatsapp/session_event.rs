//! Library events translated into the bridge's terms. This is the seam that keeps
//! whatsapp-rust's types inside `whatsapp/`: the bridge only ever sees `SessionEvent`.

use std::time::Duration;

use wacore::types::call::CallAction;
use wacore::types::events::{ConnectFailureReason, Event};
use wacore::types::message::MessageSource;
use wacore::types::presence::{ChatPresence, ReceiptType};

use super::address::{WaChat, WaUser};
use super::history::HistoryRead;
use super::login_event::LoginEvent;
use super::phone::PhoneNumber;

/// Why WhatsApp ended a session for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutReason {
    /// The device was unlinked from the phone (or WhatsApp logged it out).
    Unlinked,
    /// The account's main device is gone or the account is locked.
    MainDeviceGone,
    /// Any other logout, with WhatsApp's code.
    Other(i32),
}

/// Where a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    /// It rings now.
    Ringing,
    /// The caller gave up or it timed out; nobody answered (if it was ringing here).
    RangOut,
    /// It rang while the bridge was away.
    MissedWhileAway,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    Login(LoginEvent),
    Connected,
    /// The connection dropped; the session reconnects by itself.
    Disconnected,
    LoggedOut(LogoutReason),
    TemporaryBan {
        expires_in: Duration,
    },
    /// WhatsApp refuses this client's version (405).
    ClientOutdated,
    /// Another connection with the same device took over.
    StreamReplaced,
    /// WhatsApp refused the connection for another reason.
    ConnectFailure {
        code: i32,
        message: Option<String>,
    },
    /// The account's phone (its primary device) sent something: it is online.
    PhoneSeen,
    /// Messages arrived and are in the inbox, waiting to be bridged.
    MessagesStored,
    /// WhatsApp delivered everything that waited while the session was away (all of
    /// it is in the inbox now).
    CaughtUp,
    /// A history payload was kept and read.
    HistoryStored(HistoryRead),
    /// Something about a group changed (name, description, members, roles): its JID.
    GroupChanged(String),
    /// A contact read (or played) messages in a chat.
    Read {
        chat: WaChat,
        reader: WaUser,
        message_ids: Vec<String>,
    },
    /// The owner's phone has `user` in its address book as `name`.
    ContactName {
        user: WaUser,
        name: String,
    },
    /// The account's owner read messages on another device (the phone): by ID, in
    /// whichever chats they are.
    ReadElsewhere {
        message_ids: Vec<String>,
    },
    /// Someone calls, or a call ended.
    Call {
        chat: WaChat,
        caller: WaUser,
        call_id: String,
        video: bool,
        state: CallState,
    },
    /// A contact set, changed or removed their profile picture.
    PictureChanged(WaUser),
    /// A contact started or stopped typing in a chat.
    Typing {
        chat: WaChat,
        who: WaUser,
        typing: bool,
    },
}

/// The account's own users: its phone number and its LID (digits), once known.
#[derive(Debug, Clone, Default)]
pub struct OwnAccount {
    pub pn: Option<String>,
    pub lid: Option<String>,
}

impl OwnAccount {
    fn is(&self, user: &str) -> bool {
        self.pn.as_deref() == Some(user) || self.lid.as_deref() == Some(user)
    }
}

/// Whether the event came from the account's own phone (its device 0): a receipt it
/// sent, or a message it sent (a copy of what the user sent, a peer message).
pub fn from_own_phone(event: &Event, own: &OwnAccount) -> bool {
    let is_phone = |jid: &whatsapp_rust::Jid| jid.device == 0 && own.is(jid.user.as_str());
    match event {
        Event::Receipt(receipt) => is_phone(&receipt.source.sender),
        Event::Messages(batch) => batch
            .messages
            .iter()
            .any(|inbound| is_phone(&inbound.info.source.sender)),
        _ => false,
    }
}

/// The bridge's view of one library event; None for events it does not act on here.
pub fn translate(event: &Event) -> Option<SessionEvent> {
    let login = |event| Some(SessionEvent::Login(event));
    match event {
        Event::PairingQrCode(qr) => login(LoginEvent::Qr {
            code: qr.code.clone(),
            valid_for: qr.timeout,
        }),
        Event::PairingQrCodesExhausted(_) => login(LoginEvent::QrExhausted),
        Event::PairingCode(code) => login(LoginEvent::PairCode {
            code: code.code.clone(),
            valid_for: code.timeout,
        }),
        Event::PairingCodeError(_) => login(LoginEvent::Failed {
            reason:
                "WhatsApp refused the pairing code request; check the phone number and try again"
                    .into(),
        }),
        Event::PairSuccess(success) => login(match PhoneNumber::parse(&success.id.user) {
            Ok(phone) => LoginEvent::Paired { phone },
            Err(_) => LoginEvent::Failed {
                reason: format!(
                    "WhatsApp linked an account the bridge cannot read ({})",
                    success.id.user
                ),
            },
        }),
        Event::PairError(error) => login(LoginEvent::Failed {
            reason: format!("linking failed: {}", error.error),
        }),
        Event::QrScannedWithoutMultidevice(_) => login(LoginEvent::Failed {
            reason: "the phone scanned the code but has linked devices turned off".into(),
        }),
        Event::Connected(_) => Some(SessionEvent::Connected),
        Event::OfflineSyncCompleted(_) => Some(SessionEvent::CaughtUp),
        Event::Messages(_) => Some(SessionEvent::MessagesStored),
        Event::GroupUpdate(update) => {
            Some(SessionEvent::GroupChanged(update.group_jid.to_string()))
        }
        Event::Receipt(receipt)
            if matches!(receipt.r#type, ReceiptType::Read | ReceiptType::Played)
                && !receipt.source.is_from_me =>
        {
            let (chat, reader) = chat_and_sender(&receipt.source)?;
            Some(SessionEvent::Read {
                chat,
                reader,
                message_ids: receipt.message_ids.clone(),
            })
        }
        Event::Receipt(receipt) if receipt.r#type == ReceiptType::ReadSelf => {
            Some(SessionEvent::ReadElsewhere {
                message_ids: receipt.message_ids.clone(),
            })
        }
        Event::ContactUpdate(update) => {
            let action = &update.action;
            let alt = action.pn_jid.as_deref().and_then(WaUser::parse);
            let user = WaUser::parse(&update.jid.to_string())?.prefer_phone(alt);
            let name = action
                .full_name
                .as_deref()
                .or(action.first_name.as_deref())
                .map(str::trim)
                .filter(|name| !name.is_empty())?;
            Some(SessionEvent::ContactName {
                user,
                name: name.to_owned(),
            })
        }
        Event::ChatPresence(update) if !update.source.is_from_me => {
            let (chat, who) = chat_and_sender(&update.source)?;
            Some(SessionEvent::Typing {
                chat,
                who,
                typing: update.state == ChatPresence::Composing,
            })
        }
        Event::IncomingCall(call) => match &call.action {
            CallAction::Offer {
                call_id,
                call_creator,
                caller_pn,
                is_video,
                group_jid,
                ..
            } => {
                let caller = WaUser::parse(&call_creator.to_string())?.prefer_phone(
                    caller_pn
                        .as_ref()
                        .and_then(|pn| WaUser::parse(&pn.to_string())),
                );
                let chat = match group_jid {
                    Some(group) => WaChat::parse(&group.to_string())?,
                    None => WaChat::Direct(caller.clone()),
                };
                Some(SessionEvent::Call {
                    chat,
                    caller,
                    call_id: call_id.clone(),
                    video: *is_video,
                    state: CallState::Ringing,
                })
            }
            // Another of the user's devices answered or declined: not a missed call.
            CallAction::Terminate {
                call_id,
                call_creator,
                reason,
                ..
            } if matches!(
                reason.as_deref(),
                None | Some("timeout" | "group_call_ended")
            ) =>
            {
                let caller = WaUser::parse(&call_creator.to_string())?;
                Some(SessionEvent::Call {
                    chat: WaChat::Direct(caller.clone()),
                    caller,
                    call_id: call_id.clone(),
                    video: false,
                    state: CallState::RangOut,
                })
            }
            _ => None,
        },
        Event::MissedCall(missed) => {
            let caller = WaUser::parse(&missed.from.to_string())?;
            Some(SessionEvent::Call {
                chat: WaChat::Direct(caller.clone()),
                caller,
                call_id: missed.call_id.clone(),
                video: false,
                state: CallState::MissedWhileAway,
            })
        }
        Event::PictureUpdate(update) => {
            let jid = update.jid.to_string();
            match WaChat::parse(&jid) {
                // A group's picture is part of the group: its portal is brought up to date.
                Some(WaChat::Group(_)) => Some(SessionEvent::GroupChanged(jid)),
                _ => WaUser::parse(&jid).map(SessionEvent::PictureChanged),
            }
        }
        Event::Disconnected(_) => Some(SessionEvent::Disconnected),
        Event::LoggedOut(logout) => Some(SessionEvent::LoggedOut(logout_reason(&logout.reason))),
        Event::TemporaryBan(ban) => Some(SessionEvent::TemporaryBan {
            // A negative duration from the wire means the ban is already over.
            expires_in: ban.expire.to_std().unwrap_or_default(),
        }),
        Event::ClientOutdated(_) => Some(SessionEvent::ClientOutdated),
        Event::StreamReplaced(_) => Some(SessionEvent::StreamReplaced),
        Event::ConnectFailure(failure) => Some(SessionEvent::ConnectFailure {
            code: failure_code(&failure.reason),
            message: failure.message.clone(),
        }),
        _ => None,
    }
}

/// The chat and the person of a receipt or a chat state, by phone number where WhatsApp
/// gave it (a direct chat is the person's chat).
fn chat_and_sender(source: &MessageSource) -> Option<(WaChat, WaUser)> {
    let alt = source
        .sender_alt
        .as_ref()
        .and_then(|alt| WaUser::parse(&alt.to_string()));
    let sender = WaUser::parse(&source.sender.to_string())?.prefer_phone(alt);
    let chat = if source.is_group {
        WaChat::parse(&source.chat.to_string())?
    } else {
        WaChat::Direct(sender.clone())
    };
    Some((chat, sender))
}

fn logout_reason(reason: &ConnectFailureReason) -> LogoutReason {
    match reason {
        ConnectFailureReason::LoggedOut | ConnectFailureReason::UnknownLogout => {
            LogoutReason::Unlinked
        }
        ConnectFailureReason::AccountLocked => LogoutReason::MainDeviceGone,
        other => LogoutReason::Other(failure_code(other)),
    }
}

fn failure_code(reason: &ConnectFailureReason) -> i32 {
    match reason {
        ConnectFailureReason::Generic => 400,
        ConnectFailureReason::LoggedOut => 401,
        ConnectFailureReason::TempBanned => 402,
        ConnectFailureReason::AccountLocked => 403,
        ConnectFailureReason::ClientOutdated => 405,
        ConnectFailureReason::UnknownLogout => 406,
        ConnectFailureReason::BadUserAgent => 409,
        ConnectFailureReason::CatExpired => 413,
        ConnectFailureReason::CatInvalid => 414,
        ConnectFailureReason::NotFound => 415,
        ConnectFailureReason::ClientUnknown => 418,
        ConnectFailureReason::InternalServerError => 500,
        ConnectFailureReason::Experimental => 501,
        ConnectFailureReason::ServiceUnavailable => 503,
        ConnectFailureReason::Unknown(code) => *code,
    }
}

#[cfg(test)]
mod tests {
    use wacore::types::events::{
        Connected, LoggedOut, PairSuccess, PairingQrCode, PairingQrCodesExhausted, StreamReplaced,
    };
    use whatsapp_rust::Jid;

    use super::*;

    #[test]
    fn pairing_events_become_login_events() {
        let qr = Event::PairingQrCode(
            PairingQrCode::builder()
                .code("2@ref,key,id,adv".into())
                .timeout(Duration::from_secs(60))
                .build(),
        );
        assert_eq!(
            translate(&qr),
            Some(SessionEvent::Login(LoginEvent::Qr {
                code: "2@ref,key,id,adv".into(),
                valid_for: Duration::from_secs(60)
            }))
        );
        let exhausted = Event::PairingQrCodesExhausted(
            PairingQrCodesExhausted::builder()
                .disconnected(true)
                .build(),
        );
        assert_eq!(
            translate(&exhausted),
            Some(SessionEvent::Login(LoginEvent::QrExhausted))
        );
        let success = Event::PairSuccess(
            PairSuccess::builder()
                .id(Jid::pn("15551234567"))
                .lid(Jid::lid("98765"))
                .business_name(String::new())
                .platform("android".into())
                .build(),
        );
        let phone = PhoneNumber::parse("+15551234567").expect("phone");
        assert_eq!(
            translate(&success),
            Some(SessionEvent::Login(LoginEvent::Paired { phone }))
        );
    }

    #[test]
    fn connection_events_keep_their_meaning() {
        assert_eq!(
            translate(&Event::Connected(Connected::builder().build())),
            Some(SessionEvent::Connected)
        );
        assert_eq!(
            translate(&Event::StreamReplaced(StreamReplaced::builder().build())),
            Some(SessionEvent::StreamReplaced)
        );
        let unlinked = Event::LoggedOut(
            LoggedOut::builder()
                .on_connect(false)
                .reason(ConnectFailureReason::LoggedOut)
                .build(),
        );
        assert_eq!(
            translate(&unlinked),
            Some(SessionEvent::LoggedOut(LogoutReason::Unlinked))
        );
        let locked = Event::LoggedOut(
            LoggedOut::builder()
                .on_connect(true)
                .reason(ConnectFailureReason::AccountLocked)
                .build(),
        );
        assert_eq!(
            translate(&locked),
            Some(SessionEvent::LoggedOut(LogoutReason::MainDeviceGone))
        );
    }

    fn receipt_from(sender: Jid) -> Event {
        Event::Receipt(
            wacore::types::events::Receipt::builder()
                .source(wacore::types::message::MessageSource {
                    chat: sender.clone(),
                    sender,
                    ..Default::default()
                })
                .message_ids(Vec::new())
                .timestamp(Default::default())
                .r#type(wacore::types::presence::ReceiptType::Delivered)
                .offline(false)
                .build(),
        )
    }

    #[test]
    fn only_the_own_phone_counts_as_the_phone_being_seen() {
        let own = OwnAccount {
            pn: Some("15551234567".into()),
            lid: Some("98765".into()),
        };
        assert!(from_own_phone(&receipt_from(Jid::pn("15551234567")), &own));
        assert!(from_own_phone(&receipt_from(Jid::lid("98765")), &own));
        // Another companion of the account, or a contact, is not the phone.
        assert!(!from_own_phone(
            &receipt_from(Jid::pn_device("15551234567", 3)),
            &own
        ));
        assert!(!from_own_phone(&receipt_from(Jid::pn("15550000000")), &own));
        // Before the account is known nothing counts.
        assert!(!from_own_phone(
            &receipt_from(Jid::pn("15551234567")),
            &OwnAccount::default()
        ));
        // A receipt is no session event by itself.
        assert_eq!(translate(&receipt_from(Jid::pn("15551234567"))), None);
    }

    #[test]
    fn failure_codes_match_the_wire() {
        assert_eq!(failure_code(&ConnectFailureReason::ClientOutdated), 405);
        assert_eq!(failure_code(&ConnectFailureReason::TempBanned), 402);
        assert_eq!(failure_code(&ConnectFailureReason::Unknown(499)), 499);
    }
}
