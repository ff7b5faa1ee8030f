//! The server handle tests hold: start, point a client at `url()`, observe,
//! script, drop.

use crate::cert::{CertAuthority, key_bytes};
use crate::error::{FakeWaError, Result};
use crate::phone::Phone;
use crate::script::{LoginFailure, StreamEnd};
use crate::state::{ActiveKeys, ConnCommand, ConnId, PrekeyUpload, ServerEvent, Shared};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use wacore_binary::{Jid, Node};
use wacore_libsignal::protocol::KeyPair;

/// The server's long-lived keys. Reuse them across restarts so clients that
/// cached the static key can resume with IK.
#[derive(Clone)]
pub struct ServerKeys {
    pub static_key: KeyPair,
    pub authority: Arc<CertAuthority>,
}

impl ServerKeys {
    pub fn generate() -> Self {
        Self {
            static_key: KeyPair::generate(&mut rand::rng()),
            authority: Arc::new(CertAuthority::generate()),
        }
    }
}

pub struct FakeServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: JoinHandle<()>,
}

impl FakeServer {
    /// Starts on 127.0.0.1 with fresh keys.
    pub async fn start() -> Result<Self> {
        Self::start_with(ServerKeys::generate()).await
    }

    pub async fn start_with(keys: ServerKeys) -> Result<Self> {
        Self::start_at(keys, 0).await
    }

    /// Stops this server and starts a new one on the same port with the same
    /// keys but none of its state, as a restarted process would come back:
    /// clients resume their Noise session with IK, but the new server knows
    /// no paired devices.
    pub async fn restart(mut self) -> Result<Self> {
        let keys = self.keys();
        let port = self.addr.port();
        self.accept.abort();
        self.drop_all_connections();
        // Wait for the accept task to end so its listener is closed before
        // the port is bound again.
        let _ = (&mut self.accept).await;
        Self::start_at(keys, port).await
    }

    async fn start_at(keys: ServerKeys, port: u16) -> Result<Self> {
        let shared = Arc::new(Shared::new(ActiveKeys::new(keys)?));
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(Self {
            shared,
            addr,
            accept,
        })
    }

    /// `ws://127.0.0.1:PORT/ws/chat`.
    pub fn url(&self) -> String {
        format!("ws://{}/ws/chat", self.addr)
    }

    /// The keys now in use, to start another server that clients can resume on.
    pub fn keys(&self) -> ServerKeys {
        self.shared.active_keys().keys.clone()
    }

    /// The root a client must trust instead of WhatsApp's.
    pub fn root_public_key(&self) -> [u8; 32] {
        self.shared.active_keys().keys.authority.root_public_key()
    }

    pub fn static_public_key(&self) -> [u8; 32] {
        key_bytes(&self.shared.active_keys().keys.static_key)
    }

    /// Switches to a fresh static key (same root) for later handshakes, as
    /// WhatsApp rotates its servers' keys: a client that cached the old key
    /// fails IK and must recover through XXfallback.
    pub fn rotate_static_key(&self) -> Result<()> {
        let authority = self.shared.active_keys().keys.authority.clone();
        self.shared.replace_keys(ActiveKeys::new(ServerKeys {
            static_key: KeyPair::generate(&mut rand::rng()),
            authority,
        })?);
        Ok(())
    }

    /// Everything from now on; subscribe before acting to miss nothing.
    pub fn events(&self) -> broadcast::Receiver<ServerEvent> {
        self.shared.events.subscribe()
    }

    /// Every node any client sent, in order.
    pub fn received(&self) -> Vec<(ConnId, Node)> {
        self.shared.state().received.clone()
    }

    /// Prekey uploads of one device, oldest first.
    pub fn prekey_uploads(&self, device: &Jid) -> Vec<PrekeyUpload> {
        self.shared
            .state()
            .prekeys
            .get(&device.to_string())
            .cloned()
            .unwrap_or_default()
    }

    /// The user's phone; the account is created on first use.
    pub fn phone(&self, number: &str) -> Phone {
        Phone::new(self.shared.clone(), number)
    }

    pub fn connections(&self) -> Vec<ConnId> {
        let mut conns: Vec<ConnId> = self.shared.state().conns.keys().copied().collect();
        conns.sort_unstable();
        conns
    }

    /// Sends a node to one connection as it is.
    pub fn send_to(&self, conn: ConnId, node: Node) -> Result<()> {
        self.command(conn, ConnCommand::Send(node))
    }

    /// Answers the next login payload with `<failure reason=…/>`; queued
    /// failures are used one per login, in order.
    pub fn fail_next_login(&self, failure: LoginFailure) {
        self.shared.state().login_failures.push_back(failure);
    }

    /// Ends a live connection with a `<stream:error>`.
    pub fn end_stream(&self, conn: ConnId, end: StreamEnd) -> Result<()> {
        self.command(conn, ConnCommand::End(end))
    }

    /// Drops one connection's socket without a goodbye.
    pub fn drop_connection(&self, conn: ConnId) -> Result<()> {
        self.command(conn, ConnCommand::Close)
    }

    /// Drops every connection; returns how many there were.
    pub fn drop_all_connections(&self) -> usize {
        let state = self.shared.state();
        state
            .conns
            .values()
            .filter(|entry| entry.commands.send(ConnCommand::Close).is_ok())
            .count()
    }

    fn command(&self, conn: ConnId, command: ConnCommand) -> Result<()> {
        let state = self.shared.state();
        let entry = state.conns.get(&conn).ok_or(FakeWaError::ConnectionGone)?;
        entry
            .commands
            .send(command)
            .map_err(|_| FakeWaError::ConnectionGone)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.accept.abort();
        self.drop_all_connections();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(crate::conn::serve(shared.clone(), stream));
            }
            Err(err) => {
                // Transient (e.g. too many open files); keep accepting.
                log::warn!("accept failed: {err}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}
