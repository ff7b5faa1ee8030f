//! The memory of idle whatsmeow clients: the peer figure for the bridge's own
//! "memory per idle login".
//!
//! N whatsmeow clients (PyPI neonize, as the interop check installs it) run in
//! one Python process (tests/interop/whatsmeow_fleet.py), each with its own
//! session database. A fake WhatsApp server in this process links every one of
//! them by QR (a distinct fake phone each), waits until all are logged in and
//! have uploaded their prekeys, lets them idle, and reads the fleet's resident
//! memory. Bytes per client = (RSS with N clients − RSS with the library loaded
//! and no client) / N.
//!
//! `cargo bench -p fakewa --bench whatsmeow_memory` (or `cargo test … -- --bench`)
//! measures N = 1, 100 and 1000, each in a fresh process against a fresh server;
//! `BENCH_WHATSMEOW_CLIENTS=1,100` picks other counts and
//! `BENCH_WHATSMEOW_PARALLEL` how many clients pair at a time. Without `--bench`
//! (`cargo test`, the CI smoke run) it links 2 clients. It fails when a client
//! never logs in, never uploads its prekeys or drops while idle; it has no
//! timing thresholds. `INTEROP_KEEP=1` keeps the fleet's log and state.

#[allow(dead_code)] // only the installer is used here, not the single-client driver
#[path = "../tests/interop/driver.rs"]
mod driver;
#[path = "../tests/interop/proxy.rs"]
mod proxy;

use driver::Installs;
use fakewa::{FakeServer, Jid};
use proxy::ConnectProxy;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

/// Client counts of a `--bench` run.
const BENCH_COUNTS: &[usize] = &[1, 100, 1000];
/// Client count of a smoke run (`cargo test`).
const SMOKE_COUNTS: &[usize] = &[2];
/// How long the linked clients idle before their memory is read.
const SETTLE: Duration = Duration::from_secs(10);
/// A liveness guard, not a threshold: a run that makes no progress for this
/// long (no client logging in, no prekeys arriving) has a stuck client.
const STALL: Duration = Duration::from_secs(180);
/// Phone numbers are this prefix and the client's index on four digits.
const PHONE_PREFIX: &str = "1555030";
/// Progress goes to stderr every this many logged-in clients.
const PROGRESS_EVERY: usize = 100;
/// Lines of the fleet's log quoted when the run fails.
const LOG_TAIL: usize = 15;

/// One fleet's figures.
struct Measurement {
    clients: usize,
    rss: u64,
    baseline: u64,
    threads: u64,
    linking: Duration,
    total: Duration,
}

impl Measurement {
    /// Resident memory added per client, in bytes.
    fn per_client(&self) -> f64 {
        (self.rss as f64 - self.baseline as f64) / self.clients as f64
    }
}

/// The client counts: `BENCH_WHATSMEOW_CLIENTS`, else by mode.
fn counts(bench: bool) -> Vec<usize> {
    if let Ok(list) = std::env::var("BENCH_WHATSMEOW_CLIENTS") {
        return list
            .split(',')
            .map(|n| {
                n.trim()
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .unwrap_or_else(|| panic!("BENCH_WHATSMEOW_CLIENTS: {n:?} is no count > 0"))
            })
            .collect();
    }
    if bench { BENCH_COUNTS } else { SMOKE_COUNTS }.to_vec()
}

/// The fake phone number that links client `index`.
fn phone_number(index: usize) -> String {
    assert!(index < 10_000, "phone numbers run out at 10000 clients");
    format!("{PHONE_PREFIX}{index:04}")
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The fleet script as a child process speaking JSON lines.
struct Fleet {
    child: Child,
    stdin: ChildStdin,
    events: mpsc::UnboundedReceiver<Value>,
    log: PathBuf,
    /// Errors the fleet reported, quoted when the run fails.
    errors: Vec<String>,
}

impl Fleet {
    async fn spawn(python: &Path, args: &[String], log: PathBuf) -> Self {
        let log_file = std::fs::File::create(&log).expect("cannot create the fleet's log file");
        let mut child = Command::new(python)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .expect("cannot start whatsmeow_fleet.py");
        let stdin = child.stdin.take().expect("fleet without stdin");
        let stdout = child.stdout.take().expect("fleet without stdout");
        let (tx, events) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let event = serde_json::from_str::<Value>(&line)
                    .unwrap_or_else(|_| json!({"event": "garbage", "line": line}));
                if tx.send(event).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            stdin,
            events,
            log,
            errors: Vec::new(),
        }
    }

    async fn send(&mut self, command: Value) {
        let line = format!("{command}\n");
        self.stdin
            .write_all(line.as_bytes())
            .await
            .expect("cannot write to the fleet");
        self.stdin.flush().await.expect("cannot write to the fleet");
    }

    /// The next event; panics, saying what was awaited, if the fleet exits or
    /// stays silent for [`STALL`].
    async fn next(&mut self, awaited: &dyn Fn() -> String) -> Value {
        match tokio::time::timeout(STALL, self.events.recv()).await {
            Ok(Some(event)) => {
                if matches!(event["event"].as_str(), Some("error" | "garbage")) {
                    self.errors.push(event.to_string());
                }
                event
            }
            Ok(None) => self.fail(&format!("the fleet exited before {}", awaited())),
            Err(_) => self.fail(&format!(
                "nothing from the fleet for {} s, awaiting {}",
                STALL.as_secs(),
                awaited()
            )),
        }
    }

    /// The next event named `name`, others being recorded or skipped.
    async fn expect(&mut self, name: &str) -> Value {
        loop {
            let event = self.next(&|| format!("`{name}`")).await;
            if event["event"] == name {
                return event;
            }
        }
    }

    /// Events already received, without waiting.
    fn drain(&mut self) -> Vec<Value> {
        std::iter::from_fn(|| self.events.try_recv().ok()).collect()
    }

    /// Panics with `what`, the fleet's last errors and the end of its log.
    fn fail(&self, what: &str) -> ! {
        let errors = &self.errors[self.errors.len().saturating_sub(5)..];
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(LOG_TAIL)..].join("\n    ");
        panic!("{what}\n  last fleet errors: {errors:?}\n  end of the fleet's log:\n    {tail}");
    }

    async fn quit(mut self) {
        self.send(json!({"cmd": "quit"})).await;
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// A fresh server, the proxy whatsmeow reaches it through, and a folder.
struct Run {
    server: FakeServer,
    proxy: ConnectProxy,
    dir: tempfile::TempDir,
}

impl Run {
    async fn start() -> Self {
        let server = FakeServer::start()
            .await
            .expect("the fake server does not start");
        let proxy = ConnectProxy::start(([127, 0, 0, 1], server.tls_port()).into())
            .await
            .expect("the CONNECT proxy does not start");
        let dir = tempfile::Builder::new()
            .prefix("fakewa-whatsmeow-memory-")
            .disable_cleanup(std::env::var_os("INTEROP_KEEP").is_some())
            .tempdir()
            .expect("cannot make a temporary folder");
        std::fs::write(dir.path().join("ca.pem"), server.ca_pem()).expect("cannot write the CA");
        Self { server, proxy, dir }
    }

    /// Starts the fleet script for `clients` clients.
    async fn fleet(&self, installs: &Installs, clients: usize) -> Fleet {
        let root: String = self
            .server
            .root_public_key()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let path = |p: PathBuf| p.to_string_lossy().into_owned();
        let mut args = vec![
            path(installs.scripts.join("whatsmeow_fleet.py")),
            "--root-key".into(),
            root,
            "--proxy".into(),
            self.proxy.url(),
            "--state".into(),
            path(self.dir.path().join("state")),
            "--ca-file".into(),
            path(self.dir.path().join("ca.pem")),
            "--clients".into(),
            clients.to_string(),
        ];
        if let Ok(parallel) = std::env::var("BENCH_WHATSMEOW_PARALLEL") {
            args.extend(["--parallel".into(), parallel]);
        }
        Fleet::spawn(&installs.python, &args, self.dir.path().join("fleet.log")).await
    }

    /// Has the fake phone of client `index` scan the client's QR code.
    fn scan(&self, index: usize, event: &Value) -> Jid {
        let code = event["code"].as_str().expect("a qr event without code");
        let phone = self
            .server
            .phone(&phone_number(index))
            .expect("the fake server makes no phone");
        phone
            .scan_qr(code)
            .unwrap_or_else(|err| panic!("client {index}: its QR code is refused: {err}"))
            .jid
    }
}

/// Links all `clients` of the fleet; their device JIDs, by index.
async fn link_all(run: &Run, fleet: &mut Fleet, clients: usize) -> Vec<Jid> {
    let mut jids: Vec<Option<Jid>> = vec![None; clients];
    let mut logged_in = vec![false; clients];
    let mut count = 0;
    while count < clients {
        let awaited = || {
            let missing: Vec<usize> = (0..clients).filter(|&i| !logged_in[i]).take(10).collect();
            format!("the login of clients {missing:?}… ({count} of {clients} logged in)")
        };
        let event = fleet.next(&awaited).await;
        let index = event["client"]
            .as_u64()
            .and_then(|i| usize::try_from(i).ok())
            .filter(|&i| i < clients);
        match (event["event"].as_str(), index) {
            (Some("qr"), Some(i)) if jids[i].is_none() => jids[i] = Some(run.scan(i, &event)),
            (Some("connected"), Some(i)) if !logged_in[i] => {
                if jids[i].is_none() {
                    fleet.fail(&format!("client {i} logged in without being linked"));
                }
                logged_in[i] = true;
                count += 1;
                if count % PROGRESS_EVERY == 0 {
                    eprintln!("  {count} of {clients} clients logged in");
                }
            }
            _ => {}
        }
    }
    jids.into_iter().flatten().collect()
}

/// Waits until every device uploaded its prekeys: fully linked.
async fn wait_for_prekeys(server: &FakeServer, jids: &[Jid]) {
    let mut missing: Vec<&Jid> = jids.iter().collect();
    let mut last_progress = Instant::now();
    while !missing.is_empty() {
        let before = missing.len();
        missing.retain(|jid| server.prekey_uploads(jid).is_empty());
        if missing.len() < before {
            last_progress = Instant::now();
        } else if last_progress.elapsed() > STALL {
            panic!(
                "{} clients logged in but uploaded no prekeys within {} s: {:?}…",
                missing.len(),
                STALL.as_secs(),
                &missing[..missing.len().min(10)]
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Lets the clients idle, then checks that none dropped meanwhile.
async fn settle(server: &FakeServer, fleet: &mut Fleet, jids: &[Jid]) {
    tokio::time::sleep(SETTLE).await;
    for event in fleet.drain() {
        if matches!(event["event"].as_str(), Some("disconnected" | "error")) {
            fleet.fail(&format!("a client failed while idle: {event}"));
        }
    }
    let gone: Vec<&Jid> = jids
        .iter()
        .filter(|jid| server.connection_of(jid).is_none())
        .collect();
    if !gone.is_empty() {
        fleet.fail(&format!(
            "{} clients are no longer connected to the server: {:?}",
            gone.len(),
            &gone[..gone.len().min(10)]
        ));
    }
}

/// One fleet of `clients` idle clients, in a fresh process against a fresh server.
async fn measure(installs: &Installs, clients: usize) -> Measurement {
    let started = Instant::now();
    let run = Run::start().await;
    let mut fleet = run.fleet(installs, clients).await;
    let baseline = fleet.expect("baseline").await;
    let jids = link_all(&run, &mut fleet, clients).await;
    wait_for_prekeys(&run.server, &jids).await;
    let linking = started.elapsed();
    settle(&run.server, &mut fleet, &jids).await;
    fleet.send(json!({"cmd": "rss"})).await;
    let rss = fleet.expect("rss").await;
    fleet.quit().await;
    let number = |event: &Value, key: &str| {
        event[key]
            .as_u64()
            .unwrap_or_else(|| panic!("`{key}` missing in {event}"))
    };
    Measurement {
        clients,
        rss: number(&rss, "bytes"),
        baseline: number(&baseline, "bytes"),
        threads: number(&rss, "threads"),
        linking,
        total: started.elapsed(),
    }
}

fn table(rows: &[Measurement]) -> String {
    let mut out = String::from(
        "whatsmeow (neonize 0.5.2) idle clients in one Python process\n\
         clients |  RSS MiB | baseline MiB | threads | KiB per client | linked in s | run s\n\
         --------+----------+--------------+---------+----------------+-------------+------\n",
    );
    for m in rows {
        out.push_str(&format!(
            "{:>7} | {:>8.1} | {:>12.1} | {:>7} | {:>14.1} | {:>11.1} | {:>5.1}\n",
            m.clients,
            mib(m.rss),
            mib(m.baseline),
            m.threads,
            m.per_client() / 1024.0,
            m.linking.as_secs_f64(),
            m.total.as_secs_f64(),
        ));
    }
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let bench = std::env::args().any(|arg| arg == "--bench");
    let installs = Installs::prepare()
        .await
        .unwrap_or_else(|err| panic!("cannot install neonize: {err}"));
    let mut rows = Vec::new();
    for clients in counts(bench) {
        eprintln!("whatsmeow_memory: {clients} clients…");
        let row = measure(&installs, clients).await;
        eprintln!(
            "whatsmeow_memory: {clients} clients linked in {:.1} s",
            row.linking.as_secs_f64()
        );
        rows.push(row);
    }
    print!("{}", table(&rows));
}
