//! Ephemeral events the homeserver pushes to the appservice (MSC2409): read receipts and
//! typing, read from raw JSON into the bridge's terms. What is not one of them, or is
//! malformed, is skipped.

use ruma::{OwnedEventId, OwnedRoomId, OwnedUserId};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// One user's public read receipt, or who is typing in a room now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EphemeralEvent {
    /// `user` has read up to `event` (public `m.read` receipts only: private ones stay private).
    Read {
        room: OwnedRoomId,
        user: OwnedUserId,
        event: OwnedEventId,
    },
    /// The users typing in the room right now (everyone else is not).
    Typing {
        room: OwnedRoomId,
        users: Vec<OwnedUserId>,
    },
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    room_id: OwnedRoomId,
    content: Value,
}

#[derive(Deserialize)]
struct TypingContent {
    user_ids: Vec<OwnedUserId>,
}

/// Receipt content: event ID → receipt type → user ID → receipt.
type ReceiptContent = BTreeMap<OwnedEventId, BTreeMap<String, BTreeMap<OwnedUserId, Value>>>;

/// The events of one pushed ephemeral event; empty for other types and malformed ones.
pub fn parse(raw: &Value) -> Vec<EphemeralEvent> {
    let Ok(envelope) = Envelope::deserialize(raw) else {
        return Vec::new();
    };
    match envelope.kind.as_str() {
        "m.typing" => match TypingContent::deserialize(&envelope.content) {
            Ok(content) => vec![EphemeralEvent::Typing {
                room: envelope.room_id,
                users: content.user_ids,
            }],
            Err(_) => Vec::new(),
        },
        "m.receipt" => match ReceiptContent::deserialize(&envelope.content) {
            Ok(content) => content
                .into_iter()
                .flat_map(|(event, by_type)| {
                    by_type
                        .into_iter()
                        .filter(|(receipt_type, _)| receipt_type == "m.read")
                        .flat_map(|(_, users)| users.into_keys())
                        .map(move |user| (event.clone(), user))
                        .collect::<Vec<_>>()
                })
                .map(|(event, user)| EphemeralEvent::Read {
                    room: envelope.room_id.clone(),
                    user,
                    event,
                })
                .collect(),
            Err(_) => Vec::new(),
        },
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn public_read_receipts_are_read_and_private_ones_are_not() {
        let raw = json!({
            "type": "m.receipt",
            "room_id": "!room:example.com",
            "content": {
                "$one": {
                    "m.read": { "@alice:example.com": { "ts": 1 } },
                    "m.read.private": { "@bob:example.com": { "ts": 2 } }
                }
            }
        });
        assert_eq!(
            parse(&raw),
            vec![EphemeralEvent::Read {
                room: "!room:example.com".try_into().expect("room"),
                user: "@alice:example.com".try_into().expect("user"),
                event: "$one".try_into().expect("event"),
            }]
        );
    }

    #[test]
    fn typing_lists_who_types() {
        let raw = json!({
            "type": "m.typing",
            "room_id": "!room:example.com",
            "content": { "user_ids": ["@alice:example.com"] }
        });
        assert_eq!(
            parse(&raw),
            vec![EphemeralEvent::Typing {
                room: "!room:example.com".try_into().expect("room"),
                users: vec!["@alice:example.com".try_into().expect("user")],
            }]
        );
    }

    #[test]
    fn other_and_malformed_events_are_skipped() {
        for raw in [
            json!({ "type": "m.presence", "content": { "presence": "online" } }),
            json!({ "type": "m.typing", "room_id": "!room:example.com", "content": { "user_ids": "x" } }),
            json!({ "type": "m.receipt", "room_id": "not a room", "content": {} }),
            json!({ "type": "m.receipt", "room_id": "!room:example.com", "content": { "$e": { "m.read": { "not a user": {} } } } }),
            json!("not an object"),
        ] {
            assert_eq!(parse(&raw), Vec::new(), "{raw}");
        }
    }
}
