//! The rest of what a contact and the phone do, as the real whatsapp-rust
//! client sees it: replies, reactions, edits and revokes; typing and
//! presence; a receipt from the user's own phone; a profile picture.

mod support;

use fakewa::proto as wa;
use fakewa::{Chat, FakeServer, ReceiptSpec, SendOptions, ServerEvent};
use std::sync::Arc;
use support::{BoxError, client_event, pair_and_connect, server_event};
use tokio::sync::mpsc;
use whatsapp_rust::wacore::types::events::Event;
use whatsapp_rust::wacore::types::presence::ChatPresence;

const USER: &str = "15550001234";
const ALICE: &str = "15550002001";

async fn next_message(
    events: &mut mpsc::UnboundedReceiver<Arc<Event>>,
    id: &str,
) -> Result<wa::Message, BoxError> {
    client_event(events, id, |event| match event {
        Event::Messages(batch) => batch
            .messages
            .iter()
            .find(|inbound| inbound.info.id.as_str() == id)
            .map(|inbound| (*inbound.message).clone()),
        _ => None,
    })
    .await
}

fn key(chat: &str, id: &str, from_me: bool) -> buffa::MessageField<wa::MessageKey> {
    buffa::MessageField::some(wa::MessageKey {
        remote_jid: Some(format!("{chat}@s.whatsapp.net")),
        from_me: Some(from_me),
        id: Some(id.to_owned()),
        participant: None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_reactions_edits_and_revokes_arrive_as_sent() -> Result<(), BoxError> {
    let server = FakeServer::start().await?;
    let mut seen = server.events();
    let mut user = pair_and_connect(&server, &mut seen, USER).await?;
    let alice = server.contact(ALICE)?;
    let chat = Chat::Direct(USER.into());
    let send = |message: wa::Message| alice.send(&chat, &message, &SendOptions::default());

    let original = alice.send_text(USER, "lunch at noon?")?;
    next_message(&mut user.events, &original).await?;

    let reply = send(wa::Message {
        extended_text_message: buffa::MessageField::some(wa::message::ExtendedTextMessage {
            text: Some("or one?".into()),
            context_info: buffa::MessageField::some(wa::ContextInfo {
                stanza_id: Some(original.clone()),
                participant: Some(format!("{ALICE}@s.whatsapp.net")),
                quoted_message: buffa::MessageField::some(wa::Message {
                    conversation: Some("lunch at noon?".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    })?;
    let got = next_message(&mut user.events, &reply).await?;
    let quoted = got
        .extended_text_message
        .as_option()
        .and_then(|text| text.context_info.as_option())
        .and_then(|context| context.stanza_id.clone());
    assert_eq!(quoted, Some(original.clone()));

    let reaction = send(wa::Message {
        reaction_message: buffa::MessageField::some(wa::message::ReactionMessage {
            key: key(ALICE, &original, false),
            text: Some("👍".into()),
            ..Default::default()
        }),
        ..Default::default()
    })?;
    let got = next_message(&mut user.events, &reaction).await?;
    let reacted = got
        .reaction_message
        .as_option()
        .cloned()
        .ok_or("no reaction")?;
    assert_eq!(reacted.text.as_deref(), Some("👍"));
    assert_eq!(
        reacted.key.as_option().and_then(|k| k.id.clone()),
        Some(original.clone())
    );

    use wa::message::protocol_message::Type;
    let edit = send(wa::Message {
        protocol_message: buffa::MessageField::some(wa::message::ProtocolMessage {
            key: key(ALICE, &original, false),
            r#type: Some(Type::MESSAGE_EDIT),
            edited_message: buffa::MessageField::some(wa::Message {
                conversation: Some("lunch at one?".into()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    })?;
    let got = next_message(&mut user.events, &edit).await?;
    let edited = got
        .protocol_message
        .as_option()
        .and_then(|protocol| protocol.edited_message.as_option())
        .and_then(|message| message.conversation.clone());
    assert_eq!(edited.as_deref(), Some("lunch at one?"));

    let revoke = send(wa::Message {
        protocol_message: buffa::MessageField::some(wa::message::ProtocolMessage {
            key: key(ALICE, &original, false),
            r#type: Some(Type::REVOKE),
            ..Default::default()
        }),
        ..Default::default()
    })?;
    let got = next_message(&mut user.events, &revoke).await?;
    let kind = got
        .protocol_message
        .as_option()
        .and_then(|protocol| protocol.r#type);
    assert_eq!(kind, Some(Type::REVOKE));

    // And the other way: the client reacts, the contact's phone decrypts it.
    user.client
        .send_message(
            alice.jid(),
            wa::Message {
                reaction_message: buffa::MessageField::some(wa::message::ReactionMessage {
                    key: key(ALICE, &original, false),
                    text: Some("❤️".into()),
                    sender_timestamp_ms: Some(1),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await?;
    let at_alice = server_event(&mut seen, "the reaction at alice", |event| match event {
        ServerEvent::MessageDecrypted(received) if received.recipient.user == ALICE => {
            received.message.reaction_message.as_option().cloned()
        }
        _ => None,
    })
    .await?;
    assert_eq!(at_alice.text.as_deref(), Some("❤️"));

    user.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_presence_phone_receipts_and_pictures_reach_the_client() -> Result<(), BoxError> {
    let server = FakeServer::start().await?;
    let mut seen = server.events();
    let mut user = pair_and_connect(&server, &mut seen, USER).await?;
    let alice = server.contact(ALICE)?;

    alice.set_typing(USER, true);
    let (state, sender) = client_event(&mut user.events, "typing", |event| match event {
        Event::ChatPresence(update) => Some((update.state, update.source.sender.user.to_string())),
        _ => None,
    })
    .await?;
    assert_eq!((state, sender.as_str()), (ChatPresence::Composing, ALICE));

    alice.set_presence(USER, false, Some(1_700_000_000));
    let (from, unavailable) = client_event(&mut user.events, "presence", |event| match event {
        Event::Presence(update) => Some((update.from.user.to_string(), update.unavailable)),
        _ => None,
    })
    .await?;
    assert_eq!((from.as_str(), unavailable), (ALICE, true));

    // The user's phone (own JID, device 0) confirms a message the client
    // sent (Alice's phone confirms it too, on its own).
    let sent = user
        .client
        .send_text(alice.jid(), "from the bridge")
        .await?;
    server
        .phone(USER)?
        .send_receipt(&alice.jid(), std::slice::from_ref(&sent.message_id))?;
    let receipt = client_event(
        &mut user.events,
        "the phone's receipt",
        |event| match event {
            Event::Receipt(receipt)
                if receipt.source.sender.user == USER
                    && receipt
                        .message_ids
                        .iter()
                        .any(|id| id.as_str() == sent.message_id) =>
            {
                Some(receipt.source.clone())
            }
            _ => None,
        },
    )
    .await?;
    assert_eq!(receipt.sender.device, 0, "from the phone, not a companion");

    // A profile picture: the query names it, the media server has it.
    let jpeg = b"\xff\xd8\xff\xe0 not really a jpeg".to_vec();
    alice.set_picture(jpeg.clone(), &[USER])?;
    client_event(
        &mut user.events,
        "the picture notification",
        |event| match event {
            Event::PictureUpdate(update) if update.jid.user == ALICE => Some(()),
            _ => None,
        },
    )
    .await?;
    let picture = user
        .client
        .contacts()
        .get_profile_picture(&alice.jid(), false)
        .await?
        .ok_or("no picture")?;
    let path = picture.direct_path.ok_or("no direct path")?;
    assert!(picture.url.ends_with(&path));
    assert_eq!(server.media_blob(&path), Some(jpeg));
    let nobody = server.contact("15550002999")?;
    assert!(
        user.client
            .contacts()
            .get_profile_picture(&nobody.jid(), false)
            .await?
            .is_none()
    );

    // A receipt from the contact for several messages at once.
    let second = user.client.send_text(alice.jid(), "and this").await?;
    alice.send_receipt(
        USER,
        &ReceiptSpec {
            kind: Some("read".into()),
            ids: vec![sent.message_id.clone(), second.message_id.clone()],
        },
    )?;
    let ids = client_event(&mut user.events, "the read receipt", |event| match event {
        Event::Receipt(receipt)
            if receipt.source.sender.user == ALICE
                && receipt.r#type == whatsapp_rust::wacore::types::presence::ReceiptType::Read =>
        {
            Some(
                receipt
                    .message_ids
                    .iter()
                    .map(|id| id.to_string())
                    .collect::<Vec<_>>(),
            )
        }
        _ => None,
    })
    .await?;
    let mut ids = ids;
    ids.sort();
    let mut expected = vec![sent.message_id, second.message_id];
    expected.sort();
    assert_eq!(ids, expected, "one receipt for both messages");

    user.stop().await;
    Ok(())
}
