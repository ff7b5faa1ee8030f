//! One linked device's connection to WhatsApp, on whatsapp-rust. Library events leave
//! here only as `SessionEvent`s, in order, through a channel; decrypted messages go to the
//! inbox before WhatsApp gets its acknowledgement.

use std::sync::Arc;

use tokio::sync::mpsc;
use wacore::pair_code::PairCodeOptions;
use wacore::store::DevicePropsOverride;
use wacore::types::events::{Event, EventHandler};
use whatsapp_rust::TokioRuntime;
use whatsapp_rust::bot::{Bot, BotHandle};
use whatsapp_rust::client::Client;
use whatsapp_rust_tokio_transport::TokioWebSocketTransportFactory;
use whatsapp_rust_ureq_http_client::UreqHttpClient;

use super::inbox::{Inbox, InboxHook};
use super::phone::PhoneNumber;
use super::session_event::{SessionEvent, translate};
use super::store::WaStore;

/// What every session of this bridge shares, from the config.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    pub websocket_url: String,
    /// None: ask WhatsApp for its current web version.
    pub version: Option<(u32, u32, u32)>,
    /// Shown on the phone under "Linked devices".
    pub device_name: String,
}

#[derive(Debug, thiserror::Error)]
#[error("could not start the WhatsApp session: {0}")]
pub struct SessionError(String);

/// Forwards events inline, as the library dispatches them, so their order is kept.
struct Forwarder(mpsc::UnboundedSender<SessionEvent>);

impl EventHandler for Forwarder {
    fn handle_event(&self, event: Arc<Event>) {
        if let Some(translated) = translate(&event) {
            // A closed channel means the session is being torn down; nothing to tell.
            let _ = self.0.send(translated);
        }
    }
}

pub struct Session {
    client: Arc<Client>,
    handle: BotHandle,
}

impl Session {
    /// Connects (linking first if the store holds no account). With `pair_code_for`,
    /// linking uses a pairing code for that number instead of QR codes.
    pub async fn start(
        store: WaStore,
        inbox: Inbox,
        settings: &SessionSettings,
        pair_code_for: Option<&PhoneNumber>,
        events: mpsc::UnboundedSender<SessionEvent>,
    ) -> Result<Self, SessionError> {
        let mut device = DevicePropsOverride::new();
        device.os = Some(settings.device_name.clone());
        let mut builder = Bot::builder()
            .with_backend(store)
            .with_transport_factory(
                TokioWebSocketTransportFactory::new().with_url(settings.websocket_url.clone()),
            )
            .with_http_client(UreqHttpClient::new())
            .with_runtime(TokioRuntime)
            .with_event_handler(Forwarder(events))
            .with_inbound_durability_hook(InboxHook(inbox))
            .with_device_props(device);
        if let Some(version) = settings.version {
            builder = builder.with_version(version);
        }
        if let Some(phone) = pair_code_for {
            builder = builder.with_pair_code(PairCodeOptions {
                phone_number: phone.digits().to_owned(),
                show_push_notification: true,
                ..PairCodeOptions::default()
            });
        }
        let bot = builder
            .build()
            .await
            .map_err(|err| SessionError(err.to_string()))?;
        let client = bot.client();
        let handle = bot.spawn();
        Ok(Self { client, handle })
    }

    pub fn is_connected(&self) -> bool {
        self.client.is_connected()
    }

    /// Unlinks this device on WhatsApp (best effort when offline) and disconnects.
    pub async fn logout(self) {
        self.client.logout().await;
        self.handle.shutdown().await;
    }

    /// Disconnects, keeping the link: the next start resumes without a new QR code.
    pub async fn stop(self) {
        self.client.disconnect().await;
        self.handle.shutdown().await;
    }
}
