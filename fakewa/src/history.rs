//! History sync as the phone sends it after linking: a `HistorySync` built
//! from a scripted list of chats and messages, zlib-compressed, and either
//! inline in the notification or encrypted on the media server.

use crate::error::{FakeWaError, Result};
use crate::media::MediaStore;
use crate::media_crypto::MediaKind;
use crate::state::State;
use buffa::Message as _;
use flate2::Compression;
use flate2::write::ZlibEncoder;
use std::io::Write;
use wacore_binary::Jid;
use waproto::whatsapp as wa;

pub use wa::history_sync::HistorySyncType;

/// One message of a chat's history.
#[derive(Debug, Clone)]
pub struct HistoryMessage {
    pub id: String,
    pub from_me: bool,
    /// In a group: who sent it (a phone number); None in direct chats.
    pub participant: Option<String>,
    pub timestamp: u64,
    pub message: wa::Message,
    pub push_name: Option<String>,
}

impl HistoryMessage {
    pub fn text(id: &str, from_me: bool, timestamp: u64, text: &str) -> Self {
        Self {
            id: id.to_owned(),
            from_me,
            participant: None,
            timestamp,
            message: wa::Message {
                conversation: Some(text.to_owned()),
                ..Default::default()
            },
            push_name: None,
        }
    }
}

/// One chat as the phone describes it.
#[derive(Debug, Clone, Default)]
pub struct HistoryConversation {
    pub chat: Jid,
    pub name: Option<String>,
    pub unread_count: u32,
    pub pinned: bool,
    pub archived: bool,
    /// Seconds since the epoch until which the chat is muted.
    pub mute_end: Option<u64>,
    /// Oldest first, as the phone stores them.
    pub messages: Vec<HistoryMessage>,
}

/// One history sync payload.
#[derive(Debug, Clone)]
pub struct HistorySyncScript {
    pub sync_type: HistorySyncType,
    pub conversations: Vec<HistoryConversation>,
    /// (phone number, push name).
    pub push_names: Vec<(String, String)>,
    pub chunk_order: u32,
    pub progress: u32,
    /// The peer request this payload answers (on-demand history), if any.
    pub request_id: Option<String>,
}

impl HistorySyncScript {
    pub fn new(sync_type: HistorySyncType) -> Self {
        Self {
            sync_type,
            conversations: Vec::new(),
            push_names: Vec::new(),
            chunk_order: 1,
            progress: 100,
            request_id: None,
        }
    }
}

/// The answer to an on-demand request: up to `count` of the archived chat's messages
/// older than `before_ms`, as an ON_DEMAND payload; None when the phone has none.
pub(crate) fn on_demand_answer(
    archive: &HistoryConversation,
    before_ms: i64,
    count: usize,
    request_id: &str,
) -> Option<HistorySyncScript> {
    let older: Vec<HistoryMessage> = archive
        .messages
        .iter()
        .filter(|message| (message.timestamp as i64).saturating_mul(1000) < before_ms)
        .cloned()
        .collect();
    let newest_older = older[older.len().saturating_sub(count)..].to_vec();
    if newest_older.is_empty() {
        return None;
    }
    let mut script = HistorySyncScript::new(HistorySyncType::ON_DEMAND);
    script.request_id = Some(request_id.to_owned());
    script.conversations.push(HistoryConversation {
        messages: newest_older,
        ..archive.clone()
    });
    Some(script)
}

/// How the payload reaches the companion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryDelivery {
    /// In the notification itself (`initialHistBootstrapInlinePayload`).
    Inline,
    /// On the media server, encrypted with the history keys.
    Download,
}

fn web_message(chat: &Jid, message: &HistoryMessage) -> wa::WebMessageInfo {
    wa::WebMessageInfo {
        key: buffa::MessageField::some(wa::MessageKey {
            remote_jid: Some(chat.to_string()),
            from_me: Some(message.from_me),
            id: Some(message.id.clone()),
            participant: message
                .participant
                .as_ref()
                .map(|number| Jid::pn(number.as_str()).to_string()),
        }),
        message: buffa::MessageField::some(message.message.clone()),
        message_timestamp: Some(message.timestamp),
        push_name: message.push_name.clone(),
        ..Default::default()
    }
}

/// The decoded payload, before compression.
pub(crate) fn build(state: &State, script: &HistorySyncScript) -> wa::HistorySync {
    let mut mappings = Vec::new();
    let conversations = script
        .conversations
        .iter()
        .map(|conversation| {
            if let Some(number) = state.number_of(&conversation.chat)
                && let Ok(account) = state.account(&number)
            {
                mappings.push(wa::PhoneNumberToLIDMapping {
                    pn_jid: Some(Jid::pn(number.as_str()).to_string()),
                    lid_jid: Some(Jid::lid(account.lid_user.as_str()).to_string()),
                });
            }
            let last = conversation.messages.iter().map(|m| m.timestamp).max();
            wa::Conversation {
                id: conversation.chat.to_string(),
                messages: conversation
                    .messages
                    .iter()
                    .enumerate()
                    .map(|(order, message)| wa::HistorySyncMsg {
                        message: buffa::MessageField::some(web_message(
                            &conversation.chat,
                            message,
                        )),
                        msg_order_id: Some(order as u64 + 1),
                    })
                    .collect(),
                name: conversation.name.clone(),
                unread_count: Some(conversation.unread_count),
                archived: Some(conversation.archived),
                pinned: conversation.pinned.then_some(last.unwrap_or(1) as u32),
                mute_end_time: conversation.mute_end,
                last_msg_timestamp: last,
                conversation_timestamp: last,
                ..Default::default()
            }
        })
        .collect();
    wa::HistorySync {
        sync_type: script.sync_type,
        conversations,
        chunk_order: Some(script.chunk_order),
        progress: Some(script.progress),
        pushnames: script
            .push_names
            .iter()
            .map(|(number, name)| wa::Pushname {
                id: Some(Jid::pn(number.as_str()).to_string()),
                pushname: Some(name.clone()),
            })
            .collect(),
        phone_number_to_lid_mappings: mappings,
        ..Default::default()
    }
}

/// A history payload as the phone uploads it (zlib), for tests that build their own.
pub fn compress_payload(sync: &wa::HistorySync) -> Result<Vec<u8>> {
    compress(sync)
}

pub(crate) fn compress(sync: &wa::HistorySync) -> Result<Vec<u8>> {
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(&sync.encode_to_vec())?;
    Ok(encoder.finish()?)
}

/// The protocol message that announces the payload.
pub(crate) fn notification(
    media: &mut MediaStore,
    script: &HistorySyncScript,
    compressed: Vec<u8>,
    delivery: HistoryDelivery,
) -> Result<wa::Message> {
    let sync_type =
        <wa::message::HistorySyncType as buffa::Enumeration>::from_i32(script.sync_type as i32)
            .ok_or_else(|| FakeWaError::Media("history sync type".into()))?;
    let mut notification = wa::message::HistorySyncNotification {
        sync_type: Some(sync_type),
        chunk_order: Some(script.chunk_order),
        progress: Some(script.progress),
        peer_data_request_session_id: script.request_id.clone(),
        ..Default::default()
    };
    match delivery {
        HistoryDelivery::Inline => {
            notification.file_length = Some(compressed.len() as u64);
            notification.initial_hist_bootstrap_inline_payload = Some(compressed);
        }
        HistoryDelivery::Download => {
            let stored = media.put_encrypted(&compressed, MediaKind::History)?;
            notification.file_sha256 = Some(stored.file_sha256.to_vec());
            notification.file_enc_sha256 = Some(stored.file_enc_sha256.to_vec());
            notification.media_key = Some(stored.media_key.to_vec());
            notification.file_length = Some(stored.file_length);
            notification.direct_path = Some(stored.direct_path);
        }
    }
    Ok(wa::Message {
        protocol_message: buffa::MessageField::some(wa::message::ProtocolMessage {
            r#type: Some(wa::message::protocol_message::Type::HISTORY_SYNC_NOTIFICATION),
            history_sync_notification: buffa::MessageField::some(notification),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// The app-state key the phone shares with a new companion, so the
/// companion can read (and stops waiting for) the account's app state.
pub(crate) fn app_state_key_share(key_id: &[u8], key_data: &[u8]) -> wa::Message {
    let key = wa::message::AppStateSyncKey {
        key_id: buffa::MessageField::some(wa::message::AppStateSyncKeyId {
            key_id: Some(key_id.to_vec()),
        }),
        key_data: buffa::MessageField::some(wa::message::AppStateSyncKeyData {
            key_data: Some(key_data.to_vec()),
            fingerprint: buffa::MessageField::some(wa::message::AppStateSyncKeyFingerprint {
                raw_id: Some(rand::random()),
                current_index: Some(0),
                device_indexes: vec![0],
            }),
            timestamp: Some(crate::node::unix_now() as i64 * 1000),
        }),
    };
    wa::Message {
        protocol_message: buffa::MessageField::some(wa::message::ProtocolMessage {
            r#type: Some(wa::message::protocol_message::Type::APP_STATE_SYNC_KEY_SHARE),
            app_state_sync_key_share: buffa::MessageField::some(
                wa::message::AppStateSyncKeyShare { keys: vec![key] },
            ),
            ..Default::default()
        }),
        ..Default::default()
    }
}
