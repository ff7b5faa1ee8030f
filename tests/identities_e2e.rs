//! One person, one ghost: a contact who first writes by LID alone speaks through a
//! `lid-` ghost, in a direct chat keyed by the LID. Once a message tells their phone
//! number, the same direct room carries on under the number, the number's ghost takes
//! the LID ghost's place there and in the group, later messages by either address land
//! in the same rooms from the same ghost, and an answer from Matrix reaches the phone.

mod common;

use common::bridge::Database;
use common::user::MatrixUser;
use common::whatsapp::{LINKING, Linked, linked, server_event};
use fakewa::proto as wa;
use fakewa::{Addressing, Chat, Role, SendOptions, ServerEvent};
use serde_json::Value;

const PHONE: &str = "15550001234";
const ALICE: &str = "15550002001";
const ERIN: &str = "15550002005";

fn ghost(identifier: &str) -> String {
    format!("@whatsapp_{identifier}:localhost")
}

fn text(body: &str) -> wa::Message {
    wa::Message {
        conversation: Some(body.into()),
        ..Default::default()
    }
}

fn by(addressing: Addressing) -> SendOptions {
    SendOptions {
        addressing,
        ..Default::default()
    }
}

/// The room (of `rooms`) where `sender` said `body`.
async fn room_of(user: &MatrixUser, rooms: &[String], sender: &str, body: &str) -> String {
    common::wait_for(&format!("{body:?} from {sender}"), LINKING, || async {
        for room in rooms {
            if user
                .messages_from(room, sender)
                .await
                .iter()
                .any(|b| b == body)
            {
                return Some(room.clone());
            }
        }
        None
    })
    .await
}

async fn member(user: &MatrixUser, room: &str, who: &str) -> Option<String> {
    user.membership(room, who).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lid_ghost_gives_way_to_the_phone_number_once_it_is_known() {
    let Linked {
        server,
        env: _env,
        mut seen,
        user: person,
        ..
    } = linked(Database::Sqlite, PHONE).await;
    server.contact(ALICE).expect("contact");
    let erin = server.contact(ERIN).expect("contact");
    erin.set_push_name("Erin").expect("name");
    let lid = erin.lid().user.to_string();
    let lid_ghost = ghost(&format!("lid-{lid}"));
    let phone_ghost = ghost(ERIN);
    let group = server
        .create_group(
            ALICE,
            "Garden",
            &[(PHONE, Role::Member), (ERIN, Role::Member)],
        )
        .expect("group");

    // Erin writes by LID alone: the bridge cannot know the number yet.
    erin.send(
        &Chat::Direct(PHONE.into()),
        &text("hello by lid"),
        &by(Addressing::LidOnly),
    )
    .expect("send");
    let mut rooms = Vec::new();
    person.join_invites(&mut rooms, 1, LINKING).await;
    let direct = room_of(&person, &rooms, &lid_ghost, "hello by lid").await;
    erin.send(
        &Chat::Group(group.jid().user.to_string()),
        &text("group hello by lid"),
        &by(Addressing::LidOnly),
    )
    .expect("send");
    person.join_invites(&mut rooms, 2, LINKING).await;
    let garden = room_of(&person, &rooms, &lid_ghost, "group hello by lid").await;
    assert_ne!(direct, garden);

    // A message that names Erin both ways: the same direct room, now from the number's
    // ghost; the LID's ghost has left both rooms.
    erin.send(
        &Chat::Direct(PHONE.into()),
        &text("now you know my number"),
        &by(Addressing::Lid),
    )
    .expect("send");
    let again = room_of(&person, &rooms, &phone_ghost, "now you know my number").await;
    assert_eq!(again, direct, "the direct chat stays in its room");
    for room in [&direct, &garden] {
        common::wait_for("the LID ghost to leave", LINKING, || async {
            (member(&person, room, &lid_ghost).await.as_deref() == Some("leave")).then_some(())
        })
        .await;
        assert_eq!(
            member(&person, room, &phone_ghost).await.as_deref(),
            Some("join"),
            "the number's ghost is in the room"
        );
    }
    let bridge_state: Option<Value> = person
        .state(
            &direct,
            "m.bridge",
            &format!("whatsapp/{ERIN}@s.whatsapp.net"),
        )
        .await;
    assert_eq!(
        bridge_state.map(|state| state["channel"]["id"].clone()),
        Some(Value::from(format!("{ERIN}@s.whatsapp.net"))),
        "the room's bridge state names the chat by number"
    );

    let direct_list = common::wait_for("the moved portal in m.direct", LINKING, || async {
        person
            .account_data("m.direct")
            .await
            .filter(|listed| listed[&phone_ghost] == serde_json::json!([direct]))
    })
    .await;
    assert_eq!(direct_list[&lid_ghost], serde_json::json!([direct]));

    // Later messages by LID alone, or by number, land in the same rooms from one ghost.
    erin.send(
        &Chat::Direct(PHONE.into()),
        &text("lid alone again"),
        &by(Addressing::LidOnly),
    )
    .expect("send");
    erin.send_text(PHONE, "and by number").expect("send");
    erin.send(
        &Chat::Group(group.jid().user.to_string()),
        &text("group by lid again"),
        &by(Addressing::LidOnly),
    )
    .expect("send");
    assert_eq!(
        room_of(&person, &rooms, &phone_ghost, "and by number").await,
        direct
    );
    assert_eq!(
        room_of(&person, &rooms, &phone_ghost, "lid alone again").await,
        direct
    );
    assert_eq!(
        room_of(&person, &rooms, &phone_ghost, "group by lid again").await,
        garden
    );
    assert!(
        person.invites().await.is_empty(),
        "no second portal was made for Erin"
    );
    assert_eq!(
        person.messages_from(&direct, &lid_ghost).await,
        vec!["hello by lid".to_owned()],
        "the LID ghost said only what it said before the number was known"
    );

    // The answer from Matrix reaches Erin's phone.
    person.send_text(&direct, "hi Erin").await;
    let at_erin = server_event(&mut seen, "the answer at Erin", |event| match event {
        ServerEvent::MessageDecrypted(received) if received.recipient.user == ERIN => {
            received.message.conversation.clone()
        }
        _ => None,
    })
    .await;
    assert_eq!(at_erin, "hi Erin");
}
