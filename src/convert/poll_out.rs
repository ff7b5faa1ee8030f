//! A Matrix poll (MSC3381 `poll.start`) → a WhatsApp poll: single choice as
//! `pollCreationMessageV3`, several choices as `pollCreationMessage`, with the message
//! secret voters derive their vote keys from.

use ruma::events::poll::unstable_start::UnstablePollStartContentBlock;
use whatsapp_rust::waproto::buffa;
use whatsapp_rust::waproto::whatsapp as wa;

use super::to_whatsapp::NotBridged;
use crate::whatsapp::outgoing::OutgoingMessage;

/// WhatsApp polls have 2 to 12 options.
const MIN_OPTIONS: usize = 2;
const MAX_OPTIONS: usize = 12;

/// The WhatsApp poll for a Matrix poll; `secret` is the poll's fresh 32-byte secret.
pub fn poll(
    block: &UnstablePollStartContentBlock,
    secret: [u8; 32],
) -> Result<OutgoingMessage, NotBridged> {
    let question = block.question.text.trim();
    if question.is_empty() {
        return Err(NotBridged::Invalid("a poll without a question"));
    }
    let options: Vec<String> = block
        .answers
        .iter()
        .map(|answer| answer.text.trim().to_owned())
        .collect();
    if !(MIN_OPTIONS..=MAX_OPTIONS).contains(&options.len()) {
        return Err(NotBridged::Invalid("a WhatsApp poll needs 2 to 12 answers"));
    }
    if options.iter().any(String::is_empty) {
        return Err(NotBridged::Invalid("a poll with an empty answer"));
    }
    let mut seen = std::collections::HashSet::new();
    if !options
        .iter()
        .all(|option| seen.insert(option.to_lowercase()))
    {
        return Err(NotBridged::Invalid(
            "a poll with two answers of the same text",
        ));
    }
    let selectable = u32::try_from(u64::from(block.max_selections))
        .unwrap_or(u32::MAX)
        .clamp(1, options.len() as u32);
    let creation = wa::message::PollCreationMessage {
        name: Some(question.to_owned()),
        options: options
            .into_iter()
            .map(|name| wa::message::poll_creation_message::Option {
                option_name: Some(name),
                ..Default::default()
            })
            .collect(),
        // WhatsApp writes 0 for "as many as there are".
        selectable_options_count: Some(if selectable == 1 { 1 } else { 0 }),
        ..Default::default()
    };
    let mut message = if selectable == 1 {
        wa::Message {
            poll_creation_message_v3: buffa::MessageField::some(creation),
            ..Default::default()
        }
    } else {
        wa::Message {
            poll_creation_message: buffa::MessageField::some(creation),
            ..Default::default()
        }
    };
    message.message_context_info = buffa::MessageField::some(wa::MessageContextInfo {
        message_secret: Some(secret.to_vec()),
        ..Default::default()
    });
    Ok(OutgoingMessage::new(message))
}

/// The user's vote in a poll (`target`), already encrypted.
pub fn vote(
    target: &super::to_whatsapp::WaTarget,
    payload: Vec<u8>,
    iv: Vec<u8>,
    now_ms: i64,
) -> OutgoingMessage {
    OutgoingMessage::new(wa::Message {
        poll_update_message: buffa::MessageField::some(wa::message::PollUpdateMessage {
            poll_creation_message_key: target.key(),
            vote: buffa::MessageField::some(wa::message::PollEncValue {
                enc_payload: Some(payload),
                enc_iv: Some(iv),
            }),
            sender_timestamp_ms: Some(now_ms),
            ..Default::default()
        }),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruma::events::poll::unstable_start::{UnstablePollAnswer, UnstablePollAnswers};

    fn block(question: &str, answers: &[&str], max: u32) -> UnstablePollStartContentBlock {
        let answers: Vec<UnstablePollAnswer> = answers
            .iter()
            .enumerate()
            .map(|(i, text)| UnstablePollAnswer::new(format!("a{i}"), *text))
            .collect();
        let mut block = UnstablePollStartContentBlock::new(
            question,
            UnstablePollAnswers::try_from(answers).expect("answers"),
        );
        block.max_selections = max.into();
        block
    }

    #[test]
    fn single_and_multiple_choice_polls() {
        let single = poll(&block("Dinner?", &["Home", "Out"], 1), [7; 32]).expect("poll");
        let created = single.0.poll_creation_message_v3.as_option().expect("v3");
        assert_eq!(created.name.as_deref(), Some("Dinner?"));
        assert_eq!(created.options.len(), 2);
        assert_eq!(created.selectable_options_count, Some(1));
        assert_eq!(
            single
                .0
                .message_context_info
                .as_option()
                .and_then(|info| info.message_secret.clone()),
            Some(vec![7; 32])
        );
        let multiple =
            poll(&block("Which days?", &["Mon", "Tue", "Wed"], 3), [1; 32]).expect("poll");
        assert!(multiple.0.poll_creation_message.is_set());
    }

    #[test]
    fn polls_whatsapp_cannot_show_are_refused() {
        for bad in [
            block("Only one?", &["Yes"], 1),
            block("Same?", &["Yes", "yes"], 1),
            block(" ", &["A", "B"], 1),
        ] {
            assert!(matches!(poll(&bad, [0; 32]), Err(NotBridged::Invalid(_))));
        }
    }
}
