//! The connection to WhatsApp: a WebSocket over TCP (TLS for `wss://`), as whatsapp-rust's
//! own Tokio transport makes it, but with Nagle's algorithm off. WhatsApp's frames are
//! small; with Nagle on, a frame written while the previous one is not yet acknowledged
//! waits for the server's delayed ACK (about 40 ms on Linux), and a message sent right
//! after another arrived that much later (measured: docs/benchmarks.md).

use std::sync::Arc;

use async_trait::async_trait;
use tokio::net::TcpStream;
use tokio_websockets::ClientBuilder;
use wacore::net::{Transport, TransportEvent, TransportFactory, WHATSAPP_WEB_ORIGIN};
use whatsapp_rust_tokio_transport::{Connector, default_tls_connector, from_websocket};

/// Opens WebSocket connections to `url` with `TCP_NODELAY` set.
pub struct NoDelayTransportFactory {
    url: String,
}

impl NoDelayTransportFactory {
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into() }
    }
}

#[async_trait]
impl TransportFactory for NoDelayTransportFactory {
    async fn create_transport(
        &self,
    ) -> Result<(Arc<dyn Transport>, async_channel::Receiver<TransportEvent>), anyhow::Error> {
        let uri: http::Uri = self
            .url
            .parse()
            .map_err(|err| anyhow::anyhow!("the WhatsApp URL {} is not a URL: {err}", self.url))?;
        let secure = match uri.scheme_str() {
            Some("wss") => true,
            Some("ws") => false,
            _ => anyhow::bail!("the WhatsApp URL {} is neither ws:// nor wss://", self.url),
        };
        let host = uri
            .host()
            .ok_or_else(|| anyhow::anyhow!("the WhatsApp URL {} has no host", self.url))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        let tcp = TcpStream::connect((host.as_str(), port)).await?;
        tcp.set_nodelay(true)?;
        let connector = if secure {
            default_tls_connector()
        } else {
            Connector::Plain
        };
        let stream = connector.wrap(&host, tcp).await?;
        let origin = http::HeaderValue::from_static(WHATSAPP_WEB_ORIGIN);
        let (ws, _) = ClientBuilder::from_uri(uri)
            .add_header(http::header::ORIGIN, origin)?
            .connect_on(stream)
            .await?;
        Ok(from_websocket(ws))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn urls_that_are_not_websockets_are_refused_with_the_reason() {
        for (url, reason) in [
            (
                "https://web.whatsapp.com/ws/chat",
                "neither ws:// nor wss://",
            ),
            ("not a url at all", "is not a URL"),
        ] {
            let err = NoDelayTransportFactory::new(url)
                .create_transport()
                .await
                .err()
                .map(|err| err.to_string())
                .unwrap_or_default();
            assert!(err.contains(reason), "{url}: {err}");
        }
    }

    #[tokio::test]
    async fn connects_to_a_websocket_server() {
        let server = fakewa::FakeServer::start().await.expect("the fake server");
        let (_transport, events) = NoDelayTransportFactory::new(server.url())
            .create_transport()
            .await
            .expect("a transport");
        assert!(matches!(events.recv().await, Ok(TransportEvent::Connected)));
    }
}
