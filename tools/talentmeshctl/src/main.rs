//! Entry point: parse the command line, run the command, map the outcome to an exit code
//! (0 done, 1 error, 2 `status` found something unhealthy). `main` returns an `ExitCode` rather
//! than `anyhow::Result` because scripts need the distinction between "could not ask" and
//! "asked, and it is down".

use std::process::ExitCode;

use clap::Parser;
use talentmeshctl::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // One thread: the CLI waits on the network, and the machine it runs on may be busy.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("talentmeshctl: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(talentmeshctl::commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("talentmeshctl: {e}");
            ExitCode::FAILURE
        }
    }
}
