//! Offices (stored as WGS-84 / CGCS2000, returned in the system asked for) and the nearby
//! search served from the Redis geo index.

use talentmesh_mesh::auth::Caller;
use talentmesh_mesh::error::FieldViolation;
use talentmesh_mesh::ApiError;
use talentmesh_proto::company::v1 as pb;

use crate::audit::AuditLog;
use crate::companies::valid_city;
use crate::core::{
    child_id, company_id, failed_precondition, invalid, not_found, now, Core, Privacy,
};
use crate::domain::geo::{from_wgs84, to_wgs84, Datum, LatLng};
use crate::domain::permissions::Permission;
use crate::geo_index::IndexedOffice;
use crate::state::{db, OfficeRow, OFFICE_COLUMNS};

/// Offices per company, at most.
pub const MAX_OFFICES: i64 = 50;
/// The nearby search's largest radius.
pub const MAX_RADIUS_KM: f64 = 200.0;

pub fn datum(field: &str, system: i32) -> Result<(Datum, pb::CoordinateSystem), ApiError> {
    match pb::CoordinateSystem::try_from(system) {
        Ok(pb::CoordinateSystem::Unspecified | pb::CoordinateSystem::Wgs84) => {
            Ok((Datum::Wgs84, pb::CoordinateSystem::Wgs84))
        }
        Ok(pb::CoordinateSystem::Gcj02) => Ok((Datum::Gcj02, pb::CoordinateSystem::Gcj02)),
        Ok(pb::CoordinateSystem::Bd09) => Ok((Datum::Bd09, pb::CoordinateSystem::Bd09)),
        Err(_) => Err(invalid(field, "unknown coordinate system")),
    }
}

fn point(lat: f64, lon: f64, to: (Datum, pb::CoordinateSystem)) -> pb::GeoPoint {
    let p = from_wgs84(LatLng::new(lat, lon), to.0);
    pb::GeoPoint {
        latitude: p.lat,
        longitude: p.lng,
        system: to.1 as i32,
    }
}

fn office_pb(r: &OfficeRow, to: (Datum, pb::CoordinateSystem)) -> pb::Office {
    pb::Office {
        name: format!("companies/{}/offices/{}", r.company_id, r.id),
        label: r.label.clone(),
        address: r.address.clone(),
        city_code: r.city_code.clone(),
        location: Some(point(r.latitude, r.longitude, to)),
        headquarters: r.headquarters,
    }
}

fn indexed_pb(
    company: &str,
    id: &str,
    o: &IndexedOffice,
    to: (Datum, pb::CoordinateSystem),
) -> pb::Office {
    pb::Office {
        name: format!("companies/{company}/offices/{id}"),
        label: o.label.clone(),
        address: o.address.clone(),
        city_code: o.city_code.clone(),
        location: Some(point(o.lat, o.lon, to)),
        headquarters: o.hq,
    }
}

impl Core {
    pub async fn create_office(
        &self,
        caller: &Caller,
        parent: &str,
        office: Option<pb::Office>,
    ) -> Result<pb::Office, ApiError> {
        let company = company_id("parent", parent)?.to_string();
        let o = office.ok_or_else(|| invalid("office", "is required"))?;
        let mut problems = Vec::new();
        let address = o.address.trim();
        if address.is_empty() || address.chars().count() > 500 {
            problems.push(FieldViolation::new(
                "office.address",
                "required, at most 500 characters",
            ));
        }
        if o.label.chars().count() > 100 {
            problems.push(FieldViolation::new(
                "office.label",
                "at most 100 characters",
            ));
        }
        if !valid_city(&o.city_code) {
            problems.push(FieldViolation::new(
                "office.city_code",
                "a six-digit division code, e.g. 310000",
            ));
        }
        let mut wgs = None;
        match &o.location {
            None => problems.push(FieldViolation::new("office.location", "is required")),
            Some(loc) => match datum("office.location.system", loc.system) {
                Err(e) => problems.extend(e.violations),
                Ok((d, system)) => {
                    let given = LatLng::new(loc.latitude, loc.longitude);
                    if given.is_valid() && !(loc.latitude == 0.0 && loc.longitude == 0.0) {
                        wgs = Some((to_wgs84(given, d), (d, system)));
                    } else {
                        problems.push(FieldViolation::new(
                            "office.location",
                            "latitude in [-90, 90] and longitude in [-180, 180], not (0, 0)",
                        ));
                    }
                }
            },
        }
        let (Some((wgs, system)), true) = (wgs, problems.is_empty()) else {
            return Err(ApiError::invalid(problems));
        };
        self.require(caller, &company, Permission::CompanyUpdate, Privacy::Public)
            .await?;
        let mut tx = self.begin_change(&company).await?;
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM company_offices WHERE company_id = ?")
                .bind(&company)
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
        if count >= MAX_OFFICES {
            return Err(failed_precondition(
                "a company has at most 50 offices",
                "TOO_MANY_OFFICES",
            ));
        }
        let row = OfficeRow {
            id: uuid::Uuid::now_v7().to_string(),
            company_id: company.clone(),
            label: o.label.trim().to_string(),
            address: address.to_string(),
            city_code: o.city_code.clone(),
            latitude: wgs.lat,
            longitude: wgs.lng,
            headquarters: o.headquarters,
        };
        if row.headquarters {
            // One head office: the new one takes over.
            sqlx::query("UPDATE company_offices SET headquarters = FALSE WHERE company_id = ?")
                .bind(&company)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        sqlx::query(&format!(
            "INSERT INTO company_offices ({OFFICE_COLUMNS}, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&row.id)
        .bind(&row.company_id)
        .bind(&row.label)
        .bind(&row.address)
        .bind(&row.city_code)
        .bind(row.latitude)
        .bind(row.longitude)
        .bind(row.headquarters)
        .bind(now())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        self.finish_change(tx, &company).await?;
        Ok(office_pb(&row, system))
    }

    pub async fn list_offices(
        &self,
        parent: &str,
        system: i32,
    ) -> Result<Vec<pb::Office>, ApiError> {
        let company = company_id("parent", parent)?;
        let to = datum("coordinate_system", system)?;
        let deleted: Option<bool> =
            sqlx::query_scalar("SELECT deleted FROM companies WHERE id = ?")
                .bind(company)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
        if deleted != Some(false) {
            return Err(not_found("company"));
        }
        let rows: Vec<OfficeRow> = sqlx::query_as(&format!(
            "SELECT {OFFICE_COLUMNS} FROM company_offices WHERE company_id = ? ORDER BY created_at, id"
        ))
        .bind(company)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(rows.iter().map(|r| office_pb(r, to)).collect())
    }

    pub async fn delete_office(&self, caller: &Caller, name: &str) -> Result<(), ApiError> {
        let (company, office) = child_id("name", name, "offices")?;
        let company = company.to_string();
        self.require(caller, &company, Permission::CompanyUpdate, Privacy::Public)
            .await?;
        let mut tx = self.begin_change(&company).await?;
        let gone = sqlx::query("DELETE FROM company_offices WHERE id = ? AND company_id = ?")
            .bind(office)
            .bind(&company)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if gone.rows_affected() == 0 {
            return Err(not_found("office"));
        }
        AuditLog::record(
            &mut tx,
            &company,
            "office.deleted",
            &caller.user_id,
            name,
            serde_json::json!({}),
        )
        .await?;
        self.finish_change(tx, &company).await?;
        Ok(())
    }

    pub async fn search_nearby(
        &self,
        req: pb::SearchNearbyCompaniesRequest,
    ) -> Result<Vec<pb::NearbyCompany>, ApiError> {
        let mut problems = Vec::new();
        let system = match datum("coordinate_system", req.coordinate_system) {
            Ok(s) => Some(s),
            Err(e) => {
                problems.extend(e.violations);
                None
            }
        };
        let centre = LatLng::new(req.latitude, req.longitude);
        if !centre.is_valid() {
            problems.push(FieldViolation::new(
                "latitude",
                "latitude in [-90, 90] and longitude in [-180, 180]",
            ));
        }
        if !(req.radius_km > 0.0 && req.radius_km <= MAX_RADIUS_KM) {
            problems.push(FieldViolation::new(
                "radius_km",
                format!("above 0 and at most {MAX_RADIUS_KM}"),
            ));
        }
        if !crate::companies::valid_industry(&req.industry) {
            problems.push(FieldViolation::new("industry", "not an industry code"));
        }
        if req.limit < 0 || req.limit > 200 {
            problems.push(FieldViolation::new(
                "limit",
                "between 1 and 200 (20 when unset)",
            ));
        }
        let (Some(system), true) = (system, problems.is_empty()) else {
            return Err(ApiError::invalid(problems));
        };
        let limit = if req.limit == 0 {
            20
        } else {
            usize::try_from(req.limit).unwrap_or(20)
        };
        let wgs = to_wgs84(centre, system.0);
        let hits = self
            .geo
            .nearby(
                wgs.lat,
                wgs.lng,
                req.radius_km,
                &req.industry,
                req.verified_only,
                limit,
            )
            .await
            .map_err(ApiError::from)?;
        Ok(hits
            .into_iter()
            .map(|h| pb::NearbyCompany {
                company: format!("companies/{}", h.company_id),
                display_name: h.display_name,
                office: h
                    .office
                    .as_ref()
                    .map(|o| indexed_pb(&h.company_id, &h.office_id, o, system)),
                distance_km: h.distance_km,
                industry: h.industry,
                verification_state: h.verification_state,
            })
            .collect())
    }
}
