//! The initial backfill: a history sync of many chats arrives right after the login; the
//! figure is the time until every chat has its portal with its messages (the bot's
//! summary in the management room, then every portal checked), and its messages/s next
//! to the same number of events sent straight to Synapse by the appservice into the same
//! rooms.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fakewa::{
    HistoryConversation, HistoryDelivery, HistoryMessage, HistorySyncScript, HistorySyncType, Jid,
};

use crate::arrivals::follow_matrix;
use crate::common::bridge::Options;
use crate::common::whatsapp::{LINKING, Linked, linked_with};
use crate::direct_matrix::DirectMatrix;
use crate::report::{Table, cpu_during, cpu_seconds, per_message, rate};
use crate::scale::Scale;

const PHONE: &str = "15550800000";
/// How long the bridge waits for more history before it starts the backfill.
const DISPATCH_WAIT: &str = "1s";

fn contact_number(chat: usize) -> String {
    format!("1555081{chat:04}")
}

fn body(chat: usize, message: usize) -> String {
    format!("history {chat} {message}")
}

pub async fn run(scale: &Scale) {
    let (chats, per_chat) = (scale.history_chats, scale.history_messages);
    let Linked {
        server,
        env,
        user,
        ..
    } = linked_with(
        Options {
            extra_config: format!(
                "history_sync:\n  dispatch_wait: {DISPATCH_WAIT}\nbackfill:\n  max_initial_messages: {per_chat}\n"
            ),
            log_level: "info",
            ..Options::default()
        },
        PHONE,
    )
    .await;
    let user = Arc::new(user);
    let seen = follow_matrix(user.clone()).await;
    seen.rest_between_looks(Duration::from_millis(100));
    let script = history(&server, chats, per_chat);
    let summary = format!(
        "Your WhatsApp history is in: {chats} chats with {} messages. Older messages stay stored; send `more-history` in a chat to see them all.",
        chats * per_chat
    );
    let (synapse_pid, bridge_pid) = (env.synapse.pid(), env.bridge_pid().expect("the bridge"));
    let started = Instant::now();
    let ((), backfill_cpu) = cpu_during(synapse_pid, bridge_pid, async {
        server
            .phone(PHONE)
            .expect("phone")
            .send_history_sync(&script, HistoryDelivery::Download)
            .expect("the history sync");
        seen.all(std::slice::from_ref(&summary), Duration::from_secs(1800))
            .await;
    })
    .await;
    let backfill = started.elapsed();

    // Every chat has its portal with its messages, each once, in order.
    let mut rooms = Vec::new();
    user.join_invites(&mut rooms, chats, LINKING).await;
    let mut portals = Vec::new();
    for room in &rooms {
        let timeline = user.timeline(room).await;
        let messages: Vec<(String, String)> = timeline
            .iter()
            .filter(|event| event["type"] == "m.room.message")
            .filter_map(|event| {
                Some((
                    event["sender"].as_str()?.to_owned(),
                    event["content"]["body"].as_str()?.to_owned(),
                ))
            })
            .collect();
        let chat: usize = messages
            .first()
            .and_then(|(_, body)| body.split(' ').nth(1)?.parse().ok())
            .unwrap_or_else(|| panic!("a portal without history: {room}"));
        let expected: Vec<String> = (0..per_chat).map(|m| body(chat, m)).collect();
        let bodies: Vec<String> = messages.iter().map(|(_, body)| body.clone()).collect();
        assert_eq!(bodies, expected, "chat {chat}'s portal");
        portals.push((room.clone(), messages[0].0.clone()));
    }

    // The same number of events sent straight to Synapse into the same rooms, each room
    // in order and the rooms side by side.
    let direct = DirectMatrix::new(&env.synapse.url(), &env.config.appservice.as_token);
    let texts: Vec<Vec<String>> = (0..chats)
        .map(|c| (0..per_chat).map(|m| format!("direct {c} {m}")).collect())
        .collect();
    let direct_started = Instant::now();
    let synapse_before = cpu_seconds(synapse_pid);
    let sends = portals.iter().zip(&texts).map(|((room, ghost), texts)| {
        let direct = &direct;
        async move {
            for text in texts {
                let txn = format!("bench-{}", rand::random::<u64>());
                direct.send_text(room, ghost, &txn, text).await;
            }
        }
    });
    futures_util::future::join_all(sends).await;
    let all: Vec<String> = texts.into_iter().flatten().collect();
    let arrived = seen.all(&all, Duration::from_secs(1800)).await;
    seen.assert_once(&all);
    let direct_synapse = cpu_seconds(synapse_pid) - synapse_before;
    let direct_took = arrived
        .into_iter()
        .max()
        .map_or(Duration::ZERO, |last| last.duration_since(direct_started));

    let count = chats * per_chat;
    let mut table = Table::new(
        &format!(
            "Initial backfill: {chats} chats × {per_chat} messages (dispatch_wait {DISPATCH_WAIT} included)"
        ),
        &[
            "path",
            "messages",
            "seconds",
            "msg/s",
            "backfill/direct",
            "Synapse CPU ms/msg",
            "bridge CPU ms/msg",
        ],
    );
    table.row(vec![
        "backfill (portals made too)".into(),
        count.to_string(),
        format!("{:.2}", backfill.as_secs_f64()),
        format!("{:.1}", rate(count, backfill)),
        format!("{:.2}", rate(count, backfill) / rate(count, direct_took)),
        per_message(backfill_cpu.synapse, count),
        per_message(backfill_cpu.bridge, count),
    ]);
    table.row(vec![
        "direct (into the same rooms)".into(),
        count.to_string(),
        format!("{:.2}", direct_took.as_secs_f64()),
        format!("{:.1}", rate(count, direct_took)),
        String::new(),
        per_message(direct_synapse, count),
        String::new(),
    ]);
    table.print();
}

/// An initial history sync of `chats` direct chats with `per_chat` messages each, all
/// from the contact, a minute apart, ending an hour ago.
fn history(server: &fakewa::FakeServer, chats: usize, per_chat: usize) -> HistorySyncScript {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs();
    let start = now - 3_600 - (chats * per_chat) as u64 * 60;
    let mut script = HistorySyncScript::new(HistorySyncType::INITIAL_BOOTSTRAP);
    for chat in 0..chats {
        let number = contact_number(chat);
        server.contact(&number).expect("contact");
        script.conversations.push(HistoryConversation {
            chat: Jid::pn(number.as_str()),
            messages: (0..per_chat)
                .map(|m| {
                    let at = start + ((chat * per_chat + m) as u64) * 60;
                    HistoryMessage::text(&format!("H{chat}-{m}"), false, at, &body(chat, m))
                })
                .collect(),
            ..HistoryConversation::default()
        });
    }
    script
}
