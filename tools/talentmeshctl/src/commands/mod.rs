//! The commands, each taking the [`Context`] and its arguments and returning the exit code.

use std::process::ExitCode;

use crate::cli::{Cli, Command, CompaniesCommand, DemoCommand, SyncCommand};
use crate::context::Context;
use crate::error::Result;

pub mod companies;
pub mod status;
pub mod sync;

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<ExitCode> {
    let ctx = Context { global: cli.global };
    match cli.command {
        Command::Status(args) => status::run(&ctx, &args).await,
        Command::Sync(SyncCommand::Overview) => sync::overview(&ctx).await,
        Command::Sync(SyncCommand::Check(args)) => {
            sync::operation(&ctx, "OPERATION_KIND_CHECK", &args).await
        }
        Command::Sync(SyncCommand::Repair(args)) => {
            sync::operation(&ctx, "OPERATION_KIND_REPAIR", &args).await
        }
        Command::Sync(SyncCommand::Rebuild(args)) => {
            sync::operation(&ctx, "OPERATION_KIND_REBUILD", &args).await
        }
        Command::Sync(SyncCommand::DeadLetters(cmd)) => sync::dead_letters(&ctx, cmd).await,
        Command::Sync(SyncCommand::Operations(cmd)) => sync::operations(&ctx, cmd).await,
        Command::Companies(CompaniesCommand::Verifications(cmd)) => {
            companies::verifications(&ctx, cmd).await
        }
        Command::Demo(DemoCommand::Seed(args)) => crate::demo::seed::run(&ctx, &args).await,
    }
}
