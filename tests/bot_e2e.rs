//! The bot, end to end: a human on a real Synapse DMs the bridge bot.

mod common;

use common::bridge::{Database, Options, TestEnv};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dm_the_bot_and_get_help() {
    let options = Options {
        bot_avatar: Some("mxc://localhost/botavatar".into()),
        ..Options::default()
    };
    let env = TestEnv::start(options).await;
    // The bot's profile comes from the config.
    let profile: serde_json::Value = reqwest::get(format!(
        "{}/_matrix/client/v3/profile/{}",
        env.synapse.url(),
        env.bot()
    ))
    .await
    .expect("profile")
    .json()
    .await
    .expect("json");
    assert_eq!(profile["displayname"], "WhatsApp bridge bot");
    assert_eq!(profile["avatar_url"], "mxc://localhost/botavatar");

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_permission_is_refused_and_the_bot_leaves() {
    let options = Options {
        extra_permissions: vec!["'@stranger:localhost': relay".into()],
        ..Options::default()
    };
    let env = TestEnv::start(options).await;
    let stranger = env.user("stranger").await;
    let room = stranger.create_dm(&env.bot()).await;
    stranger
        .wait_for_message(&room, &env.bot(), "not allowed to use this bridge")
        .await;
    stranger
        .wait_for_membership(&room, &env.bot(), "leave")
        .await;
    assert!(env.bridge_log().contains("InviteRefused"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_the_management_room_the_prefix_is_required() {
    let env = TestEnv::start(Options::default()).await;
    let alice = env.user("alice").await;
    let bob = env.user("bob").await;
    let management = alice.create_dm(&env.bot()).await;
    alice
        .wait_for_message(&management, &env.bot(), "management room")
        .await;

    // A group room: alice invites bob and the bot.
    let group = alice.create_group(&[&env.bot(), &bob.user_id]).await;
    alice.wait_for_membership(&group, &env.bot(), "join").await;
    alice.send_text(&group, "version").await;
    alice.send_text(&group, "!wa help").await;
    alice.wait_for_message(&group, &env.bot(), "Commands").await;
    let answers = alice.messages_from(&group, &env.bot()).await;
    assert_eq!(
        answers.len(),
        1,
        "unprefixed text in a group was taken as a command: {answers:?}"
    );
    assert!(
        !answers[0].contains("management room"),
        "a group became a management room"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_runs_on_postgres() {
    let uri = common::fresh_postgres_database().await;
    let options = Options {
        database: Database::Postgres(uri.clone()),
        ..Options::default()
    };
    let mut env = TestEnv::start(options).await;
    let alice = env.user("alice").await;
    let room = alice.create_dm(&env.bot()).await;
    alice
        .wait_for_message(&room, &env.bot(), "management room")
        .await;
    // The management room is remembered in Postgres across a restart: no prefix needed.
    env.restart_bridge().await;
    alice.send_text(&room, "version").await;
    alice
        .wait_for_message(&room, &env.bot(), "matrix-whatsapp")
        .await;
    // The state really is in Postgres.
    let pool = sqlx::PgPool::connect(&uri).await.expect("test database");
    let stored: String =
        sqlx::query_scalar("SELECT room_id FROM management_room WHERE user_id = $1")
            .bind(&alice.user_id)
            .fetch_one(&pool)
            .await
            .expect("management room row");
    assert_eq!(stored, room);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_homeserver_that_cannot_reach_the_bridge_is_explained_in_the_log() {
    let options = Options {
        unreachable_registration_url: true,
        ..Options::default()
    };
    let env = TestEnv::start(options).await;
    let log = env.bridge_log();
    assert!(
        log.contains("the homeserver cannot reach the bridge"),
        "{log}"
    );
    assert!(log.contains("appservice.address"), "{log}");
}
