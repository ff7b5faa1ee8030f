//! The proof that the fake server is faithful enough: the real whatsapp-rust
//! client pairs by QR, restarts on 515, logs in, uploads prekeys, and resumes
//! with Noise IK after the server drops its socket.

mod support;

use fakewa::{FakeServer, HandshakePattern, Jid, ServerEvent};
use support::{BoxError, Linking, build_client, client_event, server_event};
use whatsapp_rust::wacore::types::events::Event;

/// whatsapp-rust tops its one-time prekeys up to this many at first login.
const WANTED_PREKEYS: usize = 812;
const PHONE_NUMBER: &str = "15550001234";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_client_pairs_logs_in_uploads_prekeys_and_resumes_with_ik() -> Result<(), BoxError> {
    let _ = env_logger::builder().is_test(true).try_init();
    let server = FakeServer::start().await?;
    let mut seen = server.events();

    let (bot, mut client_events) = build_client(&server, Linking::Qr).await?;
    let client = bot.client();
    let bot_handle = bot.spawn();

    // Registration: a fresh client speaks XX and is offered QR refs.
    let first_pattern = server_event(&mut seen, "first handshake", |event| match event {
        ServerEvent::Handshake { pattern, .. } => Some(*pattern),
        _ => None,
    })
    .await?;
    assert_eq!(first_pattern, HandshakePattern::Xx);
    let qr = client_event(&mut client_events, "QR code", |event| match event {
        Event::PairingQrCode(qr) => Some(qr.code.clone()),
        _ => None,
    })
    .await?;

    // The phone scans; the client verifies the ADV identity and signs back.
    let phone = server.phone(PHONE_NUMBER)?;
    let started = phone.scan_qr(&qr)?;
    assert_eq!(started.jid.user, PHONE_NUMBER);
    let paired = client_event(&mut client_events, "PairSuccess", |event| match event {
        Event::PairSuccess(success) => Some(success.id.clone()),
        _ => None,
    })
    .await?;
    assert_eq!(paired, started.jid);
    let (server_jid, server_lid): (Jid, Jid) =
        server_event(&mut seen, "device signature check", |event| match event {
            ServerEvent::Paired { jid, lid, .. } => Some((jid.clone(), lid.clone())),
            ServerEvent::PairingFailed { reason, .. } => {
                panic!("pairing failed on the server: {reason}")
            }
            _ => None,
        })
        .await?;
    assert_eq!(server_jid, started.jid);
    assert_eq!(server_lid, started.lid);

    // After 515 the client reconnects with a login payload.
    let logged_in = server_event(&mut seen, "login", |event| match event {
        ServerEvent::LoggedIn { jid, .. } => Some(jid.clone()),
        ServerEvent::LoginRejected { reason, .. } => panic!("login rejected: {reason}"),
        _ => None,
    })
    .await?;
    assert_eq!(logged_in, started.jid);
    client_event(&mut client_events, "Connected after pairing", |event| {
        matches!(event, Event::Connected(_)).then_some(())
    })
    .await?;

    let uploaded = server_event(&mut seen, "prekey upload", |event| match event {
        ServerEvent::PrekeysUploaded { jid, count } => Some((jid.clone(), *count)),
        _ => None,
    })
    .await?;
    assert_eq!(uploaded, (started.jid.clone(), WANTED_PREKEYS));
    let stored = server.prekey_uploads(&started.jid);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].identity.len(), 32);
    assert!(stored[0].signed_prekey_id.is_some());

    // The server drops the socket; the client resumes with the cached key.
    assert!(server.drop_all_connections() >= 1);
    let resumed = server_event(&mut seen, "handshake after the drop", |event| match event {
        ServerEvent::Handshake { pattern, .. } => Some(*pattern),
        _ => None,
    })
    .await?;
    assert_eq!(resumed, HandshakePattern::Ik);
    let relogged = server_event(&mut seen, "login after the drop", |event| match event {
        ServerEvent::LoggedIn { jid, .. } => Some(jid.clone()),
        _ => None,
    })
    .await?;
    assert_eq!(relogged, started.jid);
    client_event(&mut client_events, "Connected after the drop", |event| {
        matches!(event, Event::Connected(_)).then_some(())
    })
    .await?;

    client.disconnect().await;
    bot_handle.abort();
    Ok(())
}
