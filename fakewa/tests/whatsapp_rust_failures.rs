//! Scripted refusals reach the real whatsapp-rust client as the events a
//! bridge acts on: logged out, temporary ban, outdated, replaced, and a 503
//! it recovers from.

mod support;

use fakewa::{FakeServer, LoginFailure, ServerEvent, StreamEnd};
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
