//! Test harness: a real Synapse, the real bridge binary, and humans on the client-server API.
#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod bridge;
pub mod openapi;
pub mod provisioning;
pub mod synapse;
pub mod user;
pub mod whatsapp;

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free local port")
}

/// `N` free local ports, all different: each is held until all are chosen, so two
/// services of one setup never get the same port.
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free local port"))
        .collect();
    let mut ports = [0u16; N];
    for (port, listener) in ports.iter_mut().zip(&listeners) {
        *port = listener.local_addr().expect("a local address").port();
    }
    ports
}

/// Polls `check` until it returns Some, or panics after `timeout` with `what`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `url` answers 200, failing early if `child` exits; `what` and `log` make the
/// failure message useful.
pub async fn wait_until_serving(
    what: &str,
    url: &str,
    child: &mut std::process::Child,
    log: &Path,
) {
    let http = reqwest::Client::new();
    for _ in 0..600 {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited ({status}):\n{}", log_tail(log));
        }
        if let Ok(response) = http.get(url).send().await
            && response.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not start within 60 s:\n{}", log_tail(log));
}

/// The last lines of a log file, for failure messages.
pub fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// A process's resident memory in bytes, from `/proc`.
pub fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .expect("VmRSS in proc status")
}

/// The Postgres server the database tests use; it must be reachable.
pub fn postgres_admin_url() -> String {
    std::env::var("MATRIX_WHATSAPP_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh, empty Postgres database for one test; returns its URI.
pub async fn fresh_postgres_database() -> String {
    use sqlx::Connection;
    let admin = postgres_admin_url();
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|err| {
            panic!("Postgres at {admin} is needed by this test and did not answer: {err}")
        });
    let name = format!("mw_test_{}", rand::random::<u64>());
    // The name is our own random digits, not outside input.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let mut url = url::Url::parse(&admin).expect("postgres URL");
    url.set_path(&name);
    url.to_string()
}
