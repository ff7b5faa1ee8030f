//! The phone-silence watchdog end to end, on a clock the test moves forward (test
//! builds only): a phone that stays offline is pinged from day 10 (at most daily) and
//! warned about from day 12 (at most daily, also across a restart); a receipt from the
//! phone itself brings a "your phone is back" notice and ends the warnings, while one
//! from a contact does not count.

mod common;

use std::time::Duration;

use common::bridge::Database;
use common::user::MatrixUser;
use common::whatsapp::{LINKING, Linked, linked};
use fakewa::FakeServer;

const PHONE: &str = "15550001234";
const ALICE: &str = "15550002001";
const DAY: Duration = Duration::from_secs(24 * 60 * 60);
const WARNING: &str = "has not been seen by WhatsApp for";
const BACK: &str = "is back online";
/// Long enough for the watchdog to have looked after a move of the clock.
const SETTLE: Duration = Duration::from_secs(4);

/// The bot's notices in the management room that contain `needle`.
async fn notices(user: &MatrixUser, room: &str, bot: &str, needle: &str) -> usize {
    user.messages_from(room, bot)
        .await
        .iter()
        .filter(|body| body.contains(needle))
        .count()
}

async fn wait_for_notices(user: &MatrixUser, room: &str, bot: &str, needle: &str, count: usize) {
    common::wait_for(
        &format!("{count} notice(s) with {needle:?}"),
        LINKING,
        || async { (notices(user, room, bot, needle).await >= count).then_some(()) },
    )
    .await;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(
        notices(user, room, bot, needle).await,
        count,
        "exactly {count} notice(s) with {needle:?}"
    );
}

/// The peer requests the bridge sent the phone (pings).
fn pings(server: &FakeServer) -> usize {
    server
        .decrypted()
        .iter()
        .filter(|received| {
            received.recipient.user == PHONE
                && received
                    .message
                    .protocol_message
                    .as_option()
                    .is_some_and(|protocol| protocol.peer_data_operation_request_message.is_set())
        })
        .count()
}

async fn wait_for_pings(server: &FakeServer, count: usize) {
    common::wait_for(&format!("{count} ping(s)"), LINKING, || async {
        (pings(server) >= count).then_some(())
    })
    .await;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(pings(server), count, "at most one ping a day");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_phone_is_pinged_and_warned_about_until_it_is_back() {
    let Linked {
        server,
        mut env,
        user: person,
        room,
        bot,
        ..
    } = linked(Database::Sqlite, PHONE).await;
    let config = std::fs::read_to_string(&env.config_path).expect("config");
    let config = config.replace(
        "whatsapp:\n",
        "whatsapp:\n  phone_watchdog:\n    check_interval: 1m\n",
    );
    std::fs::write(&env.config_path, config).expect("config");
    let phone = server.phone(PHONE).expect("phone");
    phone.set_offline(true).expect("offline");
    env.restart_bridge().await;
    // What the reconnect brings (the phone's queued receipts) is in before time moves.
    tokio::time::sleep(SETTLE).await;

    // Nine days: nothing yet.
    env.advance_clock(9 * DAY);
    tokio::time::sleep(SETTLE).await;
    assert_eq!(pings(&server), 0);
    assert_eq!(notices(&person, &room, &bot, WARNING).await, 0);

    // Day ten: one ping, no warning.
    env.advance_clock(DAY + Duration::from_secs(3600));
    wait_for_pings(&server, 1).await;
    assert_eq!(notices(&person, &room, &bot, WARNING).await, 0);

    // Day twelve: exactly one warning (and the day's ping).
    env.advance_clock(2 * DAY);
    wait_for_notices(&person, &room, &bot, WARNING, 1).await;
    wait_for_pings(&server, 2).await;

    // A restart neither forgets the silence nor repeats the day's warning.
    env.restart_bridge().await;
    tokio::time::sleep(2 * SETTLE).await;
    assert_eq!(notices(&person, &room, &bot, WARNING).await, 1);

    // Two more days: one more warning.
    env.advance_clock(2 * DAY);
    wait_for_notices(&person, &room, &bot, WARNING, 2).await;

    // A contact's receipt is not the phone.
    let alice = server.contact(ALICE).expect("contact");
    alice
        .send_receipt(
            PHONE,
            &fakewa::ReceiptSpec {
                kind: Some("read".into()),
                ids: vec!["NOT-A-MESSAGE".into()],
            },
        )
        .expect("receipt");
    tokio::time::sleep(SETTLE).await;
    assert_eq!(notices(&person, &room, &bot, BACK).await, 0);

    // The phone itself: back, once, and no more warnings.
    phone.set_offline(false).expect("online");
    phone
        .send_receipt(&alice.jid(), &["SOME-MESSAGE".to_owned()])
        .expect("receipt");
    wait_for_notices(&person, &room, &bot, BACK, 1).await;
    env.advance_clock(Duration::from_secs(3600));
    tokio::time::sleep(SETTLE).await;
    assert_eq!(notices(&person, &room, &bot, WARNING).await, 2);
}
