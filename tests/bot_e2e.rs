//! The bot, end to end: a human on a real Synapse DMs the bridge bot.

mod common;

use common::bridge::{Options, TestEnv};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dm_the_bot_and_get_help() {
    let env = TestEnv::start(Options::default()).await;
    let alice = env.user("alice").await;
    let room = alice.create_dm(&env.bot()).await;
    alice.wait_for_membership(&room, &env.bot(), "join").await;
    alice
        .wait_for_message(&room, &env.bot(), "management room")
        .await;

    alice.send_text(&room, "help").await;
    let help = alice.wait_for_message(&room, &env.bot(), "Commands").await;
    assert!(help.contains("!wa help"), "{help}");
    assert!(help.contains("!wa version"), "{help}");

    alice.send_text(&room, "!wa version").await;
    alice
        .wait_for_message(
            &room,
            &env.bot(),
            &format!("matrix-whatsapp {}", env!("CARGO_PKG_VERSION")),
        )
        .await;

    alice.send_text(&room, "frobnicate").await;
    let unknown = alice
        .wait_for_message(&room, &env.bot(), "Unknown command")
        .await;
    assert!(unknown.contains("`frobnicate`"), "{unknown}");
}
