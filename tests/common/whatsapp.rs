//! The fake WhatsApp server next to a test setup: start both, link an account.

use std::time::Duration;

use fakewa::{FakeServer, Jid, ServerEvent};
use serde_json::Value;
use tokio::sync::broadcast;

use super::bridge::{Database, Options, TestEnv};
use super::user::MatrixUser;

/// The first login after pairing: pairing, 515, login, prekeys, app state.
pub const LINKING: Duration = Duration::from_secs(90);

pub fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .and_then(|rest| rest.split('/').next())
        .and_then(|port| port.parse().ok())
        .expect("a port in the fake server's URL")
}

pub async fn setup(database: Database) -> (FakeServer, TestEnv) {
    setup_with(Options {
        database,
        ..Options::default()
    })
    .await
}

/// The fake server and a test setup with these options, pointed at each other.
pub async fn setup_with(options: Options) -> (FakeServer, TestEnv) {
    let server = FakeServer::start().await.expect("fake WhatsApp server");
    let options = Options {
        whatsapp_port: Some(port_of(&server.url())),
        ..options
    };
    let env = TestEnv::start(options).await;
    (server, env)
}

/// The next server event `pick` accepts.
pub async fn server_event<T>(
    seen: &mut broadcast::Receiver<ServerEvent>,
    what: &str,
    pick: impl Fn(&ServerEvent) -> Option<T>,
) -> T {
    let wait = async {
        loop {
            match seen.recv().await {
                Ok(event) => {
                    if let Some(found) = pick(&event) {
                        return found;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => panic!("fake server gone"),
            }
        }
    };
    tokio::time::timeout(LINKING, wait)
        .await
        .unwrap_or_else(|_| panic!("the fake server saw no {what}"))
}

/// The bot's QR image in the room (the first one).
pub async fn qr_image(user: &MatrixUser, room: &str, bot: &str) -> Value {
    super::wait_for("the QR image", Duration::from_secs(60), || async {
        user.timeline(room)
            .await
            .into_iter()
            .find(|event| event["sender"] == bot && event["content"]["msgtype"] == "m.image")
    })
    .await
}

/// `login qr` from scanning to success; returns the linked device.
pub async fn log_in_by_qr(
    server: &FakeServer,
    seen: &mut broadcast::Receiver<ServerEvent>,
    user: &MatrixUser,
    room: &str,
    bot: &str,
    phone: &str,
) -> Jid {
    user.send_text(room, "login qr").await;
    let qr = qr_image(user, room, bot).await;
    let code = qr["content"]["body"]
        .as_str()
        .expect("the raw code is the body");
    let started = server
        .phone(phone)
        .expect("the fake phone")
        .scan_qr(code)
        .expect("the phone accepts the code");
    user.wait_for_message_within(
        room,
        bot,
        &format!("Successfully logged in as +{phone}"),
        LINKING,
    )
    .await;
    let jid = started.jid;
    server_event(seen, "the login", |event| match event {
        ServerEvent::LoggedIn { jid: who, .. } if *who == jid => Some(()),
        _ => None,
    })
    .await;
    // Contacts can write to the device once its keys are on the server.
    if server.prekey_uploads(&jid).is_empty() {
        server_event(seen, "the prekey upload", |event| match event {
            ServerEvent::PrekeysUploaded { jid: who, .. } if *who == jid => Some(()),
            _ => None,
        })
        .await;
    }
    jid
}

/// A person on Matrix whose WhatsApp account is linked through the bridge.
pub struct Linked {
    pub server: FakeServer,
    pub env: TestEnv,
    pub seen: broadcast::Receiver<ServerEvent>,
    pub bot: String,
    pub user: MatrixUser,
    /// The person's management room.
    pub room: String,
    /// The bridge's device on WhatsApp.
    pub device: Jid,
}

/// Starts everything and links `phone` for a person called alice.
pub async fn linked(database: Database, phone: &str) -> Linked {
    linked_with(
        Options {
            database,
            ..Options::default()
        },
        phone,
    )
    .await
}

/// Starts everything with these options and links `phone` for a person called alice.
pub async fn linked_with(options: Options, phone: &str) -> Linked {
    let (server, env) = setup_with(options).await;
    let mut seen = server.events();
    let bot = env.bot();
    let (user, room) = env.user_with_management_room("alice").await;
    let device = log_in_by_qr(&server, &mut seen, &user, &room, &bot, phone).await;
    Linked {
        server,
        env,
        seen,
        bot,
        user,
        room,
        device,
    }
}

/// WhatsApp refuses the next login with `failure`, and the socket drops so the session
/// logs in again.
pub fn refuse_next_login(server: &FakeServer, device: &Jid, failure: fakewa::LoginFailure) {
    server.fail_next_login(failure);
    let conn = server.connection_of(device).expect("connected");
    server.drop_connection(conn).expect("drop");
}

/// Asks `list-logins` until an answer contains `needle`.
pub async fn listing_shows(user: &MatrixUser, room: &str, bot: &str, needle: &str) {
    super::wait_for(&format!("a listing with {needle:?}"), LINKING, || async {
        user.send_text(room, "list-logins").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        user.messages_from(room, bot)
            .await
            .iter()
            .any(|body| body.contains("Your WhatsApp logins") && body.contains(needle))
            .then_some(())
    })
    .await
}

/// Bytes that differ from file to file.
pub fn test_file(seed: u32, len: u32) -> Vec<u8> {
    (0..len).map(|i| ((i * seed + seed) % 251) as u8).collect()
}

/// Where a stored file is, as a media message says it.
pub fn media_url(server: &FakeServer, stored: &fakewa::MediaRef) -> Option<String> {
    Some(format!(
        "https://{}{}",
        server.media_host(),
        stored.direct_path
    ))
}

/// A JPEG photo message for a file on the fake media server.
pub fn photo_message(
    server: &FakeServer,
    stored: &fakewa::MediaRef,
    caption: &str,
) -> fakewa::proto::Message {
    use whatsapp_rust::waproto::buffa;
    fakewa::proto::Message {
        image_message: buffa::MessageField::some(fakewa::proto::message::ImageMessage {
            url: media_url(server, stored),
            direct_path: Some(stored.direct_path.clone()),
            media_key: Some(stored.media_key.to_vec()),
            file_sha256: Some(stored.file_sha256.to_vec()),
            file_enc_sha256: Some(stored.file_enc_sha256.to_vec()),
            file_length: Some(stored.file_length),
            mimetype: Some("image/jpeg".into()),
            caption: Some(caption.into()),
            width: Some(64),
            height: Some(48),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The text a person reads in a WhatsApp message: its text, or a file's caption.
pub fn text_of(message: &fakewa::proto::Message) -> Option<String> {
    if let Some(text) = &message.conversation {
        return Some(text.clone());
    }
    if let Some(extended) = message.extended_text_message.as_option() {
        return extended.text.clone();
    }
    if let Some(image) = message.image_message.as_option() {
        return image.caption.clone();
    }
    None
}
