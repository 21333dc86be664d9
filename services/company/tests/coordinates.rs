//! Offices outside mainland China over raw gRPC: GCJ-02 and BD-09 shift positions in mainland
//! China only, so an office in Seoul, Hong Kong or Taipei reads back where it was put in every
//! coordinate system, and one given in GCJ-02 there is stored unmoved.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{req, start};
use talentmesh_company::domain::geo::{distance_km, LatLng};
use talentmesh_proto::company::v1 as pb;

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
