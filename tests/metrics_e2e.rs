//! The Prometheus endpoint against a running bridge: a message each way shows in the
//! bridged counters (by direction and kind) and the latency histograms, the login is
//! counted as connected, nothing waits in the inbox, and a message the bridge cannot
//! send is counted as failed with its reason.

mod common;

use common::bridge::Database;
use common::whatsapp::{LINKING, Linked, linked, server_event};
use fakewa::ServerEvent;

const PHONE: &str = "15550001234";
const ALICE: &str = "15550002001";

/// The value of one sample line, when the exposition has it.
fn sample(metrics: &str, name_and_labels: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        line.strip_prefix(name_and_labels)
            .and_then(|rest| rest.trim().parse().ok())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_count_what_the_bridge_does() {
    let Linked {
        server,
        env,
        mut seen,
        user,
        ..
    } = linked(Database::Sqlite, PHONE).await;
    let alice = server.contact(ALICE).expect("contact");
    alice.send_text(PHONE, "hello metrics").expect("send");
    let portal = common::wait_for("the portal", LINKING, || async {
        let (room, _) = user.invites().await.into_iter().next()?;
        user.join(&room).await;
        Some(room)
    })
    .await;
    user.wait_for_message(
        &portal,
        &format!("@whatsapp_{ALICE}:localhost"),
        "hello metrics",
    )
    .await;
    user.send_text(&portal, "hello back").await;
    server_event(&mut seen, "the answer at alice", |event| match event {
        ServerEvent::MessageDecrypted(received) if received.recipient.user == ALICE => Some(()),
        _ => None,
    })
    .await;
    // A location nobody can read cannot go to WhatsApp.
    user.send_event(
        &portal,
        "m.room.message",
        serde_json::json!({"msgtype": "m.location", "body": "somewhere", "geo_uri": "geo:north,pole"}),
    )
    .await;

    let metrics = common::wait_for("the counts", LINKING, || async {
        let metrics = env.metrics().await;
        let failed = sample(
            &metrics,
            "matrix_whatsapp_messages_failed_total{direction=\"to_whatsapp\",reason=\"not_bridgeable\"}",
        );
        (failed == Some(1.0)).then_some(metrics)
    })
    .await;
    let value = |line: &str| sample(&metrics, line);
    assert_eq!(
        value("matrix_whatsapp_messages_bridged_total{direction=\"to_matrix\",kind=\"text\"}"),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        value("matrix_whatsapp_messages_bridged_total{direction=\"to_whatsapp\",kind=\"text\"}"),
        Some(1.0)
    );
    assert_eq!(
        value("matrix_whatsapp_bridge_latency_seconds_count{direction=\"to_matrix\"}"),
        Some(1.0)
    );
    assert_eq!(
        value("matrix_whatsapp_bridge_latency_seconds_count{direction=\"to_whatsapp\"}"),
        Some(1.0)
    );
    assert_eq!(
        value("matrix_whatsapp_logins{state=\"connected\"}"),
        Some(1.0)
    );
    assert_eq!(
        value("matrix_whatsapp_logins{state=\"reconnecting\"}"),
        Some(0.0)
    );
    assert_eq!(value("matrix_whatsapp_inbox_waiting"), Some(0.0));
}
