//! `sync …`: the sync control plane's REST API (`/v1/sync/...`, proto/talentmesh/sync/v1)
//! as the admin: the overview, check/repair/rebuild operations followed with progress bars
//! until they end, listed and cancelled, and dead letters.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};

use crate::cli::{DeadLetterCommand, DeadLetterPick, OperationArgs, OperationCommand};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::output::{self, short, text};

/// How often a running operation is asked for its progress.
const POLL: Duration = Duration::from_millis(250);

/// An int64 of proto3 JSON (a string) or a number, as a number; 0 when absent.
fn int(v: &Value) -> i64 {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(0)
}

fn yes_no(v: &Value) -> &'static str {
    if v.as_bool() == Some(true) {
        "yes"
    } else {
        "NO"
    }
}

/// `services/{service}` from `job` or `services/job`.
fn service_resource(service: &str) -> String {
    if service.starts_with("services/") {
        service.to_string()
    } else {
        format!("services/{service}")
    }
}

/// `sync overview`: one row per service with the sync framework.
pub async fn overview(ctx: &Context) -> Result<ExitCode> {
    let admin = ctx.admin().await?;
    let body = admin.gateway.get("/v1/sync/overview").await?;
    if ctx.json() {
        output::json(&body);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = output::table([
        "SERVICE",
        "INSTANCES",
        "HEALTHY",
        "DEAD LETTERS",
        "UNPUBLISHED",
        "MAX LAG (s)",
        "LAG ENTRIES",
        "DRIFT",
    ]);
    for s in body["services"].as_array().into_iter().flatten() {
        let instances = s["instances"].as_array().cloned().unwrap_or_default();
        let answered = instances
            .iter()
            .filter(|i| text(&i["error"]).is_empty())
            .count();
        table.add_row(vec![
            text(&s["name"])
                .strip_prefix("services/")
                .unwrap_or_default()
                .to_string(),
            format!("{answered}/{}", instances.len()),
            yes_no(&s["healthy"]).to_string(),
            int(&s["deadLetters"]).to_string(),
            int(&s["unpublished"]).to_string(),
            format!("{:.1}", s["maxLagSeconds"].as_f64().unwrap_or(0.0)),
            int(&s["lagEntries"]).to_string(),
            int(&s["drift"]).to_string(),
        ]);
    }
    println!("{table}");
    let c = &body["counters"];
    println!(
        "all services: healthy {}, published {}, delivered {}, failed {}, dead-lettered {}",
        yes_no(&body["healthy"]),
        int(&c["published"]),
        int(&c["delivered"]),
        int(&c["failed"]),
        int(&c["deadLettered"])
    );
    Ok(ExitCode::SUCCESS)
}

/// Starts an operation of `kind` and, unless `--no-wait`, follows it to its end with a bar
/// per projection. A failed operation is an error; drift found by a check is reported.
pub async fn operation(ctx: &Context, kind: &str, args: &OperationArgs) -> Result<ExitCode> {
    let admin = ctx.admin().await?;
    let service = service_resource(&args.service);
    let started = admin
        .gateway
        .post(
            &format!("/v1/sync/{service}/operations"),
            &json!({"kind": kind, "projections": args.projections}),
        )
        .await?;
    let name = text(&started["operation"]["name"]);
    if name.is_empty() {
        return Err(Error::Other(format!(
            "the control plane started no operation: {started}"
        )));
    }
    if args.no_wait {
        if ctx.json() {
            output::json(&started);
        } else {
            println!("{name}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let bars = MultiProgress::with_draw_target(if ctx.json() {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    });
    let style = ProgressStyle::with_template("{prefix:>28} [{bar:32}] {pos}/{len} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let mut by_projection: BTreeMap<String, ProgressBar> = BTreeMap::new();
    let give_up = Instant::now() + Duration::from_secs(args.wait);
    let last = loop {
        let body = admin.gateway.get(&format!("/v1/sync/{name}")).await?;
        let op = body["operation"].clone();
        for p in op["projections"].as_array().into_iter().flatten() {
            let key = text(&p["projection"]);
            let bar = by_projection.entry(key.clone()).or_insert_with(|| {
                let bar = bars.add(ProgressBar::new(0));
                bar.set_style(style.clone());
                bar.set_prefix(format!("{key} ({})", short(&p["store"], "STORE_")));
                bar
            });
            bar.set_length(int(&p["total"]).max(0) as u64);
            bar.set_position(int(&p["scanned"]).max(0) as u64);
            bar.set_message(format!(
                "missing {} stale {} orphaned {} repaired {}",
                int(&p["missing"]),
                int(&p["stale"]),
                int(&p["orphaned"]),
                int(&p["repaired"])
            ));
            if p["done"].as_bool() == Some(true) && !bar.is_finished() {
                bar.finish();
            }
        }
        if op["state"] != "OPERATION_STATE_RUNNING" {
            break op;
        }
        if Instant::now() > give_up {
            return Err(Error::Other(format!(
                "{name} is still running after {}s; follow it with `talentmeshctl sync {} …` later or in the overview",
                args.wait, args.service
            )));
        }
        tokio::time::sleep(POLL).await;
    };
    for bar in by_projection.values() {
        if !bar.is_finished() {
            bar.abandon();
        }
    }
    let _ = bars.clear();
    let failed = (last["state"] != "OPERATION_STATE_SUCCEEDED").then(|| {
        Error::Other(format!(
            "{name} ended {}: {}",
            short(&last["state"], "OPERATION_STATE_"),
            text(&last["error"])
        ))
    });
    if ctx.json() {
        let output = json!({"operation": last});
        // One document on stdout: a failed operation beside its error.
        return match failed {
            Some(e) => Err(Error::Partial {
                output: Box::new(output),
                error: Box::new(e),
            }),
            None => {
                output::json(&output);
                Ok(ExitCode::SUCCESS)
            }
        };
    } else {
        let mut table = output::table([
            "PROJECTION",
            "STORE",
            "SCANNED",
            "MISSING",
            "STALE",
            "ORPHANED",
            "REPAIRED",
        ]);
        for p in last["projections"].as_array().into_iter().flatten() {
            table.add_row(vec![
                text(&p["projection"]),
                short(&p["store"], "STORE_"),
                format!("{}/{}", int(&p["scanned"]), int(&p["total"])),
                int(&p["missing"]).to_string(),
                int(&p["stale"]).to_string(),
                int(&p["orphaned"]).to_string(),
                int(&p["repaired"]).to_string(),
            ]);
        }
        println!("{table}");
        println!("{name}: {}", short(&last["state"], "OPERATION_STATE_"));
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// `sync dead-letters list|replay|discard`.
pub async fn dead_letters(ctx: &Context, cmd: DeadLetterCommand) -> Result<ExitCode> {
    let admin = ctx.admin().await?;
    match cmd {
        DeadLetterCommand::List {
            service,
            page_size,
            page_token,
        } => {
            let mut path = format!(
                "/v1/sync/{}/deadLetters?pageSize={page_size}",
                service_resource(&service)
            );
            if let Some(token) = page_token.filter(|t| !t.is_empty()) {
                path.push_str(&format!("&pageToken={}", encode(&token)));
            }
            let body = admin.gateway.get(&path).await?;
            if ctx.json() {
                output::json(&body);
                return Ok(ExitCode::SUCCESS);
            }
            let mut table = output::table([
                "ID",
                "GROUP",
                "EVENT",
                "SUBJECT",
                "DELIVERIES",
                "DEAD AT",
                "ERROR",
            ]);
            let letters = body["deadLetters"].as_array().cloned().unwrap_or_default();
            for d in &letters {
                table.add_row(vec![
                    text(&d["id"]),
                    text(&d["group"]),
                    text(&d["eventType"]),
                    text(&d["subject"]),
                    int(&d["deliveries"]).to_string(),
                    text(&d["deadTime"]),
                    text(&d["error"]),
                ]);
            }
            println!("{table}");
            println!("{} dead letters", letters.len());
            let next = text(&body["nextPageToken"]);
            if !next.is_empty() {
                println!("more: --page-token {next}");
            }
        }
        DeadLetterCommand::Replay(pick) => {
            let body = admin
                .gateway
                .post(&pick_path(&pick, "replay"), &pick_body(&pick))
                .await?;
            if ctx.json() {
                output::json(&body);
            } else {
                let failed = body["failed"].as_array().cloned().unwrap_or_default();
                println!(
                    "replayed {}, failed again {}",
                    int(&body["replayed"]),
                    failed.len()
                );
                for d in failed {
                    println!("  {}: {}", text(&d["id"]), text(&d["error"]));
                }
            }
        }
        DeadLetterCommand::Discard(pick) => {
            let body = admin
                .gateway
                .post(&pick_path(&pick, "discard"), &pick_body(&pick))
                .await?;
            if ctx.json() {
                output::json(&body);
            } else {
                println!("discarded {}", int(&body["discarded"]));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The `ListSyncOperations` path: a page of `service`'s operations, optionally of one state.
fn operations_path(
    service: &str,
    page_size: i32,
    state: Option<String>,
    page_token: Option<String>,
) -> String {
    let mut path = format!(
        "/v1/sync/{}/operations?pageSize={page_size}",
        service_resource(service)
    );
    if let Some(state) = state.filter(|s| !s.is_empty()) {
        path.push_str(&format!("&filter={}", encode(&format!("state = {state}"))));
    }
    if let Some(token) = page_token.filter(|t| !t.is_empty()) {
        path.push_str(&format!("&pageToken={}", encode(&token)));
    }
    path
}

/// `sync operations list|cancel`.
pub async fn operations(ctx: &Context, cmd: OperationCommand) -> Result<ExitCode> {
    let admin = ctx.admin().await?;
    match cmd {
        OperationCommand::List {
            service,
            page_size,
            page_token,
            state,
        } => {
            let path = operations_path(&service, page_size, state, page_token);
            let body = admin.gateway.get(&path).await?;
            if ctx.json() {
                output::json(&body);
                return Ok(ExitCode::SUCCESS);
            }
            let mut table = output::table(["NAME", "KIND", "STATE", "STARTED", "ENDED", "DRIFT"]);
            let ops = body["operations"].as_array().cloned().unwrap_or_default();
            for op in &ops {
                let drift: i64 = op["projections"]
                    .as_array()
                    .map(|ps| {
                        ps.iter()
                            .map(|p| int(&p["missing"]) + int(&p["stale"]) + int(&p["orphaned"]))
                            .sum()
                    })
                    .unwrap_or(0);
                table.add_row(vec![
                    text(&op["name"]),
                    short(&op["kind"], "OPERATION_KIND_"),
                    short(&op["state"], "OPERATION_STATE_"),
                    text(&op["startTime"]),
                    text(&op["endTime"]),
                    drift.to_string(),
                ]);
            }
            println!("{table}");
            println!("{} operations", ops.len());
            let next = text(&body["nextPageToken"]);
            if !next.is_empty() {
                println!("more: --page-token {next}");
            }
        }
        OperationCommand::Cancel { name } => {
            let body = admin
                .gateway
                .post(&format!("/v1/sync/{name}:cancel"), &json!({}))
                .await?;
            if ctx.json() {
                output::json(&body);
            } else {
                println!(
                    "{}: cancellation asked; it stops at its next batch boundary",
                    text(&body["operation"]["name"])
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn pick_path(pick: &DeadLetterPick, verb: &str) -> String {
    format!(
        "/v1/sync/{}/deadLetters:{verb}",
        service_resource(&pick.service)
    )
}

fn pick_body(pick: &DeadLetterPick) -> Value {
    json!({"ids": pick.ids, "all": pick.all})
}

/// Percent-encodes a query value (tokens are base64url, but be safe with anything).
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proto_int64s_read_from_strings_or_numbers() {
        assert_eq!(int(&json!("12")), 12);
        assert_eq!(int(&json!(7)), 7);
        assert_eq!(int(&Value::Null), 0);
    }

    #[test]
    fn operation_lists_carry_the_state_filter_and_token_encoded() {
        assert_eq!(
            super::operations_path("job", 20, None, None),
            "/v1/sync/services/job/operations?pageSize=20"
        );
        let path = super::operations_path(
            "services/job",
            5,
            Some("cancelled".into()),
            Some("a+b/c".into()),
        );
        assert!(
            path.starts_with("/v1/sync/services/job/operations?pageSize=5&filter=state"),
            "{path}"
        );
        assert!(!path.contains(' ') && !path.contains("a+b/c"), "{path}");
    }

    #[test]
    fn services_and_query_values_are_written_as_the_api_wants() {
        assert_eq!(service_resource("job"), "services/job");
        assert_eq!(service_resource("services/job"), "services/job");
        assert_eq!(encode("a+b/c=="), "a%2Bb%2Fc%3D%3D");
        assert_eq!(encode("星"), "%E6%98%9F");
    }
}
