//! A fake WhatsApp server for tests. It plays WhatsApp's chat server (Noise
//! XX/IK/XXfallback with its own certificate chain, binary nodes, pairing,
//! login, prekeys) and the user's phone (scanning QR codes, vouching for
//! companions), so a real WhatsApp Web client can be driven end to end on
//! 127.0.0.1.

mod adv;
mod cert;
mod conn;
mod error;
mod frame;
mod link_code;
mod node;
mod noise;
mod phone;
mod prekeys;
mod qr;
mod script;
mod server;
mod session;
mod state;
mod transport;

pub use cert::CertAuthority;
pub use error::{FakeWaError, Result};
pub use noise::HandshakePattern;
pub use phone::{PairingStarted, Phone};
pub use script::{LoginFailure, StreamEnd};
pub use server::{FakeServer, ServerKeys};
pub use state::{ConnId, PrekeyUpload, ServerEvent};
pub use wacore_binary::{Jid, Node};
