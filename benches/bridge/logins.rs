//! Idle logins: the bridge's resident memory with 1, 100 and 1,000 WhatsApp accounts
//! linked and connected, each measured after a restart (so what linking left behind is
//! not counted), and the start-up time of each restart: from the process's start until
//! the appservice is ready and every stored login is connected.

use std::time::{Duration, Instant};

use fakewa::FakeServer;
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::bridge::{Options, TestEnv};
use crate::common::provisioning::ProvisionApi;
use crate::common::resident_bytes;
use crate::common::user::MatrixUser;
use crate::common::whatsapp::{LINKING, setup_with};
use crate::report::{Table, metric, mib};
use crate::scale::Scale;

/// Logins linked side by side.
const LINKING_AT_ONCE: usize = 20;

fn person_number(n: usize) -> String {
    format!("1555070{n:04}")
}

fn contact_number(n: usize) -> String {
    format!("1555071{n:04}")
}

pub async fn run(scale: &Scale) {
    let (server, mut env) = setup_with(Options {
        log_level: "info",
        ..Options::default()
    })
    .await;
    let baseline = settled_memory(&env).await;
    let mut table = Table::new(
        "Idle logins (each row after a restart with that many stored; SQLite)",
        &[
            "logins",
            "portals",
            "RSS MiB",
            "per login KiB",
            "per added login KiB",
            "tasks",
            "ready s",
            "all connected s",
        ],
    );
    table.row(vec![
        "0".into(),
        "0".into(),
        format!("{:.1}", mib(baseline.0)),
        String::new(),
        String::new(),
        format!("{}", baseline.1),
        String::new(),
        String::new(),
    ]);
    let mut linked = 0;
    let mut portals = 0;
    let mut previous = baseline.0;
    for &level in &scale.logins {
        let link_started = Instant::now();
        let made = link_logins(&server, &env, scale, linked..level).await;
        portals += made;
        eprintln!(
            "logins: {} more linked in {:.1} s",
            level - linked,
            link_started.elapsed().as_secs_f64()
        );
        let linked_before = linked;
        linked = level;
        bridged(&env, made).await;
        env.stop_bridge();
        let started = Instant::now();
        env.start_bridge().await;
        let ready = started.elapsed();
        all_connected(&env, level).await;
        let connected = started.elapsed();
        let (resident, tasks) = settled_memory(&env).await;
        let per_login = resident.saturating_sub(baseline.0) as f64 / level as f64 / 1024.0;
        let added = level - linked_before;
        let per_added = resident.saturating_sub(previous) as f64 / added as f64 / 1024.0;
        previous = resident;
        table.row(vec![
            level.to_string(),
            portals.to_string(),
            format!("{:.1}", mib(resident)),
            format!("{per_login:.0}"),
            format!("{per_added:.0}"),
            tasks.to_string(),
            format!("{:.2}", ready.as_secs_f64()),
            format!("{:.2}", connected.as_secs_f64()),
        ]);
    }
    table.print();
}

/// Links the logins `range` through the provisioning API, a few at a time; the first
/// `scale.logins_with_portals` of them get a Matrix account and a few portals. Returns
/// how many portals were made.
async fn link_logins(
    server: &FakeServer,
    env: &TestEnv,
    scale: &Scale,
    range: std::ops::Range<usize>,
) -> usize {
    let numbers: Vec<usize> = range.collect();
    let mut portals = 0;
    for group in numbers.chunks(LINKING_AT_ONCE) {
        let links = group.iter().map(|&n| link_one(server, env, scale, n));
        for made in futures_util::future::join_all(links).await {
            portals += made;
        }
        if group[0] % 100 < LINKING_AT_ONCE && group[0] > 0 {
            eprintln!("logins: {} linked", group[0]);
        }
    }
    portals
}

async fn link_one(server: &FakeServer, env: &TestEnv, scale: &Scale, n: usize) -> usize {
    let with_portals = n < scale.logins_with_portals;
    let user_id = if with_portals {
        MatrixUser::register(&env.synapse.url(), &format!("person{n}"))
            .await
            .user_id
    } else {
        format!("@person{n}:localhost")
    };
    let api = ProvisionApi::new(env, &user_id);
    let start = api.post("/login/start/qr", None).await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.body);
    let code = start.body["display_and_wait"]["data"]
        .as_str()
        .expect("QR data")
        .to_owned();
    let wait = {
        let api = api.clone();
        let path = step_path(&start.body);
        tokio::spawn(async move { api.post(&path, None).await })
    };
    let device = server
        .phone(&person_number(n))
        .expect("phone")
        .scan_qr(&code)
        .expect("the phone scans the code")
        .jid;
    let done = wait.await.expect("the long-poll");
    assert_eq!(done.body["type"], "complete", "login {n}: {}", done.body);
    crate::common::wait_for("the device's keys", LINKING, || async {
        (!server.prekey_uploads(&device).is_empty()).then_some(())
    })
    .await;
    if !with_portals {
        return 0;
    }
    for c in 0..scale.portals_per_login {
        server
            .contact(&contact_number(c))
            .expect("contact")
            .send_text(&person_number(n), &format!("hello {n}"))
            .expect("send");
    }
    scale.portals_per_login
}

fn step_path(step: &Value) -> String {
    format!(
        "/login/step/{}/{}/display_and_wait",
        step["login_id"].as_str().expect("login_id"),
        step["step_id"].as_str().expect("step_id")
    )
}

/// Waits until the running bridge has bridged `count` messages (each opened a portal).
async fn bridged(env: &TestEnv, count: usize) {
    crate::common::wait_for(
        &format!("{count} portals"),
        Duration::from_secs(600),
        || async {
            let metrics = env.metrics().await;
            let bridged = metric(&metrics, "matrix_whatsapp_messages_bridged_total", "");
            (bridged >= count as f64).then_some(())
        },
    )
    .await;
}

/// Waits until `count` logins are connected.
async fn all_connected(env: &TestEnv, count: usize) {
    crate::common::wait_for(
        &format!("{count} connected logins"),
        Duration::from_secs(600),
        || async {
            let metrics = env.metrics().await;
            let connected = metric(&metrics, "matrix_whatsapp_logins", "state=\"connected\"");
            (connected >= count as f64).then_some(())
        },
    )
    .await;
}

/// The bridge's resident memory and tasks once it is quiet: nothing waiting in its
/// inbox and its task count unchanged over three looks two seconds apart.
async fn settled_memory(env: &TestEnv) -> (u64, u64) {
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut last = -1.0;
    let mut same = 0;
    loop {
        assert!(
            Instant::now() < deadline,
            "the bridge never settled (last {last} tasks)"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        let metrics = env.metrics().await;
        let tasks = metric(&metrics, "matrix_whatsapp_tasks", "");
        let waiting = metric(&metrics, "matrix_whatsapp_inbox_waiting", "");
        if tasks == last && waiting == 0.0 {
            same += 1;
            if same == 3 {
                let pid = env.bridge_pid().expect("the bridge runs");
                return (resident_bytes(pid), tasks as u64);
            }
        } else {
            same = 0;
            last = tasks;
        }
    }
}
