//! The command line as an admin uses it: example config, registration, and start-up errors.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::bridge::{path_str, run_cli};
use matrix_whatsapp::config::Config;

#[test]
fn generate_example_config_prints_the_shipped_example() {
    let output = run_cli(&["-e"]);
    assert!(output.status.success());
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.yaml"))
            .expect("example");
    assert_eq!(String::from_utf8_lossy(&output.stdout), shipped);
}

#[test]
fn version_flag_prints_the_version() {
    let output = run_cli(&["--version"]);
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("matrix-whatsapp {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn generate_registration_writes_tokens_and_keeps_the_admins_comments() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config.yaml");
    let registration = dir.path().join("registration.yaml");
    let example = String::from_utf8(run_cli(&["-e"]).stdout).expect("utf-8");
    let admin_text = example
        .replace(
            "domain: example.com",
            "domain: chat.example.org # our server",
        )
        .replace("# Logging.", "# Logging.\n# (the admin's own note)");
    std::fs::write(&config, &admin_text).expect("write config");

    let output = run_cli(&["-c", path_str(&config), "-r", path_str(&registration), "-g"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let patched = std::fs::read_to_string(&config).expect("config");
    let parsed = Config::parse_unvalidated(&patched).expect("parses");
    parsed.validate().expect("the generated config is valid");
    // Only the two token lines changed.
    let changed: Vec<(&str, &str)> = admin_text
        .lines()
        .zip(patched.lines())
        .filter(|(before, after)| before != after)
        .collect();
    assert_eq!(changed.len(), 2, "{changed:?}");
    assert!(
        changed
            .iter()
            .all(|(before, _)| before.contains("This value is generated"))
    );
    assert!(patched.contains("# (the admin's own note)") && patched.contains("# our server"));

    let reg_text = std::fs::read_to_string(&registration).expect("registration");
    let reg: serde_json::Value = serde_norway::from_str(&reg_text).expect("registration YAML");
    assert_eq!(reg["id"], "whatsapp");
    assert_eq!(reg["url"], "http://localhost:29318");
    assert_eq!(reg["sender_localpart"], "whatsappbot");
    assert_eq!(
        reg["as_token"].as_str(),
        Some(parsed.appservice.as_token.as_str())
    );
    assert_eq!(
        reg["hs_token"].as_str(),
        Some(parsed.appservice.hs_token.as_str())
    );
    assert_eq!(reg["rate_limited"], false);
    assert_eq!(reg["receive_ephemeral"], true);
    let regexes: Vec<&str> = reg["namespaces"]["users"]
        .as_array()
        .expect("user namespaces")
        .iter()
        .map(|ns| {
            assert_eq!(ns["exclusive"], true);
            ns["regex"].as_str().expect("regex")
        })
        .collect();
    assert_eq!(
        regexes,
        [
            "^@whatsappbot:chat\\.example\\.org$",
            "^@whatsapp_.+:chat\\.example\\.org$"
        ]
    );
    for file in [&config, &registration] {
        let mode = std::fs::metadata(file)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{} is readable by others", file.display());
    }

    // Running it again keeps the tokens: a running homeserver stays in step.
    let output = run_cli(&["-c", path_str(&config), "-r", path_str(&registration), "-g"]);
    assert!(output.status.success());
    assert_eq!(std::fs::read_to_string(&config).expect("config"), patched);
    assert_eq!(
        std::fs::read_to_string(&registration).expect("registration"),
        reg_text
    );
}

#[test]
fn generate_registration_refuses_a_broken_config_naming_the_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, "homeserver:\n  domian: example.org\n").expect("write");
    let output = run_cli(&[
        "-c",
        path_str(&config),
        "-r",
        path_str(&dir.path().join("r.yaml")),
        "-g",
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`homeserver.domian` is unknown; did you mean `homeserver.domain`?"),
        "{stderr}"
    );
    assert!(!dir.path().join("r.yaml").exists());
}

/// Starts the bridge with `config` and returns what it printed when it refused to run.
fn failed_start(config: &std::path::Path) -> String {
    let output = run_cli(&["-c", path_str(config)]);
    assert!(!output.status.success(), "the bridge started");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn start_without_a_config_says_how_to_make_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("config.yaml");
    let stderr = failed_start(&missing);
    assert!(
        stderr.contains("no config file") && stderr.contains("-e >"),
        "{stderr}"
    );
}

#[test]
fn start_with_placeholder_tokens_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, run_cli(&["-e"]).stdout).expect("write");
    let stderr = failed_start(&config);
    assert!(
        stderr.contains("appservice.as_token") && stderr.contains("--generate-registration"),
        "{stderr}"
    );
}

/// A config whose homeserver is `address`, with valid tokens.
fn config_pointing_at(dir: &std::path::Path, address: &str) -> std::path::PathBuf {
    let config = dir.join("config.yaml");
    let text = format!(
        "homeserver:\n  address: {address}\n  domain: localhost\n  request_timeout: 2s\nappservice:\n  port: {}\n  as_token: aaaaaaaaaaaaaaaaaaaaaaaa\n  hs_token: bbbbbbbbbbbbbbbbbbbbbbbb\n",
        common::free_port()
    );
    std::fs::write(&config, text).expect("write");
    config
}

#[test]
fn a_homeserver_that_is_down_is_named_in_the_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let address = format!("http://127.0.0.1:{}", common::free_port());
    let stderr = failed_start(&config_pointing_at(dir.path(), &address));
    assert!(
        stderr.contains("homeserver.address") && stderr.contains("cannot reach the homeserver"),
        "{stderr}"
    );
}

#[test]
fn a_homeserver_answering_garbage_is_named_in_the_error() {
    // A plain HTTP server that is not Matrix: answers every request with an HTML page.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming().flatten().take(20) {
            let mut stream = stream;
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer);
            let body = "<html>hello</html>";
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let stderr = failed_start(&config_pointing_at(dir.path(), &address));
    assert!(stderr.contains("really a Matrix homeserver"), "{stderr}");
}
