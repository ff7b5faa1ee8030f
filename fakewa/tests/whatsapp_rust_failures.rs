//! Scripted refusals reach the real whatsapp-rust client as the events a
//! bridge acts on: logged out, temporary ban, outdated, replaced, and a 503
//! it recovers from; malformed input and remote unlinking do what WhatsApp's
//! would.

mod support;

use fakewa::{FakeServer, LoginFailure, ServerEvent, StreamEnd};
use std::sync::Arc;
use support::{BoxError, client_event, pair_and_connect, server_event};
use whatsapp_rust::wacore::types::events::Event;

const PHONE_NUMBER: &str = "15550004321";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_unavailable_is_recovered_by_reconnecting() -> Result<(), BoxError> {
    let server = FakeServer::start().await?;
    let mut seen = server.events();
    let mut paired = pair_and_connect(&server, &mut seen, PHONE_NUMBER).await?;

    server.end_stream(paired.conn, StreamEnd::ServiceUnavailable)?;
    let conn = server_event(&mut seen, "login after 503", |event| match event {
        ServerEvent::LoggedIn { conn, jid } if *jid == paired.jid => Some(*conn),
        _ => None,
    })
    .await?;
    assert_ne!(conn, paired.conn);
    client_event(&mut paired.events, "Connected after 503", |event| {
        matches!(event, Event::Connected(_)).then_some(())
    })
    .await?;
    paired.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_removed_logs_the_client_out() -> Result<(), BoxError> {
    let server = FakeServer::start().await?;
    let mut seen = server.events();
    let mut paired = pair_and_connect(&server, &mut seen, PHONE_NUMBER).await?;

    server.end_stream(paired.conn, StreamEnd::DeviceRemoved)?;
    let on_connect = client_event(&mut paired.events, "LoggedOut", |event| match event {
        Event::LoggedOut(logged_out) => Some(logged_out.on_connect),
        _ => None,
    })
    .await?;
    assert!(!on_connect, "removed while connected, not at login");
    paired.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaced_stream_is_reported_as_replaced() -> Result<(), BoxError> {
    let server = FakeServer::start().await?;
    let mut seen = server.events();
    let mut paired = pair_and_connect(&server, &mut seen, PHONE_NUMBER).await?;

    server.end_stream(paired.conn, StreamEnd::Replaced)?;
    client_event(&mut paired.events, "StreamReplaced", |event| match event {
        Event::StreamReplaced(_) => Some(()),
        Event::LoggedOut(_) => panic!("replaced is not a logout"),
        _ => None,
    })
    .await?;
    paired.stop().await;
    Ok(())
}

/// Pairs, scripts `failure` for the next login, drops the socket so the
/// client logs in again, and returns the first event `pick` accepts.
async fn refused_login<T>(
    failure: LoginFailure,
    pick: impl Fn(&Event) -> Option<T>,
) -> Result<T, BoxError> {
    let server = FakeServer::start().await?;
    let mut seen = server.events();
    let mut paired = pair_and_connect(&server, &mut seen, PHONE_NUMBER).await?;

    server.fail_next_login(failure);
    server.drop_connection(paired.conn)?;
    server_event(&mut seen, "refused login", |event| match event {
        ServerEvent::LoginRejected { .. } => Some(()),
        _ => None,
    })
    .await?;
    let picked = client_event(&mut paired.events, &format!("{failure:?}"), pick).await?;
    paired.stop().await;
    Ok(picked)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_401_at_login_logs_out() -> Result<(), BoxError> {
    let on_connect = refused_login(LoginFailure::LoggedOut, |event| match event {
        Event::LoggedOut(logged_out) => Some(logged_out.on_connect),
        _ => None,
    })
    .await?;
    assert!(on_connect, "refused at login");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_402_is_a_temporary_ban() -> Result<(), BoxError> {
    let expire = refused_login(LoginFailure::TemporaryBan, |event| match event {
        Event::TemporaryBan(ban) => Some(ban.expire),
        _ => None,
    })
    .await?;
    assert!(expire.num_seconds() > 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_403_at_login_logs_out() -> Result<(), BoxError> {
    let on_connect = refused_login(LoginFailure::MainDeviceGone, |event| match event {
        Event::LoggedOut(logged_out) => Some(logged_out.on_connect),
        _ => None,
    })
    .await?;
    assert!(on_connect);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_405_reports_an_outdated_client() -> Result<(), BoxError> {
    refused_login(LoginFailure::ClientOutdated, |event| match event {
        Event::ClientOutdated(_) => Some(()),
        Event::LoggedOut(_) => panic!("outdated is not a logout"),
        _ => None,
    })
    .await
}

/// Waits until the client has a message with this text.
async fn text_arrives(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<Arc<Event>>,
    text: &str,
) -> Result<(), BoxError> {
    client_event(events, text, |event| match event {
        Event::Messages(batch) => batch
            .messages
            .iter()
            .any(|inbound| inbound.message.conversation.as_deref() == Some(text))
            .then_some(()),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_does_not_parse_leaves_the_client_working() -> Result<(), BoxError> {
    let server = FakeServer::start().await?;
    let mut seen = server.events();
    let mut paired = pair_and_connect(&server, &mut seen, PHONE_NUMBER).await?;
    let alice = server.contact("15550002001")?;

    // Well encrypted, but not a binary node: a list header that runs past the end.
    server.send_malformed_node(paired.conn, vec![0, 248, 200, 3])?;
    alice.send_text(PHONE_NUMBER, "still there?")?;
    text_arrives(&mut paired.events, "still there?").await?;
    paired.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_that_does_not_decrypt_does_not_stop_the_client() -> Result<(), BoxError> {
    let server = FakeServer::start().await?;
    let mut seen = server.events();
    let mut paired = pair_and_connect(&server, &mut seen, PHONE_NUMBER).await?;
    let alice = server.contact("15550002001")?;

    // whatsapp-rust logs the frame and keeps the connection, whose receive
    // counter is now out of step: nothing it gets there decrypts any more,
    // and its keepalive counts the unreadable answers as signs of life. It
    // survives, and once that connection goes it reconnects and works.
    server.send_undecryptable_frame(paired.conn, vec![0x42; 48])?;
    alice.send_text(PHONE_NUMBER, "lost with the connection")?;
    server.drop_connection(paired.conn)?;
    server_event(
        &mut seen,
        "the login after the broken connection",
        |event| match event {
            ServerEvent::LoggedIn { conn, jid } if *jid == paired.jid && *conn != paired.conn => {
                Some(())
            }
            _ => None,
        },
    )
    .await?;
    // Nothing was acknowledged on the broken connection, so the first
    // message comes again.
    text_arrives(&mut paired.events, "lost with the connection").await?;
    paired.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlinking_on_the_phone_logs_the_client_out() -> Result<(), BoxError> {
    let server = FakeServer::start().await?;
    let mut seen = server.events();
    let mut paired = pair_and_connect(&server, &mut seen, PHONE_NUMBER).await?;
    let phone = server.phone(PHONE_NUMBER)?;
    assert_eq!(phone.companions(), [paired.jid.clone()]);

    phone.unlink(&paired.jid)?;
    client_event(&mut paired.events, "LoggedOut", |event| {
        matches!(event, Event::LoggedOut(_)).then_some(())
    })
    .await?;
    assert!(phone.companions().is_empty());
    assert!(
        server
            .contact("15550002001")?
            .send_text(PHONE_NUMBER, "hello?")
            .is_ok(),
        "sending to an account with no companions reaches nobody, and is no error"
    );
    assert_eq!(server.pending_for(&paired.jid), 0);
    paired.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_logout_unlinks_it_on_the_server() -> Result<(), BoxError> {
    let server = FakeServer::start().await?;
    let mut seen = server.events();
    let paired = pair_and_connect(&server, &mut seen, PHONE_NUMBER).await?;

    paired.client.logout().await;
    let by_companion = server_event(&mut seen, "the unlink", |event| match event {
        ServerEvent::DeviceUnlinked { jid, by_companion } if *jid == paired.jid => {
            Some(*by_companion)
        }
        _ => None,
    })
    .await?;
    assert!(by_companion);
    assert!(server.phone(PHONE_NUMBER)?.companions().is_empty());
    paired.handle.abort();
    Ok(())
}
