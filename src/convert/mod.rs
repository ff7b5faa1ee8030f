//! Message conversion between WhatsApp and Matrix. With `bridge/`, the only code that
//! knows both sides' types.

pub mod formatting;
pub mod to_matrix;
pub mod to_whatsapp;
