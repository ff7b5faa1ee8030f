//! The login page in a real headless Chromium (Debian's, driven by playwright-core): the
//! page asks for the bridge's credentials, shows the QR code (the screenshot is decoded
//! and must be the code WhatsApp issued), follows the login to success when the fake phone
//! scans what the screenshot shows, and the pairing-code form shows a code the phone
//! accepts, or a clear error for a bad number.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::bridge::{DEVICE_API_PASSWORD, DEVICE_API_USER, Database, TestEnv};
use common::whatsapp::setup;
use serde_json::Value;
use tokio::sync::mpsc;

const PHONE: &str = "15550004001";
const OTHER_PHONE: &str = "15550004002";

/// `BROWSER_NODE_DIR` and `CHROMIUM` from the browser set-up script.
fn browser_setup() -> Vec<(String, String)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/setup.sh");
    let output = std::process::Command::new("bash")
        .arg(script)
        .output()
        .expect("run the browser set-up");
    assert!(
        output.status.success(),
        "browser set-up failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

/// The driver process; its report lines arrive through a reader thread.
struct Browser {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
}

impl Drop for Browser {
    /// Lets the driver close Chromium itself; kills it only if it hangs.
    fn drop(&mut self) {
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    /// `tools`: what `browser_setup` printed.
    fn open(
        env: &TestEnv,
        tools: &[(String, String)],
        device: &str,
        screenshot: &Path,
        mode: &[&str],
    ) -> Self {
        let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/login_page.mjs");
        let url = format!("{}/login?device={device}", env.bridge_url());
        let mut child = Command::new("node")
            .arg(driver)
            .args([url.as_str(), DEVICE_API_USER, DEVICE_API_PASSWORD])
            .arg(screenshot)
            .args(mode)
            .envs(tools.iter().cloned())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the browser driver");
        let stdout = child.stdout.take().expect("driver stdout");
        let (tx, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Self { child, lines }
    }

    async fn next_step(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(180), self.lines.recv())
            .await
            .expect("the browser reports in time")
            .expect("the driver ended without a report");
        serde_json::from_str(&line).expect("a JSON line")
    }
}

fn decode_qr(png: &Path) -> Vec<String> {
    let image = image::open(png).expect("the screenshot").to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    prepared
        .detect_grids()
        .into_iter()
        .filter_map(|grid| grid.decode().ok().map(|(_, text)| text))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_page_shows_the_qr_code_and_the_pairing_code_in_chromium() {
    let (server, env) = setup(Database::Sqlite).await;
    let screenshots = tempfile::tempdir().expect("temp dir");
    let tools = browser_setup();

    // QR: what the screenshot shows is what WhatsApp issued, and scanning it logs in.
    let shot = screenshots.path().join("qr.png");
    let mut browser = Browser::open(&env, &tools, "web-qr", &shot, &["qr"]);
    let shown = browser.next_step().await;
    assert_eq!(shown["step"], "qr", "{shown}");
    let code = shown["qr_code"].as_str().expect("the page's code");
    assert_eq!(
        decode_qr(&shot),
        [code],
        "the screenshot shows exactly the page's QR code"
    );
    server
        .phone(PHONE)
        .expect("phone")
        .scan_qr(code)
        .expect("the phone accepts the code on the page");
    let end = loop {
        let step = browser.next_step().await;
        if step["step"] != "qr" {
            break step;
        }
    };
    assert_eq!(end["step"], "done", "{end}");
    assert!(
        end["status"]
            .as_str()
            .is_some_and(|text| text.contains(&format!("+{PHONE}"))),
        "{end}"
    );
    drop(browser);

    // A bad number: the page shows the API's explanation.
    let mut browser = Browser::open(&env, &tools, "web-code", &shot, &["code", "0812"]);
    let refused = browser.next_step().await;
    assert_eq!(refused["step"], "failed", "{refused}");
    assert!(
        refused["status"]
            .as_str()
            .is_some_and(|text| text.contains("country code")),
        "{refused}"
    );
    drop(browser);

    // The pairing code form.
    let mut browser = Browser::open(&env, &tools, "web-code", &shot, &["code", OTHER_PHONE]);
    let shown = browser.next_step().await;
    assert_eq!(shown["step"], "pair_code", "{shown}");
    let pair_code = shown["pair_code"].as_str().expect("the page's code");
    server
        .phone(OTHER_PHONE)
        .expect("phone")
        .enter_pair_code(pair_code)
        .expect("the phone accepts the code on the page");
    let end = browser.next_step().await;
    assert_eq!(end["step"], "done", "{end}");
    assert!(
        end["status"]
            .as_str()
            .is_some_and(|text| text.contains(&format!("+{OTHER_PHONE}"))),
        "{end}"
    );
}
