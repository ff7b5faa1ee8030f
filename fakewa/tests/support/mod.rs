//! Driving a real whatsapp-rust client against the fake server.
// Each test binary compiles this module and uses a different part of it.
#![allow(dead_code)]

use fakewa::{ConnId, FakeServer, Jid, ServerEvent};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};
use whatsapp_rust::bot::{Bot, BotHandle};
use whatsapp_rust::pair_code::PairCodeOptions;
use whatsapp_rust::wacore::store::InMemoryBackend;
use whatsapp_rust::wacore::store::traits::Backend;
use whatsapp_rust::wacore::types::events::Event;
use whatsapp_rust::{Client, TokioRuntime};
use whatsapp_rust_tokio_transport::TokioWebSocketTransportFactory;
use whatsapp_rust_ureq_http_client::UreqHttpClient;

/// The first login after pairing waits up to 10 s for app-state keys the
/// fake phone does not send yet; the rest is fast.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(60);

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub async fn within<T>(what: &str, future: impl Future<Output = Option<T>>) -> Result<T, BoxError> {
    match tokio::time::timeout(STEP_TIMEOUT, future).await {
        Ok(Some(value)) => Ok(value),
        Ok(None) => Err(format!("channel closed while waiting for {what}").into()),
        Err(_) => Err(format!("timed out waiting for {what}").into()),
    }
}

/// Next client event `pick` accepts; others are skipped.
pub async fn client_event<T>(
    events: &mut mpsc::UnboundedReceiver<Arc<Event>>,
    what: &str,
    pick: impl Fn(&Event) -> Option<T>,
) -> Result<T, BoxError> {
    within(what, async {
        while let Some(event) = events.recv().await {
            if let Some(found) = pick(&event) {
                return Some(found);
            }
        }
        None
    })
    .await
}

/// Next server event `pick` accepts; others are skipped.
pub async fn server_event<T>(
    events: &mut broadcast::Receiver<ServerEvent>,
    what: &str,
    pick: impl Fn(&ServerEvent) -> Option<T>,
) -> Result<T, BoxError> {
    within(what, async {
        loop {
            match events.recv().await {
                Ok(event) => {
                    if let Some(found) = pick(&event) {
                        return Some(found);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
    .await
}

/// The text of a text message, plain or extended.
pub fn text_of(message: &whatsapp_rust::waproto::whatsapp::Message) -> Option<String> {
    message.conversation.clone().or_else(|| {
        message
            .extended_text_message
            .as_option()
            .and_then(|extended| extended.text.clone())
    })
}

/// How the client asks to be linked.
pub enum Linking<'a> {
    Qr,
    /// Also request a pairing code for this phone number.
    PairCode(&'a str),
}

/// An HTTP client for media that trusts the fake server's test CA.
pub fn media_client(server: &FakeServer) -> UreqHttpClient {
    let ca = server.test_ca().ca_der();
    let certificate = ureq::tls::Certificate::from_der(ca.as_ref()).to_owned();
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::new_with_certs(&[certificate]))
        .build();
    let agent: ureq::Agent = ureq::config::Config::builder()
        .tls_config(tls)
        .build()
        .into();
    UreqHttpClient::with_agent(agent)
}

/// A whatsapp-rust bot pointed at the server with in-memory storage and a
/// fixed version (so it never asks the internet), its events forwarded to a
/// channel, trusting the server's TLS for media.
pub async fn build_client(
    server: &FakeServer,
    linking: Linking<'_>,
) -> Result<(Bot, mpsc::UnboundedReceiver<Arc<Event>>), BoxError> {
    build_client_on(server, Arc::new(InMemoryBackend::new()), linking).await
}

/// As [`build_client`], on a given store (to restart a client that stays linked).
pub async fn build_client_on(
    server: &FakeServer,
    backend: Arc<dyn Backend>,
    linking: Linking<'_>,
) -> Result<(Bot, mpsc::UnboundedReceiver<Arc<Event>>), BoxError> {
    let (client_tx, client_events) = mpsc::unbounded_channel();
    let mut builder = Bot::builder()
        .with_backend_arc(backend)
        .with_transport_factory(TokioWebSocketTransportFactory::new().with_url(server.url()))
        .with_http_client(media_client(server))
        .with_runtime(TokioRuntime)
        .with_version((2, 3000, 1_000_000_000))
        .on_event(move |event, _client| {
            let client_tx = client_tx.clone();
            async move {
                let _ = client_tx.send(event);
            }
        });
    if let Linking::PairCode(phone_number) = linking {
        builder = builder.with_pair_code(PairCodeOptions {
            phone_number: phone_number.to_owned(),
            ..Default::default()
        });
    }
    Ok((builder.build().await?, client_events))
}

/// A client that has paired by QR and is connected.
pub struct PairedClient {
    pub client: Arc<Client>,
    pub handle: BotHandle,
    pub events: mpsc::UnboundedReceiver<Arc<Event>>,
    pub jid: Jid,
    /// The server's connection for the logged-in session.
    pub conn: ConnId,
    /// The client's store, to start it again still linked.
    pub backend: Arc<dyn Backend>,
}

impl PairedClient {
    pub async fn stop(self) {
        self.client.disconnect().await;
        self.handle.abort();
    }
}

/// QR pairing from scratch up to the client's `Connected`.
pub async fn pair_and_connect(
    server: &FakeServer,
    seen: &mut broadcast::Receiver<ServerEvent>,
    number: &str,
) -> Result<PairedClient, BoxError> {
    let _ = env_logger::builder().is_test(true).try_init();
    let backend: Arc<dyn Backend> = Arc::new(InMemoryBackend::new());
    let (bot, mut events) = build_client_on(server, backend.clone(), Linking::Qr).await?;
    let client = bot.client();
    let handle = bot.spawn();
    let qr = client_event(&mut events, "QR code", |event| match event {
        Event::PairingQrCode(qr) => Some(qr.code.clone()),
        _ => None,
    })
    .await?;
    let jid = server.phone(number)?.scan_qr(&qr)?.jid;
    let conn = server_event(seen, "login", |event| match event {
        ServerEvent::LoggedIn { conn, .. } => Some(*conn),
        _ => None,
    })
    .await?;
    client_event(&mut events, "Connected", |event| {
        matches!(event, Event::Connected(_)).then_some(())
    })
    .await?;
    Ok(PairedClient {
        client,
        handle,
        events,
        jid,
        conn,
        backend,
    })
}
