//! A message the bridge cannot decrypt is not silent: a notice from the sender's ghost
//! holds its place while WhatsApp asks the sender's phone for it again, and when the
//! phone sends it the notice is edited into the message (one event, no duplicate).

mod common;

use common::bridge::Database;
use common::whatsapp::{LINKING, Linked, linked, server_event};
use fakewa::proto as wa;
use fakewa::{Chat, SendOptions, ServerEvent};

const PHONE: &str = "15550001234";
const ALICE: &str = "15550002001";
const GHOST: &str = "@whatsapp_15550002001:localhost";

/// Whether the message's text was posted as an event of its own (not as an edit).
fn events_have_plain_copy(events: &[serde_json::Value]) -> bool {
    events.iter().any(|event| {
        event["content"]["body"] == "the secret plan" && event["content"]["m.relates_to"].is_null()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecryptable_message_is_announced_then_edited_into_the_message() {
    let Linked {
        server,
        env: _env,
        mut seen,
        user: person,
        ..
    } = linked(Database::Sqlite, PHONE).await;
    let alice = server.contact(ALICE).expect("contact");
    // A first message sets up the Signal session.
    alice.send_text(PHONE, "hello").expect("send");
    let room = common::wait_for("the portal invite", LINKING, || async {
        let (room, _) = person.invites().await.into_iter().next()?;
        person.join(&room).await;
        Some(room)
    })
    .await;
    person.wait_for_message(&room, GHOST, "hello").await;
    // An answer confirms the session, so Alice's next message is an ordinary one (a
    // garbled first message cannot even be parsed, and is only announced).
    person.send_text(&room, "hi Alice").await;
    server_event(&mut seen, "the answer on the phone", |event| match event {
        ServerEvent::MessageDecrypted(message) if message.recipient.user == ALICE => Some(()),
        _ => None,
    })
    .await;
    // The phone answers the retry only when the test says so.
    server.hold_retries();
    let message = wa::Message {
        conversation: Some("the secret plan".into()),
        ..Default::default()
    };
    let options = SendOptions {
        corrupt_first_attempt: true,
        ..Default::default()
    };
    alice
        .send(&Chat::Direct(PHONE.into()), &message, &options)
        .expect("send");
    server_event(&mut seen, "the retry request", |event| {
        matches!(event, ServerEvent::RetryRequested { .. }).then_some(())
    })
    .await;

    let notice = common::wait_for("the waiting notice", LINKING, || async {
        person.timeline(&room).await.into_iter().find(|event| {
            event["sender"] == GHOST
                && event["content"]["msgtype"] == "m.notice"
                && event["content"]["body"]
                    .as_str()
                    .is_some_and(|body| body.starts_with("Waiting for this message"))
        })
    })
    .await;
    let notice_id = notice["event_id"].as_str().expect("event id").to_owned();

    assert_eq!(server.release_retries(), 1, "one retry was waiting");
    let edit = common::wait_for("the edit", LINKING, || async {
        person.timeline(&room).await.into_iter().find(|event| {
            event["content"]["m.relates_to"]["rel_type"] == "m.replace"
                && event["content"]["m.relates_to"]["event_id"] == notice_id.as_str()
        })
    })
    .await;
    assert_eq!(edit["sender"], GHOST);
    assert_eq!(edit["content"]["m.new_content"]["body"], "the secret plan");
    assert_eq!(edit["content"]["m.new_content"]["msgtype"], "m.text");

    // The message exists once: the edited notice, no second event with its text.
    assert!(
        !events_have_plain_copy(&person.timeline(&room).await),
        "the message was not posted a second time"
    );
    let events = person.timeline(&room).await;
    let copies = events
        .iter()
        .filter(|event| {
            event["sender"] == GHOST
                && event["type"] == "m.room.message"
                && event["content"]["m.relates_to"].is_null()
        })
        .count();
    assert_eq!(copies, 2, "hello, and the notice now edited: {events:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_cannot_be_read_at_all_is_still_announced() {
    let Linked {
        server,
        env: _env,
        user: person,
        ..
    } = linked(Database::Sqlite, PHONE).await;
    let alice = server.contact(ALICE).expect("contact");
    // A garbled first message cannot even be parsed: WhatsApp is refused it and the
    // bridge says a message came that it cannot show.
    let message = wa::Message {
        conversation: Some("lost in transit".into()),
        ..Default::default()
    };
    let options = SendOptions {
        corrupt_first_attempt: true,
        ..Default::default()
    };
    alice
        .send(&Chat::Direct(PHONE.into()), &message, &options)
        .expect("send");
    let room = common::wait_for("the portal invite", LINKING, || async {
        let (room, _) = person.invites().await.into_iter().next()?;
        person.join(&room).await;
        Some(room)
    })
    .await;
    person
        .wait_for_message(&room, GHOST, "Waiting for this message")
        .await;
}
