//! The bridge end to end, against a real Synapse and the fake WhatsApp server, next to
//! the direct path it is measured against (see docs/benchmarks.md):
//!
//! - `to-matrix`: WhatsApp → Matrix, texts and 100 KiB pictures: messages/s and latency,
//!   beside the same events sent straight to Synapse as the appservice;
//! - `to-whatsapp`: Matrix → WhatsApp, beside a whatsapp-rust client sending the same
//!   messages itself;
//! - `logins`: resident memory with 1, 100 and 1,000 idle logins, then the start-up time
//!   with all of them stored;
//! - `backfill`: the initial backfill of a history sync of 100 chats × 50 messages.
//!
//! `cargo bench --bench bridge [-- SECTION…]` runs the full sizes; `cargo test --bench
//! bridge` (the CI smoke run) runs every section once at tiny sizes. Every run checks that
//! each message arrived, once; no figure is ever a pass or a fail.

#[path = "../../tests/common/mod.rs"]
mod common;

mod arrivals;
mod backfill;
mod direct_matrix;
mod direct_whatsapp;
mod logins;
mod portals;
mod report;
mod scale;
mod to_matrix;
mod to_whatsapp;

use scale::Scale;

const SECTIONS: [&str; 4] = ["to-matrix", "to-whatsapp", "logins", "backfill"];

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|arg| arg == "--bench");
    let chosen: Vec<&str> = args
        .iter()
        .filter(|arg| !arg.starts_with('-'))
        .map(String::as_str)
        .collect();
    if let Some(unknown) = chosen.iter().find(|name| !SECTIONS.contains(name)) {
        eprintln!("unknown section `{unknown}`; the sections are {SECTIONS:?}");
        std::process::exit(2);
    }
    let scale = if full { Scale::full() } else { Scale::smoke() };
    println!("bridge benchmarks ({} sizes)", scale.name);
    let wanted = |section: &str| chosen.is_empty() || chosen.contains(&section);
    if wanted("to-matrix") {
        to_matrix::run(&scale).await;
    }
    if wanted("to-whatsapp") {
        to_whatsapp::run(&scale).await;
    }
    if wanted("logins") {
        logins::run(&scale).await;
    }
    if wanted("backfill") {
        backfill::run(&scale).await;
    }
}
