//! When each message became readable on the far side: in the Matrix user's `/sync`, or
//! decrypted by a fake WhatsApp contact's phone. Messages are told apart by their text.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fakewa::{FakeServer, ServerEvent};
use tokio::sync::broadcast;

use crate::common::user::MatrixUser;
use crate::common::whatsapp::text_of;

/// Texts seen, each with every moment it was seen (more than one is a duplicate).
type Times = Arc<Mutex<HashMap<String, Vec<Instant>>>>;

/// What a watcher has seen so far; the watcher stops when this is dropped.
pub struct Seen {
    times: Times,
    watcher: tokio::task::JoinHandle<()>,
    /// Milliseconds the Matrix watcher rests between two `/sync`s.
    rest_ms: Arc<AtomicU64>,
}

impl Drop for Seen {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

fn record(times: &Times, text: String, at: Instant) {
    let mut seen = times.lock().expect("arrival map");
    seen.entry(text).or_default().push(at);
}

impl Seen {
    /// How long the Matrix watcher rests after each `/sync`. A throughput run rests, so
    /// that the homeserver spends about the same on the watcher whatever the pattern of
    /// arrivals (a `/sync` per message would cost it as much as the message); a latency
    /// run does not (each arrival is seen as soon as the homeserver tells).
    pub fn rest_between_looks(&self, rest: Duration) {
        let ms = u64::try_from(rest.as_millis()).unwrap_or(u64::MAX);
        self.rest_ms.store(ms, Ordering::Relaxed);
    }

    /// Waits until every text has been seen; returns when each was first seen. Panics
    /// after `within`, naming how many are missing.
    pub async fn all(&self, texts: &[String], within: Duration) -> Vec<Instant> {
        let deadline = Instant::now() + within;
        loop {
            {
                let seen = self.times.lock().expect("arrival map");
                let found: Vec<Instant> = texts
                    .iter()
                    .filter_map(|text| seen.get(text).and_then(|times| times.first().copied()))
                    .collect();
                if found.len() == texts.len() {
                    return found;
                }
                assert!(
                    Instant::now() < deadline,
                    "{} of {} messages never arrived (first missing: {:?})",
                    texts.len() - found.len(),
                    texts.len(),
                    texts.iter().find(|text| !seen.contains_key(*text))
                );
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Panics if any of the texts arrived more than once.
    pub fn assert_once(&self, texts: &[String]) {
        let seen = self.times.lock().expect("arrival map");
        for text in texts {
            let times = seen.get(text).map_or(0, Vec::len);
            assert_eq!(times, 1, "{text:?} arrived {times} times");
        }
    }
}

/// Follows the user's `/sync` from now on, recording each message's body.
pub async fn follow_matrix(user: Arc<MatrixUser>) -> Seen {
    let times = Times::default();
    let first = user.sync(None, 0).await;
    let mut since = first["next_batch"].as_str().expect("next_batch").to_owned();
    let recorder = times.clone();
    let rest_ms = Arc::new(AtomicU64::new(0));
    let rest = rest_ms.clone();
    let watcher = tokio::spawn(async move {
        loop {
            let pause = rest.load(Ordering::Relaxed);
            if pause > 0 {
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            let answer = user.sync(Some(&since), 30_000).await;
            let now = Instant::now();
            if let Some(rooms) = answer["rooms"]["join"].as_object() {
                for room in rooms.values() {
                    for event in room["timeline"]["events"].as_array().into_iter().flatten() {
                        if event["type"] == "m.room.message"
                            && let Some(body) = event["content"]["body"].as_str()
                        {
                            record(&recorder, body.to_owned(), now);
                        }
                    }
                }
            }
            since = answer["next_batch"]
                .as_str()
                .expect("next_batch")
                .to_owned();
        }
    });
    Seen {
        times,
        watcher,
        rest_ms,
    }
}

/// Follows what the fake phones decrypt from now on, recording each message's text (what
/// the recipient's phone decrypts, not the sender's own copy).
pub fn follow_whatsapp(server: &FakeServer) -> Seen {
    let times = Times::default();
    let recorder = times.clone();
    let mut events = server.events();
    let watcher = tokio::spawn(async move {
        loop {
            match events.recv().await {
                // The account's own phone decrypts its copy too; only the far side counts.
                Ok(ServerEvent::MessageDecrypted(received))
                    if received.recipient.user != received.sender.user =>
                {
                    if let Some(text) = text_of(&received.message) {
                        record(&recorder, text, Instant::now());
                    }
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    panic!("the arrival watcher fell {missed} server events behind")
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    Seen {
        times,
        watcher,
        rest_ms: Arc::default(),
    }
}
