//! A WhatsApp message (as the inbox keeps it) → what its portal shows.

use ruma::events::room::message::RoomMessageEventContent;
use whatsapp_rust::waproto::whatsapp as wa;

use crate::whatsapp::inbox::InboxEntry;

/// What becomes of one WhatsApp message in Matrix.
#[derive(Debug, Clone)]
pub enum ToMatrix {
    /// Post these parts, in order.
    Post(Vec<RoomMessageEventContent>),
    /// Nothing to show: protocol traffic (keys, history sync, receipts of other kinds).
    Nothing,
}

/// The text of a text message, plain or extended.
fn text_of(message: &wa::Message) -> Option<&str> {
    message.conversation.as_deref().or_else(|| {
        message
            .extended_text_message
            .as_option()
            .and_then(|extended| extended.text.as_deref())
    })
}

/// Messages that only carry protocol state and never show up on the phone either.
fn is_protocol_only(message: &wa::Message) -> bool {
    let nothing_else = wa::Message {
        sender_key_distribution_message: message.sender_key_distribution_message.clone(),
        message_context_info: message.message_context_info.clone(),
        ..Default::default()
    };
    // Only a sender key (what a group's first message carries apart from its content);
    // an otherwise empty message is of a kind this build does not know, and is shown.
    message.protocol_message.is_set()
        || (message.sender_key_distribution_message.is_set() && *message == nothing_else)
}

/// A readable name for a kind the bridge does not convert yet.
fn kind_of(message: &wa::Message) -> &'static str {
    if message.image_message.is_set() {
        "a photo"
    } else if message.video_message.is_set() {
        "a video"
    } else if message.audio_message.is_set() {
        "an audio message"
    } else if message.document_message.is_set() {
        "a document"
    } else if message.sticker_message.is_set() {
        "a sticker"
    } else if message.location_message.is_set() || message.live_location_message.is_set() {
        "a location"
    } else if message.contact_message.is_set() || message.contacts_array_message.is_set() {
        "a contact"
    } else if message.reaction_message.is_set() {
        "a reaction"
    } else if message.poll_creation_message.is_set() || message.poll_creation_message_v3.is_set() {
        "a poll"
    } else {
        "a message of a kind the bridge cannot show"
    }
}

pub fn convert(entry: &InboxEntry) -> ToMatrix {
    let message = match entry.message() {
        Ok(message) => message,
        Err(err) => {
            return ToMatrix::Post(vec![RoomMessageEventContent::notice_plain(format!(
                "A message arrived that the bridge could not read ({err})."
            ))]);
        }
    };
    if let Some(text) = text_of(&message) {
        return ToMatrix::Post(vec![RoomMessageEventContent::text_plain(text)]);
    }
    if is_protocol_only(&message) {
        return ToMatrix::Nothing;
    }
    // Never silence: say what it was, so the person can look on the phone.
    ToMatrix::Post(vec![RoomMessageEventContent::notice_plain(format!(
        "Sent {} (not bridged yet; see it on your phone).",
        kind_of(&message)
    ))])
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruma::events::room::message::MessageType;
    use whatsapp_rust::waproto::buffa::Message as _;

    fn entry(message: &wa::Message) -> InboxEntry {
        InboxEntry {
            seq: 1,
            chat: "15550002001@s.whatsapp.net".into(),
            sender: "15550002001@s.whatsapp.net".into(),
            sender_alt: String::new(),
            message_id: "M1".into(),
            sent_at_ms: 0,
            push_name: "Alice".into(),
            from_me: false,
            payload: message.encode_to_vec(),
        }
    }

    fn body(converted: ToMatrix) -> (String, bool) {
        match converted {
            ToMatrix::Post(parts) => match &parts[0].msgtype {
                MessageType::Text(text) => (text.body.clone(), false),
                MessageType::Notice(notice) => (notice.body.clone(), true),
                other => panic!("unexpected {other:?}"),
            },
            ToMatrix::Nothing => panic!("nothing posted"),
        }
    }

    #[test]
    fn text_in_both_forms_becomes_text() {
        let plain = wa::Message {
            conversation: Some("hello".into()),
            ..Default::default()
        };
        assert_eq!(body(convert(&entry(&plain))), ("hello".into(), false));
        let extended = wa::Message {
            extended_text_message: whatsapp_rust::waproto::buffa::MessageField::some(
                wa::message::ExtendedTextMessage {
                    text: Some("hi there".into()),
                    ..Default::default()
                },
            ),
            ..Default::default()
        };
        assert_eq!(body(convert(&entry(&extended))), ("hi there".into(), false));
    }

    #[test]
    fn protocol_traffic_shows_nothing_and_the_rest_is_never_silent() {
        let key_only = wa::Message {
            sender_key_distribution_message: whatsapp_rust::waproto::buffa::MessageField::some(
                Default::default(),
            ),
            ..Default::default()
        };
        assert!(matches!(convert(&entry(&key_only)), ToMatrix::Nothing));
        let photo = wa::Message {
            image_message: whatsapp_rust::waproto::buffa::MessageField::some(
                wa::message::ImageMessage {
                    mimetype: Some("image/jpeg".into()),
                    ..Default::default()
                },
            ),
            ..Default::default()
        };
        let (text, notice) = body(convert(&entry(&wa::Message::default())));
        assert!(notice && text.contains("cannot show"), "{text}");
        let (text, notice) = body(convert(&entry(&photo)));
        assert!(notice && text.contains("a photo"), "{text}");
        let mut broken = entry(&photo);
        // Field 1 claims five bytes and has one.
        broken.payload = vec![0x0a, 0x05, 0x01];
        let (text, notice) = body(convert(&broken));
        assert!(notice && text.contains("could not read"), "{text}");
    }
}
