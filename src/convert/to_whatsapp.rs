//! A Matrix message from a portal → the WhatsApp message to send.

use ruma::events::room::message::{MessageType, RoomMessageEventContent};
use whatsapp_rust::waproto::whatsapp as wa;

use crate::whatsapp::outgoing::OutgoingMessage;

/// Why a Matrix message is not sent, in words for the room.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotBridged {
    #[error("the bridge cannot send {0} to WhatsApp yet")]
    Unsupported(&'static str),
    #[error("the message is empty")]
    Empty,
}

fn text(body: &str) -> Result<OutgoingMessage, NotBridged> {
    if body.trim().is_empty() {
        return Err(NotBridged::Empty);
    }
    Ok(OutgoingMessage::new(wa::Message {
        conversation: Some(body.to_owned()),
        ..Default::default()
    }))
}

pub fn convert(content: &RoomMessageEventContent) -> Result<OutgoingMessage, NotBridged> {
    match &content.msgtype {
        MessageType::Text(message) => text(&message.body),
        MessageType::Notice(message) => text(&message.body),
        // WhatsApp has no emotes; the usual rendering keeps the meaning.
        MessageType::Emote(message) => text(&format!("* {}", message.body)),
        MessageType::Image(_) => Err(NotBridged::Unsupported("images")),
        MessageType::Video(_) => Err(NotBridged::Unsupported("videos")),
        MessageType::Audio(_) => Err(NotBridged::Unsupported("audio")),
        MessageType::File(_) => Err(NotBridged::Unsupported("files")),
        MessageType::Location(_) => Err(NotBridged::Unsupported("locations")),
        _ => Err(NotBridged::Unsupported("this kind of message")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(content: RoomMessageEventContent) -> Option<String> {
        convert(&content)
            .ok()
            .and_then(|message| message.0.conversation)
    }

    #[test]
    fn text_notices_and_emotes_become_text() {
        assert_eq!(
            sent(RoomMessageEventContent::text_plain("hi")).as_deref(),
            Some("hi")
        );
        assert_eq!(
            sent(RoomMessageEventContent::notice_plain("fyi")).as_deref(),
            Some("fyi")
        );
        assert_eq!(
            sent(RoomMessageEventContent::emote_plain("waves")).as_deref(),
            Some("* waves")
        );
        assert_eq!(
            convert(&RoomMessageEventContent::text_plain("   ")).err(),
            Some(NotBridged::Empty)
        );
    }
}
