//! Linking a WhatsApp account: one state machine for every front-end (bot commands, the
//! provisioning APIs), and the registry that allows one flow per user at a time.

pub mod chat;
pub mod driver;
mod flow;
pub mod qr_image;
pub mod qr_message;
mod registry;

pub use flow::{LoginFlow, LoginMethod, LoginUpdate, format_pair_code};
pub use registry::{AlreadyInProgress, FlowInput, FlowSlot, LoginFlows};
