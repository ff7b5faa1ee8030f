//! The bridge binary with its own config, next to a real Synapse: a whole test setup.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use matrix_whatsapp::config::Config;

use super::synapse::{SERVER_NAME, Synapse};
use super::user::MatrixUser;

pub const BIN: &str = env!("CARGO_BIN_EXE_matrix-whatsapp");

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
}

impl Default for Options {
    fn default() -> Self {
        Self {
            database: Database::Sqlite,
            extra_permissions: Vec::new(),
            unreachable_registration_url: false,
            bot_avatar: None,
            whatsapp_port: None,
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
        let bridge_port = super::free_port();
        let config_path = dir.path().join("config.yaml");
        let registration_path = dir.path().join("registration.yaml");
        let synapse_port = super::free_port();
        std::fs::write(
            &config_path,
            config_yaml(&options, bridge_port, synapse_port),
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
        };
        env.start_bridge().await;
        env
    }

    pub fn bridge_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.bridge_port)
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

    pub async fn restart_bridge(&mut self) {
        self.stop_bridge();
        self.start_bridge().await;
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
        }
    }
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

fn config_yaml(options: &Options, bridge_port: u16, synapse_port: u16) -> String {
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
    let whatsapp_port = options.whatsapp_port.unwrap_or_else(super::free_port);
    let extra: String = options
        .extra_permissions
        .iter()
        .map(|line| format!("    {line}\n"))
        .collect();
    format!(
        "# Test config: written by the harness.\nhomeserver:\n  address: http://127.0.0.1:{synapse_port}\n  domain: {SERVER_NAME}\nappservice:\n  address: http://127.0.0.1:{bridge_port}\n  hostname: 127.0.0.1\n  port: {bridge_port}\n{avatar}database:\n{database}bridge:\n  permissions:\n    '*': relay\n    {SERVER_NAME}: user\n{extra}whatsapp:\n  websocket_url: ws://127.0.0.1:{whatsapp_port}/ws/chat\n  version: 2.3000.1023456789\nlogging:\n  level: debug\n"
    )
}
