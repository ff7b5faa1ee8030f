use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = matrix_whatsapp::cli::Args::parse();
    match matrix_whatsapp::cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("matrix-whatsapp: {err:#}");
            ExitCode::FAILURE
        }
    }
}
