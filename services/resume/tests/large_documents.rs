//! Resumes at the size limit: their versions, the resumes themselves and the export come in
//! pages cut to the mesh's message size limit (`TALENTMESH_GRPC_MAX_MESSAGE`; each export page
//! also to the import limit, so it imports on its own), and a message over that limit is
//! refused with RESOURCE_EXHAUSTED rather than failing to decode deep inside tonic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{req, resume, start_with, ym, User};
use talentmesh_proto::resume::v1 as pb;
use talentmesh_proto::resume::v1::resume_service_client::ResumeServiceClient;
use talentmesh_proto::MessageLimits as _;
use tonic::transport::Channel;

/// The smallest message limit a deployment may set (4 MiB): two versions of a resume at the
/// size limit fit in one message, three do not.
const LIMIT: usize = 4 * 1024 * 1024;

/// A resume with every text at its length limit and every list at its count limit, in
/// three-byte characters: about 1.6 MB encoded.
fn at_the_size_limit(mark: char) -> pb::Resume {
    let text = |n: usize| std::iter::repeat_n(mark, n).collect::<String>();
    let mut r = resume();
    r.title = text(100);
    r.full_name = text(200);
    r.headline = text(200);
    r.summary = text(5_000);
    r.education = (0..20)
        .map(|_| pb::Education {
            school: text(200),
            start: ym(2010, 9),
            end: ym(2014, 6),
            ..Default::default()
        })
        .collect();
    r.experience = (0..50)
        .map(|_| pb::Experience {
            company: text(200),
            title: "Engineer".into(),
            start: ym(2015, 1),
            end: ym(2016, 1),
            description: text(5_000),
            skills: vec![],
        })
        .collect();
    r.projects = (0..50)
        .map(|i| pb::Project {
            name: format!("p{i}"),
            description: text(5_000),
        })
        .collect();
    r.skills = (0..100)
        .map(|i| pb::Skill {
            name: format!("skill{i:03}{}", text(30)),
            level: 3,
            years: 2.0,
        })
        .collect();
    r
}

/// A client of `mesh`'s resume service that reads and writes messages up to `limit`.
async fn client(mesh: &common::Mesh, limit: usize) -> ResumeServiceClient<Channel> {
    let channel = Channel::from_shared(mesh.resume.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    ResumeServiceClient::new(channel).limit_messages(limit)
}

/// Creates a resume at the size limit and saves it five more times: six versions.
async fn six_versions(c: &mut ResumeServiceClient<Channel>, me: &User) -> String {
    let created = c
        .create_resume(req(
            pb::CreateResumeRequest {
                resume: Some(at_the_size_limit('简')),
                ..Default::default()
            },
            me,
        ))
        .await
        .unwrap()
        .into_inner()
        .resume
        .unwrap();
    for mark in ['历', '后', '端', '工', '程'] {
        let mut next = at_the_size_limit(mark);
        next.name = created.name.clone();
        c.update_resume(req(
            pb::UpdateResumeRequest {
                resume: Some(next),
                expected_version: 0,
            },
            me,
        ))
        .await
        .unwrap();
    }
    created.name
}

/// Every version of `name`, following next_page_token; the pages' lengths.
async fn walk(
    c: &mut ResumeServiceClient<Channel>,
    me: &User,
    name: &str,
    page_size: i32,
) -> (Vec<i64>, Vec<usize>) {
    let (mut versions, mut pages, mut token) = (Vec::new(), Vec::new(), String::new());
    loop {
        let page = c
            .list_resume_versions(req(
                pb::ListResumeVersionsRequest {
                    name: name.to_string(),
                    page_size,
                    page_token: token.clone(),
                },
                me,
            ))
            .await
            .expect("a page of versions")
            .into_inner();
        pages.push(page.versions.len());
        versions.extend(page.versions.iter().map(|v| v.version));
        assert!(pages.len() <= 6, "the walk does not end: {pages:?}");
        if page.next_page_token.is_empty() {
            return (versions, pages);
        }
        token = page.next_page_token;
    }
}

#[tokio::test]
async fn six_saves_at_the_size_limit_list_in_pages_under_the_message_limit() {
    let limit = LIMIT.to_string();
    let mesh = start_with(&[("TALENTMESH_GRPC_MAX_MESSAGE", &limit)]).await;
    let me = mesh.user(&["candidate"]);
    let mut c = client(&mesh, LIMIT).await;
    let name = six_versions(&mut c, &me).await;

    // Default page size: the page is cut by bytes, every version still comes, once, in order.
    let (versions, pages) = walk(&mut c, &me, &name, 0).await;
    assert_eq!(versions, [6, 5, 4, 3, 2, 1]);
    assert!(
        pages.len() >= 3 && pages.iter().all(|n| *n >= 1),
        "{pages:?}"
    );
    // A page size smaller than what fits is kept.
    let (versions, pages) = walk(&mut c, &me, &name, 1).await;
    assert_eq!(versions, [6, 5, 4, 3, 2, 1]);
    assert_eq!(pages, [1, 1, 1, 1, 1, 1]);

    // A token of another resume's history is refused on page_token.
    let other = mesh.create(&me, resume()).await;
    let first = c
        .list_resume_versions(req(
            pb::ListResumeVersionsRequest {
                name: name.clone(),
                page_size: 1,
                ..Default::default()
            },
            &me,
        ))
        .await
        .unwrap()
        .into_inner();
    let err = c
        .list_resume_versions(req(
            pb::ListResumeVersionsRequest {
                name: other.name,
                page_size: 1,
                page_token: first.next_page_token,
            },
            &me,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
    mesh.stop().await;
}

#[tokio::test]
async fn a_request_over_the_message_limit_is_resource_exhausted() {
    let limit = LIMIT.to_string();
    let mesh = start_with(&[("TALENTMESH_GRPC_MAX_MESSAGE", &limit)]).await;
    let me = mesh.user(&["candidate"]);
    // A client that would send anything: the server's limit is the one that answers.
    let mut c = client(&mesh, 64 * 1024 * 1024).await;
    let document = "x".repeat(LIMIT + 1);
    let err = c
        .import_resumes(req(pb::ImportResumesRequest { document }, &me))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
    assert!(
        err.message().contains("TALENTMESH_GRPC_MAX_MESSAGE"),
        "{}",
        err.message()
    );
    // The connection and the service are fine afterwards.
    mesh.create(&me, resume()).await;
    mesh.stop().await;
}

#[tokio::test]
async fn the_export_of_resumes_at_the_size_limit_imports_again() {
    let mesh = start_with(&[]).await;
    let me = mesh.user(&["candidate"]);
    let mut c = client(&mesh, talentmesh_mesh::limits::DEFAULT_MAX_MESSAGE).await;
    six_versions(&mut c, &me).await;
    let document = c
        .export_resumes(req(pb::ExportResumesRequest::default(), &me))
        .await
        .unwrap()
        .into_inner()
        .document;
    assert!(document.len() > 2 * 1024 * 1024, "{}", document.len());
    let imported = c
        .import_resumes(req(pb::ImportResumesRequest { document }, &me))
        .await
        .expect("the export imports again")
        .into_inner()
        .resumes;
    // The import saves the newest of the six versions, once.
    assert_eq!(imported.len(), 1);
    let newest = std::iter::repeat_n('程', 100).collect::<String>();
    assert_eq!((&imported[0].title, imported[0].version), (&newest, 1));
    mesh.stop().await;
}

/// Creates a resume at the size limit for each of `marks`, in order; their names.
async fn at_the_size_limit_each(
    c: &mut ResumeServiceClient<Channel>,
    me: &User,
    marks: &[char],
) -> Vec<String> {
    let mut names = Vec::new();
    for mark in marks {
        let created = c
            .create_resume(req(
                pb::CreateResumeRequest {
                    resume: Some(at_the_size_limit(*mark)),
                    ..Default::default()
                },
                me,
            ))
            .await
            .unwrap()
            .into_inner()
            .resume
            .unwrap();
        names.push(created.name);
    }
    names
}

#[tokio::test]
async fn resumes_at_the_size_limit_list_in_pages_under_the_message_limit() {
    let limit = LIMIT.to_string();
    let mesh = start_with(&[("TALENTMESH_GRPC_MAX_MESSAGE", &limit)]).await;
    let me = mesh.user(&["candidate"]);
    let mut c = client(&mesh, LIMIT).await;
    let created = at_the_size_limit_each(&mut c, &me, &['简', '历', '后', '端']).await;

    // Default page size (20): the pages are cut by bytes, every resume comes once, in order.
    let (mut names, mut pages, mut token) = (Vec::new(), Vec::new(), String::new());
    loop {
        let page = c
            .list_resumes(req(
                pb::ListResumesRequest {
                    page_size: 0,
                    page_token: token.clone(),
                },
                &me,
            ))
            .await
            .expect("a page of resumes")
            .into_inner();
        pages.push(page.resumes.len());
        names.extend(page.resumes.into_iter().map(|r| r.name));
        assert!(pages.len() <= 4, "the walk does not end: {pages:?}");
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(names, created);
    assert!(
        pages.len() >= 2 && pages.iter().all(|n| *n >= 1),
        "{pages:?}"
    );
    mesh.stop().await;
}

#[tokio::test]
async fn an_export_over_one_page_comes_in_pages_that_each_import_back() {
    let limit = LIMIT.to_string();
    let mesh = start_with(&[("TALENTMESH_GRPC_MAX_MESSAGE", &limit)]).await;
    let me = mesh.user(&["candidate"]);
    let mut c = client(&mesh, LIMIT).await;
    // Three versions of the first resume do not fit in one message; two do.
    let names = at_the_size_limit_each(&mut c, &me, &['简', '历', '后']).await;
    for mark in ['端', '工'] {
        let mut next = at_the_size_limit(mark);
        next.name = names[0].clone();
        c.update_resume(req(
            pb::UpdateResumeRequest {
                resume: Some(next),
                expected_version: 0,
            },
            &me,
        ))
        .await
        .unwrap();
    }

    // Every page is a document under both limits; another account imports each on its own.
    let other = mesh.user(&["candidate"]);
    let (mut imported, mut pages, mut token) = (Vec::new(), Vec::new(), String::new());
    let mut carried = Vec::new();
    loop {
        let page = c
            .export_resumes(req(
                pb::ExportResumesRequest {
                    page_size: 0,
                    page_token: token.clone(),
                },
                &me,
            ))
            .await
            .expect("a page of the export")
            .into_inner();
        assert!(page.document.len() < LIMIT, "{}", page.document.len());
        let doc: serde_json::Value = serde_json::from_str(&page.document).unwrap();
        let resumes = doc["resumes"].as_array().unwrap();
        pages.push(resumes.len());
        carried.extend(
            resumes
                .iter()
                .map(|r| r["versions"].as_array().unwrap().len()),
        );
        let back = c
            .import_resumes(req(
                pb::ImportResumesRequest {
                    document: page.document,
                },
                &other,
            ))
            .await
            .expect("each page imports on its own")
            .into_inner()
            .resumes;
        imported.extend(back.into_iter().map(|r| (r.title, r.version)));
        assert!(pages.len() <= 3, "the export does not end: {pages:?}");
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(pages, [1, 2]);
    let title = |mark: char| std::iter::repeat_n(mark, 100).collect::<String>();
    // The first resume comes with the newest versions that fit a page; each is imported once,
    // in order, as its newest version.
    assert_eq!(carried, [2, 1, 1]);
    assert_eq!(
        imported,
        [(title('工'), 1), (title('历'), 1), (title('后'), 1)]
    );
    mesh.stop().await;
}
