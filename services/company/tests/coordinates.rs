//! Offices outside mainland China over raw gRPC: GCJ-02 and BD-09 shift positions in mainland
//! China only, so an office in Seoul, Hong Kong or Taipei reads back where it was put in every
//! coordinate system, and one given in GCJ-02 there is stored unmoved. An office in Shenzhen
//! whose GCJ-02 point lies across the river in Hong Kong still reads back shifted in GCJ-02
//! and BD-09, and what was given out comes back to it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{req, start, PATIENCE};
use talentmesh_company::domain::geo::{distance_km, LatLng};
use talentmesh_proto::company::v1 as pb;
use talentmesh_testkit::eventually_value;

/// (name, latitude, longitude): outside mainland China, but inside the rectangle once used.
const ABROAD: [(&str, f64, f64); 4] = [
    ("Seoul", 37.5665, 126.9780),
    ("Hong Kong", 22.2819, 114.1582),
    ("Taipei", 25.0330, 121.5654),
    ("Hanoi", 21.0278, 105.8342),
];

fn point(lat: f64, lng: f64, system: pb::CoordinateSystem) -> pb::GeoPoint {
    pb::GeoPoint {
        latitude: lat,
        longitude: lng,
        system: system as i32,
    }
}

#[tokio::test]
async fn offices_abroad_read_back_unmoved_in_every_coordinate_system() {
    let t = start().await;
    let owner = t.employer();
    let company = t.create(&owner, "Abroad", "software", "440300").await;
    let mut companies = t.companies.clone();
    // Put as WGS-84, except Hong Kong, given as GCJ-02 (which is WGS-84 there).
    for (name, lat, lng) in ABROAD {
        let system = if name == "Hong Kong" {
            pb::CoordinateSystem::Gcj02
        } else {
            pb::CoordinateSystem::Wgs84
        };
        companies
            .create_office(req(
                pb::CreateOfficeRequest {
                    parent: company.name.clone(),
                    office: Some(pb::Office {
                        label: name.into(),
                        address: "Main St 1".into(),
                        city_code: "440300".into(),
                        location: Some(point(lat, lng, system)),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                &owner,
            ))
            .await
            .unwrap();
    }
    for system in [
        pb::CoordinateSystem::Wgs84,
        pb::CoordinateSystem::Gcj02,
        pb::CoordinateSystem::Bd09,
    ] {
        let offices = companies
            .list_offices(tonic::Request::new(pb::ListOfficesRequest {
                parent: company.name.clone(),
                coordinate_system: system as i32,
            }))
            .await
            .unwrap()
            .into_inner()
            .offices;
        assert_eq!(offices.len(), ABROAD.len());
        for office in offices {
            let (name, lat, lng) = ABROAD
                .into_iter()
                .find(|(n, _, _)| *n == office.label)
                .unwrap();
            let got = office.location.unwrap();
            let moved_m = 1000.0
                * distance_km(
                    LatLng::new(lat, lng),
                    LatLng::new(got.latitude, got.longitude),
                );
            assert!(moved_m < 0.01, "{name} in {system:?} moved {moved_m:.1} m");
        }
    }
    t.stop().await;
}

#[tokio::test]
async fn offices_in_mainland_border_cities_are_still_shifted() {
    let t = start().await;
    let owner = t.employer();
    let company = t.create(&owner, "Border", "software", "440300").await;
    let mut companies = t.companies.clone();
    // Shenzhen across the river from Hong Kong, Dandong across the Yalu from Sinuiju.
    for (label, lat, lng) in [
        ("Shenzhen", 22.5431, 114.0579),
        ("Dandong", 40.117, 124.383),
    ] {
        companies
            .create_office(req(
                pb::CreateOfficeRequest {
                    parent: company.name.clone(),
                    office: Some(pb::Office {
                        label: label.into(),
                        address: "Main St 1".into(),
                        city_code: "440300".into(),
                        location: Some(point(lat, lng, pb::CoordinateSystem::Wgs84)),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                &owner,
            ))
            .await
            .unwrap();
    }
    let offices = companies
        .list_offices(tonic::Request::new(pb::ListOfficesRequest {
            parent: company.name.clone(),
            coordinate_system: pb::CoordinateSystem::Gcj02 as i32,
        }))
        .await
        .unwrap()
        .into_inner()
        .offices;
    for office in offices {
        let got = office.location.unwrap();
        let (lat, lng) = if office.label == "Shenzhen" {
            (22.5431, 114.0579)
        } else {
            (40.117, 124.383)
        };
        let moved_m = 1000.0
            * distance_km(
                LatLng::new(lat, lng),
                LatLng::new(got.latitude, got.longitude),
            );
        assert!(
            (200.0..1000.0).contains(&moved_m),
            "{}: {moved_m:.0} m",
            office.label
        );
    }
    t.stop().await;
}

async fn locations(
    t: &common::Running,
    company: &str,
    system: pb::CoordinateSystem,
) -> Vec<pb::GeoPoint> {
    t.companies
        .clone()
        .list_offices(tonic::Request::new(pb::ListOfficesRequest {
            parent: company.into(),
            coordinate_system: system as i32,
        }))
        .await
        .unwrap()
        .into_inner()
        .offices
        .into_iter()
        .map(|o| o.location.unwrap())
        .collect()
}

#[tokio::test]
async fn a_shenzhen_office_shifted_across_the_border_round_trips_and_is_found_nearby() {
    let t = start().await;
    let owner = t.employer();
    let company = t.create(&owner, "Riverside", "software", "440300").await;
    let put = |lat: f64, lng: f64, system: pb::CoordinateSystem| {
        let mut companies = t.companies.clone();
        let request = req(
            pb::CreateOfficeRequest {
                parent: company.name.clone(),
                office: Some(pb::Office {
                    label: format!("{system:?}"),
                    address: "Binhe Rd 1".into(),
                    city_code: "440300".into(),
                    location: Some(point(lat, lng, system)),
                    ..Default::default()
                }),
                ..Default::default()
            },
            &owner,
        );
        async move { companies.create_office(request).await.unwrap() }
    };
    // Shenzhen, by the Shenzhen River: its GCJ-02 point lies on the Hong Kong side.
    let office = LatLng::new(22.5145, 114.0663);
    put(office.lat, office.lng, pb::CoordinateSystem::Wgs84).await;
    let gcj = locations(&t, &company.name, pb::CoordinateSystem::Gcj02).await[0];
    let bd = locations(&t, &company.name, pb::CoordinateSystem::Bd09).await[0];
    // Baidu adds about 0.006° north and 0.0065° east to GCJ-02 in the mainland.
    assert!(
        (bd.latitude - gcj.latitude - 0.006).abs() < 0.002
            && (bd.longitude - gcj.longitude - 0.0065).abs() < 0.002,
        "GCJ-02 {gcj:?} BD-09 {bd:?}"
    );

    // What was given out, posted back in its own system, is the same place.
    put(gcj.latitude, gcj.longitude, pb::CoordinateSystem::Gcj02).await;
    put(bd.latitude, bd.longitude, pb::CoordinateSystem::Bd09).await;
    let stored = locations(&t, &company.name, pb::CoordinateSystem::Wgs84).await;
    assert_eq!(stored.len(), 3);
    for p in stored {
        let off_m = 1000.0 * distance_km(office, LatLng::new(p.latitude, p.longitude));
        assert!(off_m < 1.0, "stored {off_m:.1} m from the office: {p:?}");
    }

    // Nearby in GCJ-02 at the position the API gave out finds it, at that position.
    let hit = eventually_value(PATIENCE, || async {
        t.companies
            .clone()
            .search_nearby_companies(tonic::Request::new(pb::SearchNearbyCompaniesRequest {
                latitude: gcj.latitude,
                longitude: gcj.longitude,
                coordinate_system: pb::CoordinateSystem::Gcj02 as i32,
                radius_km: 0.2,
                limit: 200,
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner()
            .companies
            .into_iter()
            .find(|c| c.company == company.name)
    })
    .await
    .expect("found within 200 m of its GCJ-02 position");
    assert!(hit.distance_km < 0.001, "{}", hit.distance_km);
    let shown = hit.office.unwrap().location.unwrap();
    assert!(
        (shown.latitude - gcj.latitude).abs() < 1e-8
            && (shown.longitude - gcj.longitude).abs() < 1e-8,
        "{shown:?} vs {gcj:?}"
    );
    t.stop().await;
}
