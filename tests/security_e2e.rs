//! What the bridge writes to its log, and what others can make it do: a whole run at the
//! log level admins use (login, messages both ways, wrong credentials on every API) must
//! leave no secret and no contact's phone number in the log; another Matrix user in a
//! portal cannot speak through its owner's account.

mod common;

use std::time::Duration;

use common::bridge::{DEVICE_API_USER, Database, Options, PROVISIONING_SECRET};
use common::provisioning::{DeviceApi, ProvisionApi};
use common::synapse::DOUBLE_PUPPET_TOKEN;
use common::user::MatrixUser;
use common::whatsapp::{LINKING, Linked, linked_with, text_of};
use fakewa::Role;

const PHONE: &str = "15550001234";
const ALICE: &str = "15550002001";
const CAROL: &str = "15550002003";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_holds_no_secret_and_no_contacts_number() {
    let Linked {
        server,
        env,
        bot,
        user: person,
        ..
    } = linked_with(
        Options {
            database: Database::Sqlite,
            log_level: "info",
            ..Options::default()
        },
        PHONE,
    )
    .await;
    let alice = server.contact(ALICE).expect("contact");
    let carol = server.contact(CAROL).expect("contact");
    let group = server
        .create_group(
            CAROL,
            "Secrets",
            &[(PHONE, Role::Member), (ALICE, Role::Member)],
        )
        .expect("group");
    alice.send_text(PHONE, "hello, it's alice").expect("send");
    carol
        .send_group_text(&group.jid(), "hello group")
        .expect("send");
    let mut rooms = Vec::new();
    person.join_invites(&mut rooms, 2, LINKING).await;
    let alice_ghost = format!("@whatsapp_{ALICE}:localhost");
    let direct = common::wait_for("alice's portal", LINKING, || async {
        for room in &rooms {
            if !person.messages_from(room, &alice_ghost).await.is_empty() {
                return Some(room.clone());
            }
        }
        None
    })
    .await;
    person.send_text(&direct, "hello alice, from Matrix").await;
    common::wait_for("alice to read the answer", LINKING, || async {
        server
            .decrypted()
            .iter()
            .any(|received| {
                received.recipient.user == ALICE
                    && text_of(&received.message).as_deref() == Some("hello alice, from Matrix")
            })
            .then_some(())
    })
    .await;

    // Wrong credentials on every door: the appservice, both provisioning APIs.
    let wrong = [
        "wrong-hs-token-0123456789abcdef",
        "wrong-provisioning-secret-0123456789",
        "wrong-device-password-0123456789",
    ];
    let (status, _) = env
        .put_transaction("intruder-1", Some(wrong[0]), r#"{"events":[]}"#)
        .await;
    assert_eq!(status, 403);
    let mut provision = ProvisionApi::new(&env, &person.user_id);
    provision.token = Some(wrong[1].into());
    assert_eq!(provision.get("/whoami").await.status, 401);
    let devices = DeviceApi::with_password(&env, DEVICE_API_USER, wrong[2]);
    assert_eq!(devices.get("/devices").await.status, 401);
    // And the right ones, so they pass through the code that logs requests.
    assert!(
        ProvisionApi::new(&env, &person.user_id)
            .get("/whoami")
            .await
            .status
            .is_success()
    );
    assert!(
        DeviceApi::new(&env, DEVICE_API_USER)
            .get("/devices")
            .await
            .status
            .is_success()
    );
    person.send_text(&direct, "!wa list-logins").await;
    person
        .wait_for_message_within(
            &direct,
            &bot,
            "Your WhatsApp logins",
            Duration::from_secs(30),
        )
        .await;

    let log = env.bridge_log();
    assert!(
        log.contains("bridge ready"),
        "the log is the bridge's: {log}"
    );
    let secrets = [
        env.config.appservice.as_token.as_str(),
        env.config.appservice.hs_token.as_str(),
        PROVISIONING_SECRET,
        common::bridge::DEVICE_API_PASSWORD,
        DOUBLE_PUPPET_TOKEN,
    ];
    for secret in secrets.iter().chain(wrong.iter()) {
        assert!(!log.contains(secret), "a secret is in the log: {secret}");
    }
    for number in [ALICE, CAROL] {
        let lines: Vec<&str> = log.lines().filter(|line| line.contains(number)).collect();
        assert!(
            lines.is_empty(),
            "a contact's number is in the log: {lines:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_user_in_a_portal_cannot_speak_through_its_owner() {
    let Linked {
        server,
        env,
        user: person,
        ..
    } = linked_with(
        Options {
            database: Database::Sqlite,
            ..Options::default()
        },
        PHONE,
    )
    .await;
    let alice = server.contact(ALICE).expect("contact");
    alice.send_text(PHONE, "hello, it's alice").expect("send");
    let mut rooms = Vec::new();
    person.join_invites(&mut rooms, 1, LINKING).await;
    let portal = rooms.remove(0);
    // A second person on the same homeserver, invited into the portal by its owner.
    let mallory = MatrixUser::register(&env.synapse.url(), "mallory").await;
    person.invite(&portal, &mallory.user_id).await;
    mallory.join(&portal).await;
    mallory.send_text(&portal, "send money to mallory").await;
    person.send_text(&portal, "the owner's own words").await;

    common::wait_for("the owner's message at alice", LINKING, || async {
        server
            .decrypted()
            .iter()
            .any(|received| {
                received.recipient.user == ALICE
                    && text_of(&received.message).as_deref() == Some("the owner's own words")
            })
            .then_some(())
    })
    .await;
    let from_mallory: Vec<String> = server
        .decrypted()
        .iter()
        .filter_map(|received| text_of(&received.message))
        .filter(|text| text.contains("mallory"))
        .collect();
    assert!(
        from_mallory.is_empty(),
        "nothing of another user goes out as the owner: {from_mallory:?}"
    );
}
