//! Load: 50 people with linked WhatsApp accounts, 20 chats each, and 2,000 messages over
//! those 1,000 chats in two bursts. Everything arrives (each chat's messages in its
//! portal, once, in order), and nothing grows with the work done: after the second burst
//! the bridge has no more tasks than after the first, and no more memory (10 % slack).
//! The figures (tasks, resident memory idle and after each burst) are printed.

mod common;

use std::time::Duration;

use common::bridge::{Options, TestEnv};
use common::user::MatrixUser;
use common::whatsapp::{LINKING, qr_image, setup_with};
use fakewa::{Contact, FakeServer, Jid, Phone};

const USERS: usize = 50;
const CHATS_EACH: usize = 20;

/// The phone number of the n-th person on the bridge, and of the n-th contact.
fn person_number(n: usize) -> String {
    format!("1555010{n:04}")
}
fn contact_number(n: usize) -> String {
    format!("1555020{n:04}")
}

/// A person, signed up on Matrix and linked to WhatsApp.
struct Person {
    user: MatrixUser,
    number: String,
    device: Jid,
}

/// Links a person's WhatsApp account through the bot by QR code.
async fn link(user: MatrixUser, room: String, bot: String, phone: Phone) -> (MatrixUser, Jid) {
    user.send_text(&room, "login qr").await;
    let qr = qr_image(&user, &room, &bot).await;
    let code = qr["content"]["body"]
        .as_str()
        .expect("the raw code is the body");
    let started = phone.scan_qr(code).expect("the phone accepts the code");
    user.wait_for_message_within(&room, &bot, "Successfully logged in", LINKING * 2)
        .await;
    (user, started.jid)
}

/// Links `USERS` people, ten at a time.
async fn link_everyone(server: &FakeServer, env: &TestEnv) -> Vec<Person> {
    let mut people = Vec::new();
    for first in (0..USERS).step_by(10) {
        let mut linking = Vec::new();
        for n in first..(first + 10).min(USERS) {
            let (user, room) = env.user_with_management_room(&format!("person{n}")).await;
            let phone = server.phone(&person_number(n)).expect("phone");
            linking.push((
                person_number(n),
                tokio::spawn(link(user, room, env.bot(), phone)),
            ));
        }
        for (number, task) in linking {
            let (user, device) = task.await.expect("the login task");
            people.push(Person {
                user,
                number,
                device,
            });
        }
    }
    // Contacts can write to a device once its keys are on the server.
    common::wait_for("every device's keys", LINKING, || async {
        people
            .iter()
            .all(|person| !server.prekey_uploads(&person.device).is_empty())
            .then_some(())
    })
    .await;
    people
}

/// A figure of the bridge's metrics (the sum over every label set).
fn metric(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The bridge's resident memory in bytes.
fn resident_bytes(env: &TestEnv) -> u64 {
    common::resident_bytes(env.bridge_pid().expect("the bridge runs"))
}

/// Waits until nothing changes in the bridge's tasks for a few looks; returns them.
async fn settled_tasks(env: &TestEnv) -> f64 {
    let mut last = -1.0;
    let mut same = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    loop {
        let tasks = metric(&env.metrics().await, "matrix_whatsapp_tasks");
        assert!(
            tokio::time::Instant::now() < deadline,
            "the bridge's tasks never settled (last {tasks})"
        );
        if tasks == last {
            same += 1;
            if same == 3 {
                return tasks;
            }
        } else {
            same = 0;
            last = tasks;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Every contact writes once to every person; waits until the bridge has bridged
/// `total` messages in all, with nothing waiting in its inbox.
async fn burst(env: &TestEnv, contacts: &[Contact], people: &[Person], round: usize, total: usize) {
    let started = tokio::time::Instant::now();
    for (c, contact) in contacts.iter().enumerate() {
        for person in people {
            contact
                .send_text(&person.number, &format!("burst {round} from {c}"))
                .expect("send");
        }
    }
    common::wait_for(
        &format!("{total} messages bridged"),
        Duration::from_secs(900),
        || async {
            let metrics = env.metrics().await;
            let bridged = metric(&metrics, "matrix_whatsapp_messages_bridged_total");
            let waiting = metric(&metrics, "matrix_whatsapp_inbox_waiting");
            (bridged >= total as f64 && waiting == 0.0).then_some(())
        },
    )
    .await;
    eprintln!(
        "load: burst {round}: {} messages to {USERS} people in {} chats bridged in {:.1} s",
        contacts.len() * people.len(),
        contacts.len() * people.len(),
        started.elapsed().as_secs_f64()
    );
}

/// The bridge's tasks once they stop going down after a burst (chat workers end after
/// 30 s of quiet, idle homeserver connections after 30 s), and its memory then.
async fn after_quiet(env: &TestEnv) -> (f64, u64) {
    tokio::time::sleep(Duration::from_secs(40)).await;
    let tasks = settled_tasks(env).await;
    (tasks, resident_bytes(env))
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_people_with_twenty_chats_get_a_burst_of_two_thousand_messages() {
    let (server, env) = setup_with(Options::default()).await;
    let people = link_everyone(&server, &env).await;
    let contacts: Vec<Contact> = (0..CHATS_EACH)
        .map(|n| server.contact(&contact_number(n)).expect("contact"))
        .collect();
    let tasks_idle = settled_tasks(&env).await;
    let memory_idle = resident_bytes(&env);

    // 2,000 messages in two bursts over the same 1,000 chats: the first opens every
    // portal, the second only posts.
    let chats = USERS * CHATS_EACH;
    burst(&env, &contacts, &people, 0, chats).await;
    let (tasks_first, memory_first) = after_quiet(&env).await;
    burst(&env, &contacts, &people, 1, 2 * chats).await;
    let (tasks_second, memory_second) = after_quiet(&env).await;
    eprintln!(
        "load: tasks {tasks_idle} idle, {tasks_first} after the first burst, {tasks_second} after the second"
    );
    eprintln!(
        "load: memory {:.1} MiB idle ({:.2} MiB per login), {:.1} MiB after the first burst, {:.1} MiB after the second",
        mib(memory_idle),
        mib(memory_idle) / USERS as f64,
        mib(memory_first),
        mib(memory_second)
    );
    let metrics = env.metrics().await;
    assert_eq!(
        metric(&metrics, "matrix_whatsapp_messages_bridged_total"),
        (2 * chats) as f64,
        "each message bridged once"
    );
    assert_eq!(
        metric(&metrics, "matrix_whatsapp_messages_failed_total"),
        0.0,
        "no message failed"
    );

    // Every chat has its portal with both messages, in order, from its contact: read as
    // a sample of the people see them.
    for person in people.iter().step_by(USERS / 5) {
        let mut rooms = Vec::new();
        person
            .user
            .join_invites(&mut rooms, CHATS_EACH, LINKING)
            .await;
        let mut seen: Vec<Vec<String>> = Vec::new();
        for room in &rooms {
            let bodies: Vec<String> = person
                .user
                .timeline(room)
                .await
                .into_iter()
                .filter(|event| {
                    event["type"] == "m.room.message"
                        && event["sender"]
                            .as_str()
                            .is_some_and(|sender| sender.starts_with("@whatsapp_1555020"))
                })
                .filter_map(|event| event["content"]["body"].as_str().map(str::to_owned))
                .collect();
            seen.push(bodies);
        }
        seen.sort();
        let mut expected: Vec<Vec<String>> = (0..CHATS_EACH)
            .map(|c| {
                (0..2)
                    .map(|round| format!("burst {round} from {c}"))
                    .collect()
            })
            .collect();
        expected.sort();
        assert_eq!(seen, expected, "{}'s portals", person.user.user_id);
    }

    // Nothing grows with the work done: the bridge's own chat workers and connections
    // are gone after a quiet spell; what stays is whatsapp-rust's message lane per chat
    // that has spoken (one task each, capped per login by the library), made by the
    // first burst and reused by the second.
    assert!(
        tasks_first <= tasks_idle + chats as f64 + 10.0,
        "after the first burst at most one library lane per chat: {tasks_idle} idle, {tasks_first} after"
    );
    assert!(
        tasks_second <= tasks_first + 10.0,
        "the second burst leaves no more tasks than the first: {tasks_first}, then {tasks_second}"
    );
    // The same work again on the same chats keeps the memory where the first left it
    // (allocator slack aside).
    assert!(
        memory_second <= memory_first + memory_first / 10,
        "memory grows with the work: {:.1} MiB after the first burst, {:.1} MiB after the second",
        mib(memory_first),
        mib(memory_second)
    );
}
