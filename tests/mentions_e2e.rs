//! Mentions both ways: a WhatsApp `@number` the message lists becomes a pill to the
//! ghost (or to the person themselves for their own number, so Matrix highlights it),
//! and a pill to a ghost sent from Matrix reaches the phone as a real WhatsApp mention.

mod common;

use common::bridge::Database;
use common::whatsapp::{LINKING, Linked, linked, server_event};
use fakewa::proto as wa;
use fakewa::{Chat, SendOptions, ServerEvent};
use serde_json::json;
use whatsapp_rust::waproto::buffa;

const PHONE: &str = "15550001234";
const ALICE: &str = "15550002001";
const BOB: &str = "15550002002";
const ALICE_GHOST: &str = "@whatsapp_15550002001:localhost";
const BOB_GHOST: &str = "@whatsapp_15550002002:localhost";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentions_become_pills_and_pills_become_mentions() {
    let Linked {
        server,
        env: _env,
        mut seen,
        user: person,
        ..
    } = linked(Database::Sqlite, PHONE).await;
    let alice = server.contact(ALICE).expect("contact");
    let mention = wa::Message {
        extended_text_message: buffa::MessageField::some(wa::message::ExtendedTextMessage {
            text: Some(format!("*hey* @{PHONE}, ask @{BOB} (not @123)")),
            context_info: buffa::MessageField::some(wa::ContextInfo {
                mentioned_jid: vec![
                    format!("{PHONE}@s.whatsapp.net"),
                    format!("{BOB}@s.whatsapp.net"),
                ],
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    alice
        .send(
            &Chat::Direct(PHONE.into()),
            &mention,
            &SendOptions::default(),
        )
        .expect("send");

    let room = common::wait_for("the portal invite", LINKING, || async {
        let (room, _) = person.invites().await.into_iter().next()?;
        person.join(&room).await;
        Some(room)
    })
    .await;
    let event = common::wait_for("the mention", LINKING, || async {
        person
            .timeline(&room)
            .await
            .into_iter()
            .find(|event| event["sender"] == ALICE_GHOST && event["type"] == "m.room.message")
    })
    .await;
    let content = &event["content"];
    assert_eq!(
        content["body"], "*hey* alice, ask +15550002002 (not @123)",
        "the body names people"
    );
    assert_eq!(
        content["formatted_body"],
        concat!(
            r#"<strong>hey</strong> <a href="https://matrix.to/#/@alice:localhost">alice</a>, "#,
            r#"ask <a href="https://matrix.to/#/@whatsapp_15550002002:localhost">+15550002002</a> (not @123)"#
        )
    );
    assert_eq!(
        content["m.mentions"]["user_ids"],
        json!(["@alice:localhost", BOB_GHOST])
    );

    // From Matrix: a pill to Alice's ghost and one to a Matrix-only user.
    person
        .send_event(
            &room,
            "m.room.message",
            json!({
                "msgtype": "m.text",
                "body": "Alice: see Carol",
                "format": "org.matrix.custom.html",
                "formatted_body": format!(
                    r#"<a href="https://matrix.to/#/{ALICE_GHOST}">Alice</a>: see <a href="https://matrix.to/#/@carol:localhost">Carol</a>"#
                ),
                "m.mentions": { "user_ids": [ALICE_GHOST] }
            }),
        )
        .await;
    let sent = server_event(&mut seen, "the mention on the phone", |event| match event {
        ServerEvent::MessageDecrypted(message) if message.recipient.user == ALICE => {
            Some(message.message.clone())
        }
        _ => None,
    })
    .await;
    let text = sent
        .extended_text_message
        .as_option()
        .expect("an extended text");
    assert_eq!(
        text.text.as_deref(),
        Some(format!("@{ALICE}: see Carol").as_str())
    );
    assert_eq!(
        text.context_info
            .as_option()
            .map(|context| context.mentioned_jid.clone()),
        Some(vec![format!("{ALICE}@s.whatsapp.net")])
    );
}
