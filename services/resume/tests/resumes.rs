//! Resumes over raw gRPC with the company service beside them, on the real stores: a
//! candidate's saves are validated, versioned, analysed, projected to the graph and restorable;
//! export and import move everything or nothing; a candidate lists their own resumes in pages.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{req, resume, start, ym};
use talentmesh_mesh::error::field_violations_of;
use talentmesh_proto::resume::v1 as pb;
use talentmesh_testkit::fails;
use tonic::Code;

#[tokio::test]
async fn saves_are_versioned_analysed_and_restorable() {
    let m = start().await;
    let me = m.user(&["candidate"]);
    let mut c = m.resumes.clone();
    let created = m
        .create(
            &me,
            pb::Resume {
                version: 7,
                owner: "users/x".into(),
                ..resume()
            },
        )
        .await;
    assert_eq!(
        (created.version, created.owner.as_str()),
        (1, format!("users/{}", me.id).as_str())
    );
    assert_eq!(created.visibility, pb::Visibility::Private as i32);
    let a = created.analysis.clone().unwrap();
    assert_eq!(a.total_years, 4.0);
    assert_eq!(a.seniority, "mid");
    let skills: Vec<(&str, bool, f64)> = a
        .skills
        .iter()
        .map(|s| (s.name.as_str(), s.declared, s.years))
        .collect();
    assert!(skills.contains(&("go", true, 4.0)), "{skills:?}");
    assert!(skills.contains(&("kubernetes", false, 4.0)), "{skills:?}");
    assert!(skills.contains(&("javascript", false, 4.0)), "{skills:?}");
    assert!(skills.contains(&("rust", false, 0.0)), "{skills:?}");
    assert!(a.missing.contains(&"education".to_string()));

    // Only candidates keep resumes; bad content names its fields and writes nothing.
    let employer = m.user(&["employer"]);
    fails(
        c.create_resume(req(
            pb::CreateResumeRequest {
                resume: Some(resume()),
                ..Default::default()
            },
            &employer,
        ))
        .await,
        Code::PermissionDenied,
    );
    let mut bad = resume();
    bad.experience[0].end = ym(2018, 1);
    bad.summary = "字".repeat(5001);
    bad.skills = (0..101)
        .map(|i| pb::Skill {
            name: format!("s{i}"),
            level: 1,
            years: 1.0,
        })
        .collect();
    let s = fails(
        c.update_resume(req(
            pb::UpdateResumeRequest {
                resume: Some(pb::Resume {
                    name: created.name.clone(),
                    ..bad
                }),
                expected_version: 0,
            },
            &me,
        ))
        .await,
        Code::InvalidArgument,
    );
    let fields: Vec<String> = field_violations_of(&s)
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(
        fields,
        [
            "resume.summary",
            "resume.skills",
            "resume.experience[0].end"
        ]
    );

    // Two saves, then the first restored as the newest.
    let mut second = resume();
    second.name = created.name.clone();
    second.title = "第二版".into();
    let v2 = m.update(&me, second, 1).await;
    assert_eq!(v2.version, 2);
    fails(
        c.update_resume(req(
            pb::UpdateResumeRequest {
                resume: Some(pb::Resume {
                    name: created.name.clone(),
                    ..resume()
                }),
                expected_version: 1,
            },
            &me,
        ))
        .await,
        Code::Aborted,
    );
    let restored = c
        .restore_resume_version(req(
            pb::RestoreResumeVersionRequest {
                name: created.name.clone(),
                version: 1,
            },
            &me,
        ))
        .await
        .unwrap()
        .into_inner()
        .resume
        .unwrap();
    assert_eq!(
        (restored.version, restored.title.as_str()),
        (3, "后端工程师简历")
    );
    let versions = c
        .list_resume_versions(req(
            pb::ListResumeVersionsRequest {
                name: created.name.clone(),
                ..Default::default()
            },
            &me,
        ))
        .await
        .unwrap()
        .into_inner()
        .versions;
    let titles: Vec<(i64, String)> = versions
        .iter()
        .map(|v| (v.version, v.resume.clone().unwrap().title))
        .collect();
    assert_eq!(
        titles,
        [
            (3, "后端工程师简历".to_string()),
            (2, "第二版".to_string()),
            (1, "后端工程师简历".to_string())
        ]
    );

    // The graph: the candidate owns the resume, which has the skills with their years.
    let graph = talentmesh_testkit::neo4j_graph().await;
    let ns = m._company_env.neo4j_namespace.clone();
    let owner = me.id.clone();
    let skills = talentmesh_testkit::eventually_value(Duration::from_secs(20), || {
        let (graph, ns, owner) = (graph.clone(), ns.clone(), owner.clone());
        async move {
            let mut rows = graph
                .execute(
                    neo4rs::query(
                        "MATCH (:Candidate {ns: $ns, id: $owner})-[:OWNS]->(r:Resume)-[h:HAS_SKILL]->(s:Skill {ns: $ns}) \
                         WHERE r.version = 3 RETURN s.name AS name, h.years AS years ORDER BY name",
                    )
                    .param("ns", ns)
                    .param("owner", owner),
                )
                .await
                .ok()?;
            let mut out = Vec::new();
            while let Ok(Some(row)) = rows.next().await {
                out.push((row.get::<String>("name").ok()?, row.get::<f64>("years").ok()?));
            }
            (!out.is_empty()).then_some(out)
        }
    })
    .await
    .expect("skills in the graph");
    assert!(skills.contains(&("go".to_string(), 4.0)), "{skills:?}");
    assert!(
        skills.contains(&("kubernetes".to_string(), 4.0)),
        "{skills:?}"
    );

    // Someone else's resume looks missing.
    let other = m.user(&["candidate"]);
    fails(
        c.get_resume(req(
            pb::GetResumeRequest {
                name: created.name.clone(),
                as_company: String::new(),
            },
            &other,
        ))
        .await,
        Code::NotFound,
    );
    fails(
        c.list_resume_versions(req(
            pb::ListResumeVersionsRequest {
                name: created.name.clone(),
                ..Default::default()
            },
            &other,
        ))
        .await,
        Code::NotFound,
    );
    m.stop().await;
}

#[tokio::test]
async fn export_and_import_move_everything_or_nothing() {
    let m = start().await;
    let me = m.user(&["candidate"]);
    let mut c = m.resumes.clone();
    let first = m.create(&me, resume()).await;
    let mut v2 = resume();
    v2.name = first.name.clone();
    v2.title = "v2".into();
    m.update(&me, v2, 0).await;
    let doc = c
        .export_resumes(req(pb::ExportResumesRequest::default(), &me))
        .await
        .unwrap()
        .into_inner()
        .document;
    assert!(doc.contains("\"fullName\":\"韩梅梅\""), "{doc}");

    // Into another account: same content, new names; the newest version, saved once.
    let other = m.user(&["candidate"]);
    let imported = c
        .import_resumes(req(
            pb::ImportResumesRequest {
                document: doc.clone(),
            },
            &other,
        ))
        .await
        .unwrap()
        .into_inner()
        .resumes;
    assert_eq!(imported.len(), 1);
    assert_ne!(imported[0].name, first.name);
    assert_eq!((imported[0].title.as_str(), imported[0].version), ("v2", 1));
    assert_eq!(imported[0].owner, format!("users/{}", other.id));

    // Malformed or oversized: refused whole with the reasons, nothing written.
    let pool = m.resume_env.mysql().await;
    let before =
        talentmesh_testkit::scalar_i64(&pool, "SELECT COUNT(*) FROM resume_versions").await;
    let broken = doc.replacen("\"title\":\"v2\"", "\"title\":\"\"", 1);
    let s = fails(
        c.import_resumes(req(pb::ImportResumesRequest { document: broken }, &other))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(
        field_violations_of(&s)[0].field,
        "document.resumes[0].versions[1].title"
    );
    fails(
        c.import_resumes(req(
            pb::ImportResumesRequest {
                document: "{\"format\":1}".into(),
            },
            &other,
        ))
        .await,
        Code::InvalidArgument,
    );
    let after = talentmesh_testkit::scalar_i64(&pool, "SELECT COUNT(*) FROM resume_versions").await;
    assert_eq!(before, after, "a refused import wrote something");
    m.stop().await;
}

#[tokio::test]
async fn a_candidate_lists_their_resumes_in_pages() {
    let m = start().await;
    let me = m.user(&["candidate"]);
    let someone = m.user(&["candidate"]);
    let mut c = m.resumes.clone();
    let mut mine = Vec::new();
    for (who, title) in [(&me, "一"), (&someone, "theirs"), (&me, "二"), (&me, "三")] {
        let r = m
            .create(
                who,
                pb::Resume {
                    title: title.into(),
                    ..Default::default()
                },
            )
            .await;
        if std::ptr::eq(who, &me) {
            mine.push(r.title);
        }
    }
    let list = |token: String| {
        let mut c = m.resumes.clone();
        let r = req(
            pb::ListResumesRequest {
                page_size: 2,
                page_token: token,
            },
            &me,
        );
        async move { c.list_resumes(r).await.unwrap().into_inner() }
    };
    let first = list(String::new()).await;
    assert!(!first.next_page_token.is_empty());
    let second = list(first.next_page_token.clone()).await;
    assert!(second.next_page_token.is_empty());
    let titles: Vec<String> = first
        .resumes
        .into_iter()
        .chain(second.resumes)
        .map(|r| r.title)
        .collect();
    assert_eq!(titles, mine, "own resumes only, oldest first");
    let s = fails(
        c.list_resumes(req(
            pb::ListResumesRequest {
                page_size: 0,
                page_token: "forged".into(),
            },
            &me,
        ))
        .await,
        Code::InvalidArgument,
    );
    assert_eq!(field_violations_of(&s)[0].field, "page_token");
    m.stop().await;
}

/// Hundreds of broken fields in one request still answer INVALID_ARGUMENT naming them (as many
/// as fit the status header, the rest counted), never a protocol error about header sizes.
#[tokio::test]
async fn a_request_with_hundreds_of_broken_fields_is_invalid_argument() {
    let m = start().await;
    let me = m.user(&["candidate"]);
    let mut r = resume();
    r.experience = (0..400)
        .map(|i| pb::Experience {
            company: format!("X{i}\u{1}"),
            title: "Engineer".into(),
            start: ym(2015, 1),
            end: ym(2016, 1),
            description: String::new(),
            skills: vec![],
        })
        .collect();
    let s = fails(
        m.resumes
            .clone()
            .create_resume(req(
                pb::CreateResumeRequest {
                    resume: Some(r),
                    ..Default::default()
                },
                &me,
            ))
            .await,
        Code::InvalidArgument,
    );
    let violations = field_violations_of(&s);
    assert!(violations.len() > 20, "{}", violations.len());
    assert!(
        violations
            .iter()
            .any(|v| v.field == "resume.experience[0].company"),
        "{violations:?}"
    );
    m.stop().await;
}
