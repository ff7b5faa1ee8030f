//! The WhatsApp side: per-login sessions on whatsapp-rust and their storage. Nothing here
//! knows about Matrix.

pub mod address;
pub mod group;
pub mod history;
pub mod inbox;
pub mod login_event;
pub mod media;
pub mod outgoing;
pub mod phone;
pub mod poll;
pub mod session;
pub mod session_event;
pub mod store;
pub mod transport;
