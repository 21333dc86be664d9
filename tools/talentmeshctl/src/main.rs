//! Entry point: parse the command line, run the command, map the outcome to an exit code, one
//! per kind of outcome (`error::exit`, listed in `--help`). `main` returns an `ExitCode` rather
//! than `anyhow::Result` because scripts need the distinctions: "could not ask" (3), "asked,
//! and it is down" (6), "not found" (4), "not allowed" (5).

use std::process::ExitCode;

use clap::Parser;
use serde_json::json;
use talentmeshctl::cli::Cli;
use talentmeshctl::error::{exit, Error};
use talentmeshctl::output;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage(e),
    };
    let json = cli.global.json;
    // One thread: the CLI waits on the network, and the machine it runs on may be busy.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return report(
                &Error::Other(format!("cannot start the runtime: {e}")),
                json,
            )
        }
    };
    match runtime.block_on(talentmeshctl::commands::run(cli)) {
        Ok(code) => code,
        Err(e) => report(&e, json),
    }
}

/// Prints `e` on stderr (and its hint), and with `--json` also on stdout as
/// `{"error": google.rpc.Status}` (beside the result so far, when there is one), so a script
/// reading stdout sees it; its exit code.
fn report(e: &Error, json: bool) -> ExitCode {
    eprintln!("talentmeshctl: {e}");
    if let Some(hint) = e.hint() {
        eprintln!("hint: {hint}");
    }
    if json {
        output::json(&e.to_json());
    }
    ExitCode::from(e.exit_code())
}

/// A command line clap refused: its message and usage on stderr as clap prints them, exit 2;
/// `--help` and `--version` print on stdout and exit 0. `--json` is looked for in the raw
/// arguments, since they did not parse.
fn usage(e: clap::Error) -> ExitCode {
    if !e.use_stderr() {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    let _ = e.print();
    if std::env::args_os().skip(1).any(|a| a == "--json") {
        let rendered = e.render().to_string();
        let message = rendered
            .lines()
            .next()
            .unwrap_or_default()
            .trim_start_matches("error: ")
            .to_string();
        output::json(&json!({ "error": Error::Usage(message).to_status() }));
    }
    ExitCode::from(exit::USAGE)
}
