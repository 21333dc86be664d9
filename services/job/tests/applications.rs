//! Applications over raw gRPC with the company and resume services beside the job service:
//! the whole pipeline, who may move it, one open application per candidate and job, the exact
//! resume version kept, and application lists in pages.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::applications::{apply, mv, start};
use common::{req, User};
use talentmesh_mesh::error::field_violations_of;
use talentmesh_proto::job::v1 as pb;
use talentmesh_proto::resume::v1 as rpb;
use talentmesh_testkit::{eventually_value, fails};
use tonic::Code;

#[tokio::test]
async fn a_candidate_applies_and_the_company_moves_the_application_through_the_pipeline() {
    let m = start().await;
    let owner = m.user(&["employer"]);
    let cand = m.user(&["candidate"]);
    let (company, job) = m.posted_job(&owner).await;
    let cv = m.resume(&cand).await;
    let mut apps = m.apps.clone();

    // Someone else's resume, or a second open application, is refused.
    let other = m.user(&["candidate"]);
    let theirs = m.resume(&other).await;
    fails(
        apps.create_application(req(apply(&job, &theirs), &cand))
            .await,
        Code::InvalidArgument,
    );
    let app = apps
        .create_application(req(apply(&job, &cv), &cand))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    assert_eq!(
        app.stage,
        pb::Stage::Applied as i32,
        "client-set stage ignored"
    );
    assert_eq!((app.resume.as_str(), app.resume_version), (cv.as_str(), 1));
    fails(
        apps.create_application(req(apply(&job, &cv), &cand)).await,
        Code::AlreadyExists,
    );

    // The candidate cannot move it; another company cannot see it.
    fails(
        apps.move_application(req(mv(&app.name, pb::Stage::Offer, ""), &cand))
            .await,
        Code::PermissionDenied,
    );
    let rival = m.user(&["employer"]);
    m.posted_job(&rival).await;
    fails(
        apps.get_application(req(
            pb::GetApplicationRequest {
                name: app.name.clone(),
            },
            &rival,
        ))
        .await,
        Code::NotFound,
    );
    fails(
        apps.list_applications(req(
            pb::ListApplicationsRequest {
                parent: job.clone(),
                stage: 0,
                ..Default::default()
            },
            &rival,
        ))
        .await,
        Code::NotFound,
    );

    // The application opens the private resume to the company: the version applied with, and
    // no contact details before screening is passed. (The resume service learns of it from the
    // job service's events.)
    let read_as = |who: &User, as_company: &str| {
        let mut c = m.resumes.clone();
        let r = req(
            rpb::GetResumeRequest {
                name: cv.clone(),
                as_company: as_company.to_string(),
            },
            who,
        );
        async move {
            c.get_resume(r)
                .await
                .map(|r| r.into_inner().resume.unwrap())
        }
    };
    let opened = eventually_value(Duration::from_secs(20), || async {
        read_as(&owner, &company).await.ok()
    })
    .await
    .expect("the application never opened the resume");
    assert_eq!((opened.version, opened.contact.is_none()), (1, true));
    m.resumes
        .clone()
        .update_resume(req(
            rpb::UpdateResumeRequest {
                resume: Some(rpb::Resume {
                    name: cv.clone(),
                    title: "CV v2".into(),
                    ..Default::default()
                }),
                expected_version: 0,
            },
            &cand,
        ))
        .await
        .unwrap();
    let still = read_as(&owner, &company).await.unwrap();
    assert_eq!(
        (still.version, still.title.as_str()),
        (1, "CV"),
        "the company sees the applied version"
    );

    // The company moves it, one step at a time.
    apps.move_application(req(mv(&app.name, pb::Stage::Screening, ""), &owner))
        .await
        .unwrap();
    assert!(read_as(&owner, &company).await.unwrap().contact.is_none());
    fails(
        apps.move_application(req(mv(&app.name, pb::Stage::Hired, ""), &owner))
            .await,
        Code::FailedPrecondition,
    );
    fails(
        apps.move_application(req(mv(&app.name, pb::Stage::Rejected, ""), &owner))
            .await,
        Code::InvalidArgument,
    );
    fails(
        apps.schedule_interview(req(
            pb::ScheduleInterviewRequest {
                name: app.name.clone(),
                interview: Some(pb::Interview {
                    time: Some(prost_types::Timestamp {
                        seconds: 1_900_000_000,
                        nanos: 0,
                    }),
                    place: "Room 1".into(),
                    interviewers: vec![],
                }),
            },
            &owner,
        ))
        .await,
        Code::FailedPrecondition,
    );
    apps.move_application(req(mv(&app.name, pb::Stage::Interview, ""), &owner))
        .await
        .unwrap();
    let contact = eventually_value(Duration::from_secs(20), || async {
        read_as(&owner, &company).await.ok().and_then(|r| r.contact)
    })
    .await;
    assert!(
        contact.is_some(),
        "past screening, the contact details are shown"
    );
    apps.schedule_interview(req(
        pb::ScheduleInterviewRequest {
            name: app.name.clone(),
            interview: Some(pb::Interview {
                time: Some(prost_types::Timestamp {
                    seconds: 1_900_000_000,
                    nanos: 0,
                }),
                place: "https://meet.example.com/x".into(),
                interviewers: vec![format!("users/{}", owner.id)],
            }),
        },
        &owner,
    ))
    .await
    .unwrap();

    // The candidate sees the stage, the interview and who moved it when.
    let mine = apps
        .list_my_applications(req(pb::ListMyApplicationsRequest::default(), &cand))
        .await
        .unwrap()
        .into_inner()
        .applications;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].stage, pb::Stage::Interview as i32);
    assert_eq!(mine[0].interviews[0].place, "https://meet.example.com/x");
    let moves: Vec<(i32, i32, String)> = mine[0]
        .history
        .iter()
        .map(|h| (h.from, h.to, h.actor.clone()))
        .collect();
    assert_eq!(
        moves,
        [
            (0, pb::Stage::Applied as i32, format!("users/{}", cand.id)),
            (
                pb::Stage::Applied as i32,
                pb::Stage::Screening as i32,
                format!("users/{}", owner.id)
            ),
            (
                pb::Stage::Screening as i32,
                pb::Stage::Interview as i32,
                format!("users/{}", owner.id)
            ),
        ]
    );
    let by_stage = apps
        .list_applications(req(
            pb::ListApplicationsRequest {
                parent: job.clone(),
                stage: pb::Stage::Interview as i32,
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .applications;
    assert_eq!(by_stage.len(), 1);
    let none = apps
        .list_applications(req(
            pb::ListApplicationsRequest {
                parent: job.clone(),
                stage: pb::Stage::Offer as i32,
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .applications;
    assert!(none.is_empty());

    // The graph: the candidate APPLIED_TO the job, at the application's current stage.
    let graph = talentmesh_testkit::neo4j_graph().await;
    let ns = m._envs[2].neo4j_namespace.clone();
    let job_id = job.rsplit('/').next().unwrap().to_string();
    let applied = eventually_value(Duration::from_secs(20), || {
        let (graph, ns, cand_id, job_id) = (graph.clone(), ns.clone(), cand.id.clone(), job_id.clone());
        async move {
            let mut rows = graph
                .execute(
                    neo4rs::query(
                        "MATCH (:Candidate {ns: $ns, id: $cand})-[e:APPLIED_TO]->(j:Job {id: $job}) \
                         RETURN e.stage AS stage",
                    )
                    .param("ns", ns)
                    .param("cand", cand_id)
                    .param("job", job_id),
                )
                .await
                .ok()?;
            let row = rows.next().await.ok()??;
            let stage: i64 = row.get("stage").ok()?;
            (stage == pb::Stage::Interview as i64).then_some(stage)
        }
    })
    .await;
    assert!(
        applied.is_some(),
        "APPLIED_TO not projected at the interview stage"
    );

    // Withdrawn, it ends; a new application may follow. A closed job takes none.
    let gone = apps
        .withdraw_application(req(
            pb::WithdrawApplicationRequest {
                name: app.name.clone(),
            },
            &cand,
        ))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    assert_eq!(gone.stage, pb::Stage::Withdrawn as i32);
    fails(
        apps.move_application(req(mv(&app.name, pb::Stage::Offer, ""), &owner))
            .await,
        Code::FailedPrecondition,
    );
    apps.create_application(req(apply(&job, &cv), &cand))
        .await
        .unwrap();
    m.jobs
        .clone()
        .close_job(req(pb::CloseJobRequest { name: job.clone() }, &owner))
        .await
        .unwrap();
    fails(
        apps.create_application(req(apply(&job, &theirs), &other))
            .await,
        Code::FailedPrecondition,
    );
    m.stop().await;
}

#[tokio::test]
async fn a_draft_job_answers_an_applicant_as_one_that_does_not_exist() {
    let m = start().await;
    let owner = m.user(&["employer"]);
    let cand = m.user(&["candidate"]);
    let (company, _) = m.posted_job(&owner).await;
    let cv = m.resume(&cand).await;
    let draft = m.draft_job(&owner, &company, "Stealth project lead").await;
    let missing = format!("{company}/jobs/{}", uuid::Uuid::now_v7());
    let mut apps = m.apps.clone();
    let to_draft = fails(
        apps.create_application(req(apply(&draft, &cv), &cand))
            .await,
        Code::NotFound,
    );
    let to_missing = fails(
        apps.create_application(req(apply(&missing, &cv), &cand))
            .await,
        Code::NotFound,
    );
    assert_eq!(to_draft.message(), to_missing.message());
    m.stop().await;
}

#[tokio::test]
async fn application_lists_come_in_pages() {
    let m = start().await;
    let owner = m.user(&["employer"]);
    let (_, first) = m.posted_job(&owner).await;
    let (_, second) = m.posted_job(&owner).await;
    let (_, third) = m.posted_job(&owner).await;
    let mut apps = m.apps.clone();
    // Five candidates apply to the first job; one of them to all three.
    let mut names = Vec::new();
    let mut keen = None;
    for i in 0..5 {
        let cand = m.user(&["candidate"]);
        let cv = m.resume(&cand).await;
        let jobs: &[&String] = if i == 0 {
            &[&first, &second, &third]
        } else {
            &[&first]
        };
        for job in jobs {
            let a = apps
                .create_application(req(apply(job, &cv), &cand))
                .await
                .unwrap()
                .into_inner()
                .application
                .unwrap();
            if *job == &first {
                names.push(a.name);
            }
        }
        if i == 0 {
            keen = Some(cand);
        }
    }
    let keen = keen.unwrap();

    // The company's list of the first job, oldest first, in pages of two.
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = apps
            .list_applications(req(
                pb::ListApplicationsRequest {
                    parent: first.clone(),
                    page_size: 2,
                    page_token: token.clone(),
                    ..Default::default()
                },
                &owner,
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(page.applications.len() <= 2);
        seen.extend(page.applications.into_iter().map(|a| a.name));
        pages += 1;
        token = page.next_page_token;
        if token.is_empty() || pages > 5 {
            break;
        }
    }
    assert_eq!((seen, pages), (names, 3));

    // The candidate's own, newest first, in pages of two.
    let page = |token: String| {
        let mut apps = m.apps.clone();
        let r = req(
            pb::ListMyApplicationsRequest {
                page_size: 2,
                page_token: token,
            },
            &keen,
        );
        async move { apps.list_my_applications(r).await.unwrap().into_inner() }
    };
    let one = page(String::new()).await;
    let jobs_of = |p: &pb::ListMyApplicationsResponse| -> Vec<String> {
        p.applications
            .iter()
            .map(|a| a.name.split("/applications/").next().unwrap().to_string())
            .collect()
    };
    assert_eq!(jobs_of(&one), [third.clone(), second.clone()]);
    assert!(!one.next_page_token.is_empty());
    let two = page(one.next_page_token.clone()).await;
    assert_eq!(jobs_of(&two), [first]);
    assert!(two.next_page_token.is_empty());

    // Bad paging is named.
    for (size, token, field) in [(201, "", "page_size"), (0, "nonsense", "page_token")] {
        let s = fails(
            apps.list_my_applications(req(
                pb::ListMyApplicationsRequest {
                    page_size: size,
                    page_token: token.into(),
                },
                &keen,
            ))
            .await,
            Code::InvalidArgument,
        );
        assert_eq!(field_violations_of(&s)[0].field, field);
    }
    m.stop().await;
}
