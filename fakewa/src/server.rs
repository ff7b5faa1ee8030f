//! The server handle tests hold: start, point a client at `url()` (or the
//! TLS port), script the phone and contacts, observe, drop.

use crate::cert::{CertAuthority, key_bytes};
use crate::contact::Contact;
use crate::error::{FakeWaError, Result};
use crate::groups::{Group, GroupHandle, Member, Role};
use crate::media::MediaRef;
use crate::media_crypto::MediaKind;
use crate::phone::Phone;
use crate::script::{LoginFailure, StreamEnd};
use crate::state::{
    ActiveKeys, ConnCommand, ConnId, PrekeyUpload, ReceivedMessage, ServerEvent, Shared,
};
use crate::tls::TestCa;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use wacore_binary::{Jid, Node};
use wacore_libsignal::protocol::KeyPair;

/// The server's long-lived keys. Reuse them across restarts so clients that
/// cached the static key can resume with IK, and keep trusting its TLS.
#[derive(Clone)]
pub struct ServerKeys {
    pub static_key: KeyPair,
    pub authority: Arc<CertAuthority>,
    pub tls: Arc<TestCa>,
}

impl ServerKeys {
    pub fn generate() -> Result<Self> {
        Ok(Self {
            static_key: KeyPair::generate(&mut rand::rng()),
            authority: Arc::new(CertAuthority::generate()),
            tls: Arc::new(TestCa::generate()?),
        })
    }
}

pub struct FakeServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    tls_addr: SocketAddr,
    accept: Vec<JoinHandle<()>>,
}

impl FakeServer {
    /// Starts on 127.0.0.1 with fresh keys.
    pub async fn start() -> Result<Self> {
        Self::start_with(ServerKeys::generate()?).await
    }

    pub async fn start_with(keys: ServerKeys) -> Result<Self> {
        Self::start_at(keys, IpAddr::V4(Ipv4Addr::LOCALHOST), 0, 0).await
    }

    /// Starts with fresh keys on `ip`: the chat port is `port` (0: any free one), the
    /// TLS port any free one. For clients that reach this machine by another address
    /// (a container on a bridge network, say).
    pub async fn start_on(ip: IpAddr, port: u16) -> Result<Self> {
        Self::start_at(ServerKeys::generate()?, ip, port, 0).await
    }

    /// Stops this server and starts a new one on the same ports with the
    /// same keys but none of its state, as a restarted process would come
    /// back: clients resume their Noise session with IK, but the new server
    /// knows no paired devices.
    pub async fn restart(mut self) -> Result<Self> {
        let keys = self.keys();
        let (ip, port, tls_port) = (self.addr.ip(), self.addr.port(), self.tls_addr.port());
        self.stop_accepting().await;
        Self::start_at(keys, ip, port, tls_port).await
    }

    async fn stop_accepting(&mut self) {
        for task in &self.accept {
            task.abort();
        }
        self.drop_all_connections();
        // Wait for the accept tasks to end so their listeners are closed
        // before the ports are bound again.
        for task in self.accept.drain(..) {
            let _ = task.await;
        }
    }

    async fn start_at(keys: ServerKeys, ip: IpAddr, port: u16, tls_port: u16) -> Result<Self> {
        let acceptor = keys.tls.acceptor();
        let shared = Arc::new(Shared::new(ActiveKeys::new(keys)?));
        let listener = TcpListener::bind((ip, port)).await?;
        let tls_listener = TcpListener::bind((ip, tls_port)).await?;
        let addr = listener.local_addr()?;
        let tls_addr = tls_listener.local_addr()?;
        shared.set_media_host(tls_addr.to_string());
        let plain = tokio::spawn(accept_plain(listener, shared.clone()));
        let tls = tokio::spawn(accept_tls(tls_listener, acceptor, shared.clone()));
        Ok(Self {
            shared,
            addr,
            tls_addr,
            accept: vec![plain, tls],
        })
    }

    /// `ws://IP:PORT/ws/chat` (127.0.0.1 unless started elsewhere).
    pub fn url(&self) -> String {
        format!("ws://{}/ws/chat", self.addr)
    }

    /// The TLS port: `wss://…/ws/chat` and the media server, with a
    /// certificate for WhatsApp's host names issued by [`Self::ca_pem`].
    pub fn tls_port(&self) -> u16 {
        self.tls_addr.port()
    }

    /// The test CA (PEM) that issued the TLS port's certificate.
    pub fn ca_pem(&self) -> String {
        self.shared.active_keys().keys.tls.ca_pem().to_owned()
    }

    pub fn test_ca(&self) -> Arc<TestCa> {
        self.shared.active_keys().keys.tls.clone()
    }

    /// The media host `media_conn` answers with (`127.0.0.1:TLS_PORT` by
    /// default); clients build `https://HOST/<direct path>`.
    pub fn media_host(&self) -> String {
        self.shared.media_host()
    }

    /// Names another media host, for a client that reaches the TLS port
    /// under another name (through a proxy, say).
    pub fn set_media_host(&self, host: &str) {
        self.shared.set_media_host(host.to_owned());
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
        let keys = self.shared.active_keys().keys.clone();
        self.shared.replace_keys(ActiveKeys::new(ServerKeys {
            static_key: KeyPair::generate(&mut rand::rng()),
            ..keys
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

    /// Everything the simulated phones decrypted, oldest first.
    pub fn decrypted(&self) -> Vec<ReceivedMessage> {
        self.shared.state().decrypted.clone()
    }

    /// Stanzas queued for `device` that it has not acknowledged yet.
    pub fn pending_for(&self, device: &Jid) -> usize {
        self.shared.state().delivery.pending(device)
    }

    /// The user's phone; the account is created on first use.
    pub fn phone(&self, number: &str) -> Result<Phone> {
        Phone::new(self.shared.clone(), number)
    }

    /// A contact; the account is created on first use.
    pub fn contact(&self, number: &str) -> Result<Contact> {
        Contact::new(self.shared.clone(), number)
    }

    /// Creates a group; `members` are phone numbers with their roles (the
    /// creator is a super admin whether listed or not).
    pub fn create_group(
        &self,
        creator: &str,
        subject: &str,
        members: &[(&str, Role)],
    ) -> Result<GroupHandle> {
        let mut state = self.shared.state();
        let mut all = vec![Member {
            number: creator.to_owned(),
            role: Role::SuperAdmin,
        }];
        for (number, role) in members {
            state.account(number)?;
            if *number != creator {
                all.push(Member {
                    number: (*number).to_owned(),
                    role: *role,
                });
            }
        }
        state.account(creator)?;
        let id = format!(
            "120363{:012}",
            100_000_000_000u64 + state.groups.len() as u64
        );
        state.groups.insert(
            id.clone(),
            Group::new(id.clone(), subject.to_owned(), creator, all),
        );
        Ok(GroupHandle {
            shared: self.shared.clone(),
            id,
        })
    }

    pub fn group(&self, jid: &Jid) -> Result<GroupHandle> {
        let id = jid.user.to_string();
        if !self.shared.state().groups.contains_key(&id) {
            return Err(FakeWaError::UnknownGroup(id));
        }
        Ok(GroupHandle {
            shared: self.shared.clone(),
            id,
        })
    }

    /// Encrypts and stores a file on the media server.
    pub fn upload(&self, plaintext: &[u8], kind: MediaKind) -> Result<MediaRef> {
        self.shared.state().media.put_encrypted(plaintext, kind)
    }

    /// Holds retry receipts unanswered (as when the sender's phone is offline) until
    /// `release_retries`.
    pub fn hold_retries(&self) {
        self.shared.state().retries_held = true;
    }

    /// Answers the held retry receipts (the sender's phone is back) and stops holding
    /// them; returns how many there were.
    pub fn release_retries(&self) -> usize {
        let mut state = self.shared.state();
        state.retries_held = false;
        let held = std::mem::take(&mut state.held_retries);
        for retry in &held {
            let outcome = crate::outbound::resend(
                &mut state,
                &retry.device,
                &retry.id,
                retry.count,
                retry.bundle.clone(),
            );
            if let Err(err) = outcome {
                log::info!("cannot resend {}: {err}", retry.id);
            }
        }
        held.len()
    }

    /// Deletes a stored file (as media expires on WhatsApp's servers); true if it was there.
    pub fn expire_media(&self, direct_path: &str) -> bool {
        self.shared.state().media.remove(direct_path)
    }

    /// A stored blob by direct path (as uploaded: encrypted).
    pub fn media_blob(&self, direct_path: &str) -> Option<Vec<u8>> {
        self.shared
            .state()
            .media
            .get(direct_path)
            .map(<[u8]>::to_vec)
    }

    /// Whether the phone greets each new companion with the app-state key and
    /// push names (on by default, as a real phone does).
    pub fn set_welcome_new_devices(&self, welcome: bool) {
        self.shared.state().welcome_new_devices = welcome;
    }

    /// How many QR refs a registration is offered (6, as WhatsApp, by default).
    /// The client shows the first for 60 s and each later one for 20 s, then
    /// gives up: fewer refs make a QR time-out quicker to test.
    pub fn set_qr_ref_count(&self, count: usize) {
        self.shared.state().qr_refs = count.max(1);
    }

    /// While silent the server reads but answers nothing, keepalives
    /// included, as a server that hangs.
    pub fn set_silent(&self, silent: bool) {
        self.shared.set_silent(silent);
    }

    /// While refusing, every new connection (chat and media) is closed as soon as it
    /// opens, as a server that is down; open connections stay until dropped.
    pub fn set_refusing(&self, refusing: bool) {
        self.shared.set_refusing(refusing);
    }

    pub fn connections(&self) -> Vec<ConnId> {
        let mut conns: Vec<ConnId> = self.shared.state().conns.keys().copied().collect();
        conns.sort_unstable();
        conns
    }

    /// The connection a companion is logged in on, if any.
    pub fn connection_of(&self, device: &Jid) -> Option<ConnId> {
        let device = Jid::pn_device(device.user.as_str(), device.device);
        self.shared
            .state()
            .conns
            .iter()
            .find(|(_, entry)| entry.device.as_ref() == Some(&device))
            .map(|(conn, _)| *conn)
    }

    /// Sends a node to one connection as it is.
    pub fn send_to(&self, conn: ConnId, node: Node) -> Result<()> {
        self.command(conn, ConnCommand::Send(node))
    }

    /// Sends bytes that are not a valid node, inside a well-encrypted frame.
    pub fn send_malformed_node(&self, conn: ConnId, bytes: Vec<u8>) -> Result<()> {
        self.command(conn, ConnCommand::SendRawFrame(bytes))
    }

    /// Sends a frame the client cannot decrypt.
    pub fn send_undecryptable_frame(&self, conn: ConnId, bytes: Vec<u8>) -> Result<()> {
        self.command(conn, ConnCommand::SendUnencryptedFrame(bytes))
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
        for task in &self.accept {
            task.abort();
        }
        self.drop_all_connections();
    }
}

async fn accept_plain(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) if shared.is_refusing() => drop(stream),
            Ok((stream, _)) => {
                no_delay(&stream);
                tokio::spawn(crate::http::serve_connection(shared.clone(), stream));
            }
            Err(err) => pause_after(err).await,
        }
    }
}

async fn accept_tls(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    shared: Arc<Shared>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) if shared.is_refusing() => drop(stream),
            Ok((stream, _)) => {
                no_delay(&stream);
                let (acceptor, shared) = (acceptor.clone(), shared.clone());
                tokio::spawn(async move {
                    match acceptor.accept(stream).await {
                        Ok(tls) => crate::http::serve_connection(shared, tls).await,
                        Err(err) => log::debug!("tls handshake failed: {err}"),
                    }
                });
            }
            Err(err) => pause_after(err).await,
        }
    }
}

/// Frames go out when written, as WhatsApp's servers send them: without this, a small
/// frame written while the last is unacknowledged waits for the peer's delayed ACK.
fn no_delay(stream: &tokio::net::TcpStream) {
    if let Err(err) = stream.set_nodelay(true) {
        log::debug!("cannot turn Nagle's algorithm off: {err}");
    }
}

/// Accept errors are transient (e.g. too many open files); keep accepting.
async fn pause_after(err: std::io::Error) {
    log::warn!("accept failed: {err}");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
}
