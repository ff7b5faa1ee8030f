//! matrix-whatsapp: a Matrix <-> WhatsApp puppeting bridge. See ARCHITECTURE.md for the map.

pub mod bridge;
pub mod cli;
pub mod clock;
pub mod config;
pub mod convert;
pub mod db;
pub mod matrix;
pub mod metrics;
pub mod metrics_server;
pub mod provisioning;
pub mod registration;
pub mod runtime;
pub mod telemetry;
pub mod whatsapp;
