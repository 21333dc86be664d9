//! An upgrade of the search normal form: rows indexed under an older form are re-projected
//! right after the service starts, with scheduled consistency checks off, so one-character
//! queries find them again within seconds rather than at the next check.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{company, job, search, start, Mesh};
use talentmesh_mesh::MeshChannel;
use talentmesh_proto::job::v1 as pb;
use talentmesh_proto::job::v1::job_service_client::JobServiceClient;
use talentmesh_testkit::{eventually, postgres_url, Spawned};
use tonic::transport::Channel;

fn query(q: &str) -> pb::SearchJobsRequest {
    pb::SearchJobsRequest {
        query: q.into(),
        ..Default::default()
    }
}

/// Stops the job service and starts it again on the same stores (checks still off).
async fn restart_job(m: &mut Mesh) {
    let config = talentmesh_job::Config::load(m.job_env.env()).unwrap();
    let mesh = config.mesh.clone();
    let verifier = m.keys.verifier();
    let company_channel = MeshChannel::fixed("company", &[m.company.url()], Duration::from_secs(5));
    let resume_channel = MeshChannel::fixed(
        "resume",
        &["http://127.0.0.1:9".to_string()],
        Duration::from_secs(1),
    );
    let job = Spawned::service(&mesh, move |l| {
        let l = l
            .with_verifier(verifier)
            .with_upstream("company", company_channel);
        talentmesh_job::run(config, l.with_upstream("resume", resume_channel))
    })
    .await;
    let old = std::mem::replace(&mut m.job, job);
    old.stop().await;
    let channel = Channel::from_shared(m.job.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    m.jobs = JobServiceClient::new(channel);
}

#[tokio::test]
async fn rows_of_an_older_text_form_are_reprojected_right_after_start() {
    let mut m = start().await;
    let owner = m.user(&["employer"]);
    let (co, _) = company(&m, &owner, "星河科技").await;
    m.post(&owner, &co, job("数据分析", &["SQL"])).await;
    assert!(
        eventually(common::PATIENCE, || async {
            search(&m, query("数")).await == ["数据分析"]
        })
        .await,
        "the job is in the index"
    );

    // The row as an older normal form left it: no one-character terms, an older form number,
    // its content hash untouched (the version of the job did not change).
    let pg = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&postgres_url())
        .await
        .unwrap();
    let aged = sqlx::query(&format!(
        "UPDATE \"{}\".job_search SET doc = doc || jsonb_build_object(
             'text_form', 0, 'tokens', '', 'title_tokens', '')",
        m.job_env.postgres_schema
    ))
    .execute(&pg)
    .await
    .unwrap();
    assert_eq!(aged.rows_affected(), 1);
    assert!(
        search(&m, query("数")).await.is_empty(),
        "the old form misses a one-character query"
    );

    restart_job(&mut m).await;
    assert!(
        eventually(Duration::from_secs(8), || async {
            search(&m, query("数")).await == ["数据分析"]
        })
        .await,
        "the row of the older form was not re-projected after start"
    );
    let form: Option<String> = sqlx::query_scalar(&format!(
        "SELECT doc->>'text_form' FROM \"{}\".job_search",
        m.job_env.postgres_schema
    ))
    .fetch_one(&pg)
    .await
    .unwrap();
    assert_eq!(form, Some(talentmesh_text::SEARCH_FORM.to_string()));
    m.stop().await;
}
