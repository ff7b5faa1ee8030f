//! WhatsApp → Matrix: fake contacts write to the linked account; the figures are how
//! fast and how soon the messages are readable in the person's `/sync`, next to the same
//! events sent straight to Synapse by the appservice.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fakewa::{Chat, MediaKind, SendOptions};

use crate::arrivals::{Seen, follow_matrix};
use crate::common::bridge::Options;
use crate::common::whatsapp::{Linked, linked_with, photo_message, test_file};
use crate::direct_matrix::DirectMatrix;
use crate::portals::{Path, Portal, open_portals};
use crate::report::{Table, cpu_during, ms, per_message, percentile, rate};
use crate::scale::Scale;

const PHONE: &str = "15550400000";
/// The size of each picture.
const PICTURE_BYTES: u32 = 100 * 1024;
/// How long the `/sync` watcher rests between looks during a throughput run (the error
/// it adds to a run's time is at most this).
const THROUGHPUT_REST: Duration = Duration::from_millis(100);
/// How long a whole run may take before it counts as lost messages.
const PATIENCE: Duration = Duration::from_secs(900);

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Picture,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Picture => "100 KiB picture",
        }
    }
}

pub async fn run(scale: &Scale) {
    let Linked {
        server, env, user, ..
    } = linked_with(
        Options {
            log_level: "info",
            ..Options::default()
        },
        PHONE,
    )
    .await;
    let user = Arc::new(user);
    let portals = open_portals(&server, &user, PHONE, "1555041", scale.chats).await;
    let direct = DirectMatrix::new(&env.synapse.url(), &env.config.appservice.as_token);
    let seen = follow_matrix(user.clone()).await;
    let ctx = Context {
        server: &server,
        portals: &portals,
        direct: &direct,
        seen: &seen,
    };

    let mut table = Table::new(
        "WhatsApp → Matrix (one login, messages spread over its chats; latency: one at a time)",
        &[
            "kind",
            "path",
            "messages",
            "seconds",
            "msg/s",
            "bridge/direct",
            "p50 ms",
            "p99 ms",
            "Synapse CPU ms/msg",
            "bridge CPU ms/msg",
        ],
    );
    let (synapse_pid, bridge_pid) = (env.synapse.pid(), env.bridge_pid().expect("the bridge"));
    for (kind, count) in [(Kind::Text, scale.texts), (Kind::Picture, scale.pictures)] {
        let (bridge, bridge_cpu) = cpu_during(
            synapse_pid,
            bridge_pid,
            ctx.burst(Path::Bridge, kind, count),
        )
        .await;
        let (direct, direct_cpu) = cpu_during(
            synapse_pid,
            bridge_pid,
            ctx.burst(Path::Direct, kind, count),
        )
        .await;
        let bridge_latency = ctx
            .latencies(Path::Bridge, kind, scale.latency_samples)
            .await;
        let direct_latency = ctx
            .latencies(Path::Direct, kind, scale.latency_samples)
            .await;
        let ratio = rate(count, bridge) / rate(count, direct);
        for (path, took, latency, ratio, cpu) in [
            (
                "bridge",
                bridge,
                &bridge_latency,
                format!("{ratio:.2}"),
                bridge_cpu,
            ),
            ("direct", direct, &direct_latency, String::new(), direct_cpu),
        ] {
            table.row(vec![
                kind.label().into(),
                path.into(),
                count.to_string(),
                format!("{:.2}", took.as_secs_f64()),
                format!("{:.1}", rate(count, took)),
                ratio,
                format!("{:.1}", ms(percentile(latency, 50.0))),
                format!("{:.1}", ms(percentile(latency, 99.0))),
                per_message(cpu.synapse, count),
                per_message(cpu.bridge, count),
            ]);
        }
        table.row(vec![
            kind.label().into(),
            "added by the bridge".into(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            format!(
                "{:.1}",
                ms(percentile(&bridge_latency, 50.0)) - ms(percentile(&direct_latency, 50.0))
            ),
            format!(
                "{:.1}",
                ms(percentile(&bridge_latency, 99.0)) - ms(percentile(&direct_latency, 99.0))
            ),
            String::new(),
            String::new(),
        ]);
    }
    table.print();
}

struct Context<'a> {
    server: &'a fakewa::FakeServer,
    portals: &'a [Portal],
    direct: &'a DirectMatrix,
    seen: &'a Seen,
}

impl Context<'_> {
    /// `count` messages at once, message `i` in chat `i % chats`; the time from the
    /// first send until the last is readable.
    async fn burst(&self, path: Path, kind: Kind, count: usize) -> Duration {
        let texts: Vec<String> = (0..count)
            .map(|i| format!("{} {} burst {i}", path.tag(), kind.label()))
            .collect();
        self.seen.rest_between_looks(THROUGHPUT_REST);
        let started = match path {
            Path::Bridge => self.bridge_send_all(kind, &texts),
            Path::Direct => self.direct_send_all(kind, &texts).await,
        };
        let arrived = self.seen.all(&texts, PATIENCE).await;
        self.seen.rest_between_looks(Duration::ZERO);
        self.seen.assert_once(&texts);
        let last = arrived.into_iter().max().unwrap_or(started);
        last.duration_since(started)
    }

    /// The contacts send every message (pictures already on the media server); returns
    /// when the first was sent.
    fn bridge_send_all(&self, kind: Kind, texts: &[String]) -> Instant {
        let pictures = self.upload_pictures(kind, texts.len());
        let started = Instant::now();
        for (i, text) in texts.iter().enumerate() {
            let portal = &self.portals[i % self.portals.len()];
            self.bridge_send(portal, pictures.get(i), text);
        }
        started
    }

    fn upload_pictures(&self, kind: Kind, count: usize) -> Vec<fakewa::MediaRef> {
        if kind != Kind::Picture {
            return Vec::new();
        }
        (0..count)
            .map(|i| {
                let contact = &self.portals[i % self.portals.len()].contact;
                let bytes = test_file(i as u32 % 250 + 1, PICTURE_BYTES);
                contact.upload(&bytes, MediaKind::Image).expect("upload")
            })
            .collect()
    }

    fn bridge_send(&self, portal: &Portal, picture: Option<&fakewa::MediaRef>, text: &str) {
        match picture {
            None => {
                portal.contact.send_text(PHONE, text).expect("send");
            }
            Some(stored) => {
                let message = photo_message(self.server, stored, text);
                portal
                    .contact
                    .send(
                        &Chat::Direct(PHONE.into()),
                        &message,
                        &SendOptions::default(),
                    )
                    .expect("send");
            }
        }
    }

    /// The appservice sends every message itself, in order within each chat and the
    /// chats side by side, as the bridge does; returns when it began.
    async fn direct_send_all(&self, kind: Kind, texts: &[String]) -> Instant {
        let chats = self.portals.len();
        let started = Instant::now();
        let sends = (0..chats).map(|c| async move {
            for i in (c..texts.len()).step_by(chats) {
                self.direct_send(&self.portals[c], kind, &texts[i], i).await;
            }
        });
        futures_util::future::join_all(sends).await;
        started
    }

    async fn direct_send(&self, portal: &Portal, kind: Kind, text: &str, i: usize) {
        let txn = format!("bench-{}", rand::random::<u64>());
        match kind {
            Kind::Text => {
                self.direct
                    .send_text(&portal.room, &portal.ghost, &txn, text)
                    .await
            }
            Kind::Picture => {
                let bytes = test_file(i as u32 % 250 + 1, PICTURE_BYTES);
                self.direct
                    .send_picture(&portal.room, &portal.ghost, &txn, bytes, text)
                    .await
            }
        }
    }

    /// `count` messages one at a time (each once the last is readable), over the
    /// chats in turn: the time from each send until it is readable.
    async fn latencies(&self, path: Path, kind: Kind, count: usize) -> Vec<Duration> {
        let pictures = match path {
            Path::Bridge => self.upload_pictures(kind, count),
            Path::Direct => Vec::new(),
        };
        let mut latencies = Vec::with_capacity(count);
        for i in 0..count {
            let text = format!("{} {} alone {i}", path.tag(), kind.label());
            let portal = &self.portals[i % self.portals.len()];
            let sent = Instant::now();
            match path {
                Path::Bridge => self.bridge_send(portal, pictures.get(i), &text),
                Path::Direct => self.direct_send(portal, kind, &text, i).await,
            }
            let arrived = self.seen.all(std::slice::from_ref(&text), PATIENCE).await;
            latencies.push(arrived[0].duration_since(sent));
        }
        latencies
    }
}
