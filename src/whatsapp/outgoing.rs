//! A message on its way to WhatsApp: built by `convert/`, sent by a session.

use whatsapp_rust::waproto::whatsapp as wa;

/// The WhatsApp message a session sends; only `convert/` builds one.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingMessage(pub(crate) wa::Message);

impl OutgoingMessage {
    pub fn new(message: wa::Message) -> Self {
        Self(message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("`{0}` is not a WhatsApp chat the bridge can send to")]
    BadChat(String),
    #[error("WhatsApp did not take the message: {0}")]
    Refused(String),
}
