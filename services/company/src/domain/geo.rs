//! Coordinates. Offices are stored as CGCS2000, which for any practical purpose equals WGS-84
//! (what BeiDou and GPS report). Chinese map services draw in other systems, so positions are
//! returned on request as:
//! - GCJ-02 (AMap, Tencent): WGS-84 shifted by the national obfuscation formula on the
//!   Krasovsky 1940 ellipsoid.
//! - BD-09 (Baidu): GCJ-02 shifted once more.
//!
//! Both apply in mainland China only ([`in_mainland_china`], a polygon of its borders): in Hong
//! Kong, Macau, Taiwan and every other country all three are WGS-84 and nothing moves.
//!
//! Whether a position is shifted is decided once, on its WGS-84 reading: the input going out,
//! and coming in the WGS-84 position the inverse formulas give (kept only if it is in the
//! mainland). A shifted point can lie several hundred metres away, across a border (Shenzhen
//! into Hong Kong), so testing it instead would skip Baidu's offset and the inverse.
//!
//! GCJ-02 has no closed-form inverse; [`gcj02_to_wgs84`] iterates the forward transform until
//! it lands within 1e-9° of the target.

use std::f64::consts::PI;

mod mainland;

/// Krasovsky 1940 semi-major axis (m) and first eccentricity squared, as the GCJ-02 formula uses.
const A: f64 = 6378245.0;
// 0.00669342162296594323, to the precision an f64 holds.
const EE: f64 = 0.006_693_421_622_965_943;
/// Baidu's extra rotation constant.
const X_PI: f64 = PI * 3000.0 / 180.0;
/// Precision of the inverse transform, in degrees.
const INVERSE_EPSILON: f64 = 1e-9;
const INVERSE_MAX_STEPS: usize = 50;

/// Latitude and longitude in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatLng {
    pub lat: f64,
    pub lng: f64,
}

impl LatLng {
    /// A position in degrees.
    pub fn new(lat: f64, lng: f64) -> LatLng {
        LatLng { lat, lng }
    }

    /// Whether the coordinates are real ones (finite, latitude ±90, longitude ±180).
    pub fn is_valid(&self) -> bool {
        self.lat.is_finite()
            && self.lng.is_finite()
            && (-90.0..=90.0).contains(&self.lat)
            && (-180.0..=180.0).contains(&self.lng)
    }
}

/// The map systems a caller may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datum {
    /// WGS-84 / CGCS2000, as stored.
    Wgs84,
    Gcj02,
    Bd09,
}

/// Whether GCJ-02 and BD-09 shift `p`, a WGS-84 position: it lies in mainland China (not Hong
/// Kong, Macau or Taiwan; see `mainland` for the outline and its precision near the borders).
/// Never ask it of a shifted point.
pub fn in_mainland_china(p: LatLng) -> bool {
    mainland::contains(p)
}

fn shift_lat(x: f64, y: f64) -> f64 {
    let mut r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    r
}

fn shift_lng(x: f64, y: f64) -> f64 {
    let mut r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    r
}

/// WGS-84 → GCJ-02 by the formula alone, wherever `p` is (no mainland test).
fn gcj02_offset(p: LatLng) -> LatLng {
    let (x, y) = (p.lng - 105.0, p.lat - 35.0);
    let rad_lat = p.lat / 180.0 * PI;
    let magic = 1.0 - EE * rad_lat.sin() * rad_lat.sin();
    let sqrt_magic = magic.sqrt();
    let d_lat = (shift_lat(x, y) * 180.0) / ((A * (1.0 - EE)) / (magic * sqrt_magic) * PI);
    let d_lng = (shift_lng(x, y) * 180.0) / (A / sqrt_magic * rad_lat.cos() * PI);
    LatLng::new(p.lat + d_lat, p.lng + d_lng)
}

/// Inverts `forward` at `target` by fixed-point iteration from `start` (the shifts change
/// slowly, so each step gains several digits; a handful reach [`INVERSE_EPSILON`]).
fn invert(target: LatLng, start: LatLng, forward: fn(LatLng) -> LatLng) -> LatLng {
    let mut guess = start;
    for _ in 0..INVERSE_MAX_STEPS {
        let image = forward(guess);
        let (d_lat, d_lng) = (image.lat - target.lat, image.lng - target.lng);
        if d_lat.abs() < INVERSE_EPSILON && d_lng.abs() < INVERSE_EPSILON {
            break;
        }
        guess = LatLng::new(guess.lat - d_lat, guess.lng - d_lng);
    }
    guess
}

/// GCJ-02 → WGS-84 by the formula alone (no mainland test).
fn gcj02_offset_inverse(p: LatLng) -> LatLng {
    invert(p, p, gcj02_offset)
}

/// GCJ-02 → BD-09 by Baidu's formula alone (no mainland test).
fn bd09_offset(p: LatLng) -> LatLng {
    let (x, y) = (p.lng, p.lat);
    let z = (x * x + y * y).sqrt() + 0.00002 * (y * X_PI).sin();
    let theta = y.atan2(x) + 0.000003 * (x * X_PI).cos();
    LatLng::new(z * theta.sin() + 0.006, z * theta.cos() + 0.0065)
}

/// BD-09 → GCJ-02 by formula alone: the usual closed-form approximation (good to about
/// 1e-6°), refined by iterating [`bd09_offset`] to [`INVERSE_EPSILON`].
fn bd09_offset_inverse(p: LatLng) -> LatLng {
    let (x, y) = (p.lng - 0.0065, p.lat - 0.006);
    let z = (x * x + y * y).sqrt() - 0.00002 * (y * X_PI).sin();
    let theta = y.atan2(x) - 0.000003 * (x * X_PI).cos();
    invert(
        p,
        LatLng::new(z * theta.sin(), z * theta.cos()),
        bd09_offset,
    )
}

/// Keeps `candidate`, the WGS-84 position an inverse formula gave for `given`, if it lies in
/// mainland China (so `given` was shifted); otherwise `given` was never shifted and is
/// already WGS-84. Near a border a point can have both readings (a mainland position shifted
/// across the border, or a position outside it left alone); the mainland one wins, so every
/// position the service gives out for a mainland office comes back to that office.
fn unshifted(given: LatLng, candidate: LatLng) -> LatLng {
    if in_mainland_china(candidate) {
        candidate
    } else {
        given
    }
}

/// WGS-84 → GCJ-02: shifted when `p` lies in mainland China, unchanged elsewhere.
pub fn wgs84_to_gcj02(p: LatLng) -> LatLng {
    if in_mainland_china(p) {
        gcj02_offset(p)
    } else {
        p
    }
}

/// GCJ-02 → WGS-84: the formula inverted to [`INVERSE_EPSILON`], kept only if that WGS-84
/// position lies in mainland China (else `p` is returned unchanged; see [`unshifted`]).
pub fn gcj02_to_wgs84(p: LatLng) -> LatLng {
    unshifted(p, gcj02_offset_inverse(p))
}

/// WGS-84 → BD-09: GCJ-02 and Baidu's offset on top when `p` lies in mainland China,
/// unchanged elsewhere. The test is made on `p`, never on the shifted GCJ-02 point, which may
/// lie across a border from it.
pub fn wgs84_to_bd09(p: LatLng) -> LatLng {
    if in_mainland_china(p) {
        bd09_offset(gcj02_offset(p))
    } else {
        p
    }
}

/// BD-09 → WGS-84: both formulas inverted, kept only if that WGS-84 position lies in
/// mainland China (else `p` is returned unchanged).
pub fn bd09_to_wgs84(p: LatLng) -> LatLng {
    unshifted(p, gcj02_offset_inverse(bd09_offset_inverse(p)))
}

/// A stored (WGS-84) position in the datum the caller asked for.
pub fn from_wgs84(p: LatLng, to: Datum) -> LatLng {
    match to {
        Datum::Wgs84 => p,
        Datum::Gcj02 => wgs84_to_gcj02(p),
        Datum::Bd09 => wgs84_to_bd09(p),
    }
}

/// A position given in `from` as WGS-84, for storing.
pub fn to_wgs84(p: LatLng, from: Datum) -> LatLng {
    match from {
        Datum::Wgs84 => p,
        Datum::Gcj02 => gcj02_to_wgs84(p),
        Datum::Bd09 => bd09_to_wgs84(p),
    }
}

/// Great-circle distance in kilometres (haversine on the mean Earth radius).
pub fn distance_km(a: LatLng, b: LatLng) -> f64 {
    const EARTH_RADIUS_KM: f64 = 6371.0088;
    let (lat1, lat2) = (a.lat.to_radians(), b.lat.to_radians());
    let d_lat = lat2 - lat1;
    let d_lng = (b.lng - a.lng).to_radians();
    let h = (d_lat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (d_lng / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The published WGS-84 → GCJ-02 vectors, to the last digit f64 carries.
    const VECTORS: [((f64, f64), (f64, f64)); 3] = [
        (
            (31.1774276, 121.5272106),
            (31.17530398364597, 121.531541859215),
        ),
        (
            (22.543847, 113.912316),
            (22.540796131694766, 113.9171764808363),
        ),
        (
            (39.911954, 116.377817),
            (39.91334545536069, 116.38404722455657),
        ),
    ];

    #[test]
    fn wgs84_to_gcj02_matches_the_published_vectors() {
        for ((lat, lng), (glat, glng)) in VECTORS {
            let g = wgs84_to_gcj02(LatLng::new(lat, lng));
            assert!((g.lat - glat).abs() < 1e-12, "{g:?} vs {glat}");
            assert!((g.lng - glng).abs() < 1e-12, "{g:?} vs {glng}");
        }
    }

    #[test]
    fn the_inverse_comes_back_within_a_billionth_of_a_degree() {
        for ((lat, lng), (glat, glng)) in VECTORS {
            let w = gcj02_to_wgs84(LatLng::new(glat, glng));
            assert!((w.lat - lat).abs() < 1e-9, "{w:?}");
            assert!((w.lng - lng).abs() < 1e-9, "{w:?}");
        }
    }

    #[test]
    fn bd09_round_trips_and_differs_from_gcj02() {
        let stored = LatLng::new(39.911954, 116.377817);
        let baidu = from_wgs84(stored, Datum::Bd09);
        let amap = from_wgs84(stored, Datum::Gcj02);
        // Baidu's shift is roughly 0.006° north and east of GCJ-02 around Beijing.
        assert!(
            (baidu.lat - amap.lat - 0.006).abs() < 0.002,
            "{baidu:?} {amap:?}"
        );
        assert!(
            (baidu.lng - amap.lng - 0.0065).abs() < 0.002,
            "{baidu:?} {amap:?}"
        );
        let back = to_wgs84(baidu, Datum::Bd09);
        assert!(
            (back.lat - stored.lat).abs() < 1e-6 && (back.lng - stored.lng).abs() < 1e-6,
            "{back:?}"
        );
    }

    #[test]
    fn outside_china_nothing_moves() {
        let london = LatLng::new(51.5074, -0.1278);
        assert_eq!(wgs84_to_gcj02(london), london);
        assert_eq!(gcj02_to_wgs84(london), london);
        assert_eq!(to_wgs84(london, Datum::Gcj02), london);
        // Inside the old rectangle, outside mainland China: neither datum moves them.
        let seoul = LatLng::new(37.5665, 126.978);
        let hong_kong = LatLng::new(22.2819, 114.1582);
        let taipei = LatLng::new(25.033, 121.5654);
        for p in [seoul, hong_kong, taipei] {
            for datum in [Datum::Gcj02, Datum::Bd09] {
                assert_eq!(from_wgs84(p, datum), p, "{p:?} {datum:?}");
                assert_eq!(to_wgs84(p, datum), p, "{p:?} {datum:?}");
            }
        }
    }

    /// Mainland positions right at a border (their shifted point often lies across it) and
    /// positions outside beyond the shift's reach of it, as (name, latitude, longitude).
    /// Within that reach a point given in GCJ-02/BD-09 has two readings and the mainland one
    /// wins (so the Macau peninsula, 1.2 km from Zhuhai, is not among them for BD-09).
    const BORDER_MAINLAND: [(&str, f64, f64); 8] = [
        ("Shenzhen office by the Shenzhen River", 22.5145, 114.0663),
        ("Shenzhen Luohu", 22.5484, 114.1315),
        ("Shenzhen Shekou", 22.4846, 113.9166),
        ("Zhuhai Gongbei", 22.2160, 113.5500),
        ("Hengqin", 22.1300, 113.5200),
        ("Dandong by the Yalu", 40.1170, 124.4000),
        ("Xiamen facing Kinmen", 24.4700, 118.1500),
        ("Hunchun", 42.8690, 130.3650),
    ];
    const BORDER_OUTSIDE: [(&str, f64, f64); 6] = [
        ("Sheung Shui", 22.5015, 114.1280),
        ("Yuen Long", 22.4445, 114.0222),
        ("Macau Taipa", 22.1560, 113.5600),
        ("Sinuiju", 40.0800, 124.4500),
        ("Kinmen", 24.4360, 118.3180),
        ("Vladivostok", 43.1155, 131.8855),
    ];

    #[test]
    fn border_points_round_trip_on_both_sides() {
        for (name, lat, lng) in BORDER_MAINLAND.into_iter().chain(BORDER_OUTSIDE) {
            let p = LatLng::new(lat, lng);
            let inside = BORDER_MAINLAND.iter().any(|(n, _, _)| *n == name);
            assert_eq!(in_mainland_china(p), inside, "{name}");
            for datum in [Datum::Gcj02, Datum::Bd09] {
                let shown = from_wgs84(p, datum);
                let back_m = 1000.0 * distance_km(p, to_wgs84(shown, datum));
                assert!(back_m < 1.0, "{name} in {datum:?}: {back_m:.1} m off");
                assert_eq!(shown == p, !inside, "{name} in {datum:?}: {shown:?}");
            }
        }
    }

    /// The tester's office: its GCJ-02 point lies south of the Shenzhen River, in Hong Kong.
    /// BD-09 must still add Baidu's offset, and both must come back to the office.
    #[test]
    fn a_mainland_point_shifted_across_the_border_keeps_both_shifts() {
        let office = LatLng::new(22.5145, 114.0663);
        let amap = from_wgs84(office, Datum::Gcj02);
        assert!(
            !in_mainland_china(amap),
            "the case this test is about: {amap:?}"
        );
        let baidu = from_wgs84(office, Datum::Bd09);
        assert!(
            (baidu.lat - amap.lat - 0.006).abs() < 0.002,
            "{baidu:?} {amap:?}"
        );
        assert!(
            (baidu.lng - amap.lng - 0.0065).abs() < 0.002,
            "{baidu:?} {amap:?}"
        );
        for (shown, datum) in [(amap, Datum::Gcj02), (baidu, Datum::Bd09)] {
            let back = to_wgs84(shown, datum);
            assert!(distance_km(office, back) < 0.001, "{datum:?}: {back:?}");
        }
    }

    #[test]
    fn distances_and_validity() {
        let shanghai = LatLng::new(31.2304, 121.4737);
        let beijing = LatLng::new(39.9042, 116.4074);
        let d = distance_km(shanghai, beijing);
        assert!((d - 1067.0).abs() < 10.0, "{d}");
        assert!(distance_km(beijing, beijing) < 1e-9);
        assert!(beijing.is_valid());
        assert!(!LatLng::new(91.0, 0.0).is_valid());
        assert!(!LatLng::new(0.0, f64::NAN).is_valid());
    }
}
