//! Company text as people type it: search finds names across full-width and half-width forms,
//! traditional and simplified characters and single characters; and control characters are
//! refused at the boundary with the field named, so no company is accepted that its search
//! projection could not hold.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{fails, req, start};
use talentmesh_mesh::error::field_violations_of;
use talentmesh_proto::company::v1 as pb;
use talentmesh_testkit::eventually;
use tonic::Code;

const PATIENCE: Duration = Duration::from_secs(20);

#[tokio::test]
async fn full_width_traditional_and_one_character_queries_find_companies() {
    let t = start().await;
    let owner = t.employer();
    t.create(&owner, "广州数据服务有限公司", "software", "440100")
        .await;
    t.create(&owner, "臺灣資訊網路", "software", "440300").await;
    t.create(&owner, "ＡＣＭＥ Robotics", "software", "440300")
        .await;
    let list = |query: &str| t.list_names(query, "", "");
    assert!(
        eventually(PATIENCE, || async { list("").await.len() == 3 }).await,
        "three companies indexed"
    );
    let cases: [(&str, &[&str]); 10] = [
        // Full-width and upper case find half-width text, and the other way round.
        ("acme", &["ＡＣＭＥ Robotics"]),
        ("Ａｃｍｅ", &["ＡＣＭＥ Robotics"]),
        ("ＲＯＢＯＴＩＣＳ", &["ＡＣＭＥ Robotics"]),
        // Traditional finds simplified, and simplified finds traditional.
        ("廣州數據", &["广州数据服务有限公司"]),
        ("资讯网路", &["臺灣資訊網路"]),
        // One character is a query too.
        ("数", &["广州数据服务有限公司"]),
        ("網", &["臺灣資訊網路"]),
        ("讯", &["臺灣資訊網路"]),
        // Every word must occur.
        ("有限公司 广州", &["广州数据服务有限公司"]),
        ("广州 資訊", &[]),
    ];
    for (q, want) in cases {
        assert_eq!(list(q).await, want, "query {q:?}");
    }
    t.stop().await;
}

fn company(display_name: &str, description: &str) -> pb::Company {
    pb::Company {
        display_name: display_name.into(),
        description: description.into(),
        industry: "software".into(),
        city_code: "440300".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn control_characters_are_refused_with_the_field_named() {
    let t = start().await;
    let owner = t.employer();
    let create = |c: pb::Company| {
        let mut client = t.companies.clone();
        let r = req(
            pb::CreateCompanyRequest {
                company: Some(c),
                ..Default::default()
            },
            &owner,
        );
        async move { client.create_company(r).await }
    };
    for (c, field) in [
        (company("星河\u{0}科技", ""), "company.display_name"),
        (company("星河\t科技", ""), "company.display_name"),
        (company("星河\n科技", ""), "company.display_name"),
        (
            company("星河科技", "nul \u{0} inside"),
            "company.description",
        ),
        (company("星河科技", "bell \u{7}"), "company.description"),
    ] {
        let bad = fails(create(c).await, Code::InvalidArgument);
        let fields: Vec<String> = field_violations_of(&bad)
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, [field]);
    }
    // Line breaks and tabs are text in a description.
    let kept = create(company("星河科技", "我们：\n\t- 做招聘\r\n\t- 做搜索"))
        .await
        .expect("a multi-line description is accepted")
        .into_inner()
        .company
        .unwrap();
    assert_eq!(kept.description, "我们：\n\t- 做招聘\r\n\t- 做搜索");
    // Updates are held to the same rule, and a search query too.
    let bad = fails(
        t.companies
            .clone()
            .update_company(req(
                pb::UpdateCompanyRequest {
                    company: Some(pb::Company {
                        name: kept.name.clone(),
                        display_name: "new\u{0}name".into(),
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["display_name".into()],
                    }),
                    expected_version: 0,
                },
                &owner,
            ))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(field_violations_of(&bad)[0].field, "company.display_name");
    let bad = fails(
        t.companies
            .clone()
            .list_companies(tonic::Request::new(pb::ListCompaniesRequest {
                query: "星河\u{0}".into(),
                ..Default::default()
            }))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(field_violations_of(&bad)[0].field, "query");
    t.stop().await;
}
