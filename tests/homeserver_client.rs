//! The homeserver client: identity per request and timestamps against a real Synapse;
//! retry behaviour against a scripted HTTP server (a unit test of this one module).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post, put};
use common::bridge::{Options, TestEnv};
use matrix_whatsapp::matrix::client::HomeserverClient;
use matrix_whatsapp::matrix::ids::BridgeIds;
use matrix_whatsapp::matrix::retry::RetryPolicy;
use matrix_whatsapp::matrix::rooms::NewRoom;
use ruma::events::room::message::RoomMessageEventContent;
use ruma::{MilliSecondsSinceUnixEpoch, OwnedTransactionId, RoomId, UInt, UserId};
use serde_json::json;

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        base_delay: Duration::from_millis(10),
        ..RetryPolicy::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_as_the_right_user_with_the_given_timestamp() {
    let env = TestEnv::start(Options::default()).await;
    let (alice, room_id) = env.user_with_management_room("alice").await;

    let client = env.appservice_client(fast_retries()).await;
    let bot = UserId::parse(env.bot()).expect("bot");
    let room = RoomId::parse(&room_id).expect("room");

    // Timestamp massaging: the event carries the time we give, not the time of sending.
    let past = MilliSecondsSinceUnixEpoch(UInt::new(1_600_000_000_000).expect("ts"));
    let mut request = ruma::api::client::message::send_message_event::v3::Request::new(
        room.clone(),
        OwnedTransactionId::from("ts-test"),
        &RoomMessageEventContent::notice_plain("from the past"),
    )
    .expect("request");
    request.timestamp = Some(past);
    client.send(&bot, request).await.expect("send");
    let event = alice
        .timeline(&room_id)
        .await
        .into_iter()
        .find(|event| event["content"]["body"] == "from the past")
        .expect("event arrived");
    assert_eq!(event["origin_server_ts"], 1_600_000_000_000u64);
    assert_eq!(event["sender"], env.bot());

    // A ghost acts as itself: registration is idempotent and its profile is its own.
    let ghost = UserId::parse("@whatsapp_15550001:localhost").expect("ghost");
    client.ensure_registered(&ghost).await.expect("register");
    client
        .ensure_registered(&ghost)
        .await
        .expect("registering again is fine");
    client
        .set_display_name(&ghost, "Ghost One (WA)")
        .await
        .expect("display name");
    let profile: serde_json::Value = reqwest::get(format!(
        "{}/_matrix/client/v3/profile/{}",
        env.synapse.url(),
        ghost
    ))
    .await
    .expect("profile")
    .json()
    .await
    .expect("json");
    assert_eq!(profile["displayname"], "Ghost One (WA)");

    // The same transaction ID from the same user posts once.
    let content = RoomMessageEventContent::notice_plain("only once");
    let first = client
        .send_message(&bot, &room, "dup-txn".into(), &content)
        .await
        .expect("send");
    let second = client
        .send_message(&bot, &room, "dup-txn".into(), &content)
        .await
        .expect("send");
    assert_eq!(first, second);
    let copies = alice
        .messages_from(&room_id, &env.bot())
        .await
        .iter()
        .filter(|b| *b == "only once")
        .count();
    assert_eq!(copies, 1);

    // Creating a portal is idempotent: a second creation (as after a crash between the
    // room's creation and its record) finds the first room by its alias.
    let ids = BridgeIds::new(&env.config.appservice, &env.config.homeserver.domain).expect("ids");
    let alice_id = UserId::parse(alice.user_id.as_str()).expect("alice");
    let portal = NewRoom {
        name: Some("Bob".into()),
        topic: None,
        owner: alice_id,
        is_direct: true,
        protocol: "whatsapp",
        channel_id: "15550002@s.whatsapp.net".into(),
        channel_name: "Bob".into(),
        alias: ids
            .portal_alias(7, "15550002@s.whatsapp.net")
            .expect("alias"),
        predecessor: None,
    };
    let created = client
        .create_portal_room(&bot, &portal)
        .await
        .expect("create");
    let again = client
        .create_portal_room(&bot, &portal)
        .await
        .expect("create again");
    assert_eq!(created, again, "the second creation finds the first room");
    let other = NewRoom {
        alias: ids
            .portal_alias(8, "15550002@s.whatsapp.net")
            .expect("alias"),
        ..portal
    };
    let separate = client
        .create_portal_room(&bot, &other)
        .await
        .expect("create for another login");
    assert_ne!(created, separate, "another login's chat is another room");
    let invites = alice.invites().await;
    assert_eq!(invites.len(), 2, "one invite per room: {invites:?}");
}

/// A scripted homeserver: `/versions`, then each endpoint answers from its script.
async fn scripted_homeserver(
    send_script: Vec<(u16, serde_json::Value)>,
    register_status: u16,
) -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let sends = Arc::new(AtomicUsize::new(0));
    let registers = Arc::new(AtomicUsize::new(0));
    let send_script = Arc::new(send_script);
    let router = Router::new()
        .route(
            "/_matrix/client/versions",
            get(|| async { axum::Json(json!({"versions": ["v1.11"]})) }),
        )
        .route(
            "/_matrix/client/v3/rooms/{room}/send/{kind}/{txn}",
            put({
                let sends = sends.clone();
                let script = send_script.clone();
                move || async move {
                    let index = sends.fetch_add(1, Ordering::SeqCst);
                    let (status, body) = script
                        .get(index)
                        .cloned()
                        .unwrap_or((200, json!({"event_id": "$late"})));
                    (
                        http::StatusCode::from_u16(status).expect("status"),
                        axum::Json(body),
                    )
                }
            }),
        )
        .route(
            "/_matrix/client/v3/register",
            post({
                let registers = registers.clone();
                move || async move {
                    registers.fetch_add(1, Ordering::SeqCst);
                    (
                        http::StatusCode::from_u16(register_status).expect("status"),
                        axum::Json(json!({"errcode": "M_UNKNOWN", "error": "boom"})),
                    )
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, sends, registers)
}

async fn send_one(
    url: &str,
) -> Result<ruma::OwnedEventId, matrix_whatsapp::matrix::client::HomeserverError> {
    let client = HomeserverClient::connect(url, "token", Duration::from_secs(5), fast_retries())
        .await
        .expect("connect");
    let bot = UserId::parse("@bot:localhost").expect("user");
    let room = RoomId::parse("!room").expect("room");
    client
        .send_message(
            &bot,
            &room,
            "t1".into(),
            &RoomMessageEventContent::text_plain("hi"),
        )
        .await
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried() {
    let script = vec![
        (
            429,
            json!({"errcode": "M_LIMIT_EXCEEDED", "error": "slow down", "retry_after_ms": 50}),
        ),
        (502, json!({"errcode": "M_UNKNOWN", "error": "gateway"})),
        (500, json!({"errcode": "M_UNKNOWN", "error": "oops"})),
        (200, json!({"event_id": "$finally"})),
    ];
    let (url, sends, _) = scripted_homeserver(script, 200).await;
    let event = send_one(&url).await.expect("delivered after retries");
    assert_eq!(event.as_str(), "$finally");
    assert_eq!(sends.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn client_errors_are_not_retried_and_keep_their_code() {
    let script = vec![(
        403,
        json!({"errcode": "M_FORBIDDEN", "error": "not in room"}),
    )];
    let (url, sends, _) = scripted_homeserver(script, 200).await;
    let err = send_one(&url).await.expect_err("forbidden");
    assert_eq!(err.errcode(), Some("M_FORBIDDEN"));
    assert_eq!(sends.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_post_that_may_have_been_applied_is_not_repeated() {
    let (url, _, registers) = scripted_homeserver(Vec::new(), 500).await;
    let client = HomeserverClient::connect(&url, "token", Duration::from_secs(5), fast_retries())
        .await
        .expect("connect");
    let ghost = UserId::parse("@whatsapp_1:localhost").expect("user");
    let err = client
        .ensure_registered(&ghost)
        .await
        .expect_err("server error");
    assert_eq!(err.errcode(), Some("M_UNKNOWN"));
    assert_eq!(
        registers.load(Ordering::SeqCst),
        1,
        "a POST was repeated after a 500"
    );
}

#[tokio::test]
async fn giving_up_reports_the_last_error() {
    let script = vec![(503, json!({"errcode": "M_UNKNOWN", "error": "down"})); 20];
    let (url, sends, _) = scripted_homeserver(script, 200).await;
    let err = send_one(&url).await.expect_err("gives up");
    assert!(err.to_string().contains("503"), "{err}");
    assert_eq!(
        sends.load(Ordering::SeqCst),
        RetryPolicy::default().max_attempts as usize
    );
}
