//! Reading a resume: companies see only what the owner opened to them and never the contact
//! details (company membership comes from the company service beside the resume service), and
//! reads take the Redis cache only while it holds the current version.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{req, resume, start, User};
use talentmesh_proto::company::v1 as cpb;
use talentmesh_proto::resume::v1 as pb;
use talentmesh_proto::resume::v1::resume_service_client::ResumeServiceClient;
use talentmesh_testkit::fails;
use tonic::transport::Channel;
use tonic::Code;

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
                ..Default::default()
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
