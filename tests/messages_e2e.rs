//! Messages end to end: fake WhatsApp contacts write to a person linked through the
//! bridge, portals appear in the person's Matrix account with the contacts as ghosts,
//! and what the person writes there reaches the contacts' phones. Order, duplicates and
//! restarts included.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::bridge::Database;
use common::user::MatrixUser;
use common::whatsapp::{LINKING, Linked, linked, server_event};
use fakewa::proto as wa;
use fakewa::{Chat, Role, SendOptions, ServerEvent};
use serde_json::Value;

const PHONE: &str = "15550001234";
const ALICE: &str = "15550002001";

/// The ghost MXID of a phone number, as the test config's template makes it.
fn ghost(number: &str) -> String {
    format!("@whatsapp_{number}:localhost")
}

/// Accepts every invite; returns the rooms joined, with whether each was a direct chat.
async fn accept_invites(user: &MatrixUser, expected: usize) -> Vec<(String, bool)> {
    let deadline = tokio::time::Instant::now() + LINKING;
    let mut joined = Vec::new();
    while joined.len() < expected {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {expected} portal invites came",
            joined.len()
        );
        for (room, is_direct) in user.invites().await {
            user.join(&room).await;
            joined.push((room, is_direct));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    joined
}

/// The chat a portal's bodies belong to, by the numbering of the test messages.
fn chat_of(bodies: &[String]) -> &'static str {
    let residue = bodies
        .iter()
        .filter_map(|body| body.trim_start_matches("message ").parse::<u32>().ok())
        .map(|n| n % 5)
        .next();
    match residue {
        Some(0) => "alice",
        Some(1) => "bob",
        _ => "group",
    }
}

/// The messages of the room from `sender`, oldest first.
async fn messages(user: &MatrixUser, room: &str, sender: &str) -> Vec<Value> {
    user.timeline(room)
        .await
        .into_iter()
        .filter(|event| event["type"] == "m.room.message" && event["sender"] == sender)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_flows_both_ways_through_a_direct_chat_portal() {
    let Linked {
        server,
        env: _env,
        mut seen,
        bot: _bot,
        user: person,
        ..
    } = linked(Database::Sqlite, PHONE).await;
    let contact = server.contact(ALICE).expect("contact");
    contact.set_push_name("Alice Liddell").expect("name");

    let sent_at = 1_700_000_123;
    contact
        .send(
            &Chat::Direct(PHONE.into()),
            &wa::Message {
                conversation: Some("hello from WhatsApp".into()),
                ..Default::default()
            },
            &SendOptions {
                timestamp: Some(sent_at),
                ..Default::default()
            },
        )
        .expect("send");
    let rooms = accept_invites(&person, 1).await;
    let (portal, is_direct) = rooms[0].clone();
    assert!(
        is_direct,
        "a direct chat portal is marked direct in the invite"
    );

    let arrived = common::wait_for("the message in the portal", LINKING, || async {
        messages(&person, &portal, &ghost(ALICE))
            .await
            .into_iter()
            .next()
    })
    .await;
    assert_eq!(arrived["content"]["body"], "hello from WhatsApp");
    assert_eq!(
        arrived["origin_server_ts"].as_i64(),
        Some(sent_at as i64 * 1000),
        "the event keeps the WhatsApp time"
    );
    let member = person
        .state(&portal, "m.room.member", &ghost(ALICE))
        .await
        .expect("the ghost is a member");
    assert_eq!(member["displayname"], "Alice Liddell");
    let bridge_state = person
        .state(
            &portal,
            "m.bridge",
            &format!("whatsapp/{ALICE}@s.whatsapp.net"),
        )
        .await
        .expect("the room says which chat it is");
    assert_eq!(
        bridge_state["channel"]["id"],
        format!("{ALICE}@s.whatsapp.net")
    );

    // The person answers in the portal; Alice's phone decrypts it.
    person.send_text(&portal, "hello from Matrix").await;
    let at_alice = server_event(&mut seen, "the answer at alice", |event| match event {
        ServerEvent::MessageDecrypted(received) if received.recipient.user == ALICE => {
            received.message.conversation.clone()
        }
        _ => None,
    })
    .await;
    assert_eq!(at_alice, "hello from Matrix");

    // The same WhatsApp message delivered again is one event.
    let again = SendOptions {
        id: Some("REPEATED0001".into()),
        ..Default::default()
    };
    for _ in 0..3 {
        contact
            .send(
                &Chat::Direct(PHONE.into()),
                &wa::Message {
                    conversation: Some("said three times".into()),
                    ..Default::default()
                },
                &again,
            )
            .expect("send");
    }
    contact.send_text(PHONE, "said once").expect("send");
    common::wait_for("the last message", LINKING, || async {
        messages(&person, &portal, &ghost(ALICE))
            .await
            .iter()
            .any(|event| event["content"]["body"] == "said once")
            .then_some(())
    })
    .await;
    let repeated = messages(&person, &portal, &ghost(ALICE))
        .await
        .iter()
        .filter(|event| event["content"]["body"] == "said three times")
        .count();
    assert_eq!(repeated, 1, "a redelivered message is bridged once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_messages_in_three_chats_arrive_complete_and_in_order_across_a_restart() {
    let Linked {
        server,
        mut env,
        bot,
        user: person,
        ..
    } = linked(Database::Sqlite, PHONE).await;
    let numbers = [
        ALICE,
        "15550002002",
        "15550002003",
        "15550002004",
        "15550002005",
    ];
    let contacts: Vec<_> = numbers
        .iter()
        .map(|number| server.contact(number).expect("contact"))
        .collect();
    let group = server
        .create_group(
            numbers[2],
            "Five of us",
            &[
                (PHONE, Role::Member),
                (numbers[3], Role::Member),
                (numbers[4], Role::Member),
            ],
        )
        .expect("group");

    // 200 messages: Alice and Bob in their direct chats, three people in the group.
    // The bridge is restarted in the middle: what it had not bridged yet waits in its
    // inbox or on the server, and nothing is lost or doubled.
    let mut expected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for i in 0..200 {
        let text = format!("message {i:03}");
        let (chat, who) = match i % 5 {
            0 => ("alice", 0),
            1 => ("bob", 1),
            n => ("group", n),
        };
        if chat == "group" {
            contacts[who]
                .send_group_text(&group.jid(), &text)
                .expect("send");
        } else {
            contacts[who].send_text(PHONE, &text).expect("send");
        }
        expected.entry(chat.to_owned()).or_default().push(text);
        if i == 100 {
            env.restart_bridge().await;
        }
    }

    let rooms = accept_invites(&person, 3).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    let by_chat = loop {
        let mut by_chat: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (room, _) in &rooms {
            let bodies: Vec<String> = person
                .timeline(room)
                .await
                .into_iter()
                .filter(|event| {
                    event["type"] == "m.room.message" && event["sender"] != bot.as_str()
                })
                .filter_map(|event| event["content"]["body"].as_str().map(str::to_owned))
                .collect();
            by_chat.insert(chat_of(&bodies).to_owned(), bodies);
        }
        let total: usize = by_chat.values().map(Vec::len).sum();
        if total >= 200 || tokio::time::Instant::now() > deadline {
            break by_chat;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(
        by_chat, expected,
        "every message once, in each chat's order"
    );
}
