//! The consistency checker over the company's three projections: drift made behind the
//! service's back in each derived store is found by a check and put right by a repair.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{req, start};
use talentmesh_proto::company::v1 as pb;
use talentmesh_testkit::{assert_one_drift_each_found_and_repaired, in_sync_soon, Projected};

const PROJECTIONS: [&str; 3] = ["companies_search", "companies_graph", "companies_geo"];

#[tokio::test]
async fn drift_in_every_projection_is_found_and_repaired() {
    let t = start().await;
    let owner = t.employer();
    let a = t.create(&owner, "Drift A", "software", "310000").await;
    let b = t.create(&owner, "Drift B", "software", "310000").await;
    t.companies
        .clone()
        .create_office(req(
            pb::CreateOfficeRequest {
                parent: a.name.clone(),
                office: Some(pb::Office {
                    address: "Pudong 1".into(),
                    city_code: "310000".into(),
                    location: Some(pb::GeoPoint {
                        latitude: 31.2304,
                        longitude: 121.4737,
                        system: 0,
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap();
    t.companies
        .clone()
        .create_relation(req(
            pb::CreateRelationRequest {
                parent: a.name.clone(),
                relation: Some(pb::Relation {
                    target: b.name.clone(),
                    kind: pb::RelationKind::Partner as i32,
                    ..Default::default()
                }),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap();
    let admin = t.admin().token;
    assert!(
        in_sync_soon(&t.service.url(), &admin, &PROJECTIONS).await,
        "projections never caught up"
    );

    // Behind the service's back: a search row, a graph node and a geo entry go missing.
    let a_id = a.name.trim_start_matches("companies/").to_string();
    t.env
        .remove_projected(
            &a_id,
            Projected {
                pg_table: "company_search",
                neo4j_label: "Company",
                redis_keyspace: "company:geometa",
            },
        )
        .await;

    assert_one_drift_each_found_and_repaired(&t.service.url(), &admin, &PROJECTIONS).await;
    // The repaired graph has the relation again.
    let network = t
        .companies
        .clone()
        .get_company_network(tonic::Request::new(pb::GetCompanyNetworkRequest {
            name: a.name.clone(),
            depth: 1,
            include_derived: false,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(network.nodes.len(), 2);
    t.stop().await;
}
