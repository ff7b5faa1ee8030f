//! Messages between the real whatsapp-rust client and the fake server's
//! contacts and phone: direct and group messages both ways (Signal pkmsg,
//! msg and sender keys), receipts, a retry after an undecryptable message,
//! offline delivery, media both ways, and history sync inline and
//! downloaded.

mod support;

use fakewa::proto as wa;
use fakewa::{
    Chat, FakeServer, GroupChange, HistoryConversation, HistoryDelivery, HistoryMessage,
    HistorySyncScript, HistorySyncType, Jid, MediaKind, ReceiptSpec, ReceivedMessage, Role,
    SendOptions, ServerEvent,
};
use std::sync::Arc;
use support::{
    BoxError, Linking, PairedClient, build_client_on, client_event, pair_and_connect, server_event,
    text_of,
};
use tokio::sync::{broadcast, mpsc};
use whatsapp_rust::wacore::download::MediaType;
use whatsapp_rust::wacore::types::events::Event;
use whatsapp_rust::wacore::types::presence::ReceiptType;

const USER: &str = "15550001234";
const ALICE: &str = "15550002001";
const BOB: &str = "15550002002";

/// A text the client received: (id, chat, sender user, text).
type Text = (String, Jid, String, String);

/// The next `count` texts; one batch (an offline drain) may hold several.
async fn texts(
    events: &mut mpsc::UnboundedReceiver<Arc<Event>>,
    count: usize,
) -> Result<Vec<Text>, BoxError> {
    let mut found = Vec::new();
    while found.len() < count {
        let batch = client_event(events, "text messages", |event| match event {
            Event::Messages(batch) => {
                let texts: Vec<Text> = batch
                    .messages
                    .iter()
                    .filter_map(|inbound| {
                        let text = text_of(&inbound.message)?;
                        let source = &inbound.info.source;
                        Some((
                            inbound.info.id.to_string(),
                            source.chat.clone(),
                            source.sender.user.to_string(),
                            text,
                        ))
                    })
                    .collect();
                (!texts.is_empty()).then_some(texts)
            }
            _ => None,
        })
        .await?;
        found.extend(batch);
    }
    Ok(found)
}

async fn next_text(events: &mut mpsc::UnboundedReceiver<Arc<Event>>) -> Result<Text, BoxError> {
    let mut found = texts(events, 1).await?;
    match found.len() {
        1 => Ok(found.remove(0)),
        more => Err(format!("expected one text, got {more}").into()),
    }
}

async fn decrypted_by(
    seen: &mut broadcast::Receiver<ServerEvent>,
    recipient: &str,
) -> Result<ReceivedMessage, BoxError> {
    server_event(seen, "a message the fake decrypted", |event| match event {
        ServerEvent::MessageDecrypted(received) if received.recipient.user == recipient => {
            Some(received.clone())
        }
        ServerEvent::DecryptFailed { reason, .. } => panic!("the fake could not decrypt: {reason}"),
        _ => None,
    })
    .await
}

/// The `<enc type>`s of the message stanza the server sent with this id.
async fn sent_enc_types(
    seen: &mut broadcast::Receiver<ServerEvent>,
    id: &str,
) -> Result<Vec<String>, BoxError> {
    server_event(seen, "the stanza on the wire", |event| match event {
        ServerEvent::Sent { node, .. }
            if node.tag == "message"
                && node
                    .attrs
                    .get("id")
                    .map(|v| v.as_str().into_owned())
                    .as_deref()
                    == Some(id) =>
        {
            Some(
                node.get_children_by_tag("enc")
                    .filter_map(|enc| enc.attrs.get("type").map(|v| v.as_str().into_owned()))
                    .collect(),
            )
        }
        _ => None,
    })
    .await
}

async fn linked_user(
    server: &FakeServer,
) -> Result<(PairedClient, broadcast::Receiver<ServerEvent>), BoxError> {
    let _ = env_logger::builder().is_test(true).try_init();
    let mut seen = server.events();
    let paired = pair_and_connect(server, &mut seen, USER).await?;
    Ok((paired, seen))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_messages_flow_both_ways_with_receipts_and_a_retry() -> Result<(), BoxError> {
    let server = FakeServer::start().await?;
    let (mut user, mut seen) = linked_user(&server).await?;
    let alice = server.contact(ALICE)?;

    // A contact's first message sets the session up (pkmsg)…
    let first = alice.send_text(USER, "hello from alice")?;
    assert_eq!(sent_enc_types(&mut seen, &first).await?, ["pkmsg"]);
    let (id, chat, sender, text) = next_text(&mut user.events).await?;
    assert_eq!(
        (id.as_str(), text.as_str()),
        (first.as_str(), "hello from alice")
    );
    assert_eq!(chat.user, ALICE);
    assert_eq!(sender, ALICE);
    // …and the client's delivery receipt clears it from the server's queue.
    server_event(&mut seen, "the receipt", |event| match event {
        ServerEvent::Acknowledged { ids, .. } if ids.contains(&first) => Some(()),
        _ => None,
    })
    .await?;

    // The client answers: the contact's phone decrypts it, and the user's
    // own phone decrypts the copy sent to the account's other devices.
    let reply = user.client.send_text(alice.jid(), "hi alice").await?;
    let mut at_alice = None;
    let mut at_phone = None;
    while at_alice.is_none() || at_phone.is_none() {
        let received = server_event(&mut seen, "both copies", |event| match event {
            ServerEvent::MessageDecrypted(received) => Some(received.clone()),
            ServerEvent::DecryptFailed { reason, .. } => panic!("could not decrypt: {reason}"),
            _ => None,
        })
        .await?;
        match received.recipient.user.as_str() {
            ALICE => at_alice = Some(received),
            USER => at_phone = Some(received),
            other => panic!("decrypted by {other}"),
        }
    }
    let (at_alice, at_phone) = (at_alice.ok_or("alice")?, at_phone.ok_or("phone")?);
    assert_eq!(at_alice.id, reply.message_id);
    assert_eq!(text_of(&at_alice.message).as_deref(), Some("hi alice"));
    assert_eq!(at_alice.sender, user.jid);
    assert_eq!(
        at_phone.chat.user, ALICE,
        "the copy names the chat it went to"
    );
    assert_eq!(text_of(&at_phone.message).as_deref(), Some("hi alice"));

    // Once the client has answered, the contact stops sending pkmsg.
    let second = alice.send_text(USER, "second")?;
    assert_eq!(sent_enc_types(&mut seen, &second).await?, ["msg"]);
    assert_eq!(next_text(&mut user.events).await?.3, "second");

    // The contact read the reply.
    alice.send_receipt(
        USER,
        &ReceiptSpec {
            kind: Some("read".into()),
            ids: vec![reply.message_id.clone()],
        },
    )?;
    let read = client_event(&mut user.events, "the read receipt", |event| match event {
        Event::Receipt(receipt) if receipt.r#type == ReceiptType::Read => Some(
            receipt
                .message_ids
                .iter()
                .map(|id| id.to_string())
                .collect::<Vec<_>>(),
        ),
        _ => None,
    })
    .await?;
    assert_eq!(read, [reply.message_id]);

    // A message the client cannot decrypt is asked for again and arrives.
    let garbled = alice.send(
        &Chat::Direct(USER.into()),
        &wa::Message {
            conversation: Some("after a hiccup".into()),
            ..Default::default()
        },
        &SendOptions {
            corrupt_first_attempt: true,
            ..Default::default()
        },
    )?;
    server_event(&mut seen, "the retry receipt", |event| match event {
        ServerEvent::RetryRequested { id, .. } if *id == garbled => Some(()),
        _ => None,
    })
    .await?;
    let (id, _, _, text) = next_text(&mut user.events).await?;
    assert_eq!(
        (id.as_str(), text.as_str()),
        (garbled.as_str(), "after a hiccup")
    );

    user.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_messages_flow_both_ways_under_sender_keys() -> Result<(), BoxError> {
    let server = FakeServer::start().await?;
    let (mut user, mut seen) = linked_user(&server).await?;
    let alice = server.contact(ALICE)?;
    server.contact(BOB)?;
    let group = server.create_group(
        ALICE,
        "Weekend plans",
        &[(USER, Role::Member), (BOB, Role::Admin)],
    )?;

    // The first group message carries Alice's sender key (pairwise) and the
    // content under it; the next one only the content.
    let first = alice.send_group_text(&group.jid(), "who is in?")?;
    assert_eq!(sent_enc_types(&mut seen, &first).await?, ["pkmsg", "skmsg"]);
    let (id, chat, sender, text) = next_text(&mut user.events).await?;
    assert_eq!((id.as_str(), text.as_str()), (first.as_str(), "who is in?"));
    assert_eq!(chat, group.jid());
    assert_eq!(sender, ALICE);
    let second = alice.send_group_text(&group.jid(), "anyone?")?;
    assert_eq!(sent_enc_types(&mut seen, &second).await?, ["skmsg"]);
    assert_eq!(next_text(&mut user.events).await?.3, "anyone?");

    // The client's answer reaches both other members' phones.
    let sent = user.client.send_text(group.jid(), "count me in").await?;
    let mut readers = Vec::new();
    while readers.len() < 2 {
        let received = server_event(&mut seen, "group copies", |event| match event {
            ServerEvent::MessageDecrypted(received) if received.chat == group.jid() => {
                Some(received.clone())
            }
            ServerEvent::DecryptFailed {
                recipient, reason, ..
            } if recipient.user != USER => panic!("{recipient} could not decrypt: {reason}"),
            _ => None,
        })
        .await?;
        if received.recipient.user != USER {
            assert_eq!(received.id, sent.message_id);
            assert_eq!(text_of(&received.message).as_deref(), Some("count me in"));
            readers.push(received.recipient.user.to_string());
        }
    }
    readers.sort();
    assert_eq!(readers, [ALICE, BOB]);

    // A change on WhatsApp reaches the client as a group update.
    group.change(ALICE, GroupChange::Subject("Sunday plans".into()))?;
    client_event(&mut user.events, "the group update", |event| match event {
        Event::GroupUpdate(update) if update.group_jid == group.jid() => Some(()),
        _ => None,
    })
    .await?;

    user.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_sent_while_offline_arrive_at_the_next_login() -> Result<(), BoxError> {
    let server = FakeServer::start().await?;
    let (user, mut seen) = linked_user(&server).await?;
    let alice = server.contact(ALICE)?;
    let device = user.jid.clone();
    let backend = user.backend.clone();
    let conn = user.conn;
    user.stop().await;
    server_event(&mut seen, "the disconnect", |event| match event {
        ServerEvent::Disconnected { conn: gone } if *gone == conn => Some(()),
        _ => None,
    })
    .await?;

    // (The phone's welcome may still be unacknowledged: the client was
    // stopped right after connecting.)
    let waiting = server.pending_for(&device);
    let first = alice.send_text(USER, "while you were away")?;
    let second = alice.send_text(USER, "and another")?;
    assert_eq!(server.pending_for(&device), waiting + 2);

    let (bot, mut events) = build_client_on(&server, backend, Linking::Qr).await?;
    let client = bot.client();
    let handle = bot.spawn();
    // Both, whatever batches the client's event handlers deliver them in;
    // the ids (allocated in sending order) give the order back.
    let mut arrived: Vec<(String, String)> = texts(&mut events, 2)
        .await?
        .into_iter()
        .map(|(id, _, _, text)| (id, text))
        .collect();
    arrived.sort();
    assert_eq!(
        arrived,
        [
            (first.clone(), "while you were away".to_owned()),
            (second.clone(), "and another".to_owned())
        ]
    );
    // Everything that waited is acknowledged in the end.
    while server.pending_for(&device) > 0 {
        server_event(&mut seen, "the receipts", |event| {
            matches!(event, ServerEvent::Acknowledged { .. }).then_some(())
        })
        .await?;
    }
    client.disconnect().await;
    handle.abort();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_is_encrypted_uploaded_and_downloaded_both_ways() -> Result<(), BoxError> {
    let server = FakeServer::start().await?;
    let (mut user, mut seen) = linked_user(&server).await?;
    let alice = server.contact(ALICE)?;

    // Alice sends a photo: the client downloads it over TLS and decrypts it.
    let photo: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    let stored = alice.upload(&photo, MediaKind::Image)?;
    let image = wa::Message {
        image_message: buffa::MessageField::some(wa::message::ImageMessage {
            url: Some(format!(
                "https://{}{}",
                server.media_host(),
                stored.direct_path
            )),
            direct_path: Some(stored.direct_path.clone()),
            media_key: Some(stored.media_key.to_vec()),
            file_sha256: Some(stored.file_sha256.to_vec()),
            file_enc_sha256: Some(stored.file_enc_sha256.to_vec()),
            file_length: Some(stored.file_length),
            mimetype: Some("image/jpeg".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    alice.send(&Chat::Direct(USER.into()), &image, &SendOptions::default())?;
    let received = client_event(&mut user.events, "the image", |event| match event {
        Event::Messages(batch) => batch
            .messages
            .iter()
            .find_map(|inbound| inbound.message.image_message.as_option().cloned()),
        _ => None,
    })
    .await?;
    assert_eq!(user.client.download(&received).await?, photo);

    // The client uploads one and sends it; Alice's phone gets the message
    // and the blob decrypts to the same bytes.
    let picture: Vec<u8> = (0..25_000u32).map(|i| (i % 13) as u8).collect();
    let upload = user
        .client
        .upload(picture.clone(), MediaType::Image, Default::default())
        .await?;
    let outgoing = wa::Message {
        image_message: buffa::MessageField::some(wa::message::ImageMessage {
            url: Some(upload.url.clone()),
            direct_path: Some(upload.direct_path.clone()),
            media_key: Some(upload.media_key.to_vec()),
            file_sha256: Some(upload.file_sha256.to_vec()),
            file_enc_sha256: Some(upload.file_enc_sha256.to_vec()),
            file_length: Some(upload.file_length),
            mimetype: Some("image/png".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    user.client.send_message(alice.jid(), outgoing).await?;
    let at_alice = decrypted_by(&mut seen, ALICE).await?;
    let image = at_alice
        .message
        .image_message
        .as_option()
        .cloned()
        .ok_or("alice got no image")?;
    let blob = server
        .media_blob(image.direct_path.as_deref().unwrap_or_default())
        .ok_or("the upload is not on the media server")?;
    let key = image.media_key.clone().unwrap_or_default();
    assert_eq!(
        fakewa::decrypt_media(&blob, MediaKind::Image, &key)?,
        picture
    );

    user.stop().await;
    Ok(())
}

fn history_script(alice: &Jid) -> HistorySyncScript {
    let mut script = HistorySyncScript::new(HistorySyncType::INITIAL_BOOTSTRAP);
    script.conversations.push(HistoryConversation {
        chat: alice.clone(),
        name: Some("Alice".into()),
        unread_count: 1,
        pinned: true,
        messages: vec![
            HistoryMessage::text("HIST0001", false, 1_700_000_000, "an old question"),
            HistoryMessage::text("HIST0002", true, 1_700_000_060, "an old answer"),
        ],
        ..Default::default()
    });
    script
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_sync_arrives_inline_and_by_download() -> Result<(), BoxError> {
    let server = FakeServer::start().await?;
    let (mut user, mut seen) = linked_user(&server).await?;
    let alice = server.contact(ALICE)?;
    let phone = server.phone(USER)?;

    for delivery in [HistoryDelivery::Inline, HistoryDelivery::Download] {
        phone.send_history_sync(&history_script(&alice.jid()), delivery)?;
        let sync = client_event(&mut user.events, "the history sync", |event| match event {
            Event::HistorySync(sync) if sync.sync_type() == 0 => sync.get().cloned(),
            _ => None,
        })
        .await?;
        assert_eq!(sync.conversations.len(), 1);
        let conversation = &sync.conversations[0];
        assert_eq!(conversation.id, alice.jid().to_string());
        assert_eq!(conversation.name.as_deref(), Some("Alice"));
        let texts: Vec<String> = conversation
            .messages
            .iter()
            .filter_map(|item| item.message.as_option())
            .filter_map(|info| info.message.as_option().and_then(text_of))
            .collect();
        assert_eq!(texts, ["an old question", "an old answer"]);
        if delivery == HistoryDelivery::Download {
            server_event(&mut seen, "the download", |event| {
                matches!(event, ServerEvent::MediaFetched { .. }).then_some(())
            })
            .await?;
        }
    }

    user.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interleaved_group_and_direct_messages_all_arrive() -> Result<(), BoxError> {
    let server = FakeServer::start().await?;
    let (mut user, _seen) = linked_user(&server).await?;
    let numbers = ["15550003001", "15550003002", "15550003003"];
    let senders: Vec<_> = numbers
        .iter()
        .map(|number| server.contact(number))
        .collect::<Result<_, _>>()?;
    let group = server.create_group(
        numbers[0],
        "Three",
        &[
            (USER, Role::Member),
            (numbers[1], Role::Member),
            (numbers[2], Role::Member),
        ],
    )?;
    let alice = server.contact(ALICE)?;
    let bob = server.contact(BOB)?;
    let mut sent = Vec::new();
    for i in 0..60 {
        // Direct chats interleaved, as a busy account has them.
        let text = format!("g{i:02}");
        match i % 5 {
            0 => alice.send_text(USER, &text)?,
            1 => bob.send_text(USER, &text)?,
            n => senders[n - 2].send_group_text(&group.jid(), &text)?,
        };
        sent.push(text);
    }
    let mut got: Vec<String> = texts(&mut user.events, 60)
        .await?
        .into_iter()
        .map(|(_, _, _, text)| text)
        .collect();
    got.sort();
    assert_eq!(got, sent);
    user.stop().await;
    Ok(())
}
