//! A real Synapse on 127.0.0.1, started from the cached venv (scripts/synapse-venv).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub const SERVER_NAME: &str = "localhost";
pub const SHARED_SECRET: &str = "test-registration-shared-secret";
/// The token of the double puppeting appservice every test Synapse has: its namespace is
/// all local users (not exclusively), and nothing is pushed to it (`url: null`).
pub const DOUBLE_PUPPET_TOKEN: &str = "test-double-puppet-token-0123456789";

pub struct Synapse {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
    config: PathBuf,
}

impl Synapse {
    /// The Synapse process's ID (for its CPU time in the benchmarks).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts Synapse with `registration` installed, and waits until it answers.
    pub async fn start(dir: &Path, registration: &Path, port: u16) -> Self {
        let data = dir.join("synapse");
        std::fs::create_dir_all(&data).expect("synapse folder");
        let config = data.join("homeserver.yaml");
        let double_puppet = data.join("double-puppet.yaml");
        std::fs::write(&double_puppet, double_puppet_yaml()).expect("write double-puppet.yaml");
        std::fs::write(
            &config,
            homeserver_yaml(&data, port, &[registration, &double_puppet]),
        )
        .expect("write homeserver.yaml");
        let log = data.join("synapse.log");
        let child = spawn(&config, &log);
        let mut synapse = Self {
            child,
            port,
            log,
            config,
        };
        synapse.wait_until_serving().await;
        synapse
    }

    /// Stops Synapse at once (an outage), keeping its data.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the stopped Synapse again on the same port and data, and waits until it
    /// answers.
    pub async fn start_again(&mut self) {
        self.child = spawn(&self.config, &self.log);
        self.wait_until_serving().await;
    }

    async fn wait_until_serving(&mut self) {
        let url = format!("{}/_matrix/client/versions", self.url());
        super::wait_until_serving("synapse", &url, &mut self.child, &self.log).await;
    }
}

/// Runs Synapse from the venv with `config`, its output appended to `log`.
fn spawn(config: &Path, log: &Path) -> Child {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("synapse log");
    Command::new(venv().join("bin/python"))
        .args(["-m", "synapse.app.homeserver", "-c"])
        .arg(config)
        .current_dir(config.parent().expect("the config is in the data folder"))
        .stdout(Stdio::from(log_file.try_clone().expect("log handle")))
        .stderr(Stdio::from(log_file))
        .spawn()
        .expect("start synapse")
}

impl Drop for Synapse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The cached venv with Synapse, created on first use by the shared script.
fn venv() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/synapse-venv");
    let output = Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/synapse-venv");
    assert!(output.status.success(), "scripts/synapse-venv failed");
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

fn double_puppet_yaml() -> String {
    format!(
        r#"id: doublepuppet
url: null
as_token: "{DOUBLE_PUPPET_TOKEN}"
hs_token: "test-double-puppet-hs-token-never-used"
sender_localpart: "doublepuppet-sender"
rate_limited: false
namespaces:
  users:
    - regex: "@.*:{SERVER_NAME}"
      exclusive: false
"#
    )
}

fn homeserver_yaml(data: &Path, port: u16, registrations: &[&Path]) -> String {
    let data = data.display();
    let registrations = registrations
        .iter()
        .map(|path| format!("\"{}\"", path.display()))
        .collect::<Vec<_>>()
        .join(", ");
    let fast = "{per_second: 1000, burst_count: 1000}";
    format!(
        r#"server_name: "{SERVER_NAME}"
public_baseurl: "http://127.0.0.1:{port}/"
pid_file: "{data}/homeserver.pid"
report_stats: false
listeners:
  - port: {port}
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: "{data}/homeserver.db"
media_store_path: "{data}/media"
signing_key_path: "{data}/signing.key"
registration_shared_secret: "{SHARED_SECRET}"
macaroon_secret_key: "test-macaroon-secret"
form_secret: "test-form-secret"
enable_registration: false
trusted_key_servers: []
suppress_key_server_warning: true
federation_domain_whitelist: []
app_service_config_files: [{registrations}]
rc_message: {fast}
rc_registration: {fast}
rc_room_creation: {fast}
rc_login:
  address: {fast}
  account: {fast}
  failed_attempts: {fast}
rc_joins:
  local: {fast}
  remote: {fast}
rc_joins_per_room: {fast}
rc_invites:
  per_room: {fast}
  per_user: {fast}
  per_issuer: {fast}
rc_presence:
  per_user: {fast}
rc_media_create: {fast}
rc_profile: {fast}
"#
    )
}
