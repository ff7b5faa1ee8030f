//! Reconnects of the real whatsapp-rust client after the server rotated its
//! Noise static key: the cached key fails IK, XXfallback recovers, and the
//! next reconnect is IK again with the new key.

mod support;

use fakewa::{FakeServer, HandshakePattern, Jid, ServerEvent};
use support::{BoxError, client_event, pair_and_connect, server_event};
use whatsapp_rust::wacore::types::events::Event;

const PHONE_NUMBER: &str = "15550007777";

/// Drops the connection the device is logged in on right now. On a loaded
/// machine the client may already have replaced the connection the test saw
/// (a keepalive that timed out); what matters is the next handshake, so a
/// connection that is already gone counts as dropped.
fn drop_live_connection(server: &FakeServer, device: &Jid) -> Result<(), BoxError> {
    let Some(conn) = server.connection_of(device) else {
        return Ok(());
    };
    match server.drop_connection(conn) {
        Err(fakewa::FakeWaError::ConnectionGone) | Ok(()) => Ok(()),
        Err(other) => Err(other.into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_static_key_is_recovered_through_xxfallback() -> Result<(), BoxError> {
    let server = FakeServer::start().await?;
    let mut seen = server.events();
    let mut paired = pair_and_connect(&server, &mut seen, PHONE_NUMBER).await?;

    let old_key = server.static_public_key();
    server.rotate_static_key()?;
    assert_ne!(server.static_public_key(), old_key);
    drop_live_connection(&server, &paired.jid)?;

    let pattern = server_event(&mut seen, "handshake after rotation", |event| match event {
        ServerEvent::Handshake { pattern, .. } => Some(*pattern),
        _ => None,
    })
    .await?;
    assert_eq!(pattern, HandshakePattern::XxFallback);
    server_event(&mut seen, "login after fallback", |event| match event {
        ServerEvent::LoggedIn { jid, .. } if *jid == paired.jid => Some(()),
        ServerEvent::LoginRejected { reason, .. } => panic!("login rejected: {reason}"),
        _ => None,
    })
    .await?;
    client_event(&mut paired.events, "Connected after fallback", |event| {
        matches!(event, Event::Connected(_)).then_some(())
    })
    .await?;

    // XXfallback taught the client the new key: the next resume is IK.
    drop_live_connection(&server, &paired.jid)?;
    let pattern = server_event(&mut seen, "handshake after fallback", |event| match event {
        ServerEvent::Handshake { pattern, .. } => Some(*pattern),
        _ => None,
    })
    .await?;
    assert_eq!(pattern, HandshakePattern::Ik);
    paired.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_keeps_its_key_but_not_its_devices() -> Result<(), BoxError> {
    let server = FakeServer::start().await?;
    let mut seen = server.events();
    let mut paired = pair_and_connect(&server, &mut seen, PHONE_NUMBER).await?;
    let static_key = server.static_public_key();

    let server = server.restart().await?;
    let mut seen = server.events();
    assert_eq!(server.static_public_key(), static_key);

    // The client resumes on its own with the key it cached: IK holds.
    let pattern = server_event(&mut seen, "handshake after restart", |event| match event {
        ServerEvent::Handshake { pattern, .. } => Some(*pattern),
        _ => None,
    })
    .await?;
    assert_eq!(pattern, HandshakePattern::Ik);
    // A restarted server has no device records, so the login is refused
    // and the client learns it was logged out.
    server_event(&mut seen, "login refusal", |event| match event {
        ServerEvent::LoginRejected { .. } => Some(()),
        ServerEvent::LoggedIn { .. } => panic!("a restarted server cannot know the device"),
        _ => None,
    })
    .await?;
    let on_connect = client_event(&mut paired.events, "LoggedOut", |event| match event {
        Event::LoggedOut(logged_out) => Some(logged_out.on_connect),
        _ => None,
    })
    .await?;
    assert!(on_connect);
    paired.stop().await;
    Ok(())
}
