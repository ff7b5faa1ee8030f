//! Ghost display names follow `bridge.displayname_template`: a business's verified name
//! comes first, then the push name, then the number; the direct chat's room is named
//! after the contact without the template's decoration.

mod common;

use std::time::Duration;

use common::bridge::Database;
use common::whatsapp::{LINKING, Linked, linked};
use fakewa::proto as wa;
use fakewa::{Chat, SendOptions};

const PHONE: &str = "15550001234";
const SHOP: &str = "15550002001";
const BOB: &str = "15550002002";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ghosts_are_named_by_the_template() {
    let Linked {
        server,
        mut env,
        user: person,
        ..
    } = linked(Database::Sqlite, PHONE).await;
    let config = std::fs::read_to_string(&env.config_path).expect("config");
    let config = config.replace(
        "bridge:\n  permissions:",
        "bridge:\n  displayname_template: '{name} (WA)'\n  permissions:",
    );
    assert!(
        config.contains("displayname_template"),
        "the template is set"
    );
    std::fs::write(&env.config_path, config).expect("config");
    env.restart_bridge().await;

    let shop = server.contact(SHOP).expect("contact");
    shop.set_push_name("shop owner").expect("push name");
    let hello = wa::Message {
        conversation: Some("we are open".into()),
        ..Default::default()
    };
    let as_business = SendOptions {
        business_name: Some("Acme Bakery".into()),
        ..Default::default()
    };
    shop.send(&Chat::Direct(PHONE.into()), &hello, &as_business)
        .expect("send");
    let bob = server.contact(BOB).expect("contact");
    bob.set_push_name("Bob").expect("push name");
    bob.send_text(PHONE, "hi").expect("send");

    let rooms = common::wait_for("both portal invites", LINKING, || async {
        let invites = person.invites().await;
        (invites.len() == 2).then_some(invites)
    })
    .await;
    let name_of = |ghost: &'static str| {
        let person = &person;
        async move {
            common::wait_for(ghost, Duration::from_secs(60), || async {
                let name = person.profile(ghost).await["displayname"]
                    .as_str()
                    .map(str::to_owned)?;
                // Until its message is bridged a ghost may be named by its number.
                (!name.starts_with('+')).then_some(name)
            })
            .await
        }
    };
    assert_eq!(
        name_of("@whatsapp_15550002001:localhost").await,
        "Acme Bakery (WA)"
    );
    assert_eq!(name_of("@whatsapp_15550002002:localhost").await, "Bob (WA)");

    let mut names = Vec::new();
    for (room, _) in &rooms {
        person.join(room).await;
        let name = person.state(room, "m.room.name", "").await;
        names.push(name.and_then(|name| name["name"].as_str().map(str::to_owned)));
    }
    names.sort();
    assert_eq!(
        names,
        vec![Some("Acme Bakery".to_owned()), Some("Bob".to_owned())]
    );
}

/// With `contact_name` among the sources, the name the user's phone has a contact under
/// (WhatsApp's app state, fetched when the server says it changed) names the ghost,
/// ahead of the push name their messages carry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn address_book_names_come_first_when_configured() {
    let Linked {
        server,
        mut env,
        user: person,
        room: management,
        bot,
        ..
    } = linked(Database::Sqlite, PHONE).await;
    let config = std::fs::read_to_string(&env.config_path).expect("config");
    let config = config.replace(
        "bridge:\n  permissions:",
        "bridge:\n  displayname_sources: [contact_name, push_name, phone]\n  permissions:",
    );
    std::fs::write(&env.config_path, config).expect("config");
    env.restart_bridge().await;

    let bob = server.contact(BOB).expect("contact");
    bob.set_push_name("Bobby").expect("push name");
    bob.send_text(PHONE, "hi").expect("send");
    let ghost = format!("@whatsapp_{BOB}:localhost");
    let name_is = |expected: &'static str| {
        let person = &person;
        let ghost = ghost.clone();
        async move {
            common::wait_for(&format!("the ghost to be {expected}"), LINKING, || async {
                (person.profile(&ghost).await["displayname"] == expected).then_some(())
            })
            .await
        }
    };
    let room = common::wait_for("the portal", LINKING, || async {
        let (room, _) = person.invites().await.into_iter().next()?;
        person.join(&room).await;
        Some(room)
    })
    .await;
    person.wait_for_message(&room, &ghost, "hi").await;
    name_is("Bobby").await;

    server
        .phone(PHONE)
        .expect("phone")
        .save_contact(BOB, "Robert Smith", "Robert")
        .expect("save contact");
    name_is("Robert Smith").await;

    // A later message with the push name does not take the address-book name away.
    bob.send_text(PHONE, "still me").expect("send");
    person.wait_for_message(&room, &ghost, "still me").await;
    assert_eq!(person.profile(&ghost).await["displayname"], "Robert Smith");

    // A change WhatsApp did not announce comes with `sync contacts`.
    server
        .phone(PHONE)
        .expect("phone")
        .save_contact_unannounced(BOB, "Rob", "Rob")
        .expect("save contact");
    person.send_text(&management, "sync contacts").await;
    person
        .wait_for_message(&management, &bot, "Read your contacts from WhatsApp again")
        .await;
    name_is("Rob").await;
}
