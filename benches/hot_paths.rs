//! The bridge's hot paths, each on its own: a WhatsApp message converted to the events
//! that show it in Matrix, a Matrix message converted to WhatsApp, and a command parsed.
//! `cargo bench --bench hot_paths` prints the figures; `cargo test` runs each once.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use matrix_whatsapp::bridge::commands::{PrefixRule, parse};
use matrix_whatsapp::convert::mentions::Mentions;
use matrix_whatsapp::convert::{to_matrix, to_whatsapp};
use matrix_whatsapp::whatsapp::inbox::InboxEntry;
use ruma::events::room::message::RoomMessageEventContent;
use whatsapp_rust::waproto::buffa::Message as _;
use whatsapp_rust::waproto::whatsapp as wa;

/// An inbox entry holding `text` from a contact, as the bridge stores it.
fn entry(text: &str) -> InboxEntry {
    let message = wa::Message {
        conversation: Some(text.to_owned()),
        ..Default::default()
    };
    InboxEntry {
        seq: 1,
        chat: "15550002001@s.whatsapp.net".into(),
        sender: "15550002001@s.whatsapp.net".into(),
        sender_alt: String::new(),
        message_id: "3EB0BENCH".into(),
        sent_at_ms: 1_700_000_000_000,
        push_name: "Alice".into(),
        from_me: false,
        payload: message.encode_to_vec(),
        undecryptable: false,
        business_name: String::new(),
    }
}

fn to_matrix(c: &mut Criterion) {
    let mentions = Mentions::default();
    let plain = entry("see you at the station at eight, bring the tickets");
    let formatted = entry("*bold* _italic_ ~struck~ `code`\n> a quote\n- one\n- two");
    let long = entry(&"all work and no play makes a dull message. ".repeat(240));
    c.bench_function("to_matrix/plain_text", |b| {
        b.iter(|| to_matrix::convert(black_box(&plain), &mentions))
    });
    c.bench_function("to_matrix/formatted_text", |b| {
        b.iter(|| to_matrix::convert(black_box(&formatted), &mentions))
    });
    c.bench_function("to_matrix/10kb_text", |b| {
        b.iter(|| to_matrix::convert(black_box(&long), &mentions))
    });
}

fn to_whatsapp(c: &mut Criterion) {
    let mentions = Mentions::default();
    let plain = RoomMessageEventContent::text_plain("see you at the station at eight");
    let html = RoomMessageEventContent::text_html(
        "bold, italic and code",
        "<strong>bold</strong>, <em>italic</em> and <code>code</code><br><blockquote>a quote</blockquote><ul><li>one</li><li>two</li></ul>",
    );
    c.bench_function("to_whatsapp/plain_text", |b| {
        b.iter(|| to_whatsapp::convert(black_box(&plain), None, &mentions))
    });
    c.bench_function("to_whatsapp/html", |b| {
        b.iter(|| to_whatsapp::convert(black_box(&html), None, &mentions))
    });
}

fn commands(c: &mut Criterion) {
    c.bench_function("commands/parse", |b| {
        b.iter(|| {
            parse(
                black_box("!wa start-chat +44 7700 900123"),
                "!wa",
                PrefixRule::Required,
            )
        })
    });
}

criterion_group!(hot_paths, to_matrix, to_whatsapp, commands);
criterion_main!(hot_paths);
