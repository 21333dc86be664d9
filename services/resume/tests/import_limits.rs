//! What an import may cost, on the real servers: a small document of many versions writes one
//! version and one event per resume (not one per item), a document over the item limits is
//! refused whole with the broken limit named and leaves nothing behind, and an owner past the
//! import budget is told RESOURCE_EXHAUSTED with when to retry, again writing nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{req, start, start_with, Mesh, User};
use talentmesh_mesh::error::{field_violations_of, rpc_status_of};
use talentmesh_proto::resume::v1 as pb;
use talentmesh_testkit::{fails, scalar_i64};
use tonic::Code;

/// An import document of `resumes` resumes with `versions` versions each; every version has
/// a title of its resume and version number (`r{i}v{j}`) and a short summary.
fn document(resumes: usize, versions: usize) -> String {
    let resumes: Vec<String> = (0..resumes)
        .map(|i| {
            let versions: Vec<String> = (0..versions)
                .map(|j| format!(r#"{{"title":"r{i}v{j}","summary":"s"}}"#))
                .collect();
            format!(r#"{{"versions":[{}]}}"#, versions.join(","))
        })
        .collect();
    format!(
        r#"{{"format":"talentmesh.resumes/1","resumes":[{}]}}"#,
        resumes.join(",")
    )
}

type Answer = Result<tonic::Response<pb::ImportResumesResponse>, tonic::Status>;

async fn import(m: &Mesh, who: &User, document: String) -> Answer {
    m.resumes
        .clone()
        .import_resumes(req(pb::ImportResumesRequest { document }, who))
        .await
}

/// The resumes a successful import answered.
fn imported(answer: Answer) -> Vec<pb::Resume> {
    answer.unwrap().into_inner().resumes
}

/// (versions, events) stored in the service's database.
async fn written(m: &Mesh) -> (i64, i64) {
    let pool = m.resume_env.mysql().await;
    (
        scalar_i64(&pool, "SELECT COUNT(*) FROM resume_versions").await,
        scalar_i64(&pool, "SELECT COUNT(*) FROM outbox").await,
    )
}

#[tokio::test]
async fn a_small_document_of_a_thousand_versions_writes_one_version_per_resume() {
    let m = start().await;
    let me = m.user(&["candidate"]);
    // Five resumes of 200 versions: 1,000 items in about 30 KB.
    let doc = document(5, 200);
    assert!(doc.len() < 32 * 1024, "{}", doc.len());
    let imported = imported(import(&m, &me, doc).await);

    // Each resume arrives as its newest version, saved once with one event.
    let titles: Vec<(&str, i64)> = imported
        .iter()
        .map(|r| (r.title.as_str(), r.version))
        .collect();
    assert_eq!(
        titles,
        [
            ("r0v199", 1),
            ("r1v199", 1),
            ("r2v199", 1),
            ("r3v199", 1),
            ("r4v199", 1)
        ]
    );
    assert_eq!(written(&m).await, (5, 5));
    m.stop().await;
}

#[tokio::test]
async fn a_document_over_the_item_limits_is_refused_and_writes_nothing() {
    let m = start().await;
    let me = m.user(&["candidate"]);
    for (doc, field) in [
        (document(101, 1), "document.resumes"),
        (document(1, 201), "document.resumes[0].versions"),
    ] {
        let s = fails(import(&m, &me, doc).await, Code::InvalidArgument);
        assert_eq!(field_violations_of(&s)[0].field, field, "{s:?}");
    }
    assert_eq!(written(&m).await, (0, 0));
    m.stop().await;
}

#[tokio::test]
async fn an_owner_past_the_import_budget_is_resource_exhausted_and_nothing_is_written() {
    let m = start_with(&[("TALENTMESH_RESUME_IMPORT_BUDGET", "3")]).await;
    let me = m.user(&["candidate"]);
    assert_eq!(imported(import(&m, &me, document(2, 3)).await).len(), 2);
    assert_eq!(written(&m).await, (2, 2));

    // Two more would make four resumes in the window: refused whole, with when to retry.
    let s = fails(
        import(&m, &me, document(2, 1)).await,
        Code::ResourceExhausted,
    );
    let details: Vec<String> = rpc_status_of(&s)
        .details
        .iter()
        .map(|d| d.type_url.clone())
        .collect();
    assert!(
        details.iter().any(|t| t.ends_with("google.rpc.RetryInfo")),
        "{details:?}"
    );
    assert_eq!(
        written(&m).await,
        (2, 2),
        "a refused import wrote something"
    );

    // What is left of the budget still imports, and other owners have budgets of their own.
    assert_eq!(imported(import(&m, &me, document(1, 1)).await).len(), 1);
    let someone = m.user(&["candidate"]);
    assert_eq!(
        imported(import(&m, &someone, document(3, 1)).await).len(),
        3
    );
    assert_eq!(written(&m).await, (6, 6));
    m.stop().await;
}
