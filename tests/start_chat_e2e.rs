//! `start-chat` / `pm`: opening a WhatsApp chat from Matrix. A number on WhatsApp gets
//! its direct chat portal (the person invited, the contact's ghost inside, and what is
//! said there reaches the phone); asking again finds the same room; a number without an
//! account and one that is not a number get clear answers.

mod common;

use common::bridge::Database;
use common::whatsapp::{Linked, linked, server_event};
use fakewa::ServerEvent;

const PHONE: &str = "15550001234";
const ALICE: &str = "15550002001";
const GHOST: &str = "@whatsapp_15550002001:localhost";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_chat_opens_the_direct_chat_once_and_refuses_bad_numbers() {
    let Linked {
        server,
        env: _env,
        mut seen,
        bot,
        user: person,
        room: management,
        ..
    } = linked(Database::Sqlite, PHONE).await;
    let _alice = server.contact(ALICE).expect("contact");

    person
        .send_text(&management, "start-chat 0770 900123")
        .await;
    let refused = person
        .wait_for_message(&management, &bot, "is not a phone number")
        .await;
    assert!(refused.contains("international form"), "{refused}");

    person.send_text(&management, "pm +15550009999").await;
    person
        .wait_for_message(&management, &bot, "+15550009999 is not on WhatsApp")
        .await;
    assert!(
        person.invites().await.is_empty(),
        "no portal for a stranger"
    );

    person
        .send_text(&management, &format!("start-chat +{ALICE}"))
        .await;
    let answer = person
        .wait_for_message(&management, &bot, &format!("Your chat with +{ALICE}"))
        .await;
    let (room, is_direct) =
        common::wait_for("the portal invite", common::whatsapp::LINKING, || async {
            person.invites().await.into_iter().next()
        })
        .await;
    assert!(is_direct, "a direct chat is marked direct");
    assert!(
        answer.contains(&room),
        "the answer links the room: {answer}"
    );
    person.join(&room).await;
    assert_eq!(
        person.membership(&room, GHOST).await.as_deref(),
        Some("join"),
        "the contact's ghost is in the room"
    );

    person.send_text(&room, "hi from Matrix").await;
    let text = server_event(&mut seen, "the message on the phone", |event| match event {
        ServerEvent::MessageDecrypted(message) if message.recipient.user == ALICE => {
            message.message.conversation.clone()
        }
        _ => None,
    })
    .await;
    assert_eq!(text, "hi from Matrix");

    // Asking again opens the same room.
    person.send_text(&management, &format!("pm +{ALICE}")).await;
    common::wait_for("the second answer", common::whatsapp::LINKING, || async {
        let answers = person.messages_from(&management, &bot).await;
        (answers
            .iter()
            .filter(|body| body.contains(&format!("Your chat with +{ALICE}")))
            .count()
            == 2)
            .then_some(())
    })
    .await;
    let answers = person.messages_from(&management, &bot).await;
    let last = answers.last().expect("an answer");
    assert!(last.contains(&room), "the same room: {last}");
    assert!(person.invites().await.is_empty(), "no second portal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inviting_a_ghost_to_a_new_room_opens_the_chat() {
    let Linked {
        server,
        env: _env,
        user: person,
        ..
    } = linked(Database::Sqlite, PHONE).await;
    let _alice = server.contact(ALICE).expect("contact");
    let own_room = person.create_dm(GHOST).await;
    let answer = person
        .wait_for_message(&own_room, GHOST, &format!("Your chat with +{ALICE}"))
        .await;
    assert!(answer.contains("not bridged"), "{answer}");
    person.wait_for_membership(&own_room, GHOST, "leave").await;
    let (portal, is_direct) =
        common::wait_for("the portal invite", common::whatsapp::LINKING, || async {
            person.invites().await.into_iter().next()
        })
        .await;
    assert!(is_direct);
    assert_ne!(portal, own_room, "the portal is a room of its own");
    assert!(
        answer.contains(&portal),
        "the answer links the portal: {answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_contacts_by_name_or_number() {
    let Linked {
        server,
        env: _env,
        bot,
        user: person,
        room: management,
        ..
    } = linked(Database::Sqlite, PHONE).await;
    let alice = server.contact(ALICE).expect("contact");
    alice.set_push_name("Alice Liddell").expect("push name");
    alice.send_text(PHONE, "hello").expect("send");
    let room = common::wait_for("the portal invite", common::whatsapp::LINKING, || async {
        person.invites().await.into_iter().next()
    })
    .await
    .0;
    person.join(&room).await;
    person.wait_for_message(&room, GHOST, "hello").await;

    person.send_text(&management, "search liddell").await;
    let found = person
        .wait_for_message(&management, &bot, "Your contacts matching `liddell`")
        .await;
    assert!(
        found.contains(&format!("Alice Liddell — `start-chat +{ALICE}`")),
        "{found}"
    );
    person
        .send_text(&management, &format!("search +{}", &ALICE[..8]))
        .await;
    person
        .wait_for_message(&management, &bot, "Your contacts matching `15550002`")
        .await;
    person.send_text(&management, "search zebra").await;
    person
        .wait_for_message(&management, &bot, "No contact of yours matches `zebra`")
        .await;
}
