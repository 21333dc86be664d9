//! Resumes over raw gRPC with the company service beside them (company membership decides what
//! a company may read), on the real stores.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use talentmesh_mesh::error::field_violations_of;
use talentmesh_mesh::MeshChannel;
use talentmesh_proto::company::v1 as cpb;
use talentmesh_proto::company::v1::company_service_client::CompanyServiceClient;
use talentmesh_proto::resume::v1 as pb;
use talentmesh_proto::resume::v1::resume_service_client::ResumeServiceClient;
use talentmesh_testkit::{Spawned, TestEnv, TestKeys};
use tonic::transport::Channel;
use tonic::Code;

struct Mesh {
    company: Spawned,
    resume: Spawned,
    _company_env: TestEnv,
    resume_env: TestEnv,
    keys: Arc<TestKeys>,
    companies: CompanyServiceClient<Channel>,
    resumes: ResumeServiceClient<Channel>,
}

async fn start() -> Mesh {
    let keys = TestKeys::new();
    let company_env = TestEnv::new("company").set("TALENTMESH_COMPANY_CHECK_EVERY", "0s");
    let config = talentmesh_company::Config::load(company_env.env()).unwrap();
    let mesh = config.mesh.clone();
    let verifier = keys.verifier();
    let company = Spawned::service(&mesh, move |l| {
        talentmesh_company::run(config, l.with_verifier(verifier))
    })
    .await;
    let resume_env = TestEnv::new("resume")
        .set("TALENTMESH_RESUME_CHECK_EVERY", "0s")
        .set(
            "TALENTMESH_RESUME_SHARED_GRAPH_NAMESPACE",
            company_env.neo4j_namespace.clone(),
        );
    let config = talentmesh_resume::Config::load(resume_env.env()).unwrap();
    let mesh = config.mesh.clone();
    let verifier = keys.verifier();
    let channel = MeshChannel::fixed("company", &[company.url()], Duration::from_secs(5));
    let resume = Spawned::service(&mesh, move |l| {
        talentmesh_resume::run(
            config,
            l.with_verifier(verifier).with_upstream("company", channel),
        )
    })
    .await;
    let c = Channel::from_shared(company.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let r = Channel::from_shared(resume.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    Mesh {
        companies: CompanyServiceClient::new(c),
        resumes: ResumeServiceClient::new(r),
        company,
        resume,
        _company_env: company_env,
        resume_env,
        keys,
    }
}

struct User {
    id: String,
    token: String,
}

impl Mesh {
    fn user(&self, roles: &[&str]) -> User {
        let id = format!("u{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        User {
            token: self.keys.token(&id, roles),
            id,
        }
    }

    /// Saves `resume` as a new version as `who` (0: whatever the current version is); the
    /// service's answer.
    async fn update(&self, who: &User, resume: pb::Resume, expected_version: i64) -> pb::Resume {
        self.resumes
            .clone()
            .update_resume(req(
                pb::UpdateResumeRequest {
                    resume: Some(resume),
                    expected_version,
                },
                who,
            ))
            .await
            .unwrap()
            .into_inner()
            .resume
            .unwrap()
    }

    /// Creates `resume` as `who`; the service's answer.
    async fn create(&self, who: &User, resume: pb::Resume) -> pb::Resume {
        self.resumes
            .clone()
            .create_resume(req(
                pb::CreateResumeRequest {
                    resume: Some(resume),
                },
                who,
            ))
            .await
            .unwrap()
            .into_inner()
            .resume
            .unwrap()
    }

    async fn stop(self) {
        self.resume.stop().await;
        self.company.stop().await;
    }
}

fn req<T>(msg: T, who: &User) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", who.token).parse().unwrap(),
    );
    r
}

use talentmesh_testkit::fails;

fn ym(year: i32, month: i32) -> Option<pb::YearMonth> {
    Some(pb::YearMonth { year, month })
}

fn resume() -> pb::Resume {
    pb::Resume {
        title: "后端工程师简历".into(),
        full_name: "韩梅梅".into(),
        headline: "Backend engineer".into(),
        contact: Some(pb::Contact {
            email: "mei@example.com".into(),
            phone: "13800000000".into(),
        }),
        experience: vec![pb::Experience {
            company: "Acme".into(),
            title: "Engineer".into(),
            start: ym(2019, 3),
            end: ym(2023, 3),
            description: "用Golang和k8s写微服务, some JS".into(),
            skills: vec![],
        }],
        skills: vec![pb::Skill {
            name: "Golang".into(),
            level: 4,
            years: 2.0,
        }],
        summary: "Likes Rust.".into(),
        ..Default::default()
    }
}

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
    let graph = neo4rs::Graph::new(talentmesh_testkit::NEO4J_URI, "neo4j", "talentmesh")
        .await
        .unwrap();
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
            },
            &other,
        ))
        .await,
        Code::NotFound,
    );
    m.stop().await;
}

#[tokio::test]
async fn companies_see_only_what_the_owner_opened_to_them_and_never_the_contact() {
    let m = start().await;
    let me = m.user(&["candidate"]);
    let boss = m.user(&["employer"]);
    let rival = m.user(&["employer"]);
    let mk = |name: &str, who: &User| {
        let mut cl = m.companies.clone();
        let r = req(
            cpb::CreateCompanyRequest {
                company: Some(cpb::Company {
                    display_name: name.into(),
                    ..Default::default()
                }),
            },
            who,
        );
        async move {
            cl.create_company(r)
                .await
                .unwrap()
                .into_inner()
                .company
                .unwrap()
                .name
        }
    };
    let acme = mk("Acme", &boss).await;
    let other = mk("Other", &rival).await;
    let r = m
        .create(
            &me,
            pb::Resume {
                visibility: pb::Visibility::Shared as i32,
                shared_with: vec![acme.clone()],
                ..resume()
            },
        )
        .await;
    let read = |who: &User, company: &str| {
        let mut cl = m.resumes.clone();
        let q = req(
            pb::GetResumeRequest {
                name: r.name.clone(),
                as_company: company.into(),
            },
            who,
        );
        async move { cl.get_resume(q).await }
    };
    let seen = read(&boss, &acme)
        .await
        .unwrap()
        .into_inner()
        .resume
        .unwrap();
    assert!(seen.contact.is_none(), "contact details before screening");
    assert_eq!(seen.full_name, "韩梅梅");
    // Not shared with Other; and nobody reads as a company they are not in.
    fails(read(&rival, &other).await, Code::NotFound);
    fails(read(&rival, &acme).await, Code::NotFound);
    fails(read(&boss, "").await, Code::NotFound);
    // The owner sees everything.
    let own = read(&me, "").await.unwrap().into_inner().resume.unwrap();
    assert_eq!(own.contact.unwrap().phone, "13800000000");
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
        .export_resumes(req(pb::ExportResumesRequest {}, &me))
        .await
        .unwrap()
        .into_inner()
        .document;
    assert!(doc.contains("\"fullName\":\"韩梅梅\""), "{doc}");

    // Into another account: same content, new names, both versions.
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
    assert_eq!((imported[0].title.as_str(), imported[0].version), ("v2", 2));
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
async fn reads_take_the_cache_only_when_it_holds_the_current_version() {
    use prost::Message;
    let m = start().await;
    let me = m.user(&["candidate"]);
    let mut c = m.resumes.clone();
    let created = m.create(&me, resume()).await;
    let id = created.name.trim_start_matches("resumes/").to_string();
    let key = format!("{}resumecache:{id}", m.resume_env.redis_prefix);
    let mut redis = m.resume_env.redis().await;
    let cached_version = |redis: &redis::aio::MultiplexedConnection| {
        let key = key.clone();
        let mut redis = redis.clone();
        async move {
            redis::cmd("HGET")
                .arg(&key)
                .arg("_v")
                .query_async::<Option<i64>>(&mut redis)
                .await
                .unwrap()
        }
    };
    assert!(
        talentmesh_testkit::eventually(Duration::from_secs(20), || async {
            cached_version(&redis).await == Some(1)
        })
        .await,
        "version 1 never reached the cache"
    );
    // What the cache holds is what a read returns while it is the current version: planted
    // content shows through.
    let planted = pb::Resume {
        title: "from the cache".into(),
        ..created.clone()
    };
    let encoded = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        planted.encode_to_vec(),
    );
    redis::cmd("HSET")
        .arg(&key)
        .arg("resume")
        .arg(encoded)
        .query_async::<()>(&mut redis)
        .await
        .unwrap();
    let get = |c: &mut ResumeServiceClient<Channel>| {
        let mut c = c.clone();
        let name = created.name.clone();
        let token = me.token.clone();
        async move {
            let mut r = tonic::Request::new(pb::GetResumeRequest {
                name,
                ..Default::default()
            });
            r.metadata_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
            c.get_resume(r).await.unwrap().into_inner().resume.unwrap()
        }
    };
    assert_eq!(get(&mut c).await.title, "from the cache");
    // A save makes the cached version stale: the owner reads the save at once, from MySQL.
    let saved = m
        .update(
            &me,
            pb::Resume {
                name: created.name.clone(),
                title: "第二版".into(),
                ..resume()
            },
            1,
        )
        .await;
    let read = get(&mut c).await;
    assert_eq!((read.version, read.title.as_str()), (2, "第二版"));
    assert_eq!(read, saved);
    assert!(
        talentmesh_testkit::eventually(Duration::from_secs(20), || async {
            cached_version(&redis).await == Some(2)
        })
        .await,
        "version 2 never reached the cache"
    );
    assert_eq!(get(&mut c).await, saved);
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
