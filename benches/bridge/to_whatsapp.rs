//! Matrix → WhatsApp: the person writes in their portals; the figures are how fast and
//! how soon the contacts' phones decrypt the messages, next to a whatsapp-rust client
//! sending the same messages itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::arrivals::{Seen, follow_whatsapp};
use crate::common::bridge::Options;
use crate::common::user::MatrixUser;
use crate::common::whatsapp::{Linked, linked_with};
use crate::direct_whatsapp::DirectWhatsApp;
use crate::portals::{Path, Portal, open_portals};
use crate::report::{Table, cpu_during, ms, per_message, percentile, rate};
use crate::scale::Scale;

const PHONE: &str = "15550500000";
/// The account of the direct client.
const DIRECT_PHONE: &str = "15550600000";
const PATIENCE: Duration = Duration::from_secs(900);

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
    let portals = open_portals(&server, &user, PHONE, "1555051", scale.chats).await;
    let direct = DirectWhatsApp::link(&server, DIRECT_PHONE).await;
    let seen = follow_whatsapp(&server);
    let ctx = Context {
        user: &user,
        portals: &portals,
        direct: &direct,
        seen: &seen,
    };

    let count = scale.texts;
    let (synapse_pid, bridge_pid) = (env.synapse.pid(), env.bridge_pid().expect("the bridge"));
    let (bridge, bridge_cpu) =
        cpu_during(synapse_pid, bridge_pid, ctx.burst(Path::Bridge, count)).await;
    let direct_burst = ctx.burst(Path::Direct, count).await;
    let bridge_latency = ctx.latencies(Path::Bridge, scale.latency_samples).await;
    let direct_latency = ctx.latencies(Path::Direct, scale.latency_samples).await;
    let mut table = Table::new(
        "Matrix → WhatsApp, texts (one login, spread over its chats; latency: one at a time)",
        &[
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
    let ratio = rate(count, bridge.took) / rate(count, direct_burst.took);
    // The CPU the bridge's run cost Synapse and the bridge (the direct run has neither).
    let bridge_cpu = [
        per_message(bridge_cpu.synapse, count),
        per_message(bridge_cpu.bridge, count),
    ];
    for (path, took, latency, ratio, cpu) in [
        (
            "bridge",
            bridge.took,
            &bridge_latency,
            format!("{ratio:.2}"),
            bridge_cpu.to_vec(),
        ),
        (
            "direct",
            direct_burst.took,
            &direct_latency,
            String::new(),
            Vec::new(),
        ),
    ] {
        let mut cells = vec![
            path.into(),
            count.to_string(),
            format!("{:.2}", took.as_secs_f64()),
            format!("{:.1}", rate(count, took)),
            ratio,
            format!("{:.1}", ms(percentile(latency, 50.0))),
            format!("{:.1}", ms(percentile(latency, 99.0))),
        ];
        cells.extend(cpu);
        table.row(cells);
    }

    // What bounds the bridge's rate from the start: Synapse taking the person's sends.
    table.row(vec![
        "Synapse taking the sends".into(),
        count.to_string(),
        format!("{:.2}", bridge.sent.as_secs_f64()),
        format!("{:.1}", rate(count, bridge.sent)),
        String::new(),
        String::new(),
        String::new(),
    ]);
    table.print();
}

/// A burst's times: until the last message was decrypted, and until the sender had
/// sent them all (for the bridge: until Synapse had taken the last from the person).
struct Burst {
    took: Duration,
    sent: Duration,
}

struct Context<'a> {
    user: &'a MatrixUser,
    portals: &'a [Portal],
    direct: &'a DirectWhatsApp,
    seen: &'a Seen,
}

impl Context<'_> {
    async fn send(&self, path: Path, portal: &Portal, text: &str) {
        match path {
            Path::Bridge => {
                self.user.send_text(&portal.room, text).await;
            }
            Path::Direct => self.direct.send_text(portal.contact.number(), text).await,
        }
    }

    /// `count` messages, message `i` in chat `i % chats`, in order within each chat and
    /// the chats side by side: the time from the first send until the last is decrypted.
    async fn burst(&self, path: Path, count: usize) -> Burst {
        let texts: Vec<String> = (0..count)
            .map(|i| format!("{} burst {i}", path.tag()))
            .collect();
        let chats = self.portals.len();
        let started = Instant::now();
        let sends = (0..chats).map(|c| {
            let texts = &texts;
            async move {
                for text in texts.iter().skip(c).step_by(chats) {
                    self.send(path, &self.portals[c], text).await;
                }
            }
        });
        futures_util::future::join_all(sends).await;
        let sent = started.elapsed();
        let arrived = self.seen.all(&texts, PATIENCE).await;
        self.seen.assert_once(&texts);
        let last = arrived.into_iter().max().unwrap_or(started);
        Burst {
            took: last.duration_since(started),
            sent,
        }
    }

    /// `count` messages one at a time: the time from each send until it is decrypted.
    async fn latencies(&self, path: Path, count: usize) -> Vec<Duration> {
        let mut latencies = Vec::with_capacity(count);
        for i in 0..count {
            let text = format!("{} alone {i}", path.tag());
            let portal = &self.portals[i % self.portals.len()];
            let sent = Instant::now();
            self.send(path, portal, &text).await;
            let arrived = self.seen.all(std::slice::from_ref(&text), PATIENCE).await;
            latencies.push(arrived[0].duration_since(sent));
        }
        latencies
    }
}
