//! Linking a WhatsApp account: one state machine for every front-end (bot commands, the
//! provisioning APIs), and the registry that allows one flow per user at a time.

pub mod chat;
pub mod driver;
mod flow;
mod front_end;
pub mod qr_image;
pub mod qr_message;
mod registry;
mod start;

pub use flow::{LoginFlow, LoginMethod, LoginUpdate, format_pair_code};
pub use front_end::{FollowedFrontEnd, LoginFrontEnd};
pub use registry::{
    AlreadyInProgress, FlowChannels, FlowHandle, FlowInput, FlowKey, FlowOrigin, FlowSlot,
    LoginFlows, Progress,
};
