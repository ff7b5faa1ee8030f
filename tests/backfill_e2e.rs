//! History sync and backfill end to end, against a real Synapse and the fake phone.
//!
//! The phone sends 12 chats (8 direct, 4 groups with several senders) of 80 messages
//! each, text and photos, in two payloads. After `dispatch_wait` the bridge makes 12
//! portals, the most recent chat first, each holding exactly the newest 50 messages in
//! order, from the right ghosts, at their WhatsApp times; the phone's pins, archives,
//! mutes and read state become the owner's tags, push rules and read receipts. In a
//! portal, `more-history` moves the chat to a new room with everything: the 80 stored
//! messages and the 20 older ones the phone sends on demand, and the old room points
//! there with a tombstone. Other tests: a crash in the middle of portal creation leaves
//! no room or message twice; `max_initial_conversations` (on Postgres) and
//! `enabled: false` are respected; a chat whose room a new message made before the
//! history came keeps its room in order; messages sent while the bridge is down arrive
//! after its restart, in order, once each, up to `max_catchup_messages` per chat.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::bridge::{Database, Options};
use common::user::MatrixUser;
use common::whatsapp::{LINKING, Linked, linked_with};
use fakewa::proto as wa;
use fakewa::{
    FakeServer, HistoryConversation, HistoryDelivery, HistoryMessage, HistorySyncScript,
    HistorySyncType, Jid, MediaKind, Role,
};
use serde_json::Value;

const PHONE: &str = "15550001234";
const DIRECT_CHATS: usize = 8;
const GROUPS: usize = 4;
const PER_CHAT: usize = 80;
/// How many older messages the phone still has of the chat `more-history` asks about.
const ARCHIVED_ONLY: usize = 20;
const DAY: u64 = 24 * 60 * 60;

fn ghost(number: &str) -> String {
    format!("@whatsapp_{number}:localhost")
}

fn contact_number(index: usize) -> String {
    format!("155500031{index:02}")
}

/// Chat `k`'s message `m`: its body, and when it was sent (seconds). Chat 0 has been
/// quiet for 40 days; the others are recent, chat 11 the most recent of all.
fn body(chat: usize, message: usize) -> String {
    format!("chat{chat:02} message{message:03}")
}

fn sent_at(start: u64, chat: usize, message: usize) -> u64 {
    let base = if chat == 0 { start - 40 * DAY } else { start };
    base + chat as u64 * 10_000 + message as u64 * 10
}

/// Everything the fake phone holds, and what the bridge should show of it.
struct Phone {
    /// Per chat: the JID and every message, oldest first (the archive of chat 7 is
    /// `ARCHIVED_ONLY` longer than what the history sync sends).
    chats: Vec<(Jid, Vec<HistoryMessage>)>,
}

impl Phone {
    /// Contacts and groups on the fake server, and 80 messages per chat (100 for
    /// chat 7): direct chats alternate between the contact and the owner's phone,
    /// groups rotate among three members and the owner; every 20th is a photo.
    fn build(server: &FakeServer, start: u64) -> Self {
        let mut chats = Vec::new();
        for index in 0..DIRECT_CHATS {
            let number = contact_number(index);
            let contact = server.contact(&number).expect("contact");
            contact
                .set_push_name(&format!("Contact {index}"))
                .expect("name");
            chats.push((Jid::pn(number.as_str()), Vec::new()));
        }
        for group in 0..GROUPS {
            let members = [contact_number(0), contact_number(1), contact_number(2)];
            let handle = server
                .create_group(
                    &members[0],
                    &format!("Group {group}"),
                    &[
                        (PHONE, Role::Member),
                        (members[1].as_str(), Role::Member),
                        (members[2].as_str(), Role::Member),
                    ],
                )
                .expect("group");
            chats.push((handle.jid(), Vec::new()));
        }
        let uploader = server.contact(&contact_number(0)).expect("contact");
        for (chat, (_, messages)) in chats.iter_mut().enumerate() {
            let extra = if chat == 7 { ARCHIVED_ONLY } else { 0 };
            // Chat 7's archive starts earlier: its first 20 are the ones only the
            // phone has.
            for m in 0..PER_CHAT + extra {
                let label = body(chat, m);
                let at = sent_at(start, chat, m);
                let mut message = HistoryMessage::text(&format!("H{chat}-{m}"), false, at, &label);
                let is_group = chat >= DIRECT_CHATS;
                if is_group {
                    match m % 4 {
                        3 => message.from_me = true,
                        member => message.participant = Some(contact_number(member)),
                    }
                    message.push_name = message
                        .participant
                        .as_ref()
                        .map(|number| format!("Member {number}"));
                } else {
                    message.from_me = m % 2 == 1;
                }
                if m % 20 == 5 {
                    message.message = photo(server, &uploader, chat * 1000 + m, &label);
                }
                messages.push(message);
            }
        }
        Self { chats }
    }

    /// The conversations as the history sync sends them (80 messages each).
    fn conversation(&self, chat: usize) -> HistoryConversation {
        let (jid, messages) = &self.chats[chat];
        let skip = messages.len() - PER_CHAT;
        HistoryConversation {
            chat: jid.clone(),
            name: (chat >= DIRECT_CHATS).then(|| format!("Group {}", chat - DIRECT_CHATS)),
            // Everything is unread, except chat 8; chat 0 is read for being quiet.
            unread_count: if chat == 8 { 0 } else { 2 },
            pinned: chat == 11,
            archived: chat == 10,
            mute_end: (chat == 9).then_some(4_000_000_000),
            messages: messages[skip..].to_vec(),
        }
    }

    fn archive(&self, chat: usize) -> HistoryConversation {
        HistoryConversation {
            messages: self.chats[chat].1.clone(),
            ..self.conversation(chat)
        }
    }

    /// What the portal of `chat` should show: (body, sender, ts) of the newest `count`
    /// of `messages`, oldest first.
    fn expected(
        &self,
        chat: usize,
        messages: &[HistoryMessage],
        count: usize,
    ) -> Vec<(String, String, u64)> {
        let skip = messages.len().saturating_sub(count);
        messages[skip..]
            .iter()
            .map(|message| {
                let sender = if message.from_me {
                    ghost(PHONE)
                } else if let Some(participant) = &message.participant {
                    ghost(participant)
                } else {
                    ghost(self.chats[chat].0.user.as_str())
                };
                (text_of(&message.message), sender, message.timestamp * 1000)
            })
            .collect()
    }

    fn sync(&self, sync_type: HistorySyncType, chats: std::ops::Range<usize>) -> HistorySyncScript {
        let mut script = HistorySyncScript::new(sync_type);
        script.conversations = chats.map(|chat| self.conversation(chat)).collect();
        script
    }
}

fn text_of(message: &wa::Message) -> String {
    message
        .conversation
        .clone()
        .or_else(|| {
            message
                .image_message
                .as_option()
                .and_then(|image| image.caption.clone())
        })
        .unwrap_or_default()
}

/// A small photo, uploaded to the fake media server, captioned with the message's text.
fn photo(
    server: &FakeServer,
    uploader: &fakewa::Contact,
    seed: usize,
    caption: &str,
) -> wa::Message {
    let bytes: Vec<u8> = (0..2048u32)
        .map(|i| ((i as usize * 31 + seed) % 251) as u8)
        .collect();
    let stored = uploader.upload(&bytes, MediaKind::Image).expect("upload");
    common::whatsapp::photo_message(server, &stored, caption)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs()
}

fn options(extra: &str) -> Options {
    Options {
        extra_config: format!("history_sync:\n  dispatch_wait: 3s\n{extra}"),
        ..Options::default()
    }
}

/// Joins every invite until `count` rooms were joined; more than `count` fails.
async fn join_portals(user: &MatrixUser, count: usize) -> Vec<String> {
    let mut joined = Vec::new();
    user.join_invites(&mut joined, count, LINKING * 2).await;
    assert_eq!(joined.len(), count, "exactly {count} portals");
    joined
}

/// The chat JID a portal's bridge state names.
fn channel_of(timeline: &[Value]) -> String {
    timeline
        .iter()
        .find(|event| event["type"] == "m.bridge")
        .and_then(|event| event["content"]["channel"]["id"].as_str())
        .expect("the portal names its chat")
        .to_owned()
}

/// (body, sender, ts) of the room's messages from ghosts (the bot's notices left out).
fn messages_of(timeline: &[Value]) -> Vec<(String, String, u64)> {
    timeline
        .iter()
        .filter(|event| event["type"] == "m.room.message")
        .filter(|event| {
            event["sender"]
                .as_str()
                .is_some_and(|s| s.starts_with("@whatsapp_"))
        })
        .map(|event| {
            (
                event["content"]["body"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                event["sender"].as_str().unwrap_or_default().to_owned(),
                event["origin_server_ts"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

/// Waits until every room holds `count` ghost messages; returns the rooms by chat JID.
async fn portals_by_chat(
    user: &MatrixUser,
    rooms: &[String],
    count: impl Fn(&str) -> usize,
) -> HashMap<String, (String, Vec<Value>)> {
    common::wait_for("every portal filled", LINKING * 2, || async {
        let mut by_chat = HashMap::new();
        for room in rooms {
            let timeline = user.timeline(room).await;
            let chat = channel_of(&timeline);
            if messages_of(&timeline).len() < count(&chat) {
                return None;
            }
            by_chat.insert(chat, (room.clone(), timeline));
        }
        Some(by_chat)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_becomes_portals_with_the_newest_messages_and_more_history_brings_the_rest() {
    let Linked {
        server,
        env: _env,
        user,
        room: management,
        bot,
        ..
    } = linked_with(options("backfill:\n  max_initial_messages: 50\n"), PHONE).await;
    let start = unix_now() - 2 * DAY;
    let history = Phone::build(&server, start);
    let phone = server.phone(PHONE).expect("phone");
    phone.keep_archive(history.archive(7)).expect("archive");
    // Two payloads: one from the media server, one inline.
    phone
        .send_history_sync(
            &history.sync(HistorySyncType::INITIAL_BOOTSTRAP, 0..6),
            HistoryDelivery::Download,
        )
        .expect("history");
    phone
        .send_history_sync(
            &history.sync(HistorySyncType::RECENT, 6..12),
            HistoryDelivery::Inline,
        )
        .expect("history");

    user.wait_for_message_within(&management, &bot, "Creating 12 chats", LINKING)
        .await;
    let rooms = join_portals(&user, 12).await;
    user.wait_for_message_within(&management, &bot, "12 chats with 600 messages", LINKING * 2)
        .await;
    let portals = portals_by_chat(&user, &rooms, |_| 50).await;

    // Each portal: the newest 50, oldest first, from the right ghosts at the right times.
    let mut created: Vec<(u64, usize)> = Vec::new();
    for (chat, (jid, messages)) in history.chats.iter().enumerate() {
        let (_, timeline) = portals
            .get(&jid.to_string())
            .unwrap_or_else(|| panic!("a portal for chat {chat}"));
        let expected = history.expected(chat, messages, 50);
        assert_eq!(
            messages_of(timeline),
            expected,
            "chat {chat} holds its newest 50, in order"
        );
        let photos = timeline
            .iter()
            .filter(|event| event["content"]["msgtype"] == "m.image")
            .filter(|event| {
                event["content"]["url"]
                    .as_str()
                    .is_some_and(|url| url.starts_with("mxc://"))
            })
            .count();
        assert_eq!(photos, 2, "chat {chat}'s photos are real media");
        let create_ts = timeline
            .iter()
            .find(|event| event["type"] == "m.room.create")
            .and_then(|event| event["origin_server_ts"].as_u64())
            .expect("the room's creation");
        created.push((create_ts, chat));
    }
    created.sort();
    let order: Vec<usize> = created.iter().map(|(_, chat)| *chat).collect();
    assert_eq!(
        order,
        (0..12).rev().collect::<Vec<_>>(),
        "the most recent chat got its portal first"
    );

    // The phone's view of each chat, as the owner's own settings.
    let room_of = |chat: usize| portals[&history.chats[chat].0.to_string()].0.clone();
    assert_eq!(
        user.room_tags(&room_of(11)).await,
        vec!["m.favourite".to_owned()]
    );
    assert_eq!(
        user.room_tags(&room_of(10)).await,
        vec!["m.lowpriority".to_owned()]
    );
    assert!(user.room_tags(&room_of(5)).await.is_empty());
    let muted = user
        .room_push_rule(&room_of(9))
        .await
        .expect("chat 9 is muted");
    assert_eq!(muted["actions"], serde_json::json!([]));
    assert!(user.room_push_rule(&room_of(5)).await.is_none());
    for (chat, read) in [(8, true), (0, true), (5, false)] {
        let room = room_of(chat);
        let newest = portals[&history.chats[chat].0.to_string()]
            .1
            .iter()
            .rev()
            .find(|event| event["type"] == "m.room.message")
            .and_then(|event| event["event_id"].as_str())
            .expect("a newest message")
            .to_owned();
        if read {
            common::wait_for(&format!("chat {chat} marked read"), LINKING, || async {
                (user.read_up_to(&room, &user.user_id).await.as_deref() == Some(newest.as_str()))
                    .then_some(())
            })
            .await;
        } else {
            assert_eq!(
                user.read_up_to(&room, &user.user_id).await,
                None,
                "chat {chat} has unread messages"
            );
        }
    }

    // More history: chat 7 moves to a new room with all 100 messages, and the old room
    // says where it went.
    let old_room = room_of(7);
    user.send_text(&old_room, "!wa more-history").await;
    let new_room = common::wait_for("the tombstone", LINKING, || async {
        let tombstone = user.state(&old_room, "m.room.tombstone", "").await?;
        tombstone["replacement_room"].as_str().map(str::to_owned)
    })
    .await;
    user.join(&new_room).await;
    let all = history.expected(7, &history.chats[7].1, usize::MAX);
    assert_eq!(all.len(), PER_CHAT + ARCHIVED_ONLY);
    let moved = common::wait_for("the full history in the new room", LINKING, || async {
        let messages = messages_of(&user.timeline(&new_room).await);
        (messages.len() >= all.len()).then_some(messages)
    })
    .await;
    assert_eq!(
        moved, all,
        "the new room holds the whole chat, oldest first, once each"
    );
    let create = user
        .state(&new_room, "m.room.create", "")
        .await
        .expect("create");
    assert_eq!(
        create["predecessor"]["room_id"].as_str(),
        Some(old_room.as_str())
    );
    user.wait_for_message_within(&new_room, &bot, "100 messages", LINKING)
        .await;

    // The chat carries on in the new room.
    let contact = server.contact(&contact_number(7)).expect("contact");
    contact.send_text(PHONE, "after the move").expect("send");
    common::wait_for("a new message in the new room", LINKING, || async {
        user.messages_from(&new_room, &ghost(&contact_number(7)))
            .await
            .iter()
            .any(|body| body == "after the move")
            .then_some(())
    })
    .await;
    assert!(
        !user
            .messages_from(&old_room, &ghost(&contact_number(7)))
            .await
            .iter()
            .any(|body| body == "after the move"),
        "nothing new lands in the old room"
    );
    assert!(user.invites().await.is_empty(), "no other room was made");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_in_the_middle_of_portal_creation_leaves_nothing_twice() {
    let Linked {
        server,
        mut env,
        user,
        room: management,
        bot,
        ..
    } = linked_with(options("backfill:\n  max_initial_messages: 50\n"), PHONE).await;
    let history = Phone::build(&server, unix_now() - 2 * DAY);
    let phone = server.phone(PHONE).expect("phone");
    phone
        .send_history_sync(
            &history.sync(HistorySyncType::INITIAL_BOOTSTRAP, 0..12),
            HistoryDelivery::Download,
        )
        .expect("history");
    // Kill the bridge once a few portals exist, well before all twelve are filled.
    common::wait_for("the first portals", LINKING, || async {
        (user.invites().await.len() >= 3).then_some(())
    })
    .await;
    env.kill_bridge();
    let at_crash = user.invites().await.len();
    assert!(
        at_crash < 12,
        "the crash came in the middle ({at_crash} portals)"
    );
    env.start_bridge().await;

    user.wait_for_message_within(
        &management,
        &bot,
        "Your WhatsApp history is in",
        LINKING * 2,
    )
    .await;
    let rooms = join_portals(&user, 12).await;
    let portals = portals_by_chat(&user, &rooms, |_| 50).await;
    assert_eq!(portals.len(), 12, "one portal per chat");
    for (chat, (jid, messages)) in history.chats.iter().enumerate() {
        let (_, timeline) = &portals[&jid.to_string()];
        assert_eq!(
            messages_of(timeline),
            history.expected(chat, messages, 50),
            "chat {chat}: its newest 50, each once, in order"
        );
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(user.invites().await.is_empty(), "no room was made twice");
}

/// A small history: `chats` direct chats of 5 messages each.
fn small_history(server: &FakeServer, chats: usize) -> HistorySyncScript {
    let start = unix_now() - DAY;
    let mut script = HistorySyncScript::new(HistorySyncType::INITIAL_BOOTSTRAP);
    for chat in 0..chats {
        let number = contact_number(chat);
        server.contact(&number).expect("contact");
        script.conversations.push(HistoryConversation {
            chat: Jid::pn(number.as_str()),
            unread_count: 1,
            messages: (0..5)
                .map(|m| {
                    HistoryMessage::text(
                        &format!("S{chat}-{m}"),
                        false,
                        sent_at(start + DAY, chat, m),
                        &body(chat, m),
                    )
                })
                .collect(),
            ..HistoryConversation::default()
        });
    }
    script
}

/// On Postgres, so the backfill runs on both databases end to end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_initial_conversations_chooses_the_most_recent_chats() {
    let postgres = Options {
        database: Database::Postgres(common::fresh_postgres_database().await),
        ..options("  max_initial_conversations: 5\n")
    };
    let Linked {
        server,
        env: _env,
        user,
        room: management,
        bot,
        ..
    } = linked_with(postgres, PHONE).await;
    let script = small_history(&server, 12);
    let phone = server.phone(PHONE).expect("phone");
    phone
        .send_history_sync(&script, HistoryDelivery::Inline)
        .expect("history");
    user.wait_for_message_within(&management, &bot, "5 chats with 25 messages", LINKING)
        .await;
    let rooms = join_portals(&user, 5).await;
    let portals = portals_by_chat(&user, &rooms, |_| 5).await;
    let mut chats: Vec<String> = portals.keys().cloned().collect();
    chats.sort();
    let expected: Vec<String> = (7..12)
        .map(|chat| Jid::pn(contact_number(chat).as_str()).to_string())
        .collect();
    assert_eq!(chats, expected, "the five most recent chats");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(user.invites().await.is_empty(), "no more than five");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_backfill_off_no_portal_comes_until_a_message_does() {
    let Linked {
        server,
        env: _env,
        user,
        room: management,
        bot,
        ..
    } = linked_with(options("backfill:\n  enabled: false\n"), PHONE).await;
    let script = small_history(&server, 3);
    let phone = server.phone(PHONE).expect("phone");
    phone
        .send_history_sync(&script, HistoryDelivery::Inline)
        .expect("history");
    // Three times the dispatch wait: nothing.
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert!(
        user.invites().await.is_empty(),
        "no portal from the history"
    );
    assert!(
        !user
            .messages_from(&management, &bot)
            .await
            .iter()
            .any(|text| text.contains("history")),
        "no history notices"
    );
    let contact = server.contact(&contact_number(1)).expect("contact");
    contact.send_text(PHONE, "a live one").expect("send");
    let rooms = join_portals(&user, 1).await;
    let live = common::wait_for("the live message", LINKING, || async {
        let messages = messages_of(&user.timeline(&rooms[0]).await);
        (!messages.is_empty()).then_some(messages)
    })
    .await;
    let bodies: Vec<&str> = live.iter().map(|(body, _, _)| body.as_str()).collect();
    assert_eq!(
        bodies,
        vec!["a live one"],
        "only the live message, no history"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_sent_while_the_bridge_was_down_arrive_in_order_up_to_the_catch_up_limit() {
    let Linked {
        server,
        mut env,
        user,
        room: management,
        bot,
        ..
    } = linked_with(options("backfill:\n  max_catchup_messages: 3\n"), PHONE).await;
    let alice = server.contact(&contact_number(1)).expect("contact");
    let bob = server.contact(&contact_number(2)).expect("contact");
    alice.send_text(PHONE, "before").expect("send");
    let rooms = join_portals(&user, 1).await;
    let alice_room = rooms[0].clone();
    user.wait_for_message(&alice_room, &ghost(&contact_number(1)), "before")
        .await;

    env.stop_bridge();
    for n in 1..=5 {
        alice.send_text(PHONE, &format!("away {n}")).expect("send");
    }
    for n in 1..=2 {
        bob.send_text(PHONE, &format!("bob away {n}"))
            .expect("send");
    }
    env.start_bridge().await;

    user.wait_for_message_within(&management, &bot, "5 messages came", LINKING)
        .await;
    let bob_room = join_portals(&user, 1).await.remove(0);
    let alice_says = common::wait_for("alice's newest three", LINKING, || async {
        let said = user
            .messages_from(&alice_room, &ghost(&contact_number(1)))
            .await;
        (said.len() >= 4).then_some(said)
    })
    .await;
    assert_eq!(alice_says, vec!["before", "away 3", "away 4", "away 5"]);
    let bob_says = common::wait_for("bob's two", LINKING, || async {
        let said = user
            .messages_from(&bob_room, &ghost(&contact_number(2)))
            .await;
        (said.len() >= 2).then_some(said)
    })
    .await;
    assert_eq!(bob_says, vec!["bob away 1", "bob away 2"]);

    // Nothing was lost: the full history has all of Alice's messages.
    user.send_text(&alice_room, "!wa more-history").await;
    let new_room = common::wait_for("the tombstone", LINKING, || async {
        let tombstone = user.state(&alice_room, "m.room.tombstone", "").await?;
        tombstone["replacement_room"].as_str().map(str::to_owned)
    })
    .await;
    user.join(&new_room).await;
    let all = common::wait_for("everything in the new room", LINKING, || async {
        let said = user
            .messages_from(&new_room, &ghost(&contact_number(1)))
            .await;
        (said.len() >= 6).then_some(said)
    })
    .await;
    assert_eq!(
        all,
        vec!["before", "away 1", "away 2", "away 3", "away 4", "away 5"]
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        user.messages_from(&alice_room, &ghost(&contact_number(1)))
            .await
            .len(),
        4,
        "nothing came twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_that_already_has_its_room_keeps_it_in_order() {
    let Linked {
        server,
        env: _env,
        user,
        room: management,
        bot,
        ..
    } = linked_with(options(""), PHONE).await;
    // A message comes before the history: its chat's room starts with it.
    let script = small_history(&server, 3);
    let contact = server.contact(&contact_number(1)).expect("contact");
    contact.send_text(PHONE, "live first").expect("send");
    let live_room = join_portals(&user, 1).await.remove(0);
    user.wait_for_message(&live_room, &ghost(&contact_number(1)), "live first")
        .await;

    let phone = server.phone(PHONE).expect("phone");
    phone
        .send_history_sync(&script, HistoryDelivery::Inline)
        .expect("history");
    user.wait_for_message_within(&management, &bot, "2 chats with 10 messages", LINKING)
        .await;
    join_portals(&user, 2).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        user.messages_from(&live_room, &ghost(&contact_number(1)))
            .await,
        vec!["live first"],
        "no older message was slipped in after the newer one"
    );
}
