//! What the projections serve: nearby search from the Redis geo index, company search from
//! PostgreSQL, and the network, paths and competitor analysis from Neo4j.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{fails, req, start, User, PATIENCE};
use talentmesh_company::domain::geo::{from_wgs84, Datum, LatLng};
use talentmesh_proto::company::v1 as pb;
use talentmesh_testkit::{eventually, eventually_value};
use tonic::Code;

async fn office(
    t: &common::Running,
    who: &User,
    company: &str,
    lat: f64,
    lng: f64,
    system: pb::CoordinateSystem,
) -> pb::Office {
    t.companies
        .clone()
        .create_office(req(
            pb::CreateOfficeRequest {
                parent: company.into(),
                office: Some(pb::Office {
                    label: "HQ".into(),
                    address: "Somewhere Rd 1".into(),
                    city_code: "440300".into(),
                    location: Some(pb::GeoPoint {
                        latitude: lat,
                        longitude: lng,
                        system: system as i32,
                    }),
                    headquarters: true,
                    ..Default::default()
                }),
                ..Default::default()
            },
            who,
        ))
        .await
        .expect("create office")
        .into_inner()
        .office
        .unwrap()
}

#[tokio::test]
async fn offices_round_trip_between_coordinate_systems_and_nearby_search_ranks_by_distance() {
    let t = start().await;
    let owner = t.employer();
    let admin = t.admin();
    // Three companies in Shenzhen at growing distance from the centre point, one elsewhere.
    let centre = LatLng::new(22.543847, 113.912316);
    let near = t.create(&owner, "Near", "software", "440300").await;
    let mid = t.create(&owner, "Mid", "software", "440300").await;
    let far = t.create(&owner, "Far", "finance", "440300").await;
    let beijing = t.create(&owner, "Beijing", "software", "110000").await;

    // Given in GCJ-02 (as AMap shows it): stored as WGS-84, returned in what is asked for.
    let gcj = from_wgs84(LatLng::new(22.5445, 113.9130), Datum::Gcj02);
    let created = office(
        &t,
        &owner,
        &near.name,
        gcj.lat,
        gcj.lng,
        pb::CoordinateSystem::Gcj02,
    )
    .await;
    let loc = created.location.unwrap();
    assert!((loc.latitude - gcj.lat).abs() < 1e-9 && (loc.longitude - gcj.lng).abs() < 1e-9);
    let listed = t
        .companies
        .clone()
        .list_offices(tonic::Request::new(pb::ListOfficesRequest {
            parent: near.name.clone(),
            coordinate_system: pb::CoordinateSystem::Wgs84 as i32,
        }))
        .await
        .unwrap()
        .into_inner()
        .offices;
    let wgs = listed[0].location.unwrap();
    assert!((wgs.latitude - 22.5445).abs() < 1e-8, "{wgs:?}");
    assert!((wgs.longitude - 113.9130).abs() < 1e-8, "{wgs:?}");
    office(
        &t,
        &owner,
        &mid.name,
        22.5600,
        113.9300,
        pb::CoordinateSystem::Wgs84,
    )
    .await;
    office(
        &t,
        &owner,
        &far.name,
        22.6000,
        113.9900,
        pb::CoordinateSystem::Wgs84,
    )
    .await;
    office(
        &t,
        &owner,
        &beijing.name,
        39.911954,
        116.377817,
        pb::CoordinateSystem::Wgs84,
    )
    .await;

    let search = |industry: &str, verified_only: bool| pb::SearchNearbyCompaniesRequest {
        latitude: centre.lat,
        longitude: centre.lng,
        coordinate_system: pb::CoordinateSystem::Wgs84 as i32,
        radius_km: 20.0,
        industry: industry.into(),
        verified_only,
        limit: 10,
    };
    let names =
        |r: &[pb::NearbyCompany]| r.iter().map(|c| c.display_name.clone()).collect::<Vec<_>>();
    let found = eventually_value(PATIENCE, || async {
        let r = t
            .companies
            .clone()
            .search_nearby_companies(tonic::Request::new(search("", false)))
            .await
            .unwrap()
            .into_inner()
            .companies;
        (r.len() == 3).then_some(r)
    })
    .await
    .expect("three companies within 20 km");
    assert_eq!(names(&found), ["Near", "Mid", "Far"]);
    assert!(found
        .windows(2)
        .all(|w| w[0].distance_km <= w[1].distance_km));
    assert!(found[0].distance_km < 0.5, "{}", found[0].distance_km);
    let software = t
        .companies
        .clone()
        .search_nearby_companies(tonic::Request::new(search("software", false)))
        .await
        .unwrap()
        .into_inner()
        .companies;
    assert_eq!(names(&software), ["Near", "Mid"]);

    // Verified only: none until one is verified.
    let none = t
        .companies
        .clone()
        .search_nearby_companies(tonic::Request::new(search("", true)))
        .await
        .unwrap()
        .into_inner()
        .companies;
    assert!(none.is_empty());
    t.companies
        .clone()
        .submit_verification(req(
            pb::SubmitVerificationRequest {
                name: mid.name.clone(),
                uscc: "914403001922038216".into(),
                legal_name: "Mid Ltd".into(),
                legal_representative: "Li".into(),
                licence_document: "files/l.pdf".into(),
            },
            &owner,
        ))
        .await
        .unwrap();
    t.companies
        .clone()
        .review_verification(req(
            pb::ReviewVerificationRequest {
                name: mid.name.clone(),
                approve: true,
                reason: String::new(),
            },
            &admin,
        ))
        .await
        .unwrap();
    let verified = eventually(PATIENCE, || async {
        let r = t
            .companies
            .clone()
            .search_nearby_companies(tonic::Request::new(search("software", true)))
            .await
            .unwrap()
            .into_inner()
            .companies;
        names(&r) == ["Mid"]
    })
    .await;
    assert!(verified, "verified filter");

    // Results come back in the system asked for (BD-09 here).
    let bd = t
        .companies
        .clone()
        .search_nearby_companies(tonic::Request::new(pb::SearchNearbyCompaniesRequest {
            coordinate_system: pb::CoordinateSystem::Bd09 as i32,
            ..{
                let p = from_wgs84(centre, Datum::Bd09);
                pb::SearchNearbyCompaniesRequest {
                    latitude: p.lat,
                    longitude: p.lng,
                    ..search("", false)
                }
            }
        }))
        .await
        .unwrap()
        .into_inner()
        .companies;
    assert_eq!(names(&bd), ["Near", "Mid", "Far"]);
    let bd_office = bd[0].office.clone().unwrap().location.unwrap();
    let expect = from_wgs84(LatLng::new(22.5445, 113.9130), Datum::Bd09);
    assert!((bd_office.latitude - expect.lat).abs() < 1e-9);
    assert_eq!(bd_office.system, pb::CoordinateSystem::Bd09 as i32);

    // Bad input is named.
    fails(
        t.companies
            .clone()
            .search_nearby_companies(tonic::Request::new(pb::SearchNearbyCompaniesRequest {
                radius_km: 500.0,
                ..search("", false)
            }))
            .await,
        Code::InvalidArgument,
    );

    // A deleted company leaves the index.
    t.companies
        .clone()
        .delete_company(req(
            pb::DeleteCompanyRequest {
                name: near.name.clone(),
            },
            &owner,
        ))
        .await
        .unwrap();
    let left = eventually(PATIENCE, || async {
        let r = t
            .companies
            .clone()
            .search_nearby_companies(tonic::Request::new(search("", false)))
            .await
            .unwrap()
            .into_inner()
            .companies;
        names(&r) == ["Mid", "Far"]
    })
    .await;
    assert!(left, "deleted company still found nearby");
    t.stop().await;
}

#[tokio::test]
async fn search_filters_and_finds_chinese_and_english_names() {
    let t = start().await;
    let owner = t.employer();
    t.create(&owner, "深圳星河科技有限公司", "software", "440300")
        .await;
    t.create(&owner, "Shanghai River Finance", "finance", "310000")
        .await;
    t.create(&owner, "Shenzhen Robotics", "manufacturing", "440300")
        .await;
    let list = |query: &str, industry: &str, city: &str| t.list_names(query, industry, city);
    let all = eventually(PATIENCE, || async { list("", "", "").await.len() == 3 }).await;
    assert!(all, "three companies indexed");
    assert_eq!(list("星河", "", "").await, ["深圳星河科技有限公司"]);
    assert_eq!(list("river", "", "").await, ["Shanghai River Finance"]);
    assert_eq!(
        list("", "", "440300").await,
        ["Shenzhen Robotics", "深圳星河科技有限公司"]
    );
    assert_eq!(
        list("", "manufacturing", "440300").await,
        ["Shenzhen Robotics"]
    );
    assert!(list("100%", "", "").await.is_empty());

    // Paging: one at a time, every company once.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = t
            .companies
            .clone()
            .list_companies(tonic::Request::new(pb::ListCompaniesRequest {
                page_size: 1,
                page_token: token.clone(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.companies.into_iter().map(|c| c.name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen.len(), 3);
    fails(
        t.companies
            .clone()
            .list_companies(tonic::Request::new(pb::ListCompaniesRequest {
                city_code: "abc".into(),
                ..Default::default()
            }))
            .await,
        Code::InvalidArgument,
    );
    t.stop().await;
}

#[tokio::test]
async fn the_network_shows_declared_relations_paths_disputes_and_competitors() {
    let t = start().await;
    let (oa, ob, oc) = (t.employer(), t.employer(), t.employer());
    let a = t.create(&oa, "Alpha", "software", "310000").await;
    let b = t.create(&ob, "Beta", "software", "310000").await;
    let c = t.create(&oc, "Gamma", "software", "110000").await;
    let d = t.create(&oc, "Delta", "finance", "310000").await;
    let relate = |from: &pb::Company, to: &pb::Company, kind: pb::RelationKind, who: &User| {
        let r = pb::CreateRelationRequest {
            parent: from.name.clone(),
            relation: Some(pb::Relation {
                target: to.name.clone(),
                kind: kind as i32,
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut cl = t.companies.clone();
        let req = req(r, who);
        async move { cl.create_relation(req).await }
    };
    relate(&a, &b, pb::RelationKind::Partner, &oa)
        .await
        .unwrap();
    let bc = relate(&b, &c, pb::RelationKind::Competitor, &ob)
        .await
        .unwrap()
        .into_inner()
        .relation
        .unwrap();
    // Someone else cannot declare for A; nor twice the same; nor to itself.
    fails(
        relate(&a, &c, pb::RelationKind::Partner, &ob).await,
        Code::PermissionDenied,
    );
    fails(
        relate(&a, &b, pb::RelationKind::Partner, &oa).await,
        Code::AlreadyExists,
    );
    fails(
        relate(&a, &a, pb::RelationKind::Partner, &oa).await,
        Code::InvalidArgument,
    );

    let network = |name: &str, depth: i32| {
        let mut cl = t.companies.clone();
        let r = pb::GetCompanyNetworkRequest {
            name: name.into(),
            depth,
            include_derived: false,
        };
        async move {
            cl.get_company_network(tonic::Request::new(r))
                .await
                .unwrap()
                .into_inner()
        }
    };
    let two = eventually_value(PATIENCE, || async {
        let n = network(&a.name, 2).await;
        (n.nodes.len() == 3).then_some(n)
    })
    .await
    .expect("network to depth 2");
    let dist: Vec<(String, i32)> = two
        .nodes
        .iter()
        .map(|n| (n.display_name.clone(), n.distance))
        .collect();
    assert_eq!(
        dist,
        [
            ("Alpha".to_string(), 0),
            ("Beta".to_string(), 1),
            ("Gamma".to_string(), 2)
        ]
    );
    assert_eq!(two.edges.len(), 2);
    let one = network(&a.name, 1).await;
    assert_eq!(one.nodes.len(), 2);
    fails(
        t.companies
            .clone()
            .get_company_network(tonic::Request::new(pb::GetCompanyNetworkRequest {
                name: a.name.clone(),
                depth: 9,
                include_derived: false,
            }))
            .await,
        Code::InvalidArgument,
    );

    // Derived: Alpha and Beta share industry and city; Gamma (another city) and Delta (another
    // industry) do not.
    let derived = t
        .companies
        .clone()
        .get_company_network(tonic::Request::new(pb::GetCompanyNetworkRequest {
            name: a.name.clone(),
            depth: 1,
            include_derived: true,
        }))
        .await
        .unwrap()
        .into_inner();
    let kinds: Vec<(String, i32)> = derived
        .edges
        .iter()
        .filter(|e| e.kind == pb::RelationKind::SameIndustryAndCity as i32)
        .map(|e| (e.target.clone(), e.kind))
        .collect();
    assert_eq!(
        kinds,
        [(b.name.clone(), pb::RelationKind::SameIndustryAndCity as i32)]
    );
    assert_eq!(derived.nodes.len(), 2, "Beta once, not twice");

    let path = t
        .companies
        .clone()
        .find_company_path(tonic::Request::new(pb::FindCompanyPathRequest {
            from: a.name.clone(),
            to: c.name.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    let hops: Vec<String> = path
        .companies
        .iter()
        .map(|n| n.display_name.clone())
        .collect();
    assert_eq!(hops, ["Alpha", "Beta", "Gamma"]);
    let none = t
        .companies
        .clone()
        .find_company_path(tonic::Request::new(pb::FindCompanyPathRequest {
            from: a.name.clone(),
            to: d.name.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(none.companies.is_empty());

    // Gamma disputes Beta's claim; the edge says so.
    let mut cl = t.companies.clone();
    fails(
        cl.dispute_relation(req(
            pb::DisputeRelationRequest {
                name: bc.name.clone(),
                reason: "no".into(),
            },
            &oa,
        ))
        .await,
        Code::PermissionDenied,
    );
    cl.dispute_relation(req(
        pb::DisputeRelationRequest {
            name: bc.name.clone(),
            reason: "we are not rivals".into(),
        },
        &oc,
    ))
    .await
    .unwrap();
    let disputed = eventually(PATIENCE, || async {
        network(&b.name, 1)
            .await
            .edges
            .iter()
            .any(|e| e.target == c.name && e.disputed)
    })
    .await;
    assert!(disputed, "dispute projected");
    let received = cl
        .list_relations(tonic::Request::new(pb::ListRelationsRequest {
            parent: c.name.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .received;
    assert_eq!(received.len(), 1);
    assert!(received[0].disputed);

    // Beta's competitors: Gamma (declared, though disputed, same industry) and Alpha (same
    // industry and city) — Delta shares only the city and no industry, so it is not a candidate.
    let rivals = cl
        .analyze_competitors(req(
            pb::AnalyzeCompetitorsRequest {
                name: b.name.clone(),
                limit: 10,
            },
            &ob,
        ))
        .await
        .unwrap()
        .into_inner()
        .competitors;
    let ranked: Vec<(String, f64)> = rivals
        .iter()
        .map(|r| (r.display_name.clone(), r.score))
        .collect();
    assert_eq!(
        ranked,
        [("Gamma".to_string(), 3.5), ("Alpha".to_string(), 3.0)]
    );
    assert!(
        rivals[0]
            .reasons
            .contains(&"declared competitor (disputed)".to_string()),
        "{:?}",
        rivals[0].reasons
    );
    assert!(
        rivals[1].reasons.contains(&"same city: 310000".to_string()),
        "{:?}",
        rivals[1].reasons
    );

    // Withdrawing a relation removes the edge.
    cl.delete_relation(req(
        pb::DeleteRelationRequest {
            name: bc.name.clone(),
        },
        &ob,
    ))
    .await
    .unwrap();
    let gone = eventually(PATIENCE, || async {
        network(&a.name, 2).await.nodes.len() == 2
    })
    .await;
    assert!(gone, "withdrawn relation still in the network");
    t.stop().await;
}
