//! WhatsApp locations, contact cards and polls → Matrix: a location event, a vCard
//! file, a poll (with the text fallback clients without polls show).

use ruma::events::poll::unstable_start::{
    NewUnstablePollStartEventContent, UnstablePollAnswer, UnstablePollAnswers,
    UnstablePollStartContentBlock,
};
use ruma::events::room::MediaSource;
use ruma::events::room::message::{
    FileInfo, FileMessageEventContent, LocationMessageEventContent, MessageType,
    RoomMessageEventContent,
};
use ruma::{OwnedMxcUri, UInt};
use whatsapp_rust::waproto::whatsapp as wa;

/// A file the message itself carries (a contact's vCard), to upload as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub bytes: Vec<u8>,
    pub filename: String,
    pub mimetype: String,
}

impl Attachment {
    /// The file event, once uploaded to `url`.
    pub fn content(&self, url: OwnedMxcUri) -> RoomMessageEventContent {
        let mut info = FileInfo::new();
        info.mimetype = Some(self.mimetype.clone());
        info.size = UInt::new(self.bytes.len() as u64);
        let content = FileMessageEventContent::new(self.filename.clone(), MediaSource::Plain(url))
            .info(Box::new(info));
        RoomMessageEventContent::new(MessageType::File(content))
    }
}

/// `geo:` URI of a point, as Matrix locations carry it.
fn geo_uri(latitude: f64, longitude: f64) -> Option<String> {
    let valid = (-90.0..=90.0).contains(&latitude) && (-180.0..=180.0).contains(&longitude);
    valid.then(|| format!("geo:{latitude:.6},{longitude:.6}"))
}

/// A shared place or a live location (shown as where it was when shared).
pub fn location(message: &wa::Message) -> Option<RoomMessageEventContent> {
    if let Some(place) = message.location_message.as_option() {
        let uri = geo_uri(place.degrees_latitude?, place.degrees_longitude?)?;
        let lines: Vec<&str> = [place.name.as_deref(), place.address.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect();
        let body = if lines.is_empty() {
            format!("Location: {}", &uri[4..])
        } else {
            format!("Location: {}", lines.join(", "))
        };
        return Some(RoomMessageEventContent::new(MessageType::Location(
            LocationMessageEventContent::new(body, uri),
        )));
    }
    let live = message.live_location_message.as_option()?;
    let uri = geo_uri(live.degrees_latitude?, live.degrees_longitude?)?;
    let body = format!(
        "Live location (follow it on your phone), last at {}",
        &uri[4..]
    );
    Some(RoomMessageEventContent::new(MessageType::Location(
        LocationMessageEventContent::new(body, uri),
    )))
}

/// A name that is safe as a file name.
fn file_stem(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == ' ' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = cleaned.trim();
    if trimmed.is_empty() {
        "contact".into()
    } else {
        trimmed.chars().take(64).collect()
    }
}

fn card(contact: &wa::message::ContactMessage) -> Option<Attachment> {
    let vcard = contact
        .vcard
        .as_deref()
        .filter(|vcard| !vcard.trim().is_empty())?;
    let name = contact.display_name.as_deref().unwrap_or("contact");
    Some(Attachment {
        bytes: vcard.as_bytes().to_vec(),
        filename: format!("{}.vcf", file_stem(name)),
        mimetype: "text/vcard".into(),
    })
}

/// The contact cards a message shares, one file each.
pub fn contacts(message: &wa::Message) -> Option<Vec<Attachment>> {
    if let Some(contact) = message.contact_message.as_option() {
        return card(contact).map(|card| vec![card]);
    }
    let many = message.contacts_array_message.as_option()?;
    let cards: Vec<Attachment> = many.contacts.iter().filter_map(card).collect();
    (!cards.is_empty()).then_some(cards)
}

/// A poll: the question and its options as a Matrix poll, with a numbered text for
/// clients that do not show polls. Options are numbered from 1, as on the phone.
pub fn poll(message: &wa::Message) -> Option<NewUnstablePollStartEventContent> {
    let (question, options, selectable) = [
        message.poll_creation_message.as_option(),
        message.poll_creation_message_v2.as_option(),
        message.poll_creation_message_v3.as_option(),
    ]
    .into_iter()
    .flatten()
    .next()
    .map(|poll| {
        let options: Vec<String> = poll
            .options
            .iter()
            .filter_map(|option| option.option_name.clone())
            .collect();
        (
            poll.name.clone().unwrap_or_default(),
            options,
            poll.selectable_options_count,
        )
    })?;
    let answers: Vec<UnstablePollAnswer> = options
        .iter()
        .enumerate()
        .map(|(index, text)| UnstablePollAnswer::new((index + 1).to_string(), text.clone()))
        .collect();
    let answers = UnstablePollAnswers::try_from(answers).ok()?;
    let mut block = UnstablePollStartContentBlock::new(question.clone(), answers);
    // Everyone in a WhatsApp poll sees the votes as they come.
    block.kind = ruma::events::poll::start::PollKind::Disclosed;
    if let Some(count) = selectable.filter(|count| *count > 0) {
        block.max_selections = UInt::from(count);
    } else {
        // 0 on WhatsApp: pick as many as you like.
        block.max_selections = UInt::new(options.len() as u64).unwrap_or(UInt::MIN);
    }
    let mut fallback = format!("Poll: {question}");
    for (index, option) in options.iter().enumerate() {
        fallback.push_str(&format!("\n{}. {option}", index + 1));
    }
    Some(NewUnstablePollStartEventContent::plain_text(
        fallback, block,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use whatsapp_rust::waproto::buffa;

    #[test]
    fn a_place_becomes_a_matrix_location_with_its_name() {
        let message = wa::Message {
            location_message: buffa::MessageField::some(wa::message::LocationMessage {
                degrees_latitude: Some(52.520008),
                degrees_longitude: Some(13.404954),
                name: Some("Alexanderplatz".into()),
                address: Some("Berlin".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let MessageType::Location(place) = location(&message).expect("a location").msgtype else {
            panic!("not a location");
        };
        assert_eq!(place.geo_uri, "geo:52.520008,13.404954");
        assert_eq!(place.body, "Location: Alexanderplatz, Berlin");
        let nowhere = wa::Message {
            location_message: buffa::MessageField::some(wa::message::LocationMessage {
                degrees_latitude: Some(91.0),
                degrees_longitude: Some(0.0),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(
            location(&nowhere).is_none(),
            "an impossible point is not a place"
        );
    }

    #[test]
    fn contact_cards_become_vcard_files() {
        let message = wa::Message {
            contacts_array_message: buffa::MessageField::some(wa::message::ContactsArrayMessage {
                contacts: vec![
                    wa::message::ContactMessage {
                        display_name: Some("Bob / Work".into()),
                        vcard: Some("BEGIN:VCARD\nFN:Bob\nEND:VCARD".into()),
                        ..Default::default()
                    },
                    wa::message::ContactMessage {
                        display_name: Some("Empty".into()),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }),
            ..Default::default()
        };
        let cards = contacts(&message).expect("cards");
        assert_eq!(
            cards.len(),
            1,
            "a contact without a card has nothing to share"
        );
        assert_eq!(cards[0].filename, "Bob _ Work.vcf");
        assert_eq!(cards[0].mimetype, "text/vcard");
    }

    #[test]
    fn a_poll_has_its_options_and_a_numbered_fallback() {
        let message = wa::Message {
            poll_creation_message_v3: buffa::MessageField::some(wa::message::PollCreationMessage {
                name: Some("Lunch?".into()),
                options: ["Pizza", "Sushi"]
                    .into_iter()
                    .map(|name| wa::message::poll_creation_message::Option {
                        option_name: Some(name.into()),
                        ..Default::default()
                    })
                    .collect(),
                selectable_options_count: Some(1),
                ..Default::default()
            }),
            ..Default::default()
        };
        let poll = poll(&message).expect("a poll");
        assert_eq!(poll.poll_start.question.text, "Lunch?");
        assert_eq!(poll.poll_start.answers.len(), 2);
        assert_eq!(poll.poll_start.max_selections, UInt::from(1u32));
        assert_eq!(
            poll.poll_start.kind,
            ruma::events::poll::start::PollKind::Disclosed
        );
        assert_eq!(
            poll.text.as_deref(),
            Some("Poll: Lunch?\n1. Pizza\n2. Sushi")
        );
    }
}
