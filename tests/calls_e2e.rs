//! Calls: a contact rings the user on WhatsApp; the portal (created by the call) shows
//! a notice from the caller's ghost to answer on the phone, and one when the call rang
//! out unanswered; a video call says so.

mod common;

use common::bridge::Database;
use common::whatsapp::{LINKING, Linked, linked};

const PHONE: &str = "15550001234";
const ALICE: &str = "15550002001";
const GHOST: &str = "@whatsapp_15550002001:localhost";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_ring_in_the_portal_and_missed_ones_are_said() {
    let Linked {
        server,
        env: _env,
        user: person,
        ..
    } = linked(Database::Sqlite, PHONE).await;
    let alice = server.contact(ALICE).expect("contact");
    let call = alice.call(PHONE, false);
    let room = common::wait_for("the portal invite", LINKING, || async {
        let (room, _) = person.invites().await.into_iter().next()?;
        person.join(&room).await;
        Some(room)
    })
    .await;
    person
        .wait_for_message(&room, GHOST, "Incoming voice call")
        .await;
    alice.hang_up(PHONE, &call);
    person.wait_for_message(&room, GHOST, "Missed call.").await;

    alice.call(PHONE, true);
    person
        .wait_for_message(&room, GHOST, "Incoming video call")
        .await;
    let notices: Vec<_> = person
        .timeline(&room)
        .await
        .into_iter()
        .filter(|event| event["sender"] == GHOST && event["content"]["msgtype"] == "m.notice")
        .filter_map(|event| event["content"]["body"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(notices.len(), 3, "one notice each: {notices:?}");
}
