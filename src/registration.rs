//! `--generate-registration`: the homeserver's registration file, and the same tokens in the
//! bridge's config.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rand::distr::{Alphanumeric, SampleString};
use ruma::api::appservice::{Namespace, Namespaces, Registration, RegistrationInit};

use crate::config::{Config, TOKEN_PLACEHOLDER, set_appservice_tokens};
use crate::matrix::ids::BridgeIds;

pub struct Written {
    pub registration: PathBuf,
}

/// The registration the homeserver needs for this config.
pub fn build(config: &Config) -> anyhow::Result<Registration> {
    let ids = BridgeIds::new(&config.appservice, &config.homeserver.domain)?;
    let mut namespaces = Namespaces::new();
    namespaces.users = vec![
        Namespace::new(true, ids.bot_regex()),
        Namespace::new(true, ids.ghost_regex()),
    ];
    namespaces.aliases = vec![Namespace::new(true, ids.portal_alias_regex())];
    let mut registration = Registration::from(RegistrationInit {
        id: config.appservice.id.clone(),
        url: Some(
            config
                .appservice
                .address
                .to_string()
                .trim_end_matches('/')
                .to_owned(),
        ),
        as_token: config.appservice.as_token.clone(),
        hs_token: config.appservice.hs_token.clone(),
        sender_localpart: config.appservice.bot.username.clone(),
        namespaces,
        rate_limited: Some(false),
        protocols: Some(vec!["whatsapp".into()]),
    });
    registration.receive_ephemeral = config.appservice.ephemeral_events;
    Ok(registration)
}

/// Reuses tokens already in the config (so running this twice does not break a running
/// setup), creates them otherwise, writes both files and checks the result is valid.
pub fn generate(config_path: &Path, registration_path: &Path) -> anyhow::Result<Written> {
    let text = std::fs::read_to_string(config_path).with_context(|| {
        format!(
            "cannot read {}; create it first with `matrix-whatsapp -e > {}` and edit it",
            config_path.display(),
            config_path.display()
        )
    })?;
    let mut config = Config::parse_unvalidated(&text)
        .with_context(|| format!("{} is not usable", config_path.display()))?;
    let keep = |token: &str| {
        token != TOKEN_PLACEHOLDER
            && token.len() >= 16
            && token.chars().all(|c| c.is_ascii_alphanumeric())
    };
    let (as_token, hs_token) = match (
        keep(&config.appservice.as_token),
        keep(&config.appservice.hs_token),
    ) {
        (true, true) if config.appservice.as_token != config.appservice.hs_token => (
            config.appservice.as_token.clone(),
            config.appservice.hs_token.clone(),
        ),
        _ => (new_token(), new_token()),
    };
    let patched = set_appservice_tokens(&text, &as_token, &hs_token)?;
    config.appservice.as_token = as_token;
    config.appservice.hs_token = hs_token;
    config.validate().with_context(|| {
        format!(
            "{} must be fixed before the registration can be made",
            config_path.display()
        )
    })?;

    let registration = serde_norway::to_string(&build(&config)?)?;
    write_private(registration_path, &registration)?;
    if patched != text {
        write_private(config_path, &patched)?;
    }
    Ok(Written {
        registration: registration_path.to_path_buf(),
    })
}

fn new_token() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 64)
}

/// Writes through a temporary file and a rename, readable by the owner only: both files
/// hold secrets.
pub fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;

    let folder = crate::cli::folder_of(path);
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = folder.join(format!(".{name}.tmp"));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The registration for the example config, as shipped in registration.example.yaml.
pub fn example_registration() -> anyhow::Result<String> {
    let header = "# Example registration, for the defaults of config.example.yaml. Do not copy it:\n\
                  # `matrix-whatsapp --generate-registration` writes the real one, with fresh tokens.\n";
    Ok(format!(
        "{header}{}",
        serde_norway::to_string(&build(&Config::default())?)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_registration_file_is_current() {
        let generated = example_registration().expect("generated");
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/registration.example.yaml");
        if std::env::var_os("UPDATE_EXAMPLES").is_some() {
            std::fs::write(path, &generated).expect("write the example");
        }
        let shipped = std::fs::read_to_string(path).expect("registration.example.yaml");
        assert_eq!(
            generated, shipped,
            "registration.example.yaml is stale: run `UPDATE_EXAMPLES=1 cargo test --lib` and commit it"
        );
    }
}
