//! The company benchmark: `CheckPermission` over gRPC with a warm decision cache (throughput and
//! latency), the cost of a cache miss, and the nearby search over an index of 100,000 companies.
//! Runs the company service in-process on the local servers, in a namespace of its own.
//!
//!   company-bench [SECONDS] [CONCURRENCY] [COMPANIES]      (defaults 10, 16, 100000)

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use talentmesh_company::domain::permissions::Role;
use talentmesh_company::events::change_of_state;
use talentmesh_company::store::GeoIndex;
use talentmesh_mesh::server::{Launch, Listeners};
use talentmesh_proto::company::v1 as pb;
use talentmesh_proto::company::v1::company_service_client::CompanyServiceClient;
use talentmesh_proto::company::v1::membership_service_client::MembershipServiceClient;
use talentmesh_storage::projection::Projection;
use talentmesh_storage::{Migrations, Stores};
use talentmesh_testkit::{TestEnv, TestKeys};
use tonic::transport::Channel;

/// Members of the benchmark company whose decisions are checked.
const MEMBERS: usize = 1000;
const INDUSTRIES: [&str; 8] = [
    "software",
    "finance",
    "education",
    "retail",
    "logistics",
    "health",
    "energy",
    "media",
];

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn with_token<T>(msg: T, token: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    if let Ok(v) = format!("Bearer {token}").parse() {
        r.metadata_mut().insert("authorization", v);
    }
    r
}

fn check(user: &str, company: &str) -> pb::CheckPermissionRequest {
    pb::CheckPermissionRequest {
        check: Some(pb::PermissionCheck {
            subject: format!("users/{user}"),
            company: company.to_string(),
            permission: "job.write".into(),
        }),
    }
}

struct Summary {
    calls: usize,
    secs: f64,
    sorted_ms: Vec<f64>,
}

impl Summary {
    fn line(&self, what: &str) -> String {
        format!(
            "{what}: {} calls in {:.1} s = **{:.0}/s**; latency p50 {:.3} ms, p99 **{:.3} ms**, p99.9 {:.3} ms",
            self.calls,
            self.secs,
            self.calls as f64 / self.secs,
            percentile(&self.sorted_ms, 50.0),
            percentile(&self.sorted_ms, 99.0),
            percentile(&self.sorted_ms, 99.9)
        )
    }
}

/// `concurrency` callers over a few connections for `secs`, each call made by `call(i)`.
async fn closed_loop<F, Fut>(secs: u64, concurrency: usize, call: F) -> Summary
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let call = Arc::new(call);
    let started = Instant::now();
    let end = started + Duration::from_secs(secs);
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let call = call.clone();
        workers.push(tokio::spawn(async move {
            let mut ms = Vec::new();
            let mut i = (w as u64) << 32;
            while Instant::now() < end {
                let t = Instant::now();
                if call(i).await {
                    ms.push(t.elapsed().as_secs_f64() * 1e3);
                }
                i += 1;
            }
            ms
        }));
    }
    let mut sorted_ms = Vec::new();
    for w in workers {
        if let Ok(ms) = w.await {
            sorted_ms.extend(ms);
        }
    }
    sorted_ms.sort_by(f64::total_cmp);
    Summary {
        calls: sorted_ms.len(),
        secs: started.elapsed().as_secs_f64(),
        sorted_ms,
    }
}

/// Calls at a fixed `rate` for `secs`. Each call is its own task, so a slow answer never holds
/// back the calls after it; each is timed from when it was sent. (The timer releases calls on
/// millisecond ticks, so timing from the due instant would add up to a millisecond of the
/// timer's own lateness.)
async fn open_loop<F, Fut>(rate: u64, secs: u64, call: F) -> Summary
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let started = Instant::now();
    let total = rate * secs;
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let due = started + Duration::from_secs_f64(i as f64 / rate as f64);
        tokio::time::sleep_until(due.into()).await;
        let fut = call(i);
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let ok = fut.await;
            ok.then(|| sent.elapsed().as_secs_f64() * 1e3)
        }));
    }
    let mut sorted_ms = Vec::with_capacity(tasks.len());
    for t in tasks {
        if let Ok(Some(ms)) = t.await {
            sorted_ms.push(ms);
        }
    }
    sorted_ms.sort_by(f64::total_cmp);
    Summary {
        calls: sorted_ms.len(),
        secs: started.elapsed().as_secs_f64(),
        sorted_ms,
    }
}

async fn channels(addr: std::net::SocketAddr, n: usize) -> anyhow::Result<Vec<Channel>> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(
            Channel::from_shared(format!("http://{addr}"))?
                .connect()
                .await?,
        );
    }
    Ok(out)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let secs: u64 = args.first().map_or(Ok(10), |s| s.parse())?;
    let concurrency: usize = args.get(1).map_or(Ok(16), |s| s.parse())?;
    let companies: usize = args.get(2).map_or(Ok(100_000), |s| s.parse())?;

    let env = TestEnv::new("companybench").set("TALENTMESH_COMPANY_CHECK_EVERY", "0s");
    let config = talentmesh_company::Config::load(env.env())?;
    let storage = config.storage.clone();
    let keys = TestKeys::new();
    let listeners = Listeners::bind(&config.mesh).await?;
    let addr = listeners.grpc.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let launch = Launch::new(listeners, async {
        let _ = stopped.await;
    })
    .with_verifier(keys.verifier());
    let server = tokio::spawn(talentmesh_company::run(config, launch));
    let chans = channels(addr, 4).await?;
    // Wait until it serves.
    let owner_token = keys.token("bench-owner", &["employer"]);
    let admin_token = keys.token("bench-admin", &["admin"]);
    let mut companies_client = CompanyServiceClient::new(chans[0].clone());
    let company = loop {
        match companies_client
            .create_company(with_token(
                pb::CreateCompanyRequest {
                    company: Some(pb::Company {
                        display_name: "Bench Co".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                &owner_token,
            ))
            .await
        {
            Ok(r) => break r.into_inner().company.unwrap_or_default().name,
            Err(e) if e.code() == tonic::Code::Unavailable => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => anyhow::bail!("create company: {e}"),
        }
    };
    let company_id = company.trim_start_matches("companies/").to_string();

    // Members straight into MySQL (the benchmark is about reading decisions, not inviting).
    let stores = Stores::connect(
        &storage,
        Migrations {
            mysql: None,
            postgres: None,
        },
    )
    .await?;
    let mysql = stores.mysql()?.clone();
    let mut q = sqlx::QueryBuilder::new(
        "INSERT INTO company_members (company_id, user_id, email, role, joined_at) ",
    );
    q.push_values(0..MEMBERS, |mut b, i| {
        let role = [Role::Admin, Role::Recruiter, Role::Viewer][i % 3];
        b.push_bind(company_id.clone())
            .push_bind(format!("member-{i}"))
            .push_bind(format!("member-{i}@example.com"))
            .push_bind(role.as_str())
            .push_bind(chrono::Utc::now());
    });
    q.build().execute(&mysql).await?;

    println!("## Company benchmark\n");
    println!(
        "{} cores; {concurrency} callers over 4 HTTP/2 connections, {secs} s per measurement; \
         service, client and stores on the same machine.\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // 1. Warm checks: every member's decision is cached first, then asked again and again.
    let members = MembershipServiceClient::new(chans[0].clone());
    for i in 0..MEMBERS {
        members
            .clone()
            .check_permission(with_token(
                check(&format!("member-{i}"), &company),
                &admin_token,
            ))
            .await?;
    }
    let warm = {
        let clients: Vec<_> = chans
            .iter()
            .cloned()
            .map(MembershipServiceClient::new)
            .collect();
        let company = company.clone();
        let token = admin_token.clone();
        closed_loop(secs, concurrency, move |i| {
            let mut c = clients[(i as usize) % clients.len()].clone();
            let req = with_token(
                check(
                    &format!("member-{}", (i as usize * 7919) % MEMBERS),
                    &company,
                ),
                &token,
            );
            async move { c.check_permission(req).await.is_ok() }
        })
        .await
    };
    println!(
        "- {}",
        warm.line("CheckPermission, warm cache, closed loop")
    );
    for rate in [1000, 2000, 4000] {
        let clients: Vec<_> = chans
            .iter()
            .cloned()
            .map(MembershipServiceClient::new)
            .collect();
        let company = company.clone();
        let token = admin_token.clone();
        let summary = open_loop(rate, secs, move |i| {
            let mut c = clients[(i as usize) % clients.len()].clone();
            let req = with_token(
                check(
                    &format!("member-{}", (i as usize * 7919) % MEMBERS),
                    &company,
                ),
                &token,
            );
            async move { c.check_permission(req).await.is_ok() }
        })
        .await;
        println!(
            "- {}",
            summary.line(&format!(
                "CheckPermission, warm cache, open loop at {rate}/s"
            ))
        );
    }

    // 2. One caller, warm versus miss: the added cost of reading MySQL and filling the cache.
    let sequential = |users: Vec<String>| {
        let mut c = members.clone();
        let company = company.clone();
        let token = admin_token.clone();
        async move {
            let mut ms = Vec::with_capacity(users.len());
            for u in users {
                let t = Instant::now();
                c.check_permission(with_token(check(&u, &company), &token))
                    .await?;
                ms.push(t.elapsed().as_secs_f64() * 1e3);
            }
            ms.sort_by(f64::total_cmp);
            anyhow::Ok(ms)
        }
    };
    let warm_seq = sequential((0..MEMBERS).map(|i| format!("member-{i}")).collect()).await?;
    // Never asked before: each is a miss (the decision key is absent).
    let miss_seq = sequential((0..MEMBERS).map(|i| format!("stranger-{i}")).collect()).await?;
    println!(
        "- one caller, {MEMBERS} checks each: warm p50 {:.3} ms / p99 {:.3} ms; cache miss p50 {:.3} ms / p99 {:.3} ms; \
         a miss costs **{:.3} ms** more at the median",
        percentile(&warm_seq, 50.0),
        percentile(&warm_seq, 99.0),
        percentile(&miss_seq, 50.0),
        percentile(&miss_seq, 99.0),
        percentile(&miss_seq, 50.0) - percentile(&warm_seq, 50.0)
    );

    // 3. Nearby search over `companies` companies indexed around Shanghai, written through the
    // geo projection itself in batches (as the bus would deliver them).
    let geo = GeoIndex::new(stores.redis()?.clone());
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let seeded = Instant::now();
    let mut batch = Vec::with_capacity(500);
    for i in 0..companies {
        let lat = 31.2304 + rng.gen_range(-0.45..0.45);
        let lng = 121.4737 + rng.gen_range(-0.5..0.5);
        let state = pb::CompanyState {
            id: format!("bench-{i:06}"),
            version: 1,
            display_name: format!("Company {i}"),
            industry: INDUSTRIES[i % INDUSTRIES.len()].to_string(),
            city_code: "310000".into(),
            verification_state: if i % 3 == 0 { 3 } else { 1 },
            offices: vec![pb::OfficeState {
                id: format!("o{i}"),
                city_code: "310000".into(),
                latitude: lat,
                longitude: lng,
                headquarters: true,
                label: "HQ".into(),
                address: format!("{i} Bench Road"),
            }],
            ..Default::default()
        };
        batch.push(change_of_state(&state));
        if batch.len() == 500 {
            geo.apply(&batch).await?;
            batch.clear();
        }
    }
    geo.apply(&batch).await?;
    println!(
        "- indexed {companies} companies (one office each, in a 100 km × 100 km square around Shanghai) in {:.1} s",
        seeded.elapsed().as_secs_f64()
    );
    for (label, radius, industry, verified) in [
        ("radius 5 km, no filter", 5.0, "", false),
        ("radius 5 km, industry + verified", 5.0, "software", true),
        ("radius 20 km, no filter", 20.0, "", false),
    ] {
        let clients: Vec<_> = chans
            .iter()
            .cloned()
            .map(CompanyServiceClient::new)
            .collect();
        let summary = closed_loop(secs, concurrency, move |i| {
            let mut c = clients[(i as usize) % clients.len()].clone();
            // A different point each call, the same sequence every run.
            let mut r = rand::rngs::StdRng::seed_from_u64(i);
            let (lat, lng) = (
                31.2304 + r.gen_range(-0.3..0.3),
                121.4737 + r.gen_range(-0.3..0.3),
            );
            let req = pb::SearchNearbyCompaniesRequest {
                latitude: lat,
                longitude: lng,
                radius_km: radius,
                industry: industry.to_string(),
                verified_only: verified,
                limit: 20,
                ..Default::default()
            };
            async move {
                c.search_nearby_companies(tonic::Request::new(req))
                    .await
                    .is_ok_and(|r| !r.into_inner().companies.is_empty())
            }
        })
        .await;
        println!(
            "- {}",
            summary.line(&format!(
                "SearchNearbyCompanies over {companies}, {label}, 20 results"
            ))
        );
    }

    for rate in [500, 1000] {
        let clients: Vec<_> = chans
            .iter()
            .cloned()
            .map(CompanyServiceClient::new)
            .collect();
        let summary = open_loop(rate, secs, move |i| {
            let mut c = clients[(i as usize) % clients.len()].clone();
            let mut r = rand::rngs::StdRng::seed_from_u64(i);
            let req = pb::SearchNearbyCompaniesRequest {
                latitude: 31.2304 + r.gen_range(-0.3..0.3),
                longitude: 121.4737 + r.gen_range(-0.3..0.3),
                radius_km: 5.0,
                limit: 20,
                ..Default::default()
            };
            async move {
                c.search_nearby_companies(tonic::Request::new(req))
                    .await
                    .is_ok_and(|r| !r.into_inner().companies.is_empty())
            }
        })
        .await;
        println!(
            "- {}",
            summary.line(&format!(
                "SearchNearbyCompanies over {companies}, radius 5 km, 20 results, open loop at {rate}/s"
            ))
        );
    }

    let _ = stop.send(());
    let _ = server.await;
    Ok(())
}
