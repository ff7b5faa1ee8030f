//! The appservice API as the homeserver (and impostors) call it, against a running bridge
//! next to a real Synapse. The bridge answers a command only after handling it, so once a
//! transaction is answered its effects are visible: counts checked right after are final.

mod common;

use common::bridge::{Options, TestEnv};
use common::user::MatrixUser;
use serde_json::json;

/// A transaction body holding one `version` command from `sender` in `room`.
fn version_command(event_id: &str, sender: &str, room: &str) -> String {
    json!({"events": [{
        "type": "m.room.message",
        "event_id": event_id,
        "sender": sender,
        "room_id": room,
        "origin_server_ts": 1_700_000_000_000u64,
        "content": {"msgtype": "m.text", "body": "version"}
    }]})
    .to_string()
}

async fn version_answers(user: &MatrixUser, room: &str, bot: &str) -> usize {
    let version = format!("matrix-whatsapp {}", env!("CARGO_PKG_VERSION"));
    user.messages_from(room, bot)
        .await
        .iter()
        .filter(|body| **body == version)
        .count()
}

/// Sets up a management room and returns (env, user, room).
async fn with_management_room(options: Options) -> (TestEnv, MatrixUser, String) {
    let env = TestEnv::start(options).await;
    let (alice, room) = env.user_with_management_room("alice").await;
    (env, alice, room)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_transaction_is_handled_once_even_after_a_restart() {
    let (mut env, alice, room) = with_management_room(Options::default()).await;
    let token = env.config.appservice.hs_token.clone();
    let body = version_command("$replayed-event-1", &alice.user_id, &room);

    for _ in 0..3 {
        let (status, _) = env.put_transaction("txn-replay", Some(&token), &body).await;
        assert_eq!(status, 200);
    }
    assert_eq!(version_answers(&alice, &room, &env.bot()).await, 1);

    // The same event inside another transaction is not acted on twice either.
    let (status, _) = env.put_transaction("txn-other", Some(&token), &body).await;
    assert_eq!(status, 200);
    assert_eq!(version_answers(&alice, &room, &env.bot()).await, 1);

    env.restart_bridge().await;
    let (status, _) = env.put_transaction("txn-replay", Some(&token), &body).await;
    assert_eq!(status, 200);
    let (status, _) = env
        .put_transaction("txn-after-restart", Some(&token), &body)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        version_answers(&alice, &room, &env.bot()).await,
        1,
        "replays after a restart bridged twice"
    );

    // A new event is still handled.
    let fresh = version_command("$replayed-event-2", &alice.user_id, &room);
    let (status, _) = env.put_transaction("txn-fresh", Some(&token), &fresh).await;
    assert_eq!(status, 200);
    assert_eq!(version_answers(&alice, &room, &env.bot()).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_or_missing_hs_token_is_refused_and_nothing_is_bridged() {
    let (env, alice, room) = with_management_room(Options::default()).await;
    let body = version_command("$impostor-event", &alice.user_id, &room);

    let (status, error) = env.put_transaction("txn-no-token", None, &body).await;
    assert_eq!(status, 401);
    assert_eq!(error["errcode"], "M_MISSING_TOKEN");

    let (status, error) = env
        .put_transaction("txn-bad-token", Some("not-the-token"), &body)
        .await;
    assert_eq!(status, 403);
    assert_eq!(error["errcode"], "M_FORBIDDEN");
    assert_eq!(
        version_answers(&alice, &room, &env.bot()).await,
        0,
        "an unauthenticated transaction was bridged"
    );

    // The legacy query parameter is accepted with the right token.
    let url = format!(
        "{}/_matrix/app/v1/transactions/txn-query-token?access_token={}",
        env.bridge_url(),
        env.config.appservice.hs_token
    );
    let response = reqwest::Client::new()
        .put(url)
        .body(body)
        .send()
        .await
        .expect("bridge answers");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(version_answers(&alice, &room, &env.bot()).await, 1);

    // Every homeserver-facing endpoint needs the token.
    for path in [
        "/_matrix/app/v1/users/@whatsappbot:localhost",
        "/_matrix/app/v1/rooms/%23a:localhost",
    ] {
        let response = reqwest::get(format!("{}{path}", env.bridge_url()))
            .await
            .expect("bridge answers");
        assert_eq!(response.status().as_u16(), 401, "{path}");
    }
    let response = reqwest::Client::new()
        .post(format!("{}/_matrix/app/v1/ping", env.bridge_url()))
        .bearer_auth("wrong")
        .json(&json!({}))
        .send()
        .await
        .expect("bridge answers");
    assert_eq!(response.status().as_u16(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_transactions_are_refused_and_malformed_events_skipped() {
    let (env, alice, room) = with_management_room(Options::default()).await;
    let token = env.config.appservice.hs_token.clone();

    let (status, error) = env
        .put_transaction("txn-bad", Some(&token), "this is not json")
        .await;
    assert_eq!(status, 400);
    assert_eq!(error["errcode"], "M_NOT_JSON");
    let (status, error) = env
        .put_transaction("txn-bad", Some(&token), r#"{"events": 5}"#)
        .await;
    assert_eq!(status, 400);
    assert_eq!(error["errcode"], "M_BAD_JSON");
    let (status, _) = env
        .put_transaction("txn-bad", Some(&token), r#"{"no_events": []}"#)
        .await;
    assert_eq!(status, 400);
    // Bytes that are not UTF-8 are not JSON either.
    let url = format!("{}/_matrix/app/v1/transactions/txn-bad", env.bridge_url());
    let response = reqwest::Client::new()
        .put(&url)
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(vec![b'{', 0xff, 0xfe, b'}'])
        .send()
        .await
        .expect("the bridge answers");
    assert_eq!(response.status(), 400);
    // A body over the limit (32 MiB) is refused before it is read whole.
    let oversized = format!(r#"{{"events":[],"padding":"{}"}}"#, "x".repeat(33 << 20));
    let response = reqwest::Client::new()
        .put(&url)
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(oversized)
        .send()
        .await
        .expect("the bridge answers");
    assert_eq!(response.status(), 413);
    assert_eq!(version_answers(&alice, &room, &env.bot()).await, 0);

    // A refused transaction was not recorded: the same ID with a good body is handled. One
    // malformed event does not cost the good one next to it.
    let good = json!({
        "type": "m.room.message", "event_id": "$good-event", "sender": alice.user_id, "room_id": room,
        "origin_server_ts": 1_700_000_000_000u64, "content": {"msgtype": "m.text", "body": "version"}
    });
    let body = json!({"events": [{"type": "m.room.message", "content": 7}, good], "ephemeral": [{"type": "m.typing"}]});
    let (status, _) = env
        .put_transaction("txn-bad", Some(&token), &body.to_string())
        .await;
    assert_eq!(status, 200);
    assert_eq!(version_answers(&alice, &room, &env.bot()).await, 1);
    assert!(
        env.bridge_log().contains("MalformedEvent"),
        "the skipped event was not logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_ping_and_health() {
    let env = TestEnv::start(Options::default()).await;
    let token = env.config.appservice.hs_token.clone();
    let http = reqwest::Client::new();
    let get = |path: &str| {
        http.get(format!("{}{path}", env.bridge_url()))
            .bearer_auth(&token)
            .send()
    };
    let status = |path: &'static str| {
        let request = get(path);
        async move { request.await.expect("bridge answers").status().as_u16() }
    };
    assert_eq!(
        status("/_matrix/app/v1/users/@whatsappbot:localhost").await,
        200
    );
    assert_eq!(
        status("/_matrix/app/v1/users/@whatsapp_123:localhost").await,
        404
    );
    assert_eq!(status("/_matrix/app/v1/users/@alice:localhost").await, 404);
    assert_eq!(status("/_matrix/app/v1/users/not-a-user").await, 404);
    assert_eq!(
        status("/_matrix/app/v1/rooms/%23whatsapp_123:localhost").await,
        404
    );
    assert_eq!(status("/_matrix/mau/live").await, 200);
    assert_eq!(status("/_matrix/mau/ready").await, 200);
    let response = http
        .post(format!("{}/_matrix/app/v1/ping", env.bridge_url()))
        .bearer_auth(&token)
        .json(&json!({"transaction_id": "t1"}))
        .send()
        .await
        .expect("bridge answers");
    assert_eq!(response.status().as_u16(), 200);
    // The start-up self-ping went through Synapse and back.
    assert!(
        env.bridge_log()
            .contains("the homeserver reaches the bridge"),
        "{}",
        env.bridge_log()
    );
}

/// The container health check: `--health-check` with the bridge's config says ready
/// while it runs, and fails with the reason once it is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_check_command_follows_the_bridge() {
    let mut env = TestEnv::start(Options::default()).await;
    let config = common::bridge::path_str(&env.config_path).to_owned();
    let check = |config: String| async move {
        tokio::task::spawn_blocking(move || {
            common::bridge::run_cli(&["-c", &config, "--health-check"])
        })
        .await
        .expect("health check ran")
    };
    let ready = check(config.clone()).await;
    assert!(
        ready.status.success(),
        "{}",
        String::from_utf8_lossy(&ready.stderr)
    );
    assert!(String::from_utf8_lossy(&ready.stdout).contains("ready"));
    env.stop_bridge();
    let gone = check(config).await;
    assert!(!gone.status.success(), "a stopped bridge is not healthy");
    assert!(
        String::from_utf8_lossy(&gone.stderr).contains("not ready"),
        "{}",
        String::from_utf8_lossy(&gone.stderr)
    );
}
