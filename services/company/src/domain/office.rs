//! Offices: where a company works, stored as WGS-84 / CGCS2000 and shown in the map system a
//! caller asks for; and the nearby search over them.

use super::company::{valid_city, valid_industry, VerificationState};
use super::geo::{to_wgs84, Datum, LatLng};
use super::Invalid;

/// Offices per company, at most.
pub const MAX_OFFICES: i64 = 50;
/// The nearby search's largest radius, in kilometres.
pub const MAX_RADIUS_KM: f64 = 200.0;

/// One office of a company.
#[derive(Debug, Clone, PartialEq)]
pub struct Office {
    pub id: String,
    pub company_id: String,
    pub label: String,
    pub address: String,
    /// A six-digit division code.
    pub city_code: String,
    /// WGS-84 degrees.
    pub position: LatLng,
    /// At most one office of a company is its head office.
    pub headquarters: bool,
}

/// A position as a client gave it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GivenPoint {
    pub latitude: f64,
    pub longitude: f64,
    /// `None`: a coordinate system this server does not know.
    pub datum: Option<Datum>,
}

/// A new office as a client sent it, not yet checked.
#[derive(Debug, Clone, Default)]
pub struct OfficeInput {
    pub label: String,
    pub address: String,
    pub city_code: String,
    /// `None` when the client sent no location.
    pub location: Option<GivenPoint>,
    pub headquarters: bool,
}

/// A checked new office: trimmed texts and the position as WGS-84.
#[derive(Debug, Clone)]
pub struct NewOffice {
    pub label: String,
    pub address: String,
    pub city_code: String,
    pub position: LatLng,
    pub headquarters: bool,
    /// The system the client gave the position in (answers use it too).
    pub datum: Datum,
}

impl OfficeInput {
    /// Checks every field, reporting all problems at once (as `office.<field>`).
    ///
    /// # Errors
    /// The fields' problems.
    pub fn parse(self) -> Result<NewOffice, Vec<Invalid>> {
        let mut problems = Vec::new();
        let address = self.address.trim();
        if address.is_empty() || address.chars().count() > 500 {
            problems.push(Invalid::new(
                "office.address",
                "required, at most 500 characters",
            ));
        }
        for (field, value) in [
            ("office.address", &self.address),
            ("office.label", &self.label),
        ] {
            problems.extend(super::text_problem(
                field,
                value,
                talentmesh_text::Lines::Single,
            ));
        }
        if self.label.chars().count() > 100 {
            problems.push(Invalid::new("office.label", "at most 100 characters"));
        }
        if !valid_city(&self.city_code) {
            problems.push(Invalid::new(
                "office.city_code",
                "a six-digit division code, e.g. 310000",
            ));
        }
        let mut wgs = None;
        match self.location {
            None => problems.push(Invalid::new("office.location", "is required")),
            Some(GivenPoint { datum: None, .. }) => problems.push(Invalid::new(
                "office.location.system",
                "unknown coordinate system",
            )),
            Some(GivenPoint {
                latitude,
                longitude,
                datum: Some(datum),
            }) => {
                let given = LatLng::new(latitude, longitude);
                if given.is_valid() && !(latitude == 0.0 && longitude == 0.0) {
                    wgs = Some((to_wgs84(given, datum), datum));
                } else {
                    problems.push(Invalid::new(
                        "office.location",
                        "latitude in [-90, 90] and longitude in [-180, 180], not (0, 0)",
                    ));
                }
            }
        }
        match (wgs, problems.is_empty()) {
            (Some((position, datum)), true) => Ok(NewOffice {
                label: self.label.trim().to_string(),
                address: address.to_string(),
                city_code: self.city_code,
                position,
                headquarters: self.headquarters,
                datum,
            }),
            _ => Err(problems),
        }
    }
}

/// A nearby search as a client sent it.
#[derive(Debug, Clone)]
pub struct NearbyQuery {
    pub latitude: f64,
    pub longitude: f64,
    /// `None`: a coordinate system this server does not know.
    pub datum: Option<Datum>,
    pub radius_km: f64,
    /// Only companies of this industry ("" for any).
    pub industry: String,
    pub verified_only: bool,
    /// Companies wanted: 1–200, 0 for the default of 20.
    pub limit: i32,
}

/// A checked nearby search.
#[derive(Debug, Clone)]
pub struct NearbySearch {
    /// The centre, WGS-84.
    pub centre: LatLng,
    pub datum: Datum,
    pub radius_km: f64,
    pub industry: String,
    pub verified_only: bool,
    pub limit: usize,
}

impl NearbyQuery {
    /// Checks every field, reporting all problems at once.
    ///
    /// # Errors
    /// The fields' problems.
    pub fn parse(self) -> Result<NearbySearch, Vec<Invalid>> {
        let mut problems = Vec::new();
        if self.datum.is_none() {
            problems.push(Invalid::new(
                "coordinate_system",
                "unknown coordinate system",
            ));
        }
        let centre = LatLng::new(self.latitude, self.longitude);
        if !centre.is_valid() {
            problems.push(Invalid::new(
                "latitude",
                "latitude in [-90, 90] and longitude in [-180, 180]",
            ));
        }
        if !(self.radius_km > 0.0 && self.radius_km <= MAX_RADIUS_KM) {
            problems.push(Invalid::new(
                "radius_km",
                format!("above 0 and at most {MAX_RADIUS_KM}"),
            ));
        }
        if !valid_industry(&self.industry) {
            problems.push(Invalid::new("industry", "not an industry code"));
        }
        if self.limit < 0 || self.limit > 200 {
            problems.push(Invalid::new("limit", "between 1 and 200 (20 when unset)"));
        }
        let (Some(datum), true) = (self.datum, problems.is_empty()) else {
            return Err(problems);
        };
        Ok(NearbySearch {
            centre: to_wgs84(centre, datum),
            datum,
            radius_km: self.radius_km,
            industry: self.industry,
            verified_only: self.verified_only,
            limit: if self.limit == 0 {
                20
            } else {
                usize::try_from(self.limit).unwrap_or(20)
            },
        })
    }
}

/// An office as the geo index keeps it for results.
#[derive(Debug, Clone, PartialEq)]
pub struct NearbyOffice {
    pub label: String,
    pub address: String,
    pub city_code: String,
    /// WGS-84 degrees.
    pub position: LatLng,
    pub headquarters: bool,
}

/// One hit of a nearby search: a company and its nearest office.
#[derive(Debug, Clone)]
pub struct NearbyCompany {
    pub company_id: String,
    pub office_id: String,
    /// From the search centre to the office, in kilometres.
    pub distance_km: f64,
    pub display_name: String,
    pub industry: String,
    /// `None` when the index holds no (known) state.
    pub verification_state: Option<VerificationState>,
    /// `None` when the index no longer has the office's details.
    pub office: Option<NearbyOffice>,
}
