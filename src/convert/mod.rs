//! Message conversion between WhatsApp and Matrix. With `bridge/`, the only code that
//! knows both sides' types.

pub mod formatting;
pub mod media_in;
pub mod media_out;
pub mod mentions;
pub mod poll_out;
pub mod rich_in;
pub mod to_matrix;
pub mod to_whatsapp;
