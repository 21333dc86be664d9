//! `talentmeshctl`: what a platform operator runs from a laptop against a talentmesh mesh. It
//! talks only to the mesh's public faces — the REST gateway, as the platform admin, and Consul's
//! HTTP API — so it works wherever those are reachable, with no database access.
//!
//! - [`cli`]: the command tree; [`context`]: connections and credentials from the options.
//! - [`gateway`], [`consul`]: the two HTTP clients; [`error`]: one-line errors naming the HTTP
//!   status and the gateway's reason or the whole cause of a transport failure, one mapping of
//!   answers and failures for both clients, the exit codes, and the `--json` error.
//! - [`commands`]: `status`, `sync …`, `companies verifications …`.
//! - [`demo`]: `demo seed`: a deterministic plan of demo data ([`demo::plan`]) with valid
//!   credit codes ([`demo::uscc`]), carried out through the gateway ([`demo::seed`]).
//! - [`output`]: tables for people, `--json` for scripts.

pub mod cli;
pub mod commands;
pub mod consul;
pub mod context;
pub mod demo;
pub mod error;
pub mod gateway;
pub mod output;
pub mod secret;
