//! The bridge binary with its own config, next to a real Synapse: a whole test setup.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use matrix_whatsapp::config::Config;

use super::synapse::{DOUBLE_PUPPET_TOKEN, SERVER_NAME, Synapse};
use super::user::MatrixUser;

pub const BIN: &str = env!("CARGO_BIN_EXE_matrix-whatsapp");

/// The provisioning API's shared secret in every test config.
pub const PROVISIONING_SECRET: &str = "provisioning-secret-for-tests";
/// Device API credentials: one for @alice, one for @bob, one for a user whose
/// permission level (relay) does not allow logging in.
pub const DEVICE_API_USER: &str = "alice-dashboard";
pub const OTHER_DEVICE_API_USER: &str = "bob-dashboard";
pub const RELAY_DEVICE_API_USER: &str = "guest-dashboard";
pub const DEVICE_API_PASSWORD: &str = "device-api-password-for-tests";

#[derive(Debug, Clone)]
pub enum Database {
    Sqlite,
    Postgres(String),
}

/// What a test may change about the bridge's config.
#[derive(Debug, Clone)]
pub struct Options {
    pub database: Database,
    /// Extra `bridge.permissions` lines, like `'@stranger:localhost': relay`.
    pub extra_permissions: Vec<String>,
    /// Installs a registration whose URL leads nowhere, as a misconfigured setup would.
    pub unreachable_registration_url: bool,
    /// `appservice.bot.avatar`, if set.
    pub bot_avatar: Option<String>,
    /// The fake WhatsApp server's port; None points at a port nobody listens on.
    pub whatsapp_port: Option<u16>,
    /// More top-level config sections, as YAML (like `backfill:` with its keys).
    pub extra_config: String,
    /// `logging.level` (debug unless a test needs what an admin's default shows).
    pub log_level: &'static str,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            database: Database::Sqlite,
            extra_permissions: Vec::new(),
            unreachable_registration_url: false,
            bot_avatar: None,
            whatsapp_port: None,
            extra_config: String::new(),
            log_level: "debug",
        }
    }
}

pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub synapse: Synapse,
    pub bridge: Option<BridgeProcess>,
    pub config_path: PathBuf,
    pub registration_path: PathBuf,
    pub config: Config,
    pub bridge_port: u16,
    /// Where the bridge serves its Prometheus metrics.
    pub metrics_port: u16,
}

pub struct BridgeProcess {
    child: Child,
    pub log: PathBuf,
}

impl TestEnv {
    /// Writes the config, generates the registration with the real CLI, starts Synapse with
    /// it, then starts the bridge and waits until it is ready.
    pub async fn start(options: Options) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let [bridge_port, synapse_port, metrics_port, nobody_port] = super::free_ports();
        let config_path = dir.path().join("config.yaml");
        let registration_path = dir.path().join("registration.yaml");
        std::fs::write(
            &config_path,
            config_yaml(
                &options,
                [bridge_port, synapse_port, metrics_port, nobody_port],
            ),
        )
        .expect("write config");
        let output = run_cli(&[
            "-c",
            path_str(&config_path),
            "-r",
            path_str(&registration_path),
            "-g",
        ]);
        assert!(
            output.status.success(),
            "-g failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );

        if options.unreachable_registration_url {
            let text = std::fs::read_to_string(&registration_path).expect("registration");
            let dead = format!("http://127.0.0.1:{}", super::free_port());
            let text = text.replace(&format!("http://127.0.0.1:{bridge_port}"), &dead);
            std::fs::write(&registration_path, text).expect("registration");
        }
        let synapse = Synapse::start(dir.path(), &registration_path, synapse_port).await;
        let text = std::fs::read_to_string(&config_path).expect("config");
        let config = Config::parse_unvalidated(&text).expect("config parses");
        let mut env = Self {
            dir,
            synapse,
            bridge: None,
            config_path,
            registration_path,
            config,
            bridge_port,
            metrics_port,
        };
        env.start_bridge().await;
        env
    }

    pub fn bridge_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.bridge_port)
    }

    /// The bridge's metrics, as Prometheus reads them.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("http://127.0.0.1:{}/metrics", self.metrics_port))
            .await
            .expect("the metrics endpoint answers")
            .text()
            .await
            .expect("metrics text")
    }

    pub fn bot(&self) -> String {
        format!("@whatsappbot:{SERVER_NAME}")
    }

    pub async fn start_bridge(&mut self) {
        assert!(self.bridge.is_none(), "bridge already running");
        let log = self
            .dir
            .path()
            .join(format!("bridge-{}.log", rand::random::<u32>()));
        let log_file = std::fs::File::create(&log).expect("bridge log");
        let child = Command::new(BIN)
            .env("MATRIX_WHATSAPP_TEST_CLOCK", self.clock_file())
            .args([
                "-c",
                path_str(&self.config_path),
                "-r",
                path_str(&self.registration_path),
            ])
            .stdout(Stdio::from(log_file.try_clone().expect("log handle")))
            .stderr(Stdio::from(log_file))
            .spawn()
            .expect("start bridge");
        let mut process = BridgeProcess { child, log };
        let url = format!("{}/_matrix/mau/ready", self.bridge_url());
        super::wait_until_serving("the bridge", &url, &mut process.child, &process.log).await;
        self.bridge = Some(process);
    }

    /// Stops the bridge the way an admin does (SIGTERM) and waits for it to exit.
    pub fn stop_bridge(&mut self) {
        if let Some(mut process) = self.bridge.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(process.child.id().to_string())
                .status();
            let _ = process.child.wait();
        }
    }

    /// Kills the bridge as a crash would (SIGKILL): nothing is cleaned up.
    pub fn kill_bridge(&mut self) {
        if let Some(mut process) = self.bridge.take() {
            let _ = process.child.kill();
            let _ = process.child.wait();
        }
    }

    /// The file the bridge's test clock reads its lead from.
    fn clock_file(&self) -> PathBuf {
        self.dir.path().join("clock-offset-ms")
    }

    /// Moves the bridge's clock forward (it reads the file on every look at the time).
    pub fn advance_clock(&self, by: std::time::Duration) {
        let file = self.clock_file();
        let now: i64 = std::fs::read_to_string(&file)
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(0);
        let by = i64::try_from(by.as_millis()).expect("a sane duration");
        std::fs::write(&file, (now + by).to_string()).expect("clock file");
    }

    pub async fn restart_bridge(&mut self) {
        self.stop_bridge();
        self.start_bridge().await;
    }

    /// The running bridge's process ID.
    pub fn bridge_pid(&self) -> Option<u32> {
        self.bridge.as_ref().map(|process| process.child.id())
    }

    pub fn bridge_log(&self) -> String {
        self.bridge
            .as_ref()
            .map(|process| std::fs::read_to_string(&process.log).unwrap_or_default())
            .unwrap_or_default()
    }

    pub async fn user(&self, name: &str) -> MatrixUser {
        MatrixUser::register(&self.synapse.url(), name).await
    }

    /// A user who has opened their management room with the bot; returns the room too.
    pub async fn user_with_management_room(&self, name: &str) -> (MatrixUser, String) {
        let user = self.user(name).await;
        let room = user.create_dm(&self.bot()).await;
        user.wait_for_message(&room, &self.bot(), "management room")
            .await;
        (user, room)
    }

    /// The bridge's own homeserver client (as the appservice), for tests of its parts.
    pub async fn appservice_client(
        &self,
        retry: matrix_whatsapp::matrix::retry::RetryPolicy,
    ) -> matrix_whatsapp::matrix::client::HomeserverClient {
        matrix_whatsapp::matrix::client::HomeserverClient::connect(
            &self.synapse.url(),
            &self.config.appservice.as_token,
            std::time::Duration::from_secs(10),
            retry,
        )
        .await
        .expect("homeserver client")
    }

    /// Sends a transaction to the bridge as the homeserver would (or as an impostor would,
    /// with another token).
    pub async fn put_transaction(
        &self,
        txn_id: &str,
        token: Option<&str>,
        body: &str,
    ) -> (u16, serde_json::Value) {
        let url = format!("{}/_matrix/app/v1/transactions/{txn_id}", self.bridge_url());
        let mut request = reqwest::Client::new()
            .put(url)
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("bridge answers");
        let status = response.status().as_u16();
        let json = response.json().await.unwrap_or(serde_json::Value::Null);
        (status, json)
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if let Some(mut process) = self.bridge.take() {
            let _ = process.child.kill();
            let _ = process.child.wait();
            if std::thread::panicking() {
                print_log_tail(&process.log);
            }
        }
    }
}

/// What the bridge said last, for a test that failed: the warnings and errors of its
/// whole run, then its last lines.
fn print_log_tail(log: &Path) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let text = strip_colours(&text);
    let lines: Vec<&str> = text.lines().collect();
    eprintln!("---- the bridge's warnings and errors ----");
    for line in lines
        .iter()
        .filter(|line| line.contains(" WARN ") || line.contains(" ERROR "))
    {
        eprintln!("{line}");
    }
    eprintln!("---- the bridge's last lines ----");
    for line in &lines[lines.len().saturating_sub(80)..] {
        eprintln!("{line}");
    }
}

/// The text without terminal colour codes (`ESC [ … m`).
fn strip_colours(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for end in chars.by_ref() {
                if end == 'm' {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

pub fn run_cli(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run the bridge binary")
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

/// The config for these ports: the bridge's, Synapse's, the metrics', and one nobody
/// listens on (WhatsApp's, when no fake server is given).
fn config_yaml(options: &Options, ports: [u16; 4]) -> String {
    let [bridge_port, synapse_port, metrics_port, nobody_port] = ports;
    let database = match &options.database {
        Database::Sqlite => "  type: sqlite\n  uri: bridge.db\n".to_owned(),
        Database::Postgres(uri) => format!("  type: postgres\n  uri: '{uri}'\n"),
    };
    let avatar = options
        .bot_avatar
        .as_ref()
        .map(|mxc| format!("  bot:\n    avatar: '{mxc}'\n"))
        .unwrap_or_default();
    // No test reaches out of this machine: WhatsApp is a loopback port (a fake server's,
    // or nobody's).
    let whatsapp_port = options.whatsapp_port.unwrap_or(nobody_port);
    let extra: String = options
        .extra_permissions
        .iter()
        .map(|line| format!("    {line}\n"))
        .collect();
    format!(
        "# Test config: written by the harness.\nhomeserver:\n  address: http://127.0.0.1:{synapse_port}\n  domain: {SERVER_NAME}\nappservice:\n  address: http://127.0.0.1:{bridge_port}\n  hostname: 127.0.0.1\n  port: {bridge_port}\n{avatar}database:\n{database}bridge:\n  permissions:\n    '*': relay\n    {SERVER_NAME}: user\n{extra}  double_puppet_secrets:\n    {SERVER_NAME}: 'as_token:{DOUBLE_PUPPET_TOKEN}'\nprovisioning:\n  shared_secret: '{PROVISIONING_SECRET}'\n  device_api:\n    {DEVICE_API_USER}:\n      password: '{DEVICE_API_PASSWORD}'\n      user_id: '@alice:{SERVER_NAME}'\n    {OTHER_DEVICE_API_USER}:\n      password: '{DEVICE_API_PASSWORD}'\n      user_id: '@bob:{SERVER_NAME}'\n    {RELAY_DEVICE_API_USER}:\n      password: '{DEVICE_API_PASSWORD}'\n      user_id: '@guest:elsewhere.example'\nwhatsapp:\n  websocket_url: ws://127.0.0.1:{whatsapp_port}/ws/chat\n  version: 2.3000.1023456789\nmetrics:\n  enabled: true\n  listen: 127.0.0.1:{metrics_port}\nlogging:\n  level: {}\n{}",
        options.log_level, options.extra_config
    )
}
