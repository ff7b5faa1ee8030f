//! A Matrix message from a portal → the WhatsApp message to send.

use ruma::events::room::message::{
    FormattedBody, MessageFormat, MessageType, RoomMessageEventContent,
};
use whatsapp_rust::waproto::buffa;
use whatsapp_rust::waproto::whatsapp as wa;

use super::media_out::MediaToSend;
use super::mentions::Mentions;
use crate::whatsapp::outgoing::OutgoingMessage;

/// Why a Matrix message is not sent, in words for the room.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotBridged {
    #[error("the bridge cannot send {0} to WhatsApp yet")]
    Unsupported(&'static str),
    #[error("the message is empty")]
    Empty,
    #[error("{0}")]
    Invalid(&'static str),
}

/// A WhatsApp message that an outgoing one refers to (answers, reacts to, edits, deletes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaTarget {
    pub chat_jid: String,
    pub message_id: String,
    /// Who sent it (a JID).
    pub sender_jid: String,
    /// Sent by the person's own account.
    pub from_me: bool,
    pub is_group: bool,
}

impl WaTarget {
    pub(super) fn key(&self) -> buffa::MessageField<wa::MessageKey> {
        buffa::MessageField::some(wa::MessageKey {
            remote_jid: Some(self.chat_jid.clone()),
            from_me: Some(self.from_me),
            id: Some(self.message_id.clone()),
            participant: (self.is_group && !self.from_me).then(|| self.sender_jid.clone()),
        })
    }
}

/// The message a reply quotes: what it answers, and the text shown above the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    pub target: WaTarget,
    pub text: String,
}

/// What a message answering `quote` carries about it.
pub(super) fn context_of(quote: &Quote) -> wa::ContextInfo {
    wa::ContextInfo {
        stanza_id: Some(quote.target.message_id.clone()),
        participant: Some(quote.target.sender_jid.clone()),
        quoted_message: buffa::MessageField::some(wa::Message {
            conversation: Some(quote.text.clone()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn text(
    (body, mentioned): (String, Vec<String>),
    quote: Option<&Quote>,
) -> Result<wa::Message, NotBridged> {
    if body.trim().is_empty() {
        return Err(NotBridged::Empty);
    }
    if quote.is_none() && mentioned.is_empty() {
        return Ok(wa::Message {
            conversation: Some(body),
            ..Default::default()
        });
    }
    let mut context = quote.map(context_of).unwrap_or_default();
    context.mentioned_jid = mentioned;
    Ok(wa::Message {
        extended_text_message: buffa::MessageField::some(wa::message::ExtendedTextMessage {
            text: Some(body),
            context_info: buffa::MessageField::some(context),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// A `geo:lat,long[,alt][;params]` URI as a WhatsApp location, named by the body.
fn location(geo_uri: &str, body: &str) -> Result<wa::Message, NotBridged> {
    let bad = NotBridged::Invalid("a location without a readable geo: URI");
    let point = geo_uri.strip_prefix("geo:").ok_or(bad.clone())?;
    let point = point.split(';').next().unwrap_or_default();
    let mut parts = point.split(',').map(|part| part.trim().parse::<f64>());
    let (Some(Ok(latitude)), Some(Ok(longitude))) = (parts.next(), parts.next()) else {
        return Err(bad);
    };
    if !(-90.0..=90.0).contains(&latitude) || !(-180.0..=180.0).contains(&longitude) {
        return Err(bad);
    }
    let name = body.trim();
    let generic = name.is_empty() || name.starts_with("geo:") || name == "Location";
    Ok(wa::Message {
        location_message: buffa::MessageField::some(wa::message::LocationMessage {
            degrees_latitude: Some(latitude),
            degrees_longitude: Some(longitude),
            name: (!generic).then(|| name.to_owned()),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// The body of a Matrix message without the fallback of the message it answers.
fn own_body(body: &str) -> &str {
    let mut rest = body;
    while let Some(line_end) = rest.find('\n') {
        if !rest.starts_with("> ") && !rest.starts_with(">\n") {
            break;
        }
        rest = &rest[line_end + 1..];
    }
    rest.strip_prefix('\n').unwrap_or(rest)
}

/// The WhatsApp text of a Matrix message (its HTML converted when it has some), and the
/// JIDs of the people its pills mention.
pub(super) fn whatsapp_text(
    body: &str,
    formatted: Option<&FormattedBody>,
    mentions: &Mentions,
) -> (String, Vec<String>) {
    match formatted {
        Some(formatted) if formatted.format == MessageFormat::Html => {
            super::formatting::html_to_whatsapp(&formatted.body, mentions)
        }
        _ => (own_body(body).to_owned(), Vec::new()),
    }
}

fn message(
    content: &RoomMessageEventContent,
    quote: Option<&Quote>,
    mentions: &Mentions,
) -> Result<wa::Message, NotBridged> {
    match &content.msgtype {
        MessageType::Text(message) => text(
            whatsapp_text(&message.body, message.formatted.as_ref(), mentions),
            quote,
        ),
        MessageType::Notice(message) => text(
            whatsapp_text(&message.body, message.formatted.as_ref(), mentions),
            quote,
        ),
        // WhatsApp has no emotes; the usual rendering keeps the meaning.
        MessageType::Emote(message) => text((format!("* {}", message.body), Vec::new()), quote),
        MessageType::Image(_)
        | MessageType::Video(_)
        | MessageType::Audio(_)
        | MessageType::File(_) => Err(NotBridged::Unsupported("an edit of a file")),
        MessageType::Location(place) => location(&place.geo_uri, &place.body),
        _ => Err(NotBridged::Unsupported("this kind of message")),
    }
}

/// A message for WhatsApp: ready, or a file to upload first.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    Ready(Box<OutgoingMessage>),
    Media(Box<MediaToSend>),
}

/// A new message, answering `quote` if given; pills of `mentions` become mentions.
pub fn convert(
    content: &RoomMessageEventContent,
    quote: Option<&Quote>,
    mentions: &Mentions,
) -> Result<Outgoing, NotBridged> {
    if let Some(media) = super::media_out::from_message(&content.msgtype, mentions) {
        let mut media = media?;
        media.answering = quote.cloned();
        return Ok(Outgoing::Media(Box::new(media)));
    }
    message(content, quote, mentions)
        .map(|message| Outgoing::Ready(Box::new(OutgoingMessage::new(message))))
}

/// The person's reaction on `target` becomes `emoji` (empty: removed).
pub fn reaction(target: &WaTarget, emoji: &str, now_ms: i64) -> OutgoingMessage {
    OutgoingMessage::new(wa::Message {
        reaction_message: buffa::MessageField::some(wa::message::ReactionMessage {
            key: target.key(),
            text: Some(emoji.to_owned()),
            sender_timestamp_ms: Some(now_ms),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// `target` (the person's own message) now reads `content`.
pub fn edit(
    target: &WaTarget,
    content: &RoomMessageEventContent,
    mentions: &Mentions,
    now_ms: i64,
) -> Result<OutgoingMessage, NotBridged> {
    let new = message(content, None, mentions)?;
    Ok(OutgoingMessage::new(wa::Message {
        protocol_message: buffa::MessageField::some(wa::message::ProtocolMessage {
            key: target.key(),
            r#type: Some(wa::message::protocol_message::Type::MESSAGE_EDIT),
            edited_message: buffa::MessageField::some(new),
            timestamp_ms: Some(now_ms),
            ..Default::default()
        }),
        ..Default::default()
    }))
}

/// `target` (the person's own message) is deleted for everyone.
pub fn revoke(target: &WaTarget) -> OutgoingMessage {
    OutgoingMessage::new(wa::Message {
        protocol_message: buffa::MessageField::some(wa::message::ProtocolMessage {
            key: target.key(),
            r#type: Some(wa::message::protocol_message::Type::REVOKE),
            ..Default::default()
        }),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(content: RoomMessageEventContent) -> Option<String> {
        match convert(&content, None, &Mentions::default()) {
            Ok(Outgoing::Ready(message)) => message.0.conversation.clone(),
            _ => None,
        }
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
            convert(
                &RoomMessageEventContent::text_plain("   "),
                None,
                &Mentions::default()
            )
            .err(),
            Some(NotBridged::Empty)
        );
    }

    #[test]
    fn locations_go_as_points_and_bad_ones_are_refused() {
        let place = location("geo:52.52,13.405;u=35", "Alexanderplatz").expect("a point");
        let sent = place.location_message.as_option().expect("a location");
        assert_eq!(sent.degrees_latitude, Some(52.52));
        assert_eq!(sent.degrees_longitude, Some(13.405));
        assert_eq!(sent.name.as_deref(), Some("Alexanderplatz"));
        let unnamed = location("geo:1,2", "geo:1,2").expect("a point");
        assert_eq!(
            unnamed
                .location_message
                .as_option()
                .and_then(|l| l.name.clone()),
            None
        );
        for bad in ["1,2", "geo:abc,2", "geo:95,2", "geo:1"] {
            assert!(
                matches!(location(bad, ""), Err(NotBridged::Invalid(_))),
                "{bad}"
            );
        }
    }
}
