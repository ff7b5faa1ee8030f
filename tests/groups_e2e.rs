//! Group portals end to end: a group's first message creates its room with the group's
//! name, description, members (as ghosts) and admins (with power); renames,
//! description changes, joins, leaves, promotions and demotions on WhatsApp change the
//! room; the same change told twice changes it once.

mod common;

use common::bridge::Database;
use common::user::MatrixUser;
use common::whatsapp::{LINKING, Linked, linked};
use fakewa::{GroupChange, Role};
use serde_json::Value;

const PHONE: &str = "15550001234";
const ALICE: &str = "15550002001";
const BOB: &str = "15550002002";
const CAROL: &str = "15550002003";
const DAVE: &str = "15550002004";

fn ghost(number: &str) -> String {
    format!("@whatsapp_{number}:localhost")
}

/// Waits until the room's state event satisfies `check`.
async fn state_until(
    user: &MatrixUser,
    room: &str,
    event_type: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    common::wait_for(what, LINKING, || async {
        user.state(room, event_type, "")
            .await
            .filter(|content| check(content))
    })
    .await
}

async fn membership_until(user: &MatrixUser, room: &str, who: &str, membership: &str) {
    let what = format!("{who} to be {membership}");
    common::wait_for(&what, LINKING, || async {
        (user.membership(room, who).await.as_deref() == Some(membership)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_portal_mirrors_the_group_and_follows_its_changes() {
    let Linked {
        server,
        env: _env,
        seen: _seen,
        user: person,
        ..
    } = linked(Database::Sqlite, PHONE).await;
    for number in [ALICE, BOB, CAROL, DAVE] {
        server.contact(number).expect("contact");
    }
    let group = server
        .create_group(
            ALICE,
            "Book club",
            &[
                (PHONE, Role::Member),
                (BOB, Role::Admin),
                (CAROL, Role::Member),
            ],
        )
        .expect("group");
    group
        .change(
            ALICE,
            GroupChange::Description(Some("Monthly reads".into())),
        )
        .expect("description");
    let alice = server.contact(ALICE).expect("contact");
    alice
        .send_group_text(&group.jid(), "welcome, everyone")
        .expect("send");

    let room = common::wait_for("the group portal invite", LINKING, || async {
        let (room, is_direct) = person.invites().await.into_iter().next()?;
        assert!(!is_direct, "a group is not a direct chat");
        person.join(&room).await;
        Some(room)
    })
    .await;
    person
        .wait_for_message(&room, &ghost(ALICE), "welcome, everyone")
        .await;
    let name = person.state(&room, "m.room.name", "").await;
    assert_eq!(
        name.as_ref().map(|content| &content["name"]),
        Some(&Value::from("Book club"))
    );
    let topic = person.state(&room, "m.room.topic", "").await;
    assert_eq!(
        topic.as_ref().map(|content| &content["topic"]),
        Some(&Value::from("Monthly reads"))
    );
    for member in [ALICE, BOB, CAROL] {
        assert_eq!(
            person.membership(&room, &ghost(member)).await.as_deref(),
            Some("join"),
            "{member} is in the room"
        );
    }
    assert_eq!(
        person.membership(&room, &ghost(PHONE)).await,
        None,
        "the person is there as themselves, not as a ghost"
    );
    let levels = person
        .state(&room, "m.room.power_levels", "")
        .await
        .expect("power levels");
    assert_eq!(levels["users"][ghost(ALICE)], 95, "the creator: {levels}");
    assert_eq!(levels["users"][ghost(BOB)], 75, "an admin: {levels}");
    assert!(levels["users"].get(ghost(CAROL)).is_none(), "{levels}");

    // Renamed, and the description removed.
    group
        .change(BOB, GroupChange::Subject("Book club 2027".into()))
        .expect("rename");
    state_until(&person, &room, "m.room.name", "the new name", |content| {
        content["name"] == "Book club 2027"
    })
    .await;
    group
        .change(ALICE, GroupChange::Description(None))
        .expect("description");
    state_until(
        &person,
        &room,
        "m.room.topic",
        "the topic gone",
        |content| content["topic"] == "",
    )
    .await;

    // Carol leaves, Dave joins; Bob is no longer an admin, Dave becomes one.
    group
        .change(ALICE, GroupChange::Remove(vec![CAROL.into()]))
        .expect("remove");
    membership_until(&person, &room, &ghost(CAROL), "leave").await;
    group
        .change(ALICE, GroupChange::Add(vec![DAVE.into()]))
        .expect("add");
    membership_until(&person, &room, &ghost(DAVE), "join").await;
    group
        .change(ALICE, GroupChange::Demote(vec![BOB.into()]))
        .expect("demote");
    group
        .change(ALICE, GroupChange::Promote(vec![DAVE.into()]))
        .expect("promote");
    let levels = state_until(
        &person,
        &room,
        "m.room.power_levels",
        "the new admins",
        |content| content["users"].get(ghost(BOB)).is_none() && content["users"][ghost(DAVE)] == 75,
    )
    .await;
    assert_eq!(levels["users"][ghost(ALICE)], 95);

    // The same rename told again changes nothing.
    let timeline_before = person.timeline(&room).await.len();
    group
        .change(BOB, GroupChange::Subject("Book club 2027".into()))
        .expect("rename again");
    alice.send_group_text(&group.jid(), "after").expect("send");
    person.wait_for_message(&room, &ghost(ALICE), "after").await;
    let names = person
        .timeline(&room)
        .await
        .into_iter()
        .skip(timeline_before)
        .filter(|event| event["type"] == "m.room.name")
        .count();
    assert_eq!(names, 0, "an unchanged name is not set again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_groups_opens_portals_for_quiet_groups() {
    let Linked {
        server,
        env: _env,
        bot,
        user: person,
        room: management,
        ..
    } = linked(Database::Sqlite, PHONE).await;
    server.contact(ALICE).expect("contact");
    server.contact(BOB).expect("contact");
    let group = server
        .create_group(
            ALICE,
            "Book club",
            &[(PHONE, Role::Member), (BOB, Role::Admin)],
        )
        .expect("group");
    let first_picture = b"\xFF\xD8\xFF\xE0 the book club".to_vec();
    group
        .set_picture(ALICE, first_picture.clone())
        .expect("picture");

    person.send_text(&management, "sync groups").await;
    person
        .wait_for_message(&management, &bot, "Synced 1 group: 1 new portal")
        .await;
    let (room, is_direct) = common::wait_for("the group portal invite", LINKING, || async {
        person.invites().await.into_iter().next()
    })
    .await;
    assert!(!is_direct, "a group is not a direct chat");
    person.join(&room).await;
    state_until(&person, &room, "m.room.name", "the group's name", |name| {
        name["name"] == "Book club"
    })
    .await;
    membership_until(&person, &room, &ghost(BOB), "join").await;
    let avatar = state_until(
        &person,
        &room,
        "m.room.avatar",
        "the group's picture",
        |avatar| avatar["url"].is_string(),
    )
    .await;
    let first_mxc = avatar["url"].as_str().expect("mxc").to_owned();
    assert_eq!(person.download(&first_mxc).await, first_picture);

    // A new picture on WhatsApp: the room's avatar follows.
    let second_picture = b"\xFF\xD8\xFF\xE0 the book club, later".to_vec();
    group
        .set_picture(BOB, second_picture.clone())
        .expect("picture");
    let avatar = state_until(
        &person,
        &room,
        "m.room.avatar",
        "the new picture",
        |avatar| avatar["url"].is_string() && avatar["url"] != first_mxc.as_str(),
    )
    .await;
    let second_mxc = avatar["url"].as_str().expect("mxc").to_owned();
    assert_eq!(person.download(&second_mxc).await, second_picture);

    // Again: nothing new, the same room.
    person.send_text(&management, "sync groups").await;
    person
        .wait_for_message(&management, &bot, "Synced 1 group: 0 new portals")
        .await;
    assert!(person.invites().await.is_empty(), "no second portal");

    person.send_text(&management, "sync everything").await;
    person
        .wait_for_message(&management, &bot, "Send `sync groups`")
        .await;
}
