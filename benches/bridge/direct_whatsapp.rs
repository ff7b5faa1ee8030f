//! The direct path to WhatsApp: a whatsapp-rust client of its own (the library the bridge
//! is built on, in memory, no bridge around it), linked to the fake server by QR.

use std::sync::Arc;

use fakewa::{FakeServer, ServerEvent};
use tokio::sync::mpsc;
use whatsapp_rust::bot::{Bot, BotHandle};
use whatsapp_rust::wacore::store::InMemoryBackend;
use whatsapp_rust::wacore::types::events::Event;
use whatsapp_rust::waproto::whatsapp as wa;
use whatsapp_rust::{Client, TokioRuntime};
use whatsapp_rust_tokio_transport::TokioWebSocketTransportFactory;
use whatsapp_rust_ureq_http_client::UreqHttpClient;

use crate::common::whatsapp::{LINKING, server_event};

pub struct DirectWhatsApp {
    pub client: Arc<Client>,
    _handle: BotHandle,
}

impl DirectWhatsApp {
    /// Links a new client to `phone`'s account and waits until it can send.
    pub async fn link(server: &FakeServer, phone: &str) -> Self {
        let mut seen = server.events();
        let (events_in, mut events) = mpsc::unbounded_channel::<Arc<Event>>();
        let bot = Bot::builder()
            .with_backend(InMemoryBackend::new())
            .with_transport_factory(TokioWebSocketTransportFactory::new().with_url(server.url()))
            .with_http_client(UreqHttpClient::new())
            .with_runtime(TokioRuntime)
            .with_version((2, 3000, 1_023_456_789))
            .on_event(move |event, _client| {
                let events_in = events_in.clone();
                async move {
                    let _ = events_in.send(event);
                }
            })
            .build()
            .await
            .expect("a whatsapp-rust client");
        let client = bot.client();
        let handle = bot.spawn();
        let code = next_event(&mut events, |event| match event {
            Event::PairingQrCode(qr) => Some(qr.code.clone()),
            _ => None,
        })
        .await;
        let jid = server
            .phone(phone)
            .expect("phone")
            .scan_qr(&code)
            .expect("the phone scans the code")
            .jid;
        next_event(&mut events, |event| {
            matches!(event, Event::Connected(_)).then_some(())
        })
        .await;
        if server.prekey_uploads(&jid).is_empty() {
            server_event(
                &mut seen,
                "the direct client's prekeys",
                |event| match event {
                    ServerEvent::PrekeysUploaded { jid: who, .. } if *who == jid => Some(()),
                    _ => None,
                },
            )
            .await;
        }
        Self {
            client,
            _handle: handle,
        }
    }

    /// Sends a plain text to a contact, as the bridge's session does.
    pub async fn send_text(&self, to: &str, text: &str) {
        let to: whatsapp_rust::Jid = format!("{to}@s.whatsapp.net")
            .parse()
            .expect("a contact's JID");
        let message = wa::Message {
            conversation: Some(text.to_owned()),
            ..Default::default()
        };
        self.client
            .send_message(to, message)
            .await
            .expect("the direct client sends");
    }
}

async fn next_event<T>(
    events: &mut mpsc::UnboundedReceiver<Arc<Event>>,
    pick: impl Fn(&Event) -> Option<T>,
) -> T {
    let wait = async {
        while let Some(event) = events.recv().await {
            if let Some(found) = pick(&event) {
                return found;
            }
        }
        panic!("the direct client stopped");
    };
    tokio::time::timeout(LINKING, wait)
        .await
        .expect("the direct client links in time")
}
