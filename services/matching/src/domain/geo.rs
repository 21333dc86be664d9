//! Distances on the earth and between region codes.

use super::profile::GeoPoint;

/// Mean earth radius in km (IUGG).
const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Great-circle distance in km between two WGS-84 points by the haversine formula (R. W.
/// Sinnott, "Virtues of the Haversine", Sky and Telescope 68(2), 1984), on a sphere of the
/// mean earth radius: within 0.5% of the ellipsoidal distance, plenty for commutes.
pub fn haversine_km(a: GeoPoint, b: GeoPoint) -> f64 {
    let (lat1, lat2) = (a.latitude.to_radians(), b.latitude.to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b.longitude - a.longitude).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// How close two GB/T 2260 codes (six digits: province, prefecture, county, two each) are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Region {
    /// The same prefecture-level city (both name one, and the first four digits agree).
    SameCity,
    SameProvince,
    Elsewhere,
}

/// `None` when either code is not six ASCII digits.
pub(crate) fn region(a: &str, b: &str) -> Option<Region> {
    let valid = |c: &str| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit());
    if !valid(a) || !valid(b) {
        return None;
    }
    Some(if a[..2] != b[..2] {
        Region::Elsewhere
    } else if a[..4] == b[..4] && &a[2..4] != "00" {
        Region::SameCity
    } else {
        Region::SameProvince
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(latitude: f64, longitude: f64) -> GeoPoint {
        GeoPoint {
            latitude,
            longitude,
        }
    }

    #[test]
    fn known_distances() {
        // Beijing (Tiananmen) to Shanghai (People's Square): about 1,067 km.
        let d = haversine_km(p(39.9087, 116.3975), p(31.2304, 121.4737));
        assert!((d - 1067.0).abs() < 10.0, "{d}");
        assert_eq!(haversine_km(p(30.0, 120.0), p(30.0, 120.0)), 0.0);
        // A quarter of a great circle.
        let q = haversine_km(p(0.0, 0.0), p(0.0, 90.0));
        assert!((q - EARTH_RADIUS_KM * std::f64::consts::FRAC_PI_2).abs() < 1e-6);
    }

    #[test]
    fn region_codes() {
        assert_eq!(region("110105", "110108"), Some(Region::SameCity));
        assert_eq!(region("440305", "440106"), Some(Region::SameProvince));
        assert_eq!(region("440000", "440106"), Some(Region::SameProvince));
        assert_eq!(region("310101", "110101"), Some(Region::Elsewhere));
        assert_eq!(region("3101", "310101"), None);
    }
}
