//! The one error type of the fake server.

use thiserror::Error;

/// Everything that can go wrong while serving a client. Network data never
/// panics the server: a malformed frame ends that connection with one of these.
#[derive(Debug, Error)]
pub enum FakeWaError {
    #[error("websocket: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("client did not start with the WA prologue")]
    BadPrologue,
    #[error("frame of {0} bytes exceeds the 3-byte length limit")]
    FrameTooLarge(usize),
    #[error("protobuf decode: {0}")]
    Protobuf(#[from] buffa::DecodeError),
    #[error("noise: {0}")]
    Noise(#[from] wacore_noise::HandshakeError),
    #[error("noise cipher: {0}")]
    Cipher(#[from] wacore_noise::NoiseError),
    #[error("curve25519: {0}")]
    Curve(#[from] wacore_libsignal::protocol::CurveError),
    #[error("binary node: {0}")]
    Binary(#[from] wacore_binary::BinaryError),
    #[error("handshake message is missing {0}")]
    MissingField(&'static str),
    #[error("{0} must be 32 bytes")]
    BadKeyLength(&'static str),
    #[error("transport counter exhausted")]
    CounterExhausted,
    #[error("invalid QR code: {0}")]
    BadQr(String),
    #[error("no connection is waiting for a QR scan with this noise key")]
    NoPairingConnection,
    #[error("pairing failed: {0}")]
    Pairing(String),
    #[error("signal: {0}")]
    Signal(String),
    #[error("tls: {0}")]
    Tls(String),
    #[error("media: {0}")]
    Media(String),
    #[error("plaintext padding is malformed")]
    BadPadding,
    #[error("no account for {0}")]
    UnknownAccount(String),
    #[error("no linked device {0}")]
    UnknownDevice(String),
    #[error("no group {0}")]
    UnknownGroup(String),
    #[error("{0} is not a member of the group")]
    NotInGroup(String),
    #[error("no message {0} was sent by a simulated device")]
    UnknownMessage(String),
    #[error("{0} has no prekeys on the server (it never uploaded any)")]
    NoPrekeys(String),
    #[error("the connection closed before the operation completed")]
    ConnectionGone,
}

pub type Result<T> = std::result::Result<T, FakeWaError>;
