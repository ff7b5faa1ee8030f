//! Hostile input from WhatsApp: names that look like markup, file names that look like
//! paths, a text too large for one Matrix event, and frames the client cannot read. Each
//! ends in a safe rendering (or a clear notice), and the session keeps bridging.

mod common;

use std::time::Duration;

use common::bridge::Database;
use common::user::MatrixUser;
use common::whatsapp::{LINKING, Linked, linked, media_url, test_file};
use fakewa::proto as wa;
use fakewa::{Chat, MediaKind, Role, SendOptions};
use serde_json::Value;
use whatsapp_rust::waproto::buffa;

const PHONE: &str = "15550001234";
const ALICE: &str = "15550002001";
const BOB: &str = "15550002002";
const ALICE_GHOST: &str = "@whatsapp_15550002001:localhost";
const BOB_GHOST: &str = "@whatsapp_15550002002:localhost";

/// A push name that would be an image, bold text and a link if anything rendered it.
const MARKUP_NAME: &str = "<img src=x onerror=alert(1)> **Bob** [pay](https://evil.example)";

/// The room's events from `sender`, oldest first.
async fn events_from(person: &MatrixUser, room: &str, sender: &str) -> Vec<Value> {
    person
        .timeline(room)
        .await
        .into_iter()
        .filter(|event| event["type"] == "m.room.message" && event["sender"] == sender)
        .collect()
}

/// Joins invites until the room where `sender` has spoken shows up.
async fn room_where(person: &MatrixUser, joined: &mut Vec<String>, sender: &str) -> String {
    let deadline = tokio::time::Instant::now() + LINKING;
    loop {
        for (room, _) in person.invites().await {
            if !joined.contains(&room) {
                person.join(&room).await;
                joined.push(room);
            }
        }
        for room in joined.iter() {
            if !events_from(person, room, sender).await.is_empty() {
                return room.clone();
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no portal with {sender} came"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_names_and_path_file_names_stay_plain_text() {
    let Linked {
        server,
        env: _env,
        user: person,
        ..
    } = linked(Database::Sqlite, PHONE).await;
    let alice = server.contact(ALICE).expect("contact");
    let bob = server.contact(BOB).expect("contact");
    bob.set_push_name(MARKUP_NAME).expect("push name");
    let group = server
        .create_group(
            ALICE,
            "Names",
            &[(PHONE, Role::Member), (BOB, Role::Member)],
        )
        .expect("group");
    bob.send_group_text(&group.jid(), "hi, I am bob")
        .expect("send");
    let mut joined = Vec::new();
    let room = room_where(&person, &mut joined, BOB_GHOST).await;

    // The name is Bob's display name as written: Matrix display names are plain text.
    let name = common::wait_for("bob's name", LINKING, || async {
        let profile = person.profile(BOB_GHOST).await;
        let name = profile["displayname"].as_str()?.to_owned();
        (name == MARKUP_NAME).then_some(name)
    })
    .await;
    assert_eq!(name, MARKUP_NAME);

    // Alice mentions Bob: the pill's text is his name, escaped, not markup.
    let mention = wa::Message {
        extended_text_message: buffa::MessageField::some(wa::message::ExtendedTextMessage {
            text: Some(format!("ask @{BOB}")),
            context_info: buffa::MessageField::some(wa::ContextInfo {
                mentioned_jid: vec![format!("{BOB}@s.whatsapp.net")],
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    alice
        .send(
            &Chat::Group(group.jid().user.to_string()),
            &mention,
            &SendOptions::default(),
        )
        .expect("send");
    let event = common::wait_for("the mention", LINKING, || async {
        events_from(&person, &room, ALICE_GHOST)
            .await
            .into_iter()
            .next()
    })
    .await;
    let html = event["content"]["formatted_body"].as_str().expect("a pill");
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "the name is escaped: {html}"
    );
    assert!(
        !html.contains("<img"),
        "no image element from a name: {html}"
    );
    assert_eq!(
        html.matches("<a ").count(),
        1,
        "only the pill is a link: {html}"
    );

    // A document named like a path arrives under its plain name.
    let report = test_file(43, 5_000);
    let stored = alice.upload(&report, MediaKind::Document).expect("upload");
    let document = wa::Message {
        document_message: buffa::MessageField::some(wa::message::DocumentMessage {
            url: media_url(&server, &stored),
            direct_path: Some(stored.direct_path.clone()),
            media_key: Some(stored.media_key.to_vec()),
            file_sha256: Some(stored.file_sha256.to_vec()),
            file_enc_sha256: Some(stored.file_enc_sha256.to_vec()),
            file_length: Some(stored.file_length),
            mimetype: Some("application/octet-stream".into()),
            file_name: Some("../../../etc/passwd".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    alice
        .send(
            &Chat::Group(group.jid().user.to_string()),
            &document,
            &SendOptions::default(),
        )
        .expect("send");
    let file = common::wait_for("the document", LINKING, || async {
        events_from(&person, &room, ALICE_GHOST)
            .await
            .into_iter()
            .find(|event| event["content"]["msgtype"] == "m.file")
    })
    .await;
    assert_eq!(file["content"]["body"], "passwd", "{file}");
    let url = file["content"]["url"].as_str().expect("an mxc URL");
    assert_eq!(person.download(url).await, report, "the very same bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_giant_text_and_unreadable_frames_leave_the_session_bridging() {
    let Linked {
        server,
        env: _env,
        user: person,
        device,
        ..
    } = linked(Database::Sqlite, PHONE).await;
    let alice = server.contact(ALICE).expect("contact");
    alice.send_text(PHONE, "hello first").expect("send");
    let mut joined = Vec::new();
    let room = room_where(&person, &mut joined, ALICE_GHOST).await;

    // 100,000 characters: more than a Matrix event may hold.
    let giant = "all work and no play makes a dull message. ".repeat(2_400);
    alice.send_text(PHONE, &giant).expect("send");
    alice.send_text(PHONE, "after the giant").expect("send");
    person
        .wait_for_message_within(&room, ALICE_GHOST, "after the giant", LINKING)
        .await;
    // It arrives whole, in as many events as it takes, in order.
    let bodies = person.messages_from(&room, ALICE_GHOST).await;
    let giant_parts: Vec<&String> = bodies
        .iter()
        .skip_while(|body| *body != "hello first")
        .skip(1)
        .take_while(|body| *body != "after the giant")
        .collect();
    assert!(giant_parts.len() > 1, "{} parts", giant_parts.len());
    assert_eq!(
        giant_parts
            .iter()
            .map(|part| part.as_str())
            .collect::<String>(),
        giant,
        "the parts put together are the text"
    );

    // A frame that decrypts to something that is not a node: the client drops it and
    // the connection carries on.
    let conn = server.connection_of(&device).expect("connected");
    server
        .send_malformed_node(conn, vec![0xf8, 0xff, 0x00, 0x13, 0x37])
        .expect("malformed node");
    alice.send_text(PHONE, "after the garbage").expect("send");
    person
        .wait_for_message_within(&room, ALICE_GHOST, "after the garbage", LINKING)
        .await;
    assert_eq!(
        server.connection_of(&device),
        Some(conn),
        "the same connection goes on"
    );

    // A frame that does not decrypt puts the connection's counters out of step: what
    // comes on it is lost to the client until the connection goes (the client keeps it;
    // the server ends it). Nothing was acknowledged, so nothing is lost.
    server
        .send_undecryptable_frame(conn, vec![0x42; 48])
        .expect("undecryptable frame");
    alice
        .send_text(PHONE, "during the broken connection")
        .expect("send");
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.drop_connection(conn).expect("drop");
    person
        .wait_for_message_within(&room, ALICE_GHOST, "during the broken connection", LINKING)
        .await;
    alice.send_text(PHONE, "after the reconnect").expect("send");
    person
        .wait_for_message_within(&room, ALICE_GHOST, "after the reconnect", LINKING)
        .await;
}
