//! A WhatsApp message (as the inbox keeps it) → what its portal shows.

use ruma::events::room::message::RoomMessageEventContent;
use wacore::proto_helpers::MessageExt;
use whatsapp_rust::waproto::buffa;
use whatsapp_rust::waproto::whatsapp as wa;

use super::media_in::{MediaPart, media_of};
use super::mentions::Mentions;
use super::rich_in::{self, Attachment};
use crate::whatsapp::inbox::InboxEntry;

/// One event of a converted message.
#[derive(Debug, Clone)]
pub enum Part {
    /// Ready to post.
    Ready(Box<RoomMessageEventContent>),
    /// A file to bring over first.
    Media(MediaPart),
    /// A file the message carries itself, to upload.
    Attachment(Attachment),
    /// A poll, with its text fallback.
    Poll(Box<ruma::events::poll::unstable_start::NewUnstablePollStartEventContent>),
}

/// What becomes of one WhatsApp message in Matrix. Targets are WhatsApp message IDs in
/// the same chat; the bridge finds their events in the message map.
#[derive(Debug, Clone)]
pub enum ToMatrix {
    /// Post these parts, in order; the first answers `reply_to` if set.
    Post {
        parts: Vec<Part>,
        reply_to: Option<String>,
    },
    /// The sender's reaction on `target` is now `emoji` (empty: removed).
    React { target: String, emoji: String },
    /// The sender changed `target` to this.
    Edit {
        target: String,
        content: Box<RoomMessageEventContent>,
    },
    /// The sender deleted `target` for everyone.
    Revoke { target: String },
    /// The sender changed the caption of the file `target` to `caption`.
    EditCaption { target: String, caption: String },
    /// The sender voted in a poll (encrypted with the poll's secret).
    Vote(crate::whatsapp::poll::EncryptedVote),
    /// Nothing to show: protocol traffic (keys, history sync, receipts of other kinds).
    Nothing,
}

impl ToMatrix {
    fn post(content: RoomMessageEventContent) -> Self {
        Self::post_part(Part::Ready(Box::new(content)))
    }

    fn post_part(part: Part) -> Self {
        Self::Post {
            parts: vec![part],
            reply_to: None,
        }
    }
}

/// The message an edit carries: whatsapp-rust and phones send it either as a protocol
/// message of its own or wrapped in `editedMessage`.
fn edit_of(message: &wa::Message) -> Option<&wa::message::ProtocolMessage> {
    let protocol = message.protocol_message.as_option().or_else(|| {
        message
            .edited_message
            .as_option()
            .and_then(|wrapper| wrapper.message.as_option())
            .and_then(|inner| inner.protocol_message.as_option())
    })?;
    (protocol.r#type == Some(wa::message::protocol_message::Type::MESSAGE_EDIT)).then_some(protocol)
}

/// The message ID a key names.
fn key_id(key: &buffa::MessageField<wa::MessageKey>) -> Option<String> {
    key.as_option().and_then(|key| key.id.clone())
}

/// What a message answers, if anything (texts and files carry it alike).
fn reply_target(message: &wa::Message) -> Option<String> {
    let context = [
        message
            .extended_text_message
            .as_option()
            .map(|m| &m.context_info),
        message.image_message.as_option().map(|m| &m.context_info),
        message.video_message.as_option().map(|m| &m.context_info),
        message.audio_message.as_option().map(|m| &m.context_info),
        message
            .document_message
            .as_option()
            .map(|m| &m.context_info),
        message.sticker_message.as_option().map(|m| &m.context_info),
    ]
    .into_iter()
    .flatten()
    .find_map(|context| context.as_option())?;
    context.stanza_id.clone()
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

/// The caption of a photo, video or document (what a caption edit carries).
fn caption_of(message: &wa::Message) -> Option<&str> {
    message
        .image_message
        .as_option()
        .and_then(|image| image.caption.as_deref())
        .or_else(|| {
            message
                .video_message
                .as_option()
                .and_then(|video| video.caption.as_deref())
        })
        .or_else(|| {
            message
                .document_message
                .as_option()
                .and_then(|document| document.caption.as_deref())
        })
}

/// The most bytes of WhatsApp text in one Matrix event. With HTML escaping and the JSON
/// around it, a part stays well under the homeserver's 64 KiB limit on an event.
const TEXT_PART_BYTES: usize = 6_000;

/// A text as the events that show it: one, or for a text longer than one event may
/// hold, several in order (the first is the one replies and reactions point at).
fn text_parts(text: &str, mentions: &Mentions) -> Vec<Part> {
    split_text(text, TEXT_PART_BYTES)
        .into_iter()
        .map(|piece| Part::Ready(Box::new(text_content(piece, mentions))))
        .collect()
}

/// `text` in pieces of at most `max` bytes, each cut after a line break or a space when
/// one is in its last quarter, never inside a character.
fn split_text(text: &str, max: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while rest.len() > max {
        let mut cut = max;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let floor = cut * 3 / 4;
        let window = &rest[..cut];
        if let Some(at) = window
            .rfind('\n')
            .filter(|at| *at >= floor)
            .or_else(|| window.rfind(' ').filter(|at| *at >= floor))
        {
            cut = at + 1;
        }
        if cut == 0 {
            // `max` is smaller than this character: it goes whole.
            cut = rest.chars().next().map_or(rest.len(), char::len_utf8);
        }
        let (piece, tail) = rest.split_at(cut);
        pieces.push(piece);
        rest = tail;
    }
    pieces.push(rest);
    pieces
}

/// A text with its WhatsApp formatting as HTML (when it has any) and its mentions as
/// pills, listed in `m.mentions`.
fn text_content(text: &str, mentions: &Mentions) -> RoomMessageEventContent {
    let rich = rich_text(text, mentions);
    let mut content = match rich.html {
        Some(html) => RoomMessageEventContent::text_html(rich.body, html),
        None => RoomMessageEventContent::text_plain(rich.body),
    };
    if !rich.mentioned.is_empty() {
        content.mentions = Some(ruma::events::Mentions::with_user_ids(rich.mentioned));
    }
    content
}

/// WhatsApp text in Matrix terms: the body (pills as names), HTML when it has
/// formatting or pills, and who it mentions.
struct RichText {
    body: String,
    html: Option<String>,
    mentioned: Vec<ruma::OwnedUserId>,
}

fn rich_text(text: &str, mentions: &Mentions) -> RichText {
    let html = super::formatting::whatsapp_to_html(text);
    let mut named = Vec::new();
    let body = mentions.rewrite(
        text,
        |mention| {
            named.push(mention.user.clone());
            mention.name.clone()
        },
        str::to_owned,
    );
    if named.is_empty() {
        return RichText {
            body: text.to_owned(),
            html,
            mentioned: named,
        };
    }
    let html = html.unwrap_or_else(|| super::formatting::escape(text));
    let html = mentions.rewrite(
        &html,
        |mention| {
            format!(
                "<a href=\"https://matrix.to/#/{}\">{}</a>",
                mention.user,
                super::formatting::escape(&mention.name)
            )
        },
        str::to_owned,
    );
    named.sort();
    named.dedup();
    RichText {
        body,
        html: Some(html),
        mentioned: named,
    }
}

/// The secret of a poll, which its votes are encrypted with.
pub fn poll_secret(entry: &InboxEntry) -> Option<Vec<u8>> {
    let message = entry.message().ok()?;
    let is_poll = message.poll_creation_message.is_set()
        || message.poll_creation_message_v2.is_set()
        || message.poll_creation_message_v3.is_set();
    if !is_poll {
        return None;
    }
    message
        .message_context_info
        .as_option()
        .and_then(|info| info.message_secret.clone())
        .filter(|secret| !secret.is_empty())
}

/// The JIDs a message says it mentions (its text's `@number`s).
pub fn mentioned_jids(entry: &InboxEntry) -> Vec<String> {
    let Ok(message) = entry.message() else {
        return Vec::new();
    };
    let message = message.into_base_message();
    let from_edit = edit_of(&message)
        .and_then(|edit| edit.edited_message.as_option())
        .and_then(|edited| edited.extended_text_message.as_option())
        .and_then(|text| text.context_info.as_option())
        .map(|context| context.mentioned_jid.clone());
    let caption_context = message
        .image_message
        .as_option()
        .and_then(|image| image.context_info.as_option())
        .or_else(|| {
            message
                .video_message
                .as_option()
                .and_then(|video| video.context_info.as_option())
        })
        .or_else(|| {
            message
                .document_message
                .as_option()
                .and_then(|document| document.context_info.as_option())
        });
    message
        .extended_text_message
        .as_option()
        .and_then(|text| text.context_info.as_option())
        .or(caption_context)
        .map(|context| context.mentioned_jid.clone())
        .or(from_edit)
        .unwrap_or_default()
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
    if message.location_message.is_set() || message.live_location_message.is_set() {
        "a location"
    } else if message.contact_message.is_set() || message.contacts_array_message.is_set() {
        "a contact"
    } else if message.reaction_message.is_set() {
        "a reaction"
    } else {
        "a message of a kind the bridge cannot show"
    }
}

pub fn convert(entry: &InboxEntry, mentions: &Mentions) -> ToMatrix {
    let message = match entry.message() {
        Ok(message) => message,
        Err(err) => {
            return ToMatrix::post(RoomMessageEventContent::notice_plain(format!(
                "A message arrived that the bridge could not read ({err})."
            )));
        }
    };
    let view_once = message.is_view_once();
    let message = message.into_base_message();
    if let Some(text) = text_of(&message) {
        return ToMatrix::Post {
            parts: text_parts(text, mentions),
            reply_to: reply_target(&message),
        };
    }
    if view_once {
        // Meant to be seen once, on the phone: the bridge does not keep a copy.
        return ToMatrix::post(RoomMessageEventContent::notice_plain(
            "Sent a view-once message; open it on your phone.",
        ));
    }
    if let Some(mut media) = media_of(&message) {
        if let Some((caption, _)) = &media.caption
            && !mentions.is_empty()
        {
            let rich = rich_text(caption, mentions);
            media.caption = Some((rich.body, rich.html));
            media.mentioned = rich.mentioned;
        }
        return ToMatrix::Post {
            parts: vec![Part::Media(media)],
            reply_to: reply_target(&message),
        };
    }
    if let Some(place) = rich_in::location(&message) {
        return ToMatrix::Post {
            parts: vec![Part::Ready(Box::new(place))],
            reply_to: reply_target(&message),
        };
    }
    if let Some(cards) = rich_in::contacts(&message) {
        return ToMatrix::Post {
            parts: cards.into_iter().map(Part::Attachment).collect(),
            reply_to: reply_target(&message),
        };
    }
    if let Some(poll) = rich_in::poll(&message) {
        return ToMatrix::post_part(Part::Poll(Box::new(poll)));
    }
    if let Some(update) = message.poll_update_message.as_option() {
        let key = update.poll_creation_message_key.as_option();
        let vote = update.vote.as_option();
        if let (Some(key), Some(vote)) = (key, vote)
            && let (Some(poll_id), Some(payload), Some(iv)) = (
                key.id.clone(),
                vote.enc_payload.clone(),
                vote.enc_iv.clone(),
            )
        {
            return ToMatrix::Vote(crate::whatsapp::poll::EncryptedVote {
                poll_id,
                poll_by_voter: key.from_me.unwrap_or(false),
                poll_creator: key.participant.clone(),
                payload,
                iv,
            });
        }
        return ToMatrix::post(RoomMessageEventContent::notice_plain(
            "Voted in a poll the bridge cannot read (see the votes on your phone).",
        ));
    }

    if let Some(reaction) = message.reaction_message.as_option()
        && let Some(target) = key_id(&reaction.key)
    {
        return ToMatrix::React {
            target,
            emoji: reaction.text.clone().unwrap_or_default(),
        };
    }
    if let Some(edit) = edit_of(&message)
        && let Some(target) = key_id(&edit.key)
    {
        let edited = edit.edited_message.as_option();
        let new_text = edited.and_then(text_of);
        let new_caption = edited.and_then(caption_of);
        return match (new_text, new_caption) {
            (Some(text), _) => ToMatrix::Edit {
                target,
                content: Box::new(text_content(text, mentions)),
            },
            (None, Some(caption)) => ToMatrix::EditCaption {
                target,
                caption: caption.to_owned(),
            },
            // An edit of a caption or of another kind: not converted yet, but said.
            (None, None) => ToMatrix::post(RoomMessageEventContent::notice_plain(
                "Edited a message (the new version is on your phone).",
            )),
        };
    }
    if let Some(protocol) = message.protocol_message.as_option()
        && protocol.r#type == Some(wa::message::protocol_message::Type::REVOKE)
        && let Some(target) = key_id(&protocol.key)
    {
        return ToMatrix::Revoke { target };
    }
    if is_protocol_only(&message) {
        return ToMatrix::Nothing;
    }
    // Never silence: say what it was, so the person can look on the phone.
    ToMatrix::post(RoomMessageEventContent::notice_plain(format!(
        "Sent {} (not bridged yet; see it on your phone).",
        kind_of(&message)
    )))
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
            undecryptable: false,
            business_name: String::new(),
        }
    }

    fn body(converted: ToMatrix) -> (String, bool) {
        match converted {
            ToMatrix::Post { parts, .. } => match &parts[0] {
                Part::Ready(content) => match &content.msgtype {
                    MessageType::Text(text) => (text.body.clone(), false),
                    MessageType::Notice(notice) => (notice.body.clone(), true),
                    other => panic!("unexpected {other:?}"),
                },
                other => panic!("not a message: {other:?}"),
            },
            other => panic!("nothing posted: {other:?}"),
        }
    }

    #[test]
    fn text_in_both_forms_becomes_text() {
        let plain = wa::Message {
            conversation: Some("hello".into()),
            ..Default::default()
        };
        assert_eq!(
            body(convert(&entry(&plain), &Mentions::default())),
            ("hello".into(), false)
        );
        let extended = wa::Message {
            extended_text_message: buffa::MessageField::some(wa::message::ExtendedTextMessage {
                text: Some("hi there".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            body(convert(&entry(&extended), &Mentions::default())),
            ("hi there".into(), false)
        );
    }

    fn key(id: &str) -> buffa::MessageField<wa::MessageKey> {
        buffa::MessageField::some(wa::MessageKey {
            id: Some(id.into()),
            ..Default::default()
        })
    }

    #[test]
    fn replies_reactions_edits_and_revokes_name_their_targets() {
        let reply = wa::Message {
            extended_text_message: buffa::MessageField::some(wa::message::ExtendedTextMessage {
                text: Some("yes".into()),
                context_info: buffa::MessageField::some(wa::ContextInfo {
                    stanza_id: Some("ORIGINAL".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(matches!(
            convert(&entry(&reply), &Mentions::default()),
            ToMatrix::Post { reply_to: Some(target), .. } if target == "ORIGINAL"
        ));
        let reaction = wa::Message {
            reaction_message: buffa::MessageField::some(wa::message::ReactionMessage {
                key: key("ORIGINAL"),
                text: Some(String::new()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(matches!(
            convert(&entry(&reaction), &Mentions::default()),
            ToMatrix::React { target, emoji } if target == "ORIGINAL" && emoji.is_empty()
        ));
        use wa::message::protocol_message::Type;
        let edit = wa::message::ProtocolMessage {
            key: key("ORIGINAL"),
            r#type: Some(Type::MESSAGE_EDIT),
            edited_message: buffa::MessageField::some(wa::Message {
                conversation: Some("fixed".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let direct = wa::Message {
            protocol_message: buffa::MessageField::some(edit.clone()),
            ..Default::default()
        };
        let wrapped = wa::Message {
            edited_message: buffa::MessageField::some(wa::message::FutureProofMessage {
                message: buffa::MessageField::some(direct.clone()),
            }),
            ..Default::default()
        };
        for edit in [direct, wrapped] {
            assert!(matches!(
                convert(&entry(&edit), &Mentions::default()),
                ToMatrix::Edit { target, .. } if target == "ORIGINAL"
            ));
        }
        let revoke = wa::Message {
            protocol_message: buffa::MessageField::some(wa::message::ProtocolMessage {
                key: key("ORIGINAL"),
                r#type: Some(Type::REVOKE),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(matches!(
            convert(&entry(&revoke), &Mentions::default()),
            ToMatrix::Revoke { target } if target == "ORIGINAL"
        ));
    }

    #[test]
    fn protocol_traffic_shows_nothing_and_the_rest_is_never_silent() {
        let key_only = wa::Message {
            sender_key_distribution_message: buffa::MessageField::some(Default::default()),
            ..Default::default()
        };
        assert!(matches!(
            convert(&entry(&key_only), &Mentions::default()),
            ToMatrix::Nothing
        ));
        let photo = wa::Message {
            image_message: buffa::MessageField::some(wa::message::ImageMessage {
                mimetype: Some("image/jpeg".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let (text, notice) = body(convert(
            &entry(&wa::Message::default()),
            &Mentions::default(),
        ));
        assert!(notice && text.contains("cannot show"), "{text}");
        // A location without a point cannot be shown on a map: said as what it is.
        let location = wa::Message {
            location_message: buffa::MessageField::some(Default::default()),
            ..Default::default()
        };
        let (text, notice) = body(convert(&entry(&location), &Mentions::default()));
        assert!(notice && text.contains("a location"), "{text}");
        assert!(matches!(
            convert(&entry(&photo), &Mentions::default()),
            ToMatrix::Post { parts, .. } if matches!(parts.as_slice(), [Part::Media(_)])
        ));
        let view_once = wa::Message {
            view_once_message_v2: buffa::MessageField::some(wa::message::FutureProofMessage {
                message: buffa::MessageField::some(wa::Message {
                    image_message: buffa::MessageField::some(wa::message::ImageMessage {
                        view_once: Some(true),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
            }),
            ..Default::default()
        };
        let (text, notice) = body(convert(&entry(&view_once), &Mentions::default()));
        assert!(notice && text.contains("view-once"), "{text}");
        let mut broken = entry(&photo);
        // Field 1 claims five bytes and has one.
        broken.payload = vec![0x0a, 0x05, 0x01];
        let (text, notice) = body(convert(&broken, &Mentions::default()));
        assert!(notice && text.contains("could not read"), "{text}");
    }

    #[test]
    fn a_long_text_is_cut_at_spaces_into_pieces_that_fit() {
        let text = "word ".repeat(3_000);
        let pieces = split_text(&text, 6_000);
        assert_eq!(pieces.len(), 3);
        assert!(
            pieces
                .iter()
                .all(|piece| piece.len() <= 6_000 && piece.ends_with(' '))
        );
        assert_eq!(pieces.concat(), text);
        assert_eq!(split_text("short", 6_000), ["short"]);
        assert_eq!(text_parts(&text, &Mentions::default()).len(), 3);
    }

    proptest::proptest! {
        #[test]
        fn pieces_put_together_are_the_text(text in "\\PC{0,300}", max in 1usize..64) {
            let pieces = split_text(&text, max);
            proptest::prop_assert_eq!(pieces.concat(), text.clone());
            for piece in &pieces {
                // Only a character longer than `max` makes a longer piece.
                proptest::prop_assert!(piece.len() <= max || piece.chars().count() == 1);
            }
        }
    }
}
