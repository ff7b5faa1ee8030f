//! State shared by the accept loop, every connection and the test API.

use crate::adv::Voucher;
use crate::cert::key_bytes;
use crate::link_code::{CodeRequest, PrimaryHello};
use crate::noise::HandshakePattern;
use crate::server::ServerKeys;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{broadcast, mpsc};
use wacore_binary::{Jid, Node};
use wacore_libsignal::protocol::KeyPair;

/// Identifies one client connection for the lifetime of the server.
pub type ConnId = u64;

/// What the server saw or did; tests subscribe with `FakeServer::events`.
#[derive(Debug, Clone)]
pub enum ServerEvent {
    Handshake {
        conn: ConnId,
        pattern: HandshakePattern,
    },
    /// A registration payload was answered with QR refs.
    PairDeviceSent {
        conn: ConnId,
        refs: Vec<String>,
    },
    /// A companion asked to link to `number` by code (`companion_hello`).
    PairCodeRequested {
        conn: ConnId,
        number: String,
    },
    Paired {
        conn: ConnId,
        jid: Jid,
        lid: Jid,
    },
    PairingFailed {
        conn: ConnId,
        reason: String,
    },
    LoggedIn {
        conn: ConnId,
        jid: Jid,
    },
    LoginRejected {
        conn: ConnId,
        reason: String,
    },
    Received {
        conn: ConnId,
        node: Node,
    },
    PrekeysUploaded {
        jid: Jid,
        count: usize,
    },
    Disconnected {
        conn: ConnId,
    },
}

/// One `<iq xmlns="encrypt" type="set">` prekey upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrekeyUpload {
    pub registration_id: u32,
    pub identity: Vec<u8>,
    pub prekey_ids: Vec<u32>,
    pub signed_prekey_id: Option<u32>,
}

/// The fake user's phone: the primary device of one account.
pub(crate) struct PhoneAccount {
    pub lid_user: String,
    pub account_key: KeyPair,
    pub next_device: u16,
    pub next_key_index: u32,
}

/// A companion the phone has linked.
#[derive(Debug, Clone)]
pub(crate) struct DeviceRecord {
    pub noise_public: [u8; 32],
    pub jid: Jid,
    pub lid: Jid,
}

/// A `pair-success` the connection is waiting to see answered.
#[derive(Debug, Clone)]
pub(crate) struct PendingPair {
    pub iq_id: String,
    pub voucher: Voucher,
    pub device: DeviceRecord,
}

pub(crate) enum ConnCommand {
    Send(Node),
    Pair { node: Node, pending: PendingPair },
    PrimaryHello { node: Node, hello: PrimaryHello },
    End(crate::script::StreamEnd),
    Close,
}

pub(crate) struct ConnEntry {
    pub client_static: [u8; 32],
    pub refs: Vec<String>,
    pub code_request: Option<CodeRequest>,
    pub commands: mpsc::UnboundedSender<ConnCommand>,
}

#[derive(Default)]
pub(crate) struct State {
    pub next_conn: ConnId,
    pub conns: HashMap<ConnId, ConnEntry>,
    pub phones: HashMap<String, PhoneAccount>,
    pub devices: Vec<DeviceRecord>,
    pub prekeys: HashMap<String, Vec<PrekeyUpload>>,
    pub received: Vec<(ConnId, Node)>,
    pub login_failures: std::collections::VecDeque<crate::script::LoginFailure>,
}

/// The keys the next handshake uses, and the chain that certifies them.
pub(crate) struct ActiveKeys {
    pub keys: ServerKeys,
    pub cert_chain: Vec<u8>,
}

impl ActiveKeys {
    pub fn new(keys: ServerKeys) -> crate::error::Result<Self> {
        let cert_chain = keys.authority.chain_for(&key_bytes(&keys.static_key))?;
        Ok(Self { keys, cert_chain })
    }
}

pub(crate) struct Shared {
    active: Mutex<Arc<ActiveKeys>>,
    pub events: broadcast::Sender<ServerEvent>,
    state: Mutex<State>,
}

/// Room for every node of a pairing and login without a slow test reader
/// losing events.
const EVENT_CAPACITY: usize = 16_384;

impl Shared {
    pub fn new(active: ActiveKeys) -> Self {
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        Self {
            active: Mutex::new(Arc::new(active)),
            events,
            state: Mutex::new(State::default()),
        }
    }

    /// A poisoned lock only means a test thread panicked; the data is still
    /// consistent enough to keep serving and report.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn active_keys(&self) -> Arc<ActiveKeys> {
        self.active
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn replace_keys(&self, active: ActiveKeys) {
        *self
            .active
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(active);
    }

    pub fn emit(&self, event: ServerEvent) {
        // No subscriber is fine: events are for tests that ask for them.
        let _ = self.events.send(event);
    }
}
