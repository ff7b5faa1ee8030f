//! Linking a WhatsApp account end to end: a person on a real Synapse asks the bot to log
//! in, the fake WhatsApp server's phone scans the QR code the person was shown, and the
//! bridge reports the login.

mod common;

use std::time::Duration;

use common::bridge::{Options, TestEnv};

const PHONE: &str = "15550001234";

fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .and_then(|rest| rest.split('/').next())
        .and_then(|port| port.parse().ok())
        .expect("a port in the fake server's URL")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_qr_links_the_account() {
    let server = fakewa::FakeServer::start()
        .await
        .expect("fake WhatsApp server");
    let options = Options {
        whatsapp_port: Some(port_of(&server.url())),
        ..Options::default()
    };
    let env = TestEnv::start(options).await;
    let bot = env.bot();
    let (alice, room) = env.user_with_management_room("alice").await;

    alice.send_text(&room, "login qr").await;
    let qr_event = common::wait_for("the QR image", Duration::from_secs(60), || async {
        alice.timeline(&room).await.into_iter().find(|event| {
            event["sender"] == bot.as_str() && event["content"]["msgtype"] == "m.image"
        })
    })
    .await;
    let code = qr_event["content"]["body"]
        .as_str()
        .expect("the raw code is the body")
        .to_owned();

    // The person's phone scans what the person was shown.
    server
        .phone(PHONE)
        .expect("the fake phone")
        .scan_qr(&code)
        .expect("the phone accepts the code");
    alice
        .wait_for_message_within(
            &room,
            &bot,
            &format!("Successfully logged in as +{PHONE}"),
            Duration::from_secs(90),
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
