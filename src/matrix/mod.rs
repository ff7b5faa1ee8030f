//! The Matrix side: the appservice HTTP server, the homeserver client and the bridge's
//! Matrix identities. Nothing here knows about WhatsApp.

pub mod account_data;
pub mod actions;
pub mod appservice;
pub mod client;
pub mod ids;
pub mod retry;
pub mod room_state;
pub mod room_tags;
pub mod rooms;
