//! The command line: global connection options and the command tree (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The platform operator's tool for a talentmesh mesh: status, data sync, company verification
/// review and demo data, through the REST gateway and Consul.
#[derive(Debug, Parser)]
#[command(
    name = "talentmeshctl",
    version,
    propagate_version = true,
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// The exit codes, as `--help` lists them; the numbers are [`crate::error::exit`]'s.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  done; `status`: the mesh is healthy
  1  any other error: the mesh refused the request (HTTP 400, 409, 429, 500, ...), an operation failed
  2  usage: a wrong option, argument or setting (such as an empty Consul token file)
  3  unreachable: no answer from the gateway or Consul (connection refused, DNS, TLS, timeout),
     or the gateway answered 502, 503 or 504 (a service behind it is down)
  4  not found: HTTP 404
  5  permission: the login was refused or the account (or Consul token) may not do it: HTTP 401, 403
  6  `status`: a service is missing or unhealthy
An error is printed on stderr, with a line `hint:` when there is something to check; with --json
it is also printed on stdout as {\"error\": {\"code\": .., \"message\": .., \"details\": [..]}}, a
google.rpc.Status as the gateway answers errors (code: a google.rpc.Code number).
An answer 429 (rate limited) or 503 is tried again after the delay the gateway asks for, up to 3
and 6 tries and 30 s of waiting in all; each wait is said on stderr.";

/// Where the mesh is and who is asking. The admin password is read from
/// `TALENTMESH_ADMIN_PASSWORD` or a file, never from the command line (it would show in `ps`).
#[derive(Debug, Args)]
#[command(next_help_heading = "Connection and output")]
pub struct Global {
    /// Base URL of the REST gateway.
    #[arg(
        long,
        global = true,
        env = "TALENTMESH_GATEWAY_URL",
        default_value = "http://127.0.0.1:18080"
    )]
    pub gateway: String,
    /// The platform admin's email.
    #[arg(
        long,
        global = true,
        env = "TALENTMESH_ADMIN_EMAIL",
        default_value = "admin@talentmesh.local"
    )]
    pub email: String,
    /// File with the admin's password, used unless TALENTMESH_ADMIN_PASSWORD is set
    /// [default: $TALENTMESH_DATA/mesh/admin-password, as dev/mesh.sh writes it].
    #[arg(long, global = true, env = "TALENTMESH_ADMIN_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,
    /// Consul's HTTP API (for `status`).
    #[arg(
        long,
        global = true,
        env = "TALENTMESH_CONSUL_ADDR",
        default_value = "http://127.0.0.1:18500"
    )]
    pub consul: String,
    /// File with a Consul ACL token, used unless TALENTMESH_CONSUL_TOKEN is set
    /// [default: $TALENTMESH_DATA/consul/management.token].
    #[arg(long, global = true, env = "TALENTMESH_CONSUL_TOKEN_FILE")]
    pub consul_token_file: Option<PathBuf>,
    /// Print one JSON document on stdout instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// Per-request timeout in seconds.
    #[arg(long, global = true, default_value_t = 30, value_name = "SECONDS")]
    pub timeout: u64,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Every service's instances in Consul with their health and version, the gateway's too
    /// and what its --gateway URL answers. Exits 6 when something is missing or unhealthy.
    Status(StatusArgs),
    /// The data-sync control plane (admins).
    #[command(subcommand)]
    Sync(SyncCommand),
    /// Companies (admins).
    #[command(subcommand)]
    Companies(CompaniesCommand),
    /// Demo data.
    #[command(subcommand)]
    Demo(DemoCommand),
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only these services (services.tsv names, comma-separated, `gateway` included).
    #[arg(long, value_delimiter = ',')]
    pub services: Vec<String>,
    /// Also every other service registered in Consul.
    #[arg(long)]
    pub all: bool,
    /// Services registered in Consul under another name: `service=consul-name,...`.
    #[arg(long, env = "TALENTMESH_CTL_SERVICE_NAMES", default_value = "")]
    pub service_names: String,
}

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Every service with the sync framework: instances, dead letters, backlog, lag, drift.
    Overview,
    /// Compare a service's projections with MySQL, with a progress bar until it ends.
    Check(OperationArgs),
    /// Check, then re-project what drifted and remove orphans.
    Repair(OperationArgs),
    /// Re-project every entity of a service from MySQL.
    Rebuild(OperationArgs),
    /// Events the consumers gave up on.
    #[command(subcommand, name = "dead-letters")]
    DeadLetters(DeadLetterCommand),
    /// Checks, repairs and rebuilds a service ran: list them, cancel a running one.
    #[command(subcommand)]
    Operations(OperationCommand),
}

#[derive(Debug, Subcommand)]
pub enum OperationCommand {
    /// A page of a service's operations, newest first.
    List {
        /// The service, e.g. `job`.
        service: String,
        #[arg(long, default_value_t = 20)]
        page_size: i32,
        #[arg(long)]
        page_token: Option<String>,
        /// Only operations in this state: running, succeeded, failed or cancelled.
        #[arg(long)]
        state: Option<String>,
    },
    /// Ask a running operation to stop at its next batch boundary (it then ends CANCELLED).
    Cancel {
        /// `services/{service}/operations/{id}`, as `list` prints it.
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct OperationArgs {
    /// The service, e.g. `job`.
    pub service: String,
    /// Only these projections (repeat the flag); all by default.
    #[arg(long = "projection", value_name = "NAME")]
    pub projections: Vec<String>,
    /// Start it and print its name without waiting.
    #[arg(long)]
    pub no_wait: bool,
    /// Give up waiting after this many seconds (the operation goes on).
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    pub wait: u64,
}

#[derive(Debug, Subcommand)]
pub enum DeadLetterCommand {
    /// A page of a service's dead letters, oldest first.
    List {
        service: String,
        #[arg(long, default_value_t = 100)]
        page_size: i32,
        #[arg(long)]
        page_token: Option<String>,
    },
    /// Apply dead letters again; those that succeed are removed.
    Replay(DeadLetterPick),
    /// Remove dead letters without applying them.
    Discard(DeadLetterPick),
}

#[derive(Debug, Args)]
pub struct DeadLetterPick {
    pub service: String,
    /// Dead-letter ids (from `list`); or `--all`.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub ids: Vec<String>,
    /// Every dead letter of the service.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Subcommand)]
pub enum CompaniesCommand {
    /// Enterprise verification review.
    #[command(subcommand)]
    Verifications(VerificationCommand),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum VerificationStateArg {
    Pending,
    Verified,
    Rejected,
    Unverified,
}

impl VerificationStateArg {
    /// The API's enum name, e.g. `VERIFICATION_STATE_PENDING`.
    pub fn api(self) -> &'static str {
        match self {
            VerificationStateArg::Pending => "VERIFICATION_STATE_PENDING",
            VerificationStateArg::Verified => "VERIFICATION_STATE_VERIFIED",
            VerificationStateArg::Rejected => "VERIFICATION_STATE_REJECTED",
            VerificationStateArg::Unverified => "VERIFICATION_STATE_UNVERIFIED",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum VerificationCommand {
    /// Companies in a verification state (pending by default) with their submitted documents.
    List {
        #[arg(long, value_enum, default_value_t = VerificationStateArg::Pending)]
        state: VerificationStateArg,
        /// Only companies of this six-digit city code.
        #[arg(long)]
        city: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 200)]
        limit: usize,
    },
    /// Approve pending verifications (`companies/{id}` or the id).
    Approve {
        #[arg(required = true)]
        companies: Vec<String>,
    },
    /// Reject pending verifications with a reason the company sees.
    Reject {
        #[arg(required = true)]
        companies: Vec<String>,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Fill the platform with a realistic demo data set (deterministic from --seed). A second
    /// run with the same seed is refused; another seed adds another set.
    Seed(SeedArgs),
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Picks the data; the same seed gives the same data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[arg(long, default_value_t = 24)]
    pub companies: usize,
    #[arg(long, default_value_t = 300)]
    pub jobs: usize,
    #[arg(long, default_value_t = 300)]
    pub resumes: usize,
    #[arg(long, default_value_t = 360)]
    pub applications: usize,
    /// Demo employer accounts (each owns several companies). Accounts are few because identity
    /// allows 10 registrations an hour per address by default.
    #[arg(long, default_value_t = 3)]
    pub employers: usize,
    /// Demo candidate accounts (each holds several personas' resumes).
    #[arg(long, default_value_t = 5)]
    pub candidates: usize,
    /// Companies whose verification is left pending for review.
    #[arg(long, default_value_t = 2)]
    pub pending: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 6)]
    pub concurrency: usize,
    /// Password of the demo accounts.
    #[arg(
        long,
        env = "TALENTMESH_DEMO_PASSWORD",
        default_value = "demo password 2026",
        hide_env_values = true
    )]
    pub demo_password: String,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::error::exit;

    /// The dead letters `replay`/`discard` would act on, as parsed from `args`.
    fn pick(args: &[&str]) -> Result<(String, Vec<String>, bool), clap::Error> {
        use clap::Parser;
        let cli = Cli::try_parse_from(args)?;
        match cli.command {
            Command::Sync(SyncCommand::DeadLetters(
                DeadLetterCommand::Replay(p) | DeadLetterCommand::Discard(p),
            )) => Ok((p.service, p.ids, p.all)),
            other => panic!("not a dead-letter pick: {other:?}"),
        }
    }

    #[test]
    fn dead_letters_are_picked_by_id_or_all_for_a_service() {
        let base = ["talentmeshctl", "sync", "dead-letters"];
        let with = |rest: &[&str]| pick(&[&base[..], rest].concat());
        assert_eq!(
            with(&["discard", "job", "1-0", "2-0"]).unwrap(),
            ("job".into(), vec!["1-0".into(), "2-0".into()], false)
        );
        assert_eq!(
            with(&["replay", "job", "--all"]).unwrap(),
            ("job".into(), vec![], true)
        );
        // Neither, both, or no service: usage errors.
        assert!(with(&["replay", "job"]).is_err());
        assert!(with(&["replay", "job", "1-0", "--all"]).is_err());
        assert!(with(&["discard", "--all"]).is_err());
    }

    #[test]
    fn the_help_lists_every_exit_code_with_its_number() {
        for (code, word) in [
            (exit::OTHER, "any other error"),
            (exit::USAGE, "usage"),
            (exit::UNREACHABLE, "unreachable"),
            (exit::NOT_FOUND, "not found"),
            (exit::PERMISSION, "permission"),
            (exit::UNHEALTHY, "`status`: a service is missing"),
        ] {
            let line = format!("\n  {code}  {word}");
            assert!(
                EXIT_CODES.contains(&line),
                "{line:?} is not in:\n{EXIT_CODES}"
            );
        }
    }
}
