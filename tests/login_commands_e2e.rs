//! The login commands as a person uses them, through a real Synapse, for everything that
//! happens before WhatsApp is involved: explanations, bad numbers, one flow at a time,
//! cancel, and logout or list-logins without a login. (Linking itself is tested against
//! the fake WhatsApp server.)

mod common;

use common::bridge::{Options, TestEnv};
use common::user::MatrixUser;

async fn setup(options: Options) -> (TestEnv, MatrixUser, String) {
    let env = TestEnv::start(options).await;
    let (alice, room) = env.user_with_management_room("alice").await;
    (env, alice, room)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_explains_both_ways_and_refuses_bad_numbers() {
    let (env, alice, room) = setup(Options::default()).await;
    let bot = env.bot();

    alice.send_text(&room, "login").await;
    let help = alice
        .wait_for_message(&room, &bot, "Link your WhatsApp account")
        .await;
    assert!(
        help.contains("login qr") && help.contains("login phone"),
        "{help}"
    );

    alice.send_text(&room, "login fax").await;
    alice
        .wait_for_message(&room, &bot, "`fax` is not a way to log in")
        .await;

    alice.send_text(&room, "login phone 07700 900123").await;
    let refused = alice.wait_for_message(&room, &bot, "starts with 0").await;
    assert!(refused.contains("international form"), "{refused}");

    alice.send_text(&room, "login phone +1 555 CALL").await;
    alice
        .wait_for_message(&room, &bot, "is not a phone number")
        .await;

    // None of these started a login.
    alice.send_text(&room, "cancel").await;
    alice
        .wait_for_message(&room, &bot, "There is no login in progress")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_phone_asks_for_the_number_until_it_is_valid_and_cancel_ends_it() {
    let (env, alice, room) = setup(Options::default()).await;
    let bot = env.bot();

    alice.send_text(&room, "login phone").await;
    alice
        .wait_for_message(&room, &bot, "Send your phone number in international form")
        .await;
    alice.send_text(&room, "my number").await;
    alice
        .wait_for_message(&room, &bot, "`my number` is not a phone number")
        .await;
    alice.send_text(&room, "+12345").await;
    alice.wait_for_message(&room, &bot, "is too short").await;

    // One login at a time.
    alice.send_text(&room, "login qr").await;
    alice
        .wait_for_message(&room, &bot, "already have a login in progress")
        .await;

    alice.send_text(&room, "cancel").await;
    alice
        .wait_for_message(&room, &bot, "Login cancelled.")
        .await;
    alice.send_text(&room, "cancel").await;
    alice
        .wait_for_message(&room, &bot, "There is no login in progress")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_and_list_logins_without_a_login_say_so() {
    let (env, alice, room) = setup(Options::default()).await;
    let bot = env.bot();
    alice.send_text(&room, "logout").await;
    alice
        .wait_for_message(&room, &bot, "You are not logged in to WhatsApp.")
        .await;
    alice.send_text(&room, "list-logins").await;
    let listing = alice
        .wait_for_message(&room, &bot, "You are not logged in to WhatsApp. Send")
        .await;
    assert!(listing.contains("login qr"), "{listing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_need_the_user_level_and_the_management_room() {
    let options = Options {
        extra_permissions: vec!["'@carol:localhost': commands".into()],
        ..Options::default()
    };
    let (env, alice, room) = setup(options).await;
    let bot = env.bot();

    let carol = env.user("carol").await;
    let carol_room = carol.create_dm(&bot).await;
    carol
        .wait_for_message(&carol_room, &bot, "management room")
        .await;
    carol.send_text(&carol_room, "login qr").await;
    carol
        .wait_for_message(&carol_room, &bot, "You are not allowed to use `login`")
        .await;
    carol.send_text(&carol_room, "help").await;
    let help = carol.wait_for_message(&carol_room, &bot, "Commands").await;
    assert!(
        !help.contains("login"),
        "help lists a command carol cannot use: {help}"
    );

    let bob = env.user("bob").await;
    let group = alice.create_group(&[&bot, &bob.user_id]).await;
    alice.wait_for_membership(&group, &bot, "join").await;
    alice.send_text(&group, "!wa login qr").await;
    alice
        .wait_for_message(&group, &bot, "Log in from your direct chat with me")
        .await;
    // Nothing started in the management room either.
    alice.send_text(&room, "cancel").await;
    alice
        .wait_for_message(&room, &bot, "There is no login in progress")
        .await;
}
