//! A fake WhatsApp server for tests. It plays WhatsApp's chat server (Noise
//! XX/IK/XXfallback with its own certificate chain, binary nodes, pairing,
//! login, prekeys) and the user's phone (scanning QR codes, vouching for
//! companions), so a real WhatsApp Web client can be driven end to end on
//! 127.0.0.1.

mod adv;
mod app_state;
mod cert;
mod conn;
mod contact;
mod delivery;
mod error;
mod frame;
mod groups;
mod history;
mod http;
mod link_code;
mod media;
mod media_crypto;
mod node;
mod noise;
mod outbound;
mod phone;
mod prekeys;
mod qr;
mod script;
mod server;
mod session;
mod signal;
mod state;
mod tls;
mod transport;

pub use cert::CertAuthority;
pub use contact::Contact;
pub use error::{FakeWaError, Result};
pub use groups::{GroupChange, GroupHandle, Role};
pub use history::{
    HistoryConversation, HistoryDelivery, HistoryMessage, HistorySyncScript, HistorySyncType,
    compress_payload,
};
pub use media::MediaRef;
pub use media_crypto::{MediaKind, decrypt as decrypt_media, encrypt as encrypt_media};
pub use noise::HandshakePattern;
pub use outbound::{Addressing, Chat, ReceiptSpec, SendOptions};
pub use phone::{PairingStarted, Phone};
pub use script::{LoginFailure, StreamEnd};
pub use server::{FakeServer, ServerKeys};
pub use state::{ConnId, PrekeyUpload, ReceivedMessage, ServerEvent};
pub use tls::TestCa;
pub use wacore_binary::{Jid, Node};
pub use waproto::whatsapp as proto;
