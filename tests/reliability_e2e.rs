//! Nothing lost, nothing twice, under crashes and outages: messages flow both ways
//! between fake WhatsApp contacts and a person on Matrix while the bridge is killed
//! (SIGKILL), while the homeserver is down, and while WhatsApp refuses connections.
//! Each message must arrive on the other side exactly once, in its chat's order.
//!
//! "Once" on WhatsApp means one message ID: a phone keeps one message per ID, and the
//! bridge sends a Matrix event that it may have sent before a crash under the same ID
//! again. So the phones' copies are counted by ID, and no text may arrive under two IDs.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::bridge::Database;
use common::user::MatrixUser;
use common::whatsapp::{LINKING, Linked, linked, photo_message, test_file, text_of};
use fakewa::{Chat, Contact, FakeServer, GroupHandle, MediaKind, Role, SendOptions};
use serde_json::json;

const PHONE: &str = "15550001234";
const ALICE: &str = "15550002001";
const BOB: &str = "15550002002";
const CAROL: &str = "15550002003";
const DAVE: &str = "15550002004";

/// The chats of a test, by name: two direct chats and a group.
const CHATS: [&str; 3] = ["alice", "bob", "group"];

/// Two contacts, a group with two more, and the person's three portals.
struct Chats {
    alice: Contact,
    bob: Contact,
    carol: Contact,
    dave: Contact,
    group: GroupHandle,
    /// Chat name → portal room.
    rooms: BTreeMap<&'static str, String>,
}

/// Each chat says hello so its portal exists; the person joins all three.
async fn open_chats(server: &FakeServer, person: &MatrixUser) -> Chats {
    let contact = |number| server.contact(number).expect("contact");
    let (alice, bob, carol, dave) = (contact(ALICE), contact(BOB), contact(CAROL), contact(DAVE));
    let group = server
        .create_group(
            CAROL,
            "Steady",
            &[(PHONE, Role::Member), (DAVE, Role::Member)],
        )
        .expect("group");
    alice.send_text(PHONE, "hello from alice").expect("send");
    bob.send_text(PHONE, "hello from bob").expect("send");
    carol
        .send_group_text(&group.jid(), "hello from group")
        .expect("send");
    let mut joined = Vec::new();
    person.join_invites(&mut joined, 3, LINKING).await;
    let mut rooms = BTreeMap::new();
    for name in CHATS {
        let hello = format!("hello from {name}");
        let room = common::wait_for(&format!("{hello:?} in a portal"), LINKING, || async {
            for room in &joined {
                let bodies = bodies_in(person, room).await;
                if bodies.contains(&hello) {
                    return Some(room.clone());
                }
            }
            None
        })
        .await;
        rooms.insert(name, room);
    }
    Chats {
        alice,
        bob,
        carol,
        dave,
        group,
        rooms,
    }
}

impl Chats {
    /// A contact of the chat sends `text` (as a photo's caption when `photo`).
    fn send_from_whatsapp(
        &self,
        server: &FakeServer,
        chat: &str,
        turn: usize,
        text: &str,
        photo: bool,
    ) {
        let (contact, to) = match chat {
            "alice" => (&self.alice, Chat::Direct(PHONE.into())),
            "bob" => (&self.bob, Chat::Direct(PHONE.into())),
            _ if turn.is_multiple_of(2) => {
                (&self.carol, Chat::Group(self.group.jid().user.to_string()))
            }
            _ => (&self.dave, Chat::Group(self.group.jid().user.to_string())),
        };
        if photo {
            let seed = u32::try_from(turn).unwrap_or(1) + 1;
            let stored = contact
                .upload(&test_file(seed, 2_000), MediaKind::Image)
                .expect("upload");
            contact
                .send(
                    &to,
                    &photo_message(server, &stored, text),
                    &SendOptions::default(),
                )
                .expect("send");
        } else {
            match to {
                Chat::Group(_) => contact.send_group_text(&self.group.jid(), text),
                _ => contact.send_text(PHONE, text),
            }
            .expect("send");
        }
    }

    /// The person sends `text` into the chat's portal (as an image's caption when
    /// `picture` holds an uploaded image).
    async fn send_from_matrix(
        &self,
        person: &MatrixUser,
        chat: &str,
        text: &str,
        picture: Option<&str>,
    ) {
        let room = &self.rooms[chat];
        match picture {
            Some(url) => {
                person
                    .send_event(
                        room,
                        "m.room.message",
                        json!({
                            "msgtype": "m.image",
                            "body": text,
                            "filename": "picture.png",
                            "url": url,
                            "info": { "mimetype": "image/png", "w": 8, "h": 8, "size": 3000 },
                        }),
                    )
                    .await;
            }
            None => {
                person.send_text(room, text).await;
            }
        }
    }
}

/// Bodies of the room's messages, oldest first.
async fn bodies_in(person: &MatrixUser, room: &str) -> Vec<String> {
    person
        .timeline(room)
        .await
        .into_iter()
        .filter(|event| event["type"] == "m.room.message")
        .filter_map(|event| event["content"]["body"].as_str().map(str::to_owned))
        .collect()
}

/// What reached Matrix: per chat, the bodies starting with `prefix` (from the ghosts), in
/// timeline order; waits until `total` are there (or the time is up).
async fn arrived_in_matrix(
    person: &MatrixUser,
    chats: &Chats,
    prefix: &str,
    total: usize,
    within: Duration,
) -> BTreeMap<String, Vec<String>> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let mut by_chat = BTreeMap::new();
        for (name, room) in &chats.rooms {
            let bodies: Vec<String> = person
                .timeline(room)
                .await
                .into_iter()
                .filter(|event| {
                    event["type"] == "m.room.message" && event["sender"] != person.user_id.as_str()
                })
                .filter_map(|event| event["content"]["body"].as_str().map(str::to_owned))
                .filter(|body| body.starts_with(prefix))
                .collect();
            by_chat.insert(name.to_string(), bodies);
        }
        let count: usize = by_chat.values().map(Vec::len).sum();
        if count >= total || tokio::time::Instant::now() > deadline {
            return by_chat;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// What reached the phones: per chat, the texts starting with `prefix` in the order their
/// IDs first arrived (Alice's and Bob's phones, and Carol's for the group). A text under
/// two IDs is a duplicate and fails the test.
async fn arrived_on_whatsapp(
    server: &FakeServer,
    chats: &Chats,
    prefix: &str,
    total: usize,
    within: Duration,
) -> BTreeMap<String, Vec<String>> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let mut by_chat: BTreeMap<String, Vec<(String, String)>> = CHATS
            .iter()
            .map(|chat| (chat.to_string(), Vec::new()))
            .collect();
        for received in server.decrypted() {
            let chat = match received.recipient.user.as_str() {
                ALICE => "alice",
                BOB => "bob",
                CAROL if received.chat == chats.group.jid() => "group",
                _ => continue,
            };
            let Some(text) = text_of(&received.message).filter(|text| text.starts_with(prefix))
            else {
                continue;
            };
            let seen = by_chat.entry(chat.to_owned()).or_default();
            if !seen.iter().any(|(id, _)| *id == received.id) {
                seen.push((received.id.clone(), text));
            }
        }
        let count: usize = by_chat.values().map(Vec::len).sum();
        if count >= total || tokio::time::Instant::now() > deadline {
            return by_chat
                .into_iter()
                .map(|(chat, sent)| (chat, sent.into_iter().map(|(_, text)| text).collect()))
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Moments (message numbers) to kill the bridge at: `count` of them, apart from each
/// other and from the ends.
fn kill_points(messages: usize, count: usize) -> Vec<usize> {
    let slice = messages / (count + 1);
    (1..=count)
        .map(|n| n * slice + rand::random_range(0..slice / 2) - slice / 4)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_both_ways_survive_the_bridge_being_killed_three_times() {
    let Linked {
        server,
        mut env,
        user: person,
        ..
    } = linked(Database::Sqlite, PHONE).await;
    let chats = open_chats(&server, &person).await;
    let picture = person.upload(test_file(97, 3_000), "image/png").await;

    // 500 messages: three of every five from WhatsApp, two from Matrix, over the three
    // chats; every 25th WhatsApp message and every 40th Matrix one is a picture.
    const MESSAGES: usize = 500;
    let kills = kill_points(MESSAGES, 3);
    eprintln!("killing the bridge after messages {kills:?}");
    let mut from_whatsapp: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut from_matrix: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for turn in 0..MESSAGES {
        let chat = CHATS[turn % 3];
        if turn % 5 < 3 {
            let text = format!("wa {chat} {turn:03}");
            chats.send_from_whatsapp(&server, chat, turn, &text, turn.is_multiple_of(25));
            from_whatsapp.entry(chat.into()).or_default().push(text);
        } else {
            let text = format!("mx {chat} {turn:03}");
            let image = (turn % 40 == 3).then_some(picture.as_str());
            chats.send_from_matrix(&person, chat, &text, image).await;
            from_matrix.entry(chat.into()).or_default().push(text);
        }
        if kills.contains(&turn) {
            // A moment into whatever the bridge is doing, then a crash.
            tokio::time::sleep(Duration::from_millis(rand::random_range(0..400))).await;
            env.kill_bridge();
            env.start_bridge().await;
        }
    }

    let total = |sent: &BTreeMap<String, Vec<String>>| sent.values().map(Vec::len).sum();
    let in_matrix = arrived_in_matrix(
        &person,
        &chats,
        "wa ",
        total(&from_whatsapp),
        Duration::from_secs(300),
    )
    .await;
    assert_eq!(
        in_matrix, from_whatsapp,
        "every WhatsApp message in Matrix once, in its chat's order (kills after {kills:?})"
    );
    let on_whatsapp = arrived_on_whatsapp(
        &server,
        &chats,
        "mx ",
        total(&from_matrix),
        Duration::from_secs(300),
    )
    .await;
    assert_eq!(
        on_whatsapp, from_matrix,
        "every Matrix message on the phones once, in its chat's order (kills after {kills:?})"
    );
    // Nothing waits any more: the outbox is empty once everything went.
    let metrics = env.metrics().await;
    assert!(
        metrics.contains("matrix_whatsapp_outbox_waiting 0"),
        "the outbox is empty: {metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_that_come_while_the_homeserver_is_down_arrive_once_it_is_back() {
    let Linked {
        server,
        mut env,
        user: person,
        device,
        ..
    } = linked(Database::Sqlite, PHONE).await;
    let chats = open_chats(&server, &person).await;

    env.synapse.stop();
    let outage = tokio::time::Instant::now();
    let mut sent: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for turn in 0..30 {
        let chat = CHATS[turn % 3];
        let text = format!("wa {chat} {turn:03}");
        chats.send_from_whatsapp(&server, chat, turn, &text, turn.is_multiple_of(10));
        sent.entry(chat.into()).or_default().push(text);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // WhatsApp hears that each message was received once the bridge has stored it:
    // nothing waits on the server for the bridge's device.
    common::wait_for(
        "WhatsApp to have its acks",
        Duration::from_secs(30),
        || async { (server.pending_for(&device) == 0).then_some(()) },
    )
    .await;
    let down_for = Duration::from_secs(60).saturating_sub(outage.elapsed());
    tokio::time::sleep(down_for).await;
    env.synapse.start_again().await;

    let in_matrix = arrived_in_matrix(&person, &chats, "wa ", 30, Duration::from_secs(180)).await;
    assert_eq!(
        in_matrix, sent,
        "every message once, in its chat's order, after a 60 s outage of the homeserver"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_sent_while_whatsapp_is_down_go_once_it_is_back() {
    let Linked {
        server,
        env: _env,
        bot,
        user: person,
        room: management,
        ..
    } = linked(Database::Sqlite, PHONE).await;
    let chats = open_chats(&server, &person).await;
    let picture = person.upload(test_file(89, 3_000), "image/png").await;

    server.set_refusing(true);
    server.drop_all_connections();
    let outage = tokio::time::Instant::now();
    // The bridge's client notices the closed socket at once; the person goes on a
    // moment later, as a person would.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut sent: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for turn in 0..30 {
        let chat = CHATS[turn % 3];
        let text = format!("mx {chat} {turn:03}");
        let image = (turn % 10 == 4).then_some(picture.as_str());
        chats.send_from_matrix(&person, chat, &text, image).await;
        sent.entry(chat.into()).or_default().push(text);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // The person is told the bridge is reconnecting, not left in silence.
    person
        .wait_for_message_within(&management, &bot, "reconnecting", Duration::from_secs(60))
        .await;
    let down_for = Duration::from_secs(60).saturating_sub(outage.elapsed());
    tokio::time::sleep(down_for).await;
    assert!(
        server
            .decrypted()
            .iter()
            .all(|received| text_of(&received.message).is_none_or(|text| !text.starts_with("mx "))),
        "nothing reached WhatsApp while it was down"
    );
    server.set_refusing(false);

    let on_whatsapp =
        arrived_on_whatsapp(&server, &chats, "mx ", 30, Duration::from_secs(240)).await;
    assert_eq!(
        on_whatsapp, sent,
        "every message once, in its chat's order, after a 60 s outage of WhatsApp"
    );
    let notices = person.messages_from(&management, &bot).await;
    assert!(
        notices
            .iter()
            .any(|body| body.contains("Connected to WhatsApp again")),
        "the person hears that the connection is back: {notices:?}"
    );
    for room in chats.rooms.values() {
        let refusals: Vec<String> = person
            .messages_from(room, &bot)
            .await
            .into_iter()
            .filter(|body| body.starts_with("Not sent"))
            .collect();
        assert!(refusals.is_empty(), "no message was refused: {refusals:?}");
    }
}

/// A transaction as the homeserver sends it, holding one text of `sender` in `room`.
fn text_transaction(event_id: &str, sender: &str, room: &str, body: &str) -> String {
    json!({
        "events": [{
            "type": "m.room.message",
            "event_id": event_id,
            "sender": sender,
            "room_id": room,
            "origin_server_ts": 1_700_000_000_000u64,
            "content": { "msgtype": "m.text", "body": body },
        }]
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_from_either_side_are_one_message() {
    let Linked {
        server,
        mut env,
        user: person,
        ..
    } = linked(Database::Sqlite, PHONE).await;
    let chats = open_chats(&server, &person).await;
    let room = chats.rooms["alice"].clone();

    // WhatsApp delivers the same message (one ID) three times.
    let again = SendOptions {
        id: Some("3EB0REPLAYEDTHRICE".into()),
        ..SendOptions::default()
    };
    for _ in 0..3 {
        chats
            .alice
            .send(
                &Chat::Direct(PHONE.into()),
                &fakewa::proto::Message {
                    conversation: Some("wa said three times".into()),
                    ..Default::default()
                },
                &again,
            )
            .expect("send");
    }
    chats
        .alice
        .send_text(PHONE, "wa after the repeats")
        .expect("send");

    // The homeserver sends one event three times, again in another transaction, and
    // again after the bridge restarted.
    let token = env.config.appservice.hs_token.clone();
    let body = text_transaction("$replayed-text-1", &person.user_id, &room, "mx said once");
    for txn in ["txn-a", "txn-a", "txn-a", "txn-b"] {
        let (status, _) = env.put_transaction(txn, Some(&token), &body).await;
        assert_eq!(status, 200);
    }
    env.restart_bridge().await;
    for txn in ["txn-a", "txn-c"] {
        let (status, _) = env.put_transaction(txn, Some(&token), &body).await;
        assert_eq!(status, 200);
    }
    person.send_text(&room, "mx after the repeats").await;

    let in_matrix = arrived_in_matrix(&person, &chats, "wa ", 2, LINKING).await;
    assert_eq!(
        in_matrix["alice"],
        ["wa said three times", "wa after the repeats"],
        "one event for a message WhatsApp delivered three times"
    );
    let copies = |text: &str| {
        server
            .decrypted()
            .iter()
            .filter(|received| {
                received.recipient.user == ALICE
                    && text_of(&received.message).as_deref() == Some(text)
            })
            .count()
    };
    common::wait_for("the later message at alice", LINKING, || async {
        (copies("mx after the repeats") == 1).then_some(())
    })
    .await;
    assert_eq!(
        copies("mx said once"),
        1,
        "one WhatsApp message for an event the homeserver sent six times"
    );
}
