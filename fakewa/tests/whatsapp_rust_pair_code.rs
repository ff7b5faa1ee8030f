//! Linking by phone number: the real whatsapp-rust client requests a code,
//! the fake phone "types" it, and the two derive the same ADV secret through
//! PBKDF2, AES-CTR, X25519, HKDF and AES-GCM before pair-success.

mod support;

use fakewa::{FakeServer, ServerEvent};
use support::{BoxError, Linking, build_client, client_event, server_event};
use whatsapp_rust::wacore::types::events::Event;

const PHONE_NUMBER: &str = "15550009876";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_client_links_with_a_pairing_code() -> Result<(), BoxError> {
    let _ = env_logger::builder().is_test(true).try_init();
    let server = FakeServer::start().await?;
    let mut seen = server.events();
    let phone = server.phone(PHONE_NUMBER)?;

    let (bot, mut client_events) = build_client(&server, Linking::PairCode(PHONE_NUMBER)).await?;
    let client = bot.client();
    let bot_handle = bot.spawn();

    let requested = server_event(&mut seen, "companion_hello", |event| match event {
        ServerEvent::PairCodeRequested { number, .. } => Some(number.clone()),
        _ => None,
    })
    .await?;
    assert_eq!(requested, PHONE_NUMBER);
    let code = client_event(&mut client_events, "pairing code", |event| match event {
        Event::PairingCode(code) => Some(code.code.clone()),
        _ => None,
    })
    .await?;

    phone.enter_pair_code(&code)?;

    let paired = client_event(&mut client_events, "PairSuccess", |event| match event {
        Event::PairSuccess(success) => Some(success.id.clone()),
        Event::PairError(error) => panic!("client refused pairing: {error:?}"),
        _ => None,
    })
    .await?;
    assert_eq!(paired.user, PHONE_NUMBER);
    let server_jid = server_event(&mut seen, "device signature check", |event| match event {
        ServerEvent::Paired { jid, .. } => Some(jid.clone()),
        ServerEvent::PairingFailed { reason, .. } => panic!("pairing failed: {reason}"),
        _ => None,
    })
    .await?;
    assert_eq!(server_jid, paired);
    let logged_in = server_event(&mut seen, "login", |event| match event {
        ServerEvent::LoggedIn { jid, .. } => Some(jid.clone()),
        ServerEvent::LoginRejected { reason, .. } => panic!("login rejected: {reason}"),
        _ => None,
    })
    .await?;
    assert_eq!(logged_in, paired);
    client_event(&mut client_events, "Connected", |event| {
        matches!(event, Event::Connected(_)).then_some(())
    })
    .await?;

    client.disconnect().await;
    bot_handle.abort();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_code_does_not_link() -> Result<(), BoxError> {
    let server = FakeServer::start().await?;
    let mut seen = server.events();
    let phone = server.phone(PHONE_NUMBER)?;
    let (bot, mut client_events) = build_client(&server, Linking::PairCode(PHONE_NUMBER)).await?;
    let client = bot.client();
    let bot_handle = bot.spawn();

    let code = client_event(&mut client_events, "pairing code", |event| match event {
        Event::PairingCode(code) => Some(code.code.clone()),
        _ => None,
    })
    .await?;
    // Same alphabet, one character off: the unwrapped keys are garbage.
    let wrong: String = code
        .chars()
        .enumerate()
        .map(|(i, c)| match (i, c) {
            (0, '1') => '2',
            (0, _) => '1',
            (_, c) => c,
        })
        .collect();
    phone.enter_pair_code(&wrong)?;

    let failure = server_event(&mut seen, "pairing failure", |event| match event {
        ServerEvent::PairingFailed { reason, .. } => Some(reason.clone()),
        ServerEvent::Paired { .. } => panic!("a wrong code must not pair"),
        _ => None,
    })
    .await?;
    assert!(!failure.is_empty());

    client.disconnect().await;
    bot_handle.abort();
    Ok(())
}
