use std::collections::HashMap;

use super::*;

const GOOD_TOKENS: &str =
    "appservice:\n  as_token: aaaaaaaaaaaaaaaaaaaaaaaa\n  hs_token: bbbbbbbbbbbbbbbbbbbbbbbb\n";

fn no_env(_: &str) -> Option<String> {
    None
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_yaml(text, &no_env)
}

#[test]
fn example_file_is_what_generate_prints() {
    let file = include_str!("../../config.example.yaml");
    assert_eq!(
        example_config(),
        file,
        "config.example.yaml is stale: regenerate it with `cargo run -- -e > config.example.yaml`"
    );
}

#[test]
fn example_parses_back_to_the_defaults() {
    let parsed = Config::parse_unvalidated(&example_config()).expect("example parses");
    assert_eq!(parsed, Config::default());
}

#[test]
fn every_key_has_a_comment_and_every_comment_a_key() {
    let paths = example::all_key_paths();
    let undocumented: Vec<&String> = paths
        .iter()
        .filter(|path| example::doc_for(path).is_none())
        .collect();
    assert!(
        undocumented.is_empty(),
        "keys without a comment: {undocumented:?}"
    );
    for (section, docs) in SECTIONS {
        for (key, _) in *docs {
            let path = if key.is_empty() {
                section.to_string()
            } else {
                format!("{section}.{key}")
            };
            assert!(
                paths.contains(&path),
                "comment for a key that does not exist: {path}"
            );
        }
    }
}

#[test]
fn example_is_refused_until_tokens_are_set() {
    let err = parse(&example_config()).expect_err("placeholder tokens");
    let text = err.to_string();
    assert!(text.contains("appservice.as_token"), "{text}");
    assert!(text.contains("appservice.hs_token"), "{text}");
    assert!(text.contains("--generate-registration"), "{text}");
}

#[test]
fn empty_and_short_tokens_are_refused() {
    let err = parse("appservice:\n  as_token: ''\n  hs_token: short\n").expect_err("bad tokens");
    let text = err.to_string();
    assert!(text.contains("`appservice.as_token`: is not set"), "{text}");
    assert!(
        text.contains("`appservice.hs_token`: is too short"),
        "{text}"
    );
}

#[test]
fn good_minimal_config_is_accepted() {
    let config = parse(GOOD_TOKENS).expect("valid");
    assert_eq!(config.bridge.command_prefix, "!wa");
    assert_eq!(config.database.kind, DatabaseType::Sqlite);
    assert_eq!(config.appservice.port, 29318);
}

#[test]
fn unknown_key_names_the_closest_valid_one() {
    let err = parse(&format!("{GOOD_TOKENS}homeserver:\n  adress: http://x\n")).expect_err("typo");
    assert_eq!(
        err.to_string(),
        "config key `homeserver.adress` is unknown; did you mean `homeserver.address`?"
    );
    let err = parse(&format!("{GOOD_TOKENS}homeservr:\n  address: http://x\n")).expect_err("typo");
    assert!(
        err.to_string().contains("did you mean `homeserver`?"),
        "{err}"
    );
    let err = parse(&format!("{GOOD_TOKENS}zzz: 1\n")).expect_err("unknown");
    assert!(
        err.to_string()
            .contains("`zzz` is unknown; see config.example.yaml"),
        "{err}"
    );
}

#[test]
fn wrong_type_names_the_key() {
    let err = parse(&format!("{GOOD_TOKENS}  port: lots\n")).expect_err("bad port");
    match err {
        ConfigError::WrongType { key, problem } => {
            assert_eq!(key, "appservice.port");
            assert!(problem.contains("invalid"), "{problem}");
        }
        other => panic!("expected WrongType, got {other}"),
    }
}

#[test]
fn bad_enum_lists_the_allowed_values() {
    let err = parse(&format!("{GOOD_TOKENS}database:\n  type: mysql\n")).expect_err("mysql");
    let text = err.to_string();
    assert!(text.contains("database.type"), "{text}");
    assert!(
        text.contains("sqlite") && text.contains("postgres"),
        "{text}"
    );
}

#[test]
fn bad_values_are_explained() {
    let cases = [
        (
            "homeserver:\n  domain: 'not a domain'\n",
            "homeserver.domain",
        ),
        ("homeserver:\n  address: ftp://x\n", "homeserver.address"),
        // GOOD_TOKENS ends inside `appservice:`, so these lines continue that section.
        ("  hostname: localhost\n", "appservice.hostname"),
        (
            "  username_template: whatsapp_\n",
            "appservice.username_template",
        ),
        (
            "  username_template: 'whatsapp{{.}}'\n  bot:\n    username: whatsappbot\n",
            "would also match the bot",
        ),
        (
            "database:\n  type: postgres\n  uri: db.sqlite\n",
            "database.uri",
        ),
        (
            "bridge:\n  command_prefix: 'has space'\n",
            "bridge.command_prefix",
        ),
        (
            "bridge:\n  displayname_template: 'a ghost'\n",
            "bridge.displayname_template",
        ),
        (
            "bridge:\n  displayname_template: '{nam} (WA)'\n",
            "`{nam}` is not a placeholder",
        ),
        (
            "bridge:\n  displayname_sources: []\n",
            "bridge.displayname_sources",
        ),
        ("bridge:\n  displayname_sources: [nickname]\n", "nickname"),
        (
            "whatsapp:\n  websocket_url: http://x\n",
            "whatsapp.websocket_url",
        ),
        (
            "whatsapp:\n  phone_watchdog:\n    warn_after: 1day\n",
            "ping_after",
        ),
        (
            "history_sync:\n  dispatch_wait: soon\n",
            "`soon` is not a duration",
        ),
        (
            "history_sync:\n  max_initial_conversations: -5\n",
            "max_initial_conversations",
        ),
        ("logging:\n  level: 'info,,=x=y'\n", "logging.level"),
    ];
    for (snippet, expected) in cases {
        let err = parse(&format!("{GOOD_TOKENS}{snippet}")).expect_err(snippet);
        assert!(err.to_string().contains(expected), "{snippet} -> {err}");
    }
}

#[test]
fn secrets_come_from_the_environment() {
    let env: HashMap<&str, &str> = HashMap::from([
        ("MATRIX_WHATSAPP_AS_TOKEN", "eeeeeeeeeeeeeeeeeeeeeeee"),
        ("MATRIX_WHATSAPP_HS_TOKEN", "ffffffffffffffffffffffff"),
        ("MATRIX_WHATSAPP_DATABASE_URI", "postgres://u@h/db"),
        (
            "MATRIX_WHATSAPP_PROVISIONING_SHARED_SECRET",
            "gggggggggggggggggggg",
        ),
    ]);
    let lookup = |name: &str| env.get(name).map(|value| value.to_string());
    let config = Config::from_yaml("database:\n  type: postgres\n", &lookup).expect("valid");
    assert_eq!(config.appservice.as_token, "eeeeeeeeeeeeeeeeeeeeeeee");
    assert_eq!(config.appservice.hs_token, "ffffffffffffffffffffffff");
    assert_eq!(config.database.uri, "postgres://u@h/db");
    assert_eq!(config.provisioning.shared_secret, "gggggggggggggggggggg");
}

#[test]
fn not_a_mapping_is_a_clear_error() {
    let err = parse("- a\n- b\n").expect_err("list");
    assert!(err.to_string().contains("mapping of sections"), "{err}");
    let err = parse("homeserver: [unclosed\n").expect_err("syntax");
    assert!(matches!(err, ConfigError::Syntax(_)), "{err}");
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever text an admin writes, loading gives a config or an error, never a panic.
        #[test]
        fn arbitrary_text_never_panics(text in ".{0,400}") {
            let _ = parse(&text);
        }

        /// Arbitrary values under real keys are either accepted or refused with the key named.
        #[test]
        fn arbitrary_values_name_their_key(value in "[ -~]{0,40}") {
            let text = format!("{GOOD_TOKENS}homeserver:\n  domain: {value:?}\n");
            if let Err(err) = parse(&text) {
                prop_assert!(err.to_string().contains("homeserver.domain"), "{}", err);
            }
        }
    }
}

#[test]
fn double_puppet_secrets_must_be_appservice_tokens() {
    let config = parse(&format!(
        "{GOOD_TOKENS}bridge:\n  double_puppet_secrets:\n    example.com: 'as_token:abc'\n"
    ))
    .expect("valid");
    assert_eq!(
        config
            .bridge
            .double_puppet_secrets
            .get("example.com")
            .map(String::as_str),
        Some("as_token:abc")
    );
    let err = parse(&format!(
        "{GOOD_TOKENS}bridge:\n  double_puppet_secrets:\n    example.com: 'loginsecret'\n"
    ))
    .expect_err("not an appservice token");
    let text = err.to_string();
    assert!(
        text.contains("bridge.double_puppet_secrets.example.com") && text.contains("as_token:"),
        "{text}"
    );
}

#[test]
fn device_api_credentials_are_checked_by_key() {
    let good = parse(&format!(
        "{GOOD_TOKENS}provisioning:\n  device_api:\n    dash:\n      password: 'sixteen-chars-or-more'\n      user_id: '@alice:example.com'\n"
    ))
    .expect("a good credential");
    let credential = &good.provisioning.device_api["dash"];
    assert_eq!(credential.user_id, "@alice:example.com");

    let err = parse(&format!(
        "{GOOD_TOKENS}provisioning:\n  device_api:\n    'da:sh':\n      password: short\n      user_id: alice\n"
    ))
    .expect_err("three problems");
    let text = err.to_string();
    for expected in [
        "provisioning.device_api.da:sh",
        "provisioning.device_api.da:sh.password",
        "provisioning.device_api.da:sh.user_id",
        "`alice` is not a Matrix user ID",
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    let err = parse(&format!(
        "{GOOD_TOKENS}provisioning:\n  device_api:\n    dash:\n      pasword: 'sixteen-chars-or-more'\n      user_id: '@alice:example.com'\n"
    ))
    .expect_err("a typo inside a credential");
    assert!(err.to_string().contains("pasword"), "{err}");
}

#[test]
fn configuration_doc_lists_every_key_with_its_default() {
    let doc = include_str!("../../docs/configuration.md");
    let (start, end) = ("<!-- every key: start -->\n", "<!-- every key: end -->");
    let listed = doc
        .split_once(start)
        .and_then(|(_, rest)| rest.split_once(end))
        .map(|(table, _)| table);
    let expected = example::key_reference();
    assert_eq!(
        listed,
        Some(expected.as_str()),
        "docs/configuration.md must hold, between `{}` and `{end}`, this table:\n{expected}",
        start.trim_end()
    );
}
