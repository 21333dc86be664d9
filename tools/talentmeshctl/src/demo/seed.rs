//! Carries a [`Plan`] out through the gateway, as the people in it would: employers register,
//! create their companies and offices, submit their verification, which the admin approves,
//! and post and publish jobs; candidates save resumes and apply; employers move applications
//! through the pipeline (scheduling interviews on the way), reject some; candidates withdraw
//! some. Phases run one after another, the items of a phase `--concurrency` at a time.
//!
//! A second run with the same seed is refused before it writes anything: the first demo
//! employer's email is taken (identity answers ALREADY_EXISTS). Another seed adds another set.

use std::collections::BTreeMap;
use std::future::Future;
use std::process::ExitCode;
use std::time::Instant;

use futures::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};

use super::plan::{plan, Plan, Sizes, Stage};
use crate::cli::SeedArgs;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::gateway::{Gateway, Login};
use crate::output::{self, text};
use crate::secret::Secret;

/// What the seed made, by resource name.
struct Made {
    companies: Vec<MadeCompany>,
    jobs: Vec<String>,
    resumes: Vec<String>,
    applications: Vec<String>,
}

struct MadeCompany {
    name: String,
    offices: Vec<String>,
    state: String,
}

/// `demo seed`: plans the data, logs the admin in, carries the plan out with a progress bar
/// on stderr, and prints the summary (a table, or JSON with every resource name).
pub async fn run(ctx: &Context, args: &SeedArgs) -> Result<ExitCode> {
    let sizes = Sizes {
        companies: args.companies,
        jobs: args.jobs,
        resumes: args.resumes,
        applications: args.applications,
        employers: args.employers,
        candidates: args.candidates,
        pending: args.pending,
    };
    if let Some(problem) = sizes.problem() {
        return Err(Error::Usage(problem));
    }
    let plan = plan(args.seed, sizes);
    let started = Instant::now();
    let admin = ctx.admin().await?;
    let bar = ProgressBar::with_draw_target(
        Some(plan.steps()),
        if ctx.json() {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        },
    );
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let password = Secret::new(args.demo_password.clone());
    let made = carry_out(
        &ctx.gateway()?,
        &admin.gateway,
        &plan,
        &password,
        args.concurrency,
        &bar,
    )
    .await;
    bar.finish_and_clear();
    let made = made?;
    let summary = summary(
        &plan,
        &made,
        &args.demo_password,
        started.elapsed().as_secs_f64(),
    );
    if ctx.json() {
        output::json(&summary);
    } else {
        print_summary(&summary);
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `step(i)` for `i` in `0..n`, `concurrency` at a time; the results in order, or the
/// first error.
async fn each<T, F, Fut>(n: usize, concurrency: usize, step: F) -> Result<Vec<T>>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
    let mut running = futures::stream::iter(0..n)
        .map(|i| {
            let fut = step(i);
            async move { (i, fut.await) }
        })
        .buffer_unordered(concurrency.max(1));
    while let Some((i, result)) = running.next().await {
        out[i] = Some(result?);
    }
    Ok(out.into_iter().flatten().collect())
}

/// `e` while doing `what`, keeping its kind (exit code, hint, JSON status).
fn context(what: impl std::fmt::Display, e: Error) -> Error {
    Error::Context {
        what: what.to_string(),
        source: Box::new(e),
    }
}

fn name_of(body: &Value, what: &str) -> Result<String> {
    body["name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .ok_or_else(|| Error::Other(format!("{what}: the answer has no name: {body}")))
}

/// Registers (unless it exists) and logs in one demo account. The first account of a run
/// existing already means this seed ran before.
async fn account(
    gateway: &Gateway,
    email: &str,
    password: &Secret,
    role: &str,
    first_of_run: Option<u64>,
) -> Result<Login> {
    match gateway.register(email, password, role).await {
        Ok(_) => {}
        Err(e) if e.status() == Some(409) => {
            if let Some(seed) = first_of_run {
                // The mesh's state, not the command line, refuses it: exit 1, not 2 (usage).
                return Err(Error::Other(format!(
                    "the demo data of --seed {seed} exists already ({email} is registered, by an \
                     earlier run, finished or not); run with another --seed to add another set"
                )));
            }
        }
        Err(e) if e.status() == Some(429) => {
            return Err(Error::Other(format!(
                "registering {email}: {e}\nidentity limits registrations per client address \
                 (TALENTMESH_IDENTITY_RATE_REGISTER_PER_ADDRESS, 10/h by default); retry later, \
                 or raise the limit for a demo"
            )))
        }
        Err(e) => return Err(context(format!("registering {email}"), e)),
    }
    gateway
        .login(email, password)
        .await
        .map_err(|e| context(format!("logging in as {email}"), e))
}

async fn carry_out(
    gateway: &Gateway,
    admin: &Gateway,
    plan: &Plan,
    password: &Secret,
    concurrency: usize,
    bar: &ProgressBar,
) -> Result<Made> {
    // Accounts one at a time: few, and the first one tells whether this seed ran before.
    bar.set_message("accounts");
    let mut employers = Vec::new();
    for (i, email) in plan.employers.iter().enumerate() {
        let first = (i == 0).then_some(plan.seed);
        employers.push(account(gateway, email, password, "ROLE_EMPLOYER", first).await?);
        bar.inc(1);
    }
    let mut candidates = Vec::new();
    for email in &plan.candidates {
        candidates.push(account(gateway, email, password, "ROLE_CANDIDATE", None).await?);
        bar.inc(1);
    }

    bar.set_message("companies, offices, verification");
    let companies = each(plan.companies.len(), concurrency, |i| {
        let c = &plan.companies[i];
        let owner = &employers[c.owner].gateway;
        async move {
            let what = format!("company {} ({})", i + 1, c.display_name);
            let body = owner
                .create(
                    "/v1/companies",
                    &json!({
                        "displayName": c.display_name,
                        "description": c.description,
                        "industry": c.industry,
                        "cityCode": c.city_code,
                        "size": c.size,
                    }),
                )
                .await
                .map_err(|e| context(&what, e))?;
            let name = name_of(&body, &what)?;
            bar.inc(1);
            let mut offices = Vec::new();
            for o in &c.offices {
                let office = owner
                    .post(
                        &format!("/v1/{name}/offices"),
                        &json!({
                            "label": o.label,
                            "address": o.address,
                            "cityCode": o.city_code,
                            "location": {"latitude": o.latitude, "longitude": o.longitude},
                            "headquarters": o.headquarters,
                        }),
                    )
                    .await
                    .map_err(|e| context(format!("{what}, office {}", o.label), e))?;
                offices.push(name_of(&office, &what)?);
                bar.inc(1);
            }
            let submitted = owner
                .post(
                    &format!("/v1/{name}:submitVerification"),
                    &json!({
                        "uscc": c.uscc,
                        "legalName": c.legal_name,
                        "legalRepresentative": c.representative,
                        "licenceDocument": format!("files/demo/licence-{}.pdf", c.uscc),
                    }),
                )
                .await
                .map_err(|e| context(format!("{what}, verification"), e))?;
            let mut state = text(&submitted["company"]["verificationState"]);
            if c.verified {
                let reviewed = admin
                    .post(
                        &format!("/v1/{name}:reviewVerification"),
                        &json!({"approve": true}),
                    )
                    .await
                    .map_err(|e| context(format!("{what}, approval"), e))?;
                state = text(&reviewed["company"]["verificationState"]);
            }
            Ok(MadeCompany {
                name,
                offices,
                state,
            })
        }
    })
    .await?;

    bar.set_message("jobs");
    let jobs = each(plan.jobs.len(), concurrency, |i| {
        let j = &plan.jobs[i];
        let company = &companies[j.company];
        let owner = &employers[plan.companies[j.company].owner].gateway;
        async move {
            let what = format!("job {} ({})", i + 1, text(&j.body["title"]));
            let mut body = j.body.clone();
            body["office"] = json!(company.offices[j.office]);
            let job = owner
                .create(&format!("/v1/{}/jobs", company.name), &body)
                .await
                .map_err(|e| context(&what, e))?;
            let name = name_of(&job, &what)?;
            owner
                .post(&format!("/v1/{name}:publish"), &json!({}))
                .await
                .map_err(|e| context(format!("{what}, publishing"), e))?;
            bar.inc(1);
            Ok(name)
        }
    })
    .await?;

    bar.set_message("resumes");
    let resumes = each(plan.resumes.len(), concurrency, |i| {
        let r = &plan.resumes[i];
        let owner = &candidates[r.owner].gateway;
        async move {
            let what = format!("resume {} ({})", i + 1, text(&r.body["title"]));
            let resume = owner
                .create("/v1/resumes", &r.body)
                .await
                .map_err(|e| context(&what, e))?;
            bar.inc(1);
            name_of(&resume, &what)
        }
    })
    .await?;

    bar.set_message("applications");
    let applications = each(plan.applications.len(), concurrency, |i| {
        let a = &plan.applications[i];
        let candidate = &candidates[plan.resumes[a.resume].owner].gateway;
        let employer = &employers[plan.companies[plan.jobs[a.job].company].owner].gateway;
        let job = &jobs[a.job];
        let resume = &resumes[a.resume];
        async move {
            let what = format!("application {} ({} to {job})", i + 1, a.stage.api());
            let app = candidate
                .create(
                    &format!("/v1/{job}/applications"),
                    &json!({"resume": resume}),
                )
                .await
                .map_err(|e| context(&what, e))?;
            let name = name_of(&app, &what)?;
            for &stage in a.stage.path() {
                employer
                    .post(&format!("/v1/{name}:move"), &json!({"stage": stage.api()}))
                    .await
                    .map_err(|e| context(format!("{what}, moving to {}", stage.api()), e))?;
                if stage == Stage::Interview {
                    if let Some((time, place)) = &a.interview {
                        employer
                            .post(
                                &format!("/v1/{name}:scheduleInterview"),
                                &json!({"interview": {"time": time, "place": place}}),
                            )
                            .await
                            .map_err(|e| context(format!("{what}, interview"), e))?;
                    }
                }
            }
            match a.stage {
                Stage::Rejected => {
                    employer
                        .post(
                            &format!("/v1/{name}:move"),
                            &json!({"stage": "STAGE_REJECTED", "reason": a.reject_reason}),
                        )
                        .await
                        .map_err(|e| context(format!("{what}, rejecting"), e))?;
                }
                Stage::Withdrawn => {
                    candidate
                        .post(&format!("/v1/{name}:withdraw"), &json!({}))
                        .await
                        .map_err(|e| context(format!("{what}, withdrawing"), e))?;
                }
                _ => {}
            }
            bar.inc(1);
            Ok(name)
        }
    })
    .await?;
    Ok(Made {
        companies,
        jobs,
        resumes,
        applications,
    })
}

fn summary(plan: &Plan, made: &Made, password: &str, seconds: f64) -> Value {
    let mut by_stage: BTreeMap<&str, usize> = Stage::ALL.iter().map(|s| (s.api(), 0)).collect();
    for a in &plan.applications {
        *by_stage.entry(a.stage.api()).or_default() += 1;
    }
    let verified = made
        .companies
        .iter()
        .filter(|c| c.state == "VERIFICATION_STATE_VERIFIED")
        .count();
    let companies: Vec<Value> = plan
        .companies
        .iter()
        .zip(&made.companies)
        .map(|(p, m)| {
            json!({
                "name": m.name,
                "displayName": p.display_name,
                "cityCode": p.city_code,
                "industry": p.industry,
                "uscc": p.uscc,
                "verificationState": m.state,
                "offices": m.offices,
            })
        })
        .collect();
    let jobs: Vec<Value> = plan
        .jobs
        .iter()
        .zip(&made.jobs)
        .map(|(p, name)| json!({"name": name, "title": p.body["title"], "cityCode": p.body["cityCode"]}))
        .collect();
    let applications: Vec<Value> = plan
        .applications
        .iter()
        .zip(&made.applications)
        .map(|(p, name)| json!({"name": name, "stage": p.stage.api()}))
        .collect();
    json!({
        "seed": plan.seed,
        "accounts": {
            "password": password,
            "employers": plan.employers,
            "candidates": plan.candidates,
        },
        "counts": {
            "companies": made.companies.len(),
            "verified": verified,
            "pending": made.companies.len() - verified,
            "offices": made.companies.iter().map(|c| c.offices.len()).sum::<usize>(),
            "jobs": made.jobs.len(),
            "resumes": made.resumes.len(),
            "applications": made.applications.len(),
        },
        "applicationsByStage": by_stage,
        "companies": companies,
        "jobs": jobs,
        "resumes": made.resumes,
        "applications": applications,
        "seconds": (seconds * 10.0).round() / 10.0,
    })
}

fn print_summary(s: &Value) {
    let c = &s["counts"];
    let mut table = output::table(["WHAT", "MADE"]);
    table.add_row(vec![
        "companies".to_string(),
        format!(
            "{} ({} verified, {} pending review)",
            c["companies"], c["verified"], c["pending"]
        ),
    ]);
    for key in ["offices", "jobs", "resumes", "applications"] {
        let note = if key == "jobs" { " (published)" } else { "" };
        table.add_row(vec![key.to_string(), format!("{}{note}", c[key])]);
    }
    // In pipeline order, not the JSON object's alphabetical one.
    for stage in Stage::ALL {
        let name = stage.api();
        table.add_row(vec![
            format!(
                "  {}",
                name.strip_prefix("STAGE_").unwrap_or(name).to_lowercase()
            ),
            s["applicationsByStage"][name].to_string(),
        ]);
    }
    println!("{table}");
    println!(
        "seed {} done in {}s. Log in as a demo employer ({}) or candidate ({}), password \"{}\".",
        s["seed"],
        s["seconds"],
        text(&s["accounts"]["employers"][0]),
        text(&s["accounts"]["candidates"][0]),
        text(&s["accounts"]["password"]),
    );
    println!("Search indexes and matching catch up within seconds; `talentmeshctl sync overview` shows their lag.");
}
