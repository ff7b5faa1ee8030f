//! Reading one decoded history payload: its chats (by phone-number address where the
//! payload says which LID is which number) and their messages, in the inbox's terms.

use std::collections::HashMap;

use whatsapp_rust::waproto::buffa::Message as _;
use whatsapp_rust::waproto::whatsapp as wa;

use crate::whatsapp::address::{WaChat, WaUser};
use crate::whatsapp::inbox::InboxEntry;

/// A chat as the phone described it.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct HistoryChat {
    pub chat: String,
    pub name: String,
    pub unread_count: i32,
    pub pinned: bool,
    pub archived: bool,
    /// Until when notifications are off (ms since the epoch); 0: not muted.
    pub muted_until_ms: i64,
    pub last_message_ms: i64,
}

/// What one payload holds, ready to store.
#[derive(Debug, Default)]
pub struct ReadHistory {
    pub chats: Vec<HistoryChat>,
    pub messages: Vec<InboxEntry>,
    /// (LID digits, phone digits) the payload told.
    pub lid_phones: Vec<(String, String)>,
    /// Messages left out because they carry nothing to show (group events, stubs).
    pub skipped: usize,
}

/// Reads a payload. `own_jid` is the account's own phone-number address (the sender of
/// its own messages), empty when unknown.
pub fn read(sync: &wa::HistorySync, own_jid: &str) -> ReadHistory {
    let mut lid_phone: HashMap<String, String> = HashMap::new();
    for mapping in &sync.phone_number_to_lid_mappings {
        if let (Some(WaUser::Lid(lid)), Some(WaUser::Phone(phone))) = (
            mapping.lid_jid.as_deref().and_then(WaUser::parse),
            mapping.pn_jid.as_deref().and_then(WaUser::parse),
        ) {
            lid_phone.insert(lid, phone);
        }
    }
    for conversation in &sync.conversations {
        if let (Some(WaUser::Lid(lid)), Some(WaUser::Phone(phone))) = (
            conversation.lid_jid.as_deref().and_then(WaUser::parse),
            conversation.pn_jid.as_deref().and_then(WaUser::parse),
        ) {
            lid_phone.insert(lid, phone);
        }
    }
    let push_names: HashMap<&str, &str> = sync
        .pushnames
        .iter()
        .filter_map(|entry| Some((entry.id.as_deref()?, entry.pushname.as_deref()?)))
        .collect();
    let by_phone = |user: WaUser| match &user {
        WaUser::Lid(lid) => lid_phone
            .get(lid)
            .map(|phone| WaUser::Phone(phone.clone()))
            .unwrap_or(user),
        WaUser::Phone(_) => user,
    };

    let mut read = ReadHistory::default();
    for conversation in &sync.conversations {
        let Some(chat) = WaChat::parse(&conversation.id) else {
            // Status updates, broadcasts, newsletters: not chats the bridge mirrors.
            continue;
        };
        let chat = match chat {
            WaChat::Direct(person) => WaChat::Direct(by_phone(person)),
            group => group,
        };
        let chat_jid = chat.jid();
        let mut last_ms = seconds_to_ms(
            conversation
                .last_msg_timestamp
                .or(conversation.conversation_timestamp)
                .unwrap_or(0),
        );
        for item in &conversation.messages {
            let Some(info) = item.message.as_option() else {
                continue;
            };
            match entry_of(info, &chat, own_jid, &by_phone, &push_names) {
                Some(entry) => {
                    last_ms = last_ms.max(entry.sent_at_ms);
                    read.messages.push(entry);
                }
                None => read.skipped += 1,
            }
        }
        read.chats.push(HistoryChat {
            chat: chat_jid,
            name: conversation
                .name
                .clone()
                .or_else(|| conversation.display_name.clone())
                .unwrap_or_default(),
            unread_count: i32::try_from(conversation.unread_count.unwrap_or(0)).unwrap_or(i32::MAX),
            pinned: conversation.pinned.unwrap_or(0) > 0,
            archived: conversation.archived.unwrap_or(false),
            muted_until_ms: conversation.mute_end_time.map(mute_end_to_ms).unwrap_or(0),
            last_message_ms: last_ms,
        });
    }
    read.lid_phones = lid_phone.into_iter().collect();
    read.lid_phones.sort();
    read
}

fn seconds_to_ms(seconds: u64) -> i64 {
    i64::try_from(seconds)
        .unwrap_or(i64::MAX / 1000)
        .saturating_mul(1000)
}

/// WhatsApp writes the mute end in seconds (and -1 as "for ever", which arrives as a
/// huge unsigned number).
fn mute_end_to_ms(value: u64) -> i64 {
    match i64::try_from(value) {
        Ok(seconds) if seconds > 0 => seconds.saturating_mul(1000),
        _ => i64::MAX,
    }
}

/// One history message as an inbox entry; None when it has no content to show.
fn entry_of(
    info: &wa::WebMessageInfo,
    chat: &WaChat,
    own_jid: &str,
    by_phone: &impl Fn(WaUser) -> WaUser,
    push_names: &HashMap<&str, &str>,
) -> Option<InboxEntry> {
    let key = info.key.as_option()?;
    let message_id = key.id.clone().filter(|id| !id.is_empty())?;
    let message = info.message.as_option()?;
    if *message == wa::Message::default() {
        return None;
    }
    let from_me = key.from_me.unwrap_or(false);
    let (sender, sender_alt) = if from_me {
        (own_jid.to_owned(), String::new())
    } else {
        let address = match chat {
            WaChat::Direct(person) => Some(person.clone()),
            WaChat::Group(_) => key
                .participant
                .as_deref()
                .or(info.participant.as_deref())
                .and_then(WaUser::parse),
        }?;
        let phone = by_phone(address.clone());
        let alt = if phone == address {
            String::new()
        } else {
            address.jid()
        };
        (phone.jid(), alt)
    };
    let push_name = info
        .push_name
        .clone()
        .filter(|name| !name.is_empty())
        .or_else(|| {
            push_names
                .get(sender.as_str())
                .map(|name| (*name).to_owned())
        })
        .unwrap_or_default();
    Some(InboxEntry {
        seq: 0,
        chat: chat.jid(),
        sender,
        sender_alt,
        message_id,
        sent_at_ms: seconds_to_ms(info.message_timestamp.unwrap_or(0)),
        push_name,
        from_me,
        payload: message.encode_to_vec(),
        undecryptable: false,
        business_name: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use whatsapp_rust::waproto::buffa::MessageField;

    fn text_message(
        id: &str,
        from_me: bool,
        participant: Option<&str>,
        at: u64,
    ) -> wa::HistorySyncMsg {
        wa::HistorySyncMsg {
            message: MessageField::some(wa::WebMessageInfo {
                key: MessageField::some(wa::MessageKey {
                    remote_jid: None,
                    from_me: Some(from_me),
                    id: Some(id.into()),
                    participant: participant.map(Into::into),
                }),
                message: MessageField::some(wa::Message {
                    conversation: Some(format!("text {id}")),
                    ..Default::default()
                }),
                message_timestamp: Some(at),
                ..Default::default()
            }),
            msg_order_id: None,
        }
    }

    #[test]
    fn a_lid_chat_is_kept_under_its_number_and_group_senders_by_phone() {
        let sync = wa::HistorySync {
            conversations: vec![
                wa::Conversation {
                    id: "777@lid".into(),
                    pn_jid: Some("15550002001@s.whatsapp.net".into()),
                    lid_jid: Some("777@lid".into()),
                    unread_count: Some(2),
                    pinned: Some(1_700_000_000),
                    mute_end_time: Some(1_800_000_000),
                    messages: vec![
                        text_message("A1", false, None, 1_700_000_001),
                        text_message("A2", true, None, 1_700_000_002),
                    ],
                    ..Default::default()
                },
                wa::Conversation {
                    id: "123-456@g.us".into(),
                    name: Some("Garden".into()),
                    archived: Some(true),
                    messages: vec![
                        text_message("G1", false, Some("777@lid"), 1_700_000_003),
                        text_message(
                            "G2",
                            false,
                            Some("15550002002@s.whatsapp.net"),
                            1_700_000_004,
                        ),
                    ],
                    ..Default::default()
                },
                wa::Conversation {
                    id: "status@broadcast".into(),
                    messages: vec![text_message("S1", false, None, 1)],
                    ..Default::default()
                },
            ],
            pushnames: vec![wa::Pushname {
                id: Some("15550002002@s.whatsapp.net".into()),
                pushname: Some("Bob".into()),
            }],
            ..Default::default()
        };
        let read = read(&sync, "15550001234@s.whatsapp.net");
        assert_eq!(read.lid_phones, vec![("777".into(), "15550002001".into())]);
        assert_eq!(read.chats.len(), 2, "the status broadcast is no chat");
        let direct = &read.chats[0];
        assert_eq!(direct.chat, "15550002001@s.whatsapp.net");
        assert_eq!(
            (direct.unread_count, direct.pinned, direct.archived),
            (2, true, false)
        );
        assert_eq!(direct.muted_until_ms, 1_800_000_000_000);
        assert_eq!(direct.last_message_ms, 1_700_000_002_000);
        let group = &read.chats[1];
        assert_eq!((group.name.as_str(), group.archived), ("Garden", true));

        let senders: Vec<(&str, &str, &str, bool)> = read
            .messages
            .iter()
            .map(|m| {
                (
                    m.message_id.as_str(),
                    m.sender.as_str(),
                    m.sender_alt.as_str(),
                    m.from_me,
                )
            })
            .collect();
        assert_eq!(
            senders,
            vec![
                ("A1", "15550002001@s.whatsapp.net", "", false),
                ("A2", "15550001234@s.whatsapp.net", "", true),
                ("G1", "15550002001@s.whatsapp.net", "777@lid", false),
                ("G2", "15550002002@s.whatsapp.net", "", false),
            ]
        );
        assert_eq!(read.messages[3].push_name, "Bob", "push names fill in");
        assert_eq!(read.messages[0].sent_at_ms, 1_700_000_001_000);
        assert_eq!(
            read.messages[0]
                .message()
                .expect("payload")
                .conversation
                .as_deref(),
            Some("text A1")
        );
    }

    #[test]
    fn messages_without_content_or_id_are_skipped_and_counted() {
        let mut empty = text_message("E1", false, None, 5);
        if let Some(info) = empty.message.as_option_mut() {
            info.message = MessageField::none();
        }
        let mut no_id = text_message("", false, None, 6);
        if let Some(info) = no_id.message.as_option_mut()
            && let Some(key) = info.key.as_option_mut()
        {
            key.id = None;
        }
        let sync = wa::HistorySync {
            conversations: vec![wa::Conversation {
                id: "15550002001@s.whatsapp.net".into(),
                messages: vec![empty, no_id, text_message("K1", false, None, 7)],
                ..Default::default()
            }],
            ..Default::default()
        };
        let read = read(&sync, "");
        assert_eq!(read.messages.len(), 1);
        assert_eq!(read.skipped, 2);
        assert_eq!(read.chats[0].last_message_ms, 7000);
    }
}
