//! Linking WhatsApp accounts end to end: people on a real Synapse talk to the bot, the
//! fake WhatsApp server plays WhatsApp and their phones, and the bridge runs as its real
//! binary. QR and pairing-code logins, QR rotation and expiry, logout, what WhatsApp
//! does to a session (unlink from the phone, 402, 405, dropped sockets), restarts, and
//! two people at once.

mod common;

use std::time::Duration;

use common::bridge::Database;
use common::whatsapp::{
    LINKING, Linked, linked, listing_shows, log_in_by_qr, qr_image, refuse_next_login,
    server_event, setup,
};
use fakewa::{Jid, LoginFailure, ServerEvent};

const PHONE: &str = "15550001234";
const OTHER_PHONE: &str = "15550005678";

async fn qr_login_end_to_end(database: Database) {
    let (server, env) = setup(database).await;
    let mut seen = server.events();
    let bot = env.bot();
    let (alice, room) = env.user_with_management_room("alice").await;

    alice.send_text(&room, "login qr").await;
    let qr_event = qr_image(&alice, &room, &bot).await;
    let device_name = server_event(&mut seen, "a registration", |event| match event {
        ServerEvent::PairDeviceSent { device_name, .. } => Some(device_name.clone()),
        _ => None,
    })
    .await;
    assert_eq!(
        device_name.as_deref(),
        Some(env.config.whatsapp.device_name.as_str()),
        "the phone shows the configured device name"
    );
    let code = qr_event["content"]["body"].as_str().expect("body");
    // The person's phone scans what the person was shown.
    server
        .phone(PHONE)
        .expect("the fake phone")
        .scan_qr(code)
        .expect("the phone accepts the code");
    alice
        .wait_for_message_within(
            &room,
            &bot,
            &format!("Successfully logged in as +{PHONE}"),
            LINKING,
        )
        .await;

    // The code is gone from the room, and the login is listed and connected.
    let after = alice.timeline(&room).await;
    let shown = after
        .iter()
        .find(|event| event["event_id"] == qr_event["event_id"])
        .expect("the QR event");
    assert!(
        shown["content"].get("body").is_none(),
        "the QR code stayed readable: {shown}"
    );
    alice.send_text(&room, "list-logins").await;
    alice
        .wait_for_message(&room, &bot, &format!("+{PHONE} — connected"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_qr_links_the_account() {
    qr_login_end_to_end(Database::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_qr_links_the_account_with_the_store_on_postgres() {
    let url = common::fresh_postgres_database().await;
    qr_login_end_to_end(Database::Postgres(url)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_phone_links_with_the_code_entered_on_the_phone() {
    let (server, env) = setup(Database::Sqlite).await;
    let bot = env.bot();
    let (alice, room) = env.user_with_management_room("alice").await;

    alice
        .send_text(&room, &format!("login phone +{PHONE}"))
        .await;
    let shown = alice
        .wait_for_message_within(&room, &bot, "enter this code", LINKING)
        .await;
    let code = shown
        .split_whitespace()
        .map(|word| word.trim_matches(|c: char| c == '*' || c.is_ascii_punctuation() && c != '-'))
        .find(|word| word.len() == 9 && word.as_bytes()[4] == b'-')
        .unwrap_or_else(|| panic!("no XXXX-XXXX code in {shown:?}"))
        .to_owned();
    server
        .phone(PHONE)
        .expect("the fake phone")
        .enter_pair_code(&code)
        .expect("the phone accepts the code");
    alice
        .wait_for_message_within(
            &room,
            &bot,
            &format!("Successfully logged in as +{PHONE}"),
            LINKING,
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unused_qr_code_rotates_by_editing_then_times_out() {
    let (server, env) = setup(Database::Sqlite).await;
    // Two codes: 60 s for the first, 20 s for the second, then the client gives up.
    server.set_qr_ref_count(2);
    let bot = env.bot();
    let (alice, room) = env.user_with_management_room("alice").await;

    alice.send_text(&room, "login qr").await;
    let first = qr_image(&alice, &room, &bot).await;
    // WhatsApp's first code lives 60 s; a loaded machine may take a while longer.
    let edit = common::wait_for("the QR code's edit", Duration::from_secs(150), || async {
        alice.timeline(&room).await.into_iter().find(|event| {
            event["content"]["m.relates_to"]["rel_type"] == "m.replace"
                && event["content"]["m.relates_to"]["event_id"] == first["event_id"]
        })
    })
    .await;
    let new_code = edit["content"]["m.new_content"]["body"]
        .as_str()
        .expect("the new code");
    assert_ne!(Some(new_code), first["content"]["body"].as_str());
    alice
        .wait_for_message_within(&room, &bot, "timed out", Duration::from_secs(60))
        .await;
    let redacted = alice
        .timeline(&room)
        .await
        .into_iter()
        .find(|event| event["event_id"] == first["event_id"])
        .expect("the QR event");
    assert!(redacted["content"].get("body").is_none(), "{redacted}");
    alice.send_text(&room, "list-logins").await;
    alice
        .wait_for_message(&room, &bot, "You are not logged in")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_unlinks_the_device_on_whatsapp() {
    let Linked {
        server,
        env: _env,
        mut seen,
        bot,
        user: alice,
        room,
        device,
    } = linked(Database::Sqlite, PHONE).await;

    alice.send_text(&room, "logout").await;
    alice
        .wait_for_message(&room, &bot, "no longer a linked device")
        .await;
    let by_companion = server_event(&mut seen, "the unlink", |event| match event {
        ServerEvent::DeviceUnlinked { jid, by_companion } if *jid == device => Some(*by_companion),
        _ => None,
    })
    .await;
    assert!(by_companion, "the bridge itself unlinked the device");
    assert!(server.phone(PHONE).expect("phone").companions().is_empty());
    alice.send_text(&room, "logout").await;
    alice
        .wait_for_message(&room, &bot, "You are not logged in to WhatsApp")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlinking_on_the_phone_is_reported_and_forgets_the_login() {
    let Linked {
        server,
        env: _env,
        seen: _seen,
        bot,
        user: alice,
        room,
        device,
    } = linked(Database::Sqlite, PHONE).await;

    server
        .phone(PHONE)
        .expect("phone")
        .unlink(&device)
        .expect("the phone unlinks");
    alice
        .wait_for_message(&room, &bot, "removed from **Linked devices**")
        .await;
    alice.send_text(&room, "list-logins").await;
    alice
        .wait_for_message(&room, &bot, "You are not logged in")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_and_an_outdated_client_are_reported_and_reconnect_recovers() {
    let Linked {
        server,
        env: _env,
        mut seen,
        bot,
        user: alice,
        room,
        device,
    } = linked(Database::Sqlite, PHONE).await;

    // WhatsApp answers the next login with 402, as a ban does.
    refuse_next_login(&server, &device, LoginFailure::TemporaryBan);
    alice
        .wait_for_message_within(&room, &bot, "temporarily banned", LINKING)
        .await;
    let ban = alice
        .messages_from(&room, &bot)
        .await
        .into_iter()
        .find(|body| body.contains("temporarily banned"))
        .expect("the ban notice");
    assert!(
        ban.contains("402") && ban.contains("lifts in about"),
        "{ban}"
    );

    // Then 405 for the next login.
    server.fail_next_login(LoginFailure::ClientOutdated);
    if let Some(conn) = server.connection_of(&device) {
        server.drop_connection(conn).expect("drop");
    } else {
        // The session stopped at the ban: the person restarts it.
        alice.send_text(&room, "reconnect").await;
    }
    let outdated = alice
        .wait_for_message_within(&room, &bot, "client outdated", LINKING)
        .await;
    assert!(
        outdated.contains("405") && outdated.contains("whatsapp.version"),
        "{outdated}"
    );

    // Nothing is refused any more: `reconnect` brings the session back.
    alice.send_text(&room, "reconnect").await;
    server_event(
        &mut seen,
        "the login after the refusals",
        |event| match event {
            ServerEvent::LoggedIn { jid, .. } if *jid == device => Some(()),
            _ => None,
        },
    )
    .await;
    listing_shows(&alice, &room, &bot, &format!("+{PHONE} — connected")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_socket_reconnects_quietly_and_a_restart_needs_no_qr() {
    let Linked {
        server,
        mut env,
        mut seen,
        bot,
        user: alice,
        room,
        device,
    } = linked(Database::Sqlite, PHONE).await;

    let conn = server.connection_of(&device).expect("connected");
    server.drop_connection(conn).expect("drop");
    server_event(&mut seen, "the login after the drop", |event| match event {
        ServerEvent::LoggedIn { jid, conn: new } if *jid == device && *new != conn => Some(()),
        _ => None,
    })
    .await;

    // The phone greeted the new device (its peer messages come from device 0), and
    // sends a receipt now: it is online, as list-logins says.
    server
        .phone(PHONE)
        .expect("phone")
        .send_receipt(&Jid::pn(OTHER_PHONE), &["3EB0FAKE".to_owned()])
        .expect("a receipt from the phone");
    common::wait_for("the phone's sighting", Duration::from_secs(30), || async {
        alice.send_text(&room, "ping").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        alice
            .messages_from(&room, &bot)
            .await
            .iter()
            .any(|body| body.contains("phone last seen just now"))
            .then_some(())
    })
    .await;

    let images_before = alice
        .timeline(&room)
        .await
        .iter()
        .filter(|event| event["content"]["msgtype"] == "m.image")
        .count();
    env.restart_bridge().await;
    server_event(
        &mut seen,
        "the login after the restart",
        |event| match event {
            ServerEvent::LoggedIn { jid, .. } if *jid == device => Some(()),
            ServerEvent::PairDeviceSent { .. } => panic!("the restarted bridge registered anew"),
            _ => None,
        },
    )
    .await;
    // The sighting survived the restart.
    let listings = alice
        .messages_from(&room, &bot)
        .await
        .iter()
        .filter(|body| body.contains("Your WhatsApp logins"))
        .count();
    alice.send_text(&room, "list-logins").await;
    common::wait_for(
        "a listing after the restart",
        Duration::from_secs(30),
        || async {
            let lists: Vec<String> = alice
                .messages_from(&room, &bot)
                .await
                .into_iter()
                .filter(|body| body.contains("Your WhatsApp logins"))
                .collect();
            if lists.len() <= listings {
                return None;
            }
            let last = lists.last()?;
            (last.contains(&format!("+{PHONE} — connected")) && last.contains("phone last seen"))
                .then_some(())
        },
    )
    .await;
    let after = alice.timeline(&room).await;
    let images_after = after
        .iter()
        .filter(|event| event["content"]["msgtype"] == "m.image")
        .count();
    assert_eq!(
        images_before, images_after,
        "no new QR code after the restart"
    );
    let bodies: Vec<&str> = after
        .iter()
        .filter(|event| event["sender"] == bot.as_str())
        .filter_map(|event| event["content"]["body"].as_str())
        .collect();
    assert!(
        !bodies
            .iter()
            .any(|body| body.contains("connection to WhatsApp")),
        "a short drop is not worth a notice: {bodies:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_people_with_two_accounts_stay_apart() {
    let (server, env) = setup(Database::Sqlite).await;
    let mut seen = server.events();
    let bot = env.bot();
    let (alice, alice_room) = env.user_with_management_room("alice").await;
    let (bob, bob_room) = env.user_with_management_room("bob").await;
    let alice_device = log_in_by_qr(&server, &mut seen, &alice, &alice_room, &bot, PHONE).await;
    let bob_device = log_in_by_qr(&server, &mut seen, &bob, &bob_room, &bot, OTHER_PHONE).await;
    assert_ne!(alice_device.user, bob_device.user);

    alice.send_text(&alice_room, "list-logins").await;
    let alice_list = alice
        .wait_for_message(&alice_room, &bot, "Your WhatsApp logins")
        .await;
    assert!(
        alice_list.contains(PHONE) && !alice_list.contains(OTHER_PHONE),
        "{alice_list}"
    );
    bob.send_text(&bob_room, "list-logins").await;
    let bob_list = bob
        .wait_for_message(&bob_room, &bot, "Your WhatsApp logins")
        .await;
    assert!(
        bob_list.contains(OTHER_PHONE) && !bob_list.contains(PHONE),
        "{bob_list}"
    );

    // Bob logging out leaves Alice's account linked and connected.
    bob.send_text(&bob_room, "logout").await;
    bob.wait_for_message(&bob_room, &bot, "no longer a linked device")
        .await;
    assert_eq!(
        server.phone(PHONE).expect("phone").companions(),
        [alice_device]
    );
    alice.send_text(&alice_room, "ping").await;
    common::wait_for(
        "alice's second listing",
        Duration::from_secs(30),
        || async {
            let lists: Vec<String> = alice
                .messages_from(&alice_room, &bot)
                .await
                .into_iter()
                .filter(|body| body.contains("Your WhatsApp logins"))
                .collect();
            (lists.len() == 2 && lists[1].contains(&format!("+{PHONE} — connected"))).then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gone_main_device_is_reported_and_forgets_the_login() {
    let Linked {
        server,
        env: _env,
        seen: _seen,
        bot,
        user: alice,
        room,
        device,
    } = linked(Database::Sqlite, PHONE).await;

    // WhatsApp was re-registered on the phone: the next login is refused with 403.
    refuse_next_login(&server, &device, LoginFailure::MainDeviceGone);
    alice
        .wait_for_message_within(&room, &bot, "main device is gone", LINKING)
        .await;
    alice.send_text(&room, "list-logins").await;
    alice
        .wait_for_message(&room, &bot, "You are not logged in")
        .await;
}
