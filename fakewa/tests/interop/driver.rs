//! A real WhatsApp Web client (whatsmeow or Baileys) as a child process
//! speaking JSON lines (see tests/interop/README.md at the workspace root).

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Where the interop clients were installed (tests/interop/setup.sh).
pub struct Installs {
    pub python: PathBuf,
    pub node_dir: PathBuf,
    pub scripts: PathBuf,
}

impl Installs {
    /// Runs the (idempotent, cached) installer and reads the paths it prints.
    pub async fn prepare() -> Result<Self, BoxError> {
        let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/interop");
        let output = Command::new("bash")
            .arg(scripts.join("setup.sh"))
            .stderr(Stdio::inherit())
            .output()
            .await?;
        if !output.status.success() {
            return Err(format!("tests/interop/setup.sh failed: {}", output.status).into());
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let value = |key: &str| {
            stdout
                .lines()
                .find_map(|line| line.strip_prefix(&format!("{key}=")))
                .map(|path| PathBuf::from(path.trim().trim_matches('\'').trim_matches('"')))
                .ok_or_else(|| format!("setup.sh printed no {key}"))
        };
        Ok(Self {
            python: value("INTEROP_PYTHON")?,
            node_dir: value("INTEROP_NODE_DIR")?,
            scripts,
        })
    }
}

/// Lines of the client's log shown when a step fails.
const LOG_TAIL: usize = 12;

pub struct Driver {
    child: Child,
    stdin: ChildStdin,
    events: mpsc::UnboundedReceiver<Value>,
    /// Errors the client reported, for the failure message of a step.
    pub errors: Vec<String>,
    names: Vec<String>,
    log: PathBuf,
}

impl Driver {
    /// Starts `program args…` with stderr going to `log`.
    pub async fn spawn(program: &Path, args: &[String], log: PathBuf) -> Result<Self, BoxError> {
        let log_file = std::fs::File::create(&log)?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
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
        Ok(Self {
            child,
            stdin,
            events,
            errors: Vec::new(),
            names: Vec::new(),
            log,
        })
    }

    /// Whether an event named `name` came by (among those read so far).
    pub fn seen(&self, name: &str) -> bool {
        self.names.iter().any(|seen| seen == name)
    }

    pub async fn send(&mut self, command: Value) -> Result<(), BoxError> {
        let mut line = command.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await?;
        self.stdin.flush().await?;
        Ok(())
    }

    /// The next event named `name` that `accept` takes, within `wait`.
    pub async fn expect(
        &mut self,
        name: &str,
        wait: Duration,
        accept: impl Fn(&Value) -> bool,
    ) -> Result<Value, String> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(event)) => {
                    let kind = event["event"].as_str().unwrap_or_default().to_owned();
                    self.names.push(kind.clone());
                    if kind == "error" || kind == "garbage" {
                        self.errors.push(event.to_string());
                    }
                    if kind == name && accept(&event) {
                        return Ok(event);
                    }
                }
                Ok(None) => {
                    return Err(format!(
                        "the client exited before `{name}`{}",
                        self.context()
                    ));
                }
                Err(_) => {
                    return Err(format!(
                        "no `{name}` within {} s{}",
                        wait.as_secs(),
                        self.context()
                    ));
                }
            }
        }
    }

    /// The client's last error and the end of its log, for a failed step.
    fn context(&self) -> String {
        let mut context = match self.errors.last() {
            Some(error) => format!("; last client error: {error}"),
            None => String::new(),
        };
        if let Ok(log) = std::fs::read_to_string(&self.log) {
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(LOG_TAIL)..].join("\n      ");
            context.push_str(&format!("\n    end of its log:\n      {tail}"));
        }
        context
    }

    pub async fn quit(mut self) {
        let _ = self.send(json!({"cmd": "quit"})).await;
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}
