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
use whatsapp_rust::waproto::buffa;

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
            // A sync can still list an invite that was just accepted.
            if joined.iter().any(|(seen, _)| *seen == room) {
                continue;
            }
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

    // Formatting, both ways.
    contact
        .send_text(PHONE, "*lunch* at _noon_?")
        .expect("send");
    let formatted = common::wait_for("the formatted message", LINKING, || async {
        messages(&person, &portal, &ghost(ALICE))
            .await
            .into_iter()
            .find(|event| event["content"]["body"] == "*lunch* at _noon_?")
    })
    .await;
    assert_eq!(
        formatted["content"]["formatted_body"],
        "<strong>lunch</strong> at <em>noon</em>?"
    );
    person
        .send_event(
            &portal,
            "m.room.message",
            serde_json::json!({
                "msgtype": "m.text",
                "body": "**yes**, ~~no~~",
                "format": "org.matrix.custom.html",
                "formatted_body": "<strong>yes</strong>, <del>no</del>",
            }),
        )
        .await;
    let marked = server_event(&mut seen, "the formatted answer", |event| match event {
        ServerEvent::MessageDecrypted(received) if received.recipient.user == ALICE => {
            received.message.conversation.clone()
        }
        _ => None,
    })
    .await;
    assert_eq!(marked, "*yes*, ~no~");

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
    // A restart in the middle of a portal's creation must not make a second room.
    assert_eq!(
        person.invites().await,
        Vec::new(),
        "no second portal for a chat"
    );
}

/// The next event of the room that `pick` accepts.
async fn room_event(
    user: &MatrixUser,
    room: &str,
    what: &str,
    pick: impl Fn(&Value) -> bool,
) -> Value {
    common::wait_for(what, LINKING, || async {
        user.timeline(room)
            .await
            .into_iter()
            .find(|event| pick(event))
    })
    .await
}

async fn at_alice(
    seen: &mut tokio::sync::broadcast::Receiver<ServerEvent>,
    what: &str,
) -> wa::Message {
    *server_event(seen, what, |event| match event {
        ServerEvent::MessageDecrypted(received) if received.recipient.user == ALICE => {
            Some(received.message.clone())
        }
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_reactions_edits_and_deletions_flow_both_ways() {
    let Linked {
        server,
        mut env,
        mut seen,
        user: person,
        ..
    } = linked(Database::Sqlite, PHONE).await;
    let alice = server.contact(ALICE).expect("contact");
    let ghost = ghost(ALICE);
    let chat = Chat::Direct(PHONE.into());
    let send = |message: wa::Message| {
        alice
            .send(&chat, &message, &SendOptions::default())
            .expect("send")
    };
    let key = |id: &str, from_me: bool| {
        buffa::MessageField::some(wa::MessageKey {
            remote_jid: Some(format!("{PHONE}@s.whatsapp.net")),
            from_me: Some(from_me),
            id: Some(id.to_owned()),
            participant: None,
        })
    };

    // WhatsApp → Matrix.
    let question = alice.send_text(PHONE, "lunch?").expect("send");
    let portal = accept_invites(&person, 1).await.remove(0).0;
    let asked = room_event(&person, &portal, "the question", |e| {
        e["content"]["body"] == "lunch?"
    })
    .await;
    let asked_id = asked["event_id"].as_str().expect("id").to_owned();

    let follow_up = send(wa::Message {
        extended_text_message: buffa::MessageField::some(wa::message::ExtendedTextMessage {
            text: Some("noon?".into()),
            context_info: buffa::MessageField::some(wa::ContextInfo {
                stanza_id: Some(question.clone()),
                participant: Some(format!("{ALICE}@s.whatsapp.net")),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    });
    let reply = room_event(&person, &portal, "the reply", |e| {
        e["content"]["body"] == "noon?"
    })
    .await;
    assert_eq!(
        reply["content"]["m.relates_to"]["m.in_reply_to"]["event_id"],
        asked_id
    );

    let react = |emoji: &str| {
        send(wa::Message {
            reaction_message: buffa::MessageField::some(wa::message::ReactionMessage {
                key: key(&question, false),
                text: Some(emoji.to_owned()),
                sender_timestamp_ms: Some(1),
                ..Default::default()
            }),
            ..Default::default()
        })
    };
    react("👍");
    let thumbs = room_event(&person, &portal, "the reaction", |e| {
        e["type"] == "m.reaction" && e["content"]["m.relates_to"]["key"] == "👍"
    })
    .await;
    assert_eq!(thumbs["sender"], ghost.as_str());
    assert_eq!(thumbs["content"]["m.relates_to"]["event_id"], asked_id);
    react("❤️");
    room_event(&person, &portal, "the changed reaction", |e| {
        e["type"] == "m.reaction" && e["content"]["m.relates_to"]["key"] == "❤️"
    })
    .await;
    room_event(&person, &portal, "the old reaction gone", |e| {
        e["event_id"] == thumbs["event_id"]
            && e["content"].as_object().is_some_and(|c| c.is_empty())
    })
    .await;

    use wa::message::protocol_message::Type;
    send(wa::Message {
        protocol_message: buffa::MessageField::some(wa::message::ProtocolMessage {
            key: key(&question, false),
            r#type: Some(Type::MESSAGE_EDIT),
            edited_message: buffa::MessageField::some(wa::Message {
                conversation: Some("lunch at one?".into()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    });
    let edit = room_event(&person, &portal, "the edit", |e| {
        e["content"]["m.relates_to"]["rel_type"] == "m.replace"
    })
    .await;
    assert_eq!(edit["content"]["m.relates_to"]["event_id"], asked_id);
    assert_eq!(edit["content"]["m.new_content"]["body"], "lunch at one?");

    send(wa::Message {
        protocol_message: buffa::MessageField::some(wa::message::ProtocolMessage {
            key: key(&question, false),
            r#type: Some(Type::REVOKE),
            ..Default::default()
        }),
        ..Default::default()
    });
    room_event(&person, &portal, "the question deleted", |e| {
        e["event_id"] == asked_id && e["content"].as_object().is_some_and(|c| c.is_empty())
    })
    .await;

    // Matrix → WhatsApp.
    let reply_id = reply["event_id"].as_str().expect("id");
    person
        .send_event(
            &portal,
            "m.room.message",
            serde_json::json!({
                "msgtype": "m.text",
                "body": "> <@whatsapp_15550002001:localhost> noon?\n\nnoon is fine",
                "m.relates_to": {"m.in_reply_to": {"event_id": reply_id}},
            }),
        )
        .await;
    let answered = at_alice(&mut seen, "the answer").await;
    let text = answered
        .extended_text_message
        .as_option()
        .cloned()
        .expect("a quoting text");
    assert_eq!(text.text.as_deref(), Some("noon is fine"));
    let context = text.context_info.as_option().cloned().expect("context");
    assert_eq!(context.stanza_id.as_deref(), Some(follow_up.as_str()));
    let quoted = context
        .quoted_message
        .as_option()
        .and_then(|m| m.conversation.clone());
    assert_eq!(quoted.as_deref(), Some("noon?"));

    let reaction = person
        .send_event(
            &portal,
            "m.reaction",
            serde_json::json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": reply_id, "key": "🙂"}}),
        )
        .await;
    let reacted = at_alice(&mut seen, "the reaction").await;
    let reacted = reacted
        .reaction_message
        .as_option()
        .cloned()
        .expect("a reaction");
    assert_eq!(reacted.text.as_deref(), Some("🙂"));
    assert_eq!(
        reacted.key.as_option().and_then(|k| k.id.clone()),
        Some(follow_up.clone())
    );
    person.redact(&portal, &reaction).await;
    let removed = at_alice(&mut seen, "the reaction taken back").await;
    assert_eq!(
        removed
            .reaction_message
            .as_option()
            .and_then(|r| r.text.clone())
            .as_deref(),
        Some("")
    );

    let mine = person.send_text(&portal, "see you at 12").await;
    let sent = server_event(&mut seen, "the message", |event| match event {
        ServerEvent::MessageDecrypted(received)
            if received.recipient.user == ALICE
                && received.message.conversation.as_deref() == Some("see you at 12") =>
        {
            Some(received.id.clone())
        }
        _ => None,
    })
    .await;
    person
        .send_event(
            &portal,
            "m.room.message",
            serde_json::json!({
                "msgtype": "m.text",
                "body": "* see you at 1",
                "m.new_content": {"msgtype": "m.text", "body": "see you at 1"},
                "m.relates_to": {"rel_type": "m.replace", "event_id": mine},
            }),
        )
        .await;
    let edited = at_alice(&mut seen, "the edit").await;
    let protocol = edited
        .protocol_message
        .as_option()
        .cloned()
        .expect("an edit");
    assert_eq!(protocol.r#type, Some(Type::MESSAGE_EDIT));
    assert_eq!(
        protocol.key.as_option().and_then(|k| k.id.clone()),
        Some(sent.clone())
    );
    assert_eq!(
        protocol
            .edited_message
            .as_option()
            .and_then(|m| m.conversation.clone())
            .as_deref(),
        Some("see you at 1")
    );
    person.redact(&portal, &mine).await;
    let revoked = at_alice(&mut seen, "the deletion").await;
    let protocol = revoked
        .protocol_message
        .as_option()
        .cloned()
        .expect("a revoke");
    assert_eq!(protocol.r#type, Some(Type::REVOKE));
    assert_eq!(
        protocol.key.as_option().and_then(|k| k.id.clone()),
        Some(sent)
    );

    // After a restart the message map still knows the old question, both ways.
    env.restart_bridge().await;
    send(wa::Message {
        extended_text_message: buffa::MessageField::some(wa::message::ExtendedTextMessage {
            text: Some("still on for lunch?".into()),
            context_info: buffa::MessageField::some(wa::ContextInfo {
                stanza_id: Some(question.clone()),
                participant: Some(format!("{ALICE}@s.whatsapp.net")),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    });
    let late_reply = room_event(&person, &portal, "the reply after the restart", |e| {
        e["content"]["body"] == "still on for lunch?"
    })
    .await;
    assert_eq!(
        late_reply["content"]["m.relates_to"]["m.in_reply_to"]["event_id"],
        asked_id
    );
    person
        .send_event(
            &portal,
            "m.room.message",
            serde_json::json!({
                "msgtype": "m.text",
                "body": "yes, noon",
                "m.relates_to": { "m.in_reply_to": { "event_id": asked_id } }
            }),
        )
        .await;
    let answer = at_alice(&mut seen, "the answer after the restart").await;
    let context = answer
        .extended_text_message
        .as_option()
        .and_then(|text| text.context_info.as_option())
        .cloned()
        .expect("a reply");
    assert_eq!(context.stanza_id.as_deref(), Some(question.as_str()));
}
