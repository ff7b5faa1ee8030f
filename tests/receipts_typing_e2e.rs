//! Read receipts and typing, both ways, through a direct chat portal: a fake contact
//! reads and types on WhatsApp and their ghost does the same on Matrix; the person reads
//! and types in the portal and the contact's WhatsApp hears it, each message read once.

mod common;

use std::time::Duration;

use common::bridge::Database;
use common::whatsapp::{LINKING, Linked, linked, server_event};
use fakewa::{ReceiptSpec, ServerEvent};

const PHONE: &str = "15550001234";
const ALICE: &str = "15550002001";
const ALICE_JID: &str = "15550002001@s.whatsapp.net";
const GHOST: &str = "@whatsapp_15550002001:localhost";
const SHORT: Duration = Duration::from_secs(20);

/// The text's Matrix event in the room, once the ghost posted it.
async fn event_of(person: &common::user::MatrixUser, room: &str, body: &str) -> String {
    common::wait_for(body, LINKING, || async {
        person
            .timeline(room)
            .await
            .into_iter()
            .find(|event| event["sender"] == GHOST && event["content"]["body"] == body)
            .and_then(|event| event["event_id"].as_str().map(str::to_owned))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_and_typing_flow_both_ways() {
    let Linked {
        server,
        env: _env,
        mut seen,
        user: person,
        ..
    } = linked(Database::Sqlite, PHONE).await;
    let alice = server.contact(ALICE).expect("contact");
    let first = alice.send_text(PHONE, "one").expect("send");
    let second = alice.send_text(PHONE, "two").expect("send");
    let room = common::wait_for("the portal invite", LINKING, || async {
        let (room, _) = person.invites().await.into_iter().next()?;
        person.join(&room).await;
        Some(room)
    })
    .await;
    event_of(&person, &room, "one").await;
    let two = event_of(&person, &room, "two").await;

    // The person reads up to "two": WhatsApp hears both messages were read, in one receipt.
    person.read_receipt(&room, &two).await;
    let (to, ids) = server_event(
        &mut seen,
        "read receipt for one and two",
        |event| match event {
            ServerEvent::ClientReceipt {
                kind: Some(kind),
                to,
                ids,
                ..
            } if kind == "read" => Some((to.clone(), ids.clone())),
            _ => None,
        },
    )
    .await;
    assert_eq!(to.map(|jid| jid.to_string()).as_deref(), Some(ALICE_JID));
    assert_eq!(ids, vec![first, second]);

    // A later read names only what came since.
    let third = alice.send_text(PHONE, "three").expect("send");
    let three = event_of(&person, &room, "three").await;
    person.read_receipt(&room, &three).await;
    let ids = server_event(&mut seen, "read receipt for three", |event| match event {
        ServerEvent::ClientReceipt {
            kind: Some(kind),
            ids,
            ..
        } if kind == "read" => Some(ids.clone()),
        _ => None,
    })
    .await;
    assert_eq!(ids, vec![third], "messages already read are not read again");

    // The person types: the contact sees composing, then paused.
    for (typing, state) in [(true, "composing"), (false, "paused")] {
        person.typing(&room, typing).await;
        let (to, child) = server_event(&mut seen, state, |event| match event {
            ServerEvent::Presence { node, .. } if node.tag == "chatstate" => Some((
                node.attrs.get("to").map(|to| to.as_str().into_owned()),
                node.children()
                    .and_then(|children| children.first().map(|child| child.tag.to_string())),
            )),
            _ => None,
        })
        .await;
        assert_eq!(to.as_deref(), Some(ALICE_JID));
        assert_eq!(child.as_deref(), Some(state));
    }

    // The person says something; the contact reads it on WhatsApp: so does the ghost.
    let sent = person.send_text(&room, "did you see?").await;
    let delivered = server_event(&mut seen, "the message on the phone", |event| match event {
        ServerEvent::MessageDecrypted(message) if message.recipient.user == ALICE => {
            Some(message.id.clone())
        }
        _ => None,
    })
    .await;
    alice
        .send_receipt(
            PHONE,
            &ReceiptSpec {
                kind: Some("read".into()),
                ids: vec![delivered],
            },
        )
        .expect("receipt");
    common::wait_for("the ghost's read receipt", SHORT, || async {
        (person.read_up_to(&room, GHOST).await.as_deref() == Some(sent.as_str())).then_some(())
    })
    .await;

    // The contact types and stops: the ghost types and stops.
    alice.set_typing(PHONE, true);
    common::wait_for("the ghost typing", SHORT, || async {
        person
            .typing_users(&room)
            .await
            .contains(&GHOST.to_owned())
            .then_some(())
    })
    .await;
    alice.set_typing(PHONE, false);
    common::wait_for("the ghost no longer typing", SHORT, || async {
        (!person.typing_users(&room).await.contains(&GHOST.to_owned())).then_some(())
    })
    .await;
}

/// With double puppeting (every test Synapse has the appservice for it): the direct
/// portal is listed in the person's `m.direct`, and what the person reads on the phone
/// moves their own read receipt in Matrix, without WhatsApp being told it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_phone_reads_for_the_person_and_portals_are_direct_chats() {
    let Linked {
        server,
        env: _env,
        mut seen,
        user: person,
        ..
    } = linked(Database::Sqlite, PHONE).await;
    let alice = server.contact(ALICE).expect("contact");
    alice.send_text(PHONE, "four").expect("send");
    let five_id = alice.send_text(PHONE, "five").expect("send");
    let room = common::wait_for("the portal invite", LINKING, || async {
        let (room, _) = person.invites().await.into_iter().next()?;
        person.join(&room).await;
        Some(room)
    })
    .await;
    event_of(&person, &room, "four").await;
    let five = event_of(&person, &room, "five").await;
    let direct = common::wait_for("the portal in m.direct", SHORT, || async {
        person.account_data("m.direct").await
    })
    .await;
    assert_eq!(direct[GHOST], serde_json::json!([room]), "{direct}");

    // Read on the phone: the person's own receipt moves to "five".
    server
        .phone(PHONE)
        .expect("phone")
        .mark_read(&alice.jid(), &[five_id])
        .expect("read on the phone");
    common::wait_for("the person's read receipt", SHORT, || async {
        (person.read_up_to(&room, &person.user_id).await.as_deref() == Some(five.as_str()))
            .then_some(())
    })
    .await;

    // What the phone read is not told to WhatsApp again: reading a later message from
    // Matrix names only that one.
    let six_id = alice.send_text(PHONE, "six").expect("send");
    let six = event_of(&person, &room, "six").await;
    person.read_receipt(&room, &six).await;
    let ids = server_event(&mut seen, "read receipt for six", |event| match event {
        ServerEvent::ClientReceipt {
            kind: Some(kind),
            ids,
            ..
        } if kind == "read" => Some(ids.clone()),
        _ => None,
    })
    .await;
    assert_eq!(ids, vec![six_id]);
}
