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
    crate::telemetry::init_logging(&config.logging)?;
    let config_dir = folder_of(&args.config);
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(crate::runtime::run(config, config_dir))
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
