//! The command line: flags, and what each mode does. The bridge itself starts in `runtime`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Parser;

use crate::config::{Config, example_config};
use crate::registration;

#[derive(Debug, Parser)]
#[command(
    name = "matrix-whatsapp",
    version,
    about = "A Matrix <-> WhatsApp puppeting bridge"
)]
pub struct Args {
    /// The config file.
    #[arg(short = 'c', long = "config", default_value = "config.yaml")]
    pub config: PathBuf,

    /// The registration file for the homeserver.
    #[arg(
        short = 'r',
        long = "registration",
        default_value = "registration.yaml"
    )]
    pub registration: PathBuf,

    /// Write the registration file (creating the tokens if the config has none) and put the
    /// same tokens into the config file, keeping its comments. Then exit.
    #[arg(short = 'g', long = "generate-registration")]
    pub generate_registration: bool,

    /// Print the example config (every key, its default and what it means) and exit.
    #[arg(short = 'e', long = "generate-example-config")]
    pub generate_example_config: bool,

    /// Ask the bridge running with this config whether it is ready (for container health
    /// checks); exit 0 when it is, 1 when not.
    #[arg(long = "health-check")]
    pub health_check: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.generate_example_config {
        print!("{}", example_config());
        return Ok(());
    }
    if args.generate_registration {
        let written = registration::generate(&args.config, &args.registration)?;
        println!(
            "Wrote {} and the tokens in {}.\nNext: add the registration file to your homeserver's \
             app_service_config_files, restart the homeserver, then start the bridge.",
            written.registration.display(),
            args.config.display()
        );
        return Ok(());
    }
    let config = load_config(&args.config)?;
    if args.health_check {
        return health_check(&config);
    }
    crate::telemetry::init_logging(&config.logging)?;
    let config_dir = folder_of(&args.config);
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(crate::runtime::run(config, config_dir))
}

/// GETs the readiness endpoint of the bridge this config describes, on loopback when it
/// listens on every address.
fn health_check(config: &Config) -> anyhow::Result<()> {
    let listen: std::net::IpAddr = config
        .appservice
        .hostname
        .parse()
        .context("appservice.hostname is not an IP address")?;
    let host = match listen {
        std::net::IpAddr::V4(v4) if v4.is_unspecified() => "127.0.0.1".to_owned(),
        std::net::IpAddr::V6(v6) if v6.is_unspecified() => "[::1]".to_owned(),
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
    };
    let url = format!("http://{host}:{}/_matrix/mau/ready", config.appservice.port);
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let status = runtime.block_on(async {
        reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()?
            .get(&url)
            .send()
            .await
            .map(|response| response.status())
    });
    match status {
        Ok(status) if status.is_success() => {
            println!("ready ({url})");
            Ok(())
        }
        Ok(status) => anyhow::bail!("not ready: {url} answered {status}"),
        Err(err) => anyhow::bail!("not ready: {url}: {err}"),
    }
}

fn load_config(path: &Path) -> anyhow::Result<Config> {
    if !path.exists() {
        anyhow::bail!(
            "no config file at {}. Create one with `matrix-whatsapp -e > {}`, edit it, then run \
             `matrix-whatsapp -g` to create the registration",
            path.display(),
            path.display()
        );
    }
    Config::load(path).with_context(|| format!("{} is not usable", path.display()))
}

pub fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
