//! Where GCJ-02 (and BD-09 on top of it) applies: mainland China. Hong Kong, Macau and Taiwan
//! are outside: their maps and their people's phones use WGS-84, so a position there is never
//! shifted. Neighbours' cities close to the border (Seoul, Pyongyang, Hanoi, Ulaanbaatar...)
//! are outside too, which the usual latitude/longitude rectangle gets wrong by hundreds of
//! metres.
//!
//! The outline is a simplified polygon. Source: drawn by hand for this project (not copied from
//! a data set), following the borders as public maps show them and the border rivers the
//! treaties name (Argun, Amur, Ussuri, Tumen, Yalu): about 200 vertices, within a few km of the
//! border near the cities on it (Shenzhen–Hong Kong, Zhuhai–Macau, Dandong–Sinuiju,
//! Xiamen–Kinmen, Fuzhou–Matsu, Hunchun, Erenhot, Ruili), within tens of kilometres in empty
//! mountains. At sea it runs offshore so coastal islands (Zhoushan, Pingtan, Hainan) are in;
//! Taiwan, Penghu, Kinmen and Matsu are cut out. The South China Sea islands are outside (no
//! shift): nothing the platform serves is there. A position within a few kilometres of a land
//! border may be placed on the wrong side; the shift it would miss or add is about 500 m.

use super::LatLng;

/// The outline of mainland China as (longitude, latitude) vertices in degrees (WGS-84),
/// clockwise from the China–Mongolia–Russia tripoint in the north-east; the last vertex joins
/// the first.
const OUTLINE: &[(f64, f64)] = &[
    // Russia: the Argun, the Amur, the Ussuri, the land border to the Tumen.
    (116.70, 49.85),
    (117.87, 49.52),
    (119.15, 50.00),
    (119.50, 50.80),
    (120.10, 51.60),
    (120.80, 52.55),
    (121.90, 53.30),
    (123.00, 53.56),
    (124.30, 53.30),
    (125.60, 53.05),
    (126.50, 52.20),
    (126.65, 51.73),
    (127.50, 50.25),
    (127.90, 49.60),
    (129.50, 49.35),
    (130.40, 48.90),
    (131.00, 47.70),
    (132.50, 47.70),
    (134.70, 48.40),
    (134.20, 47.00),
    (133.90, 46.30),
    (133.10, 45.10),
    (131.90, 45.30),
    (131.00, 44.90),
    (131.25, 44.00),
    (131.30, 43.40),
    (131.00, 42.90),
    (130.65, 42.60),
    (130.60, 42.42),
    // North Korea: the Tumen, Paektu, the Yalu.
    (130.20, 42.90),
    (129.85, 42.96),
    (129.70, 42.45),
    (129.20, 42.25),
    (128.60, 42.00),
    (128.06, 41.99),
    (128.20, 41.60),
    (128.15, 41.38),
    (127.50, 41.45),
    (126.90, 41.75),
    (126.60, 41.65),
    (126.10, 41.10),
    (125.40, 40.65),
    (124.90, 40.47),
    (124.45, 40.17),
    (124.36, 40.05),
    (124.20, 39.85),
    // The Yellow Sea and the East China Sea, offshore (Korea and Japan stay east).
    (123.90, 39.40),
    (123.20, 38.20),
    (123.00, 37.00),
    (123.50, 34.00),
    (123.50, 32.00),
    (123.20, 30.50),
    (122.60, 28.60),
    (121.60, 27.30),
    // Matsu cut out, off Fuzhou.
    (120.60, 26.45),
    (119.97, 26.45),
    (119.86, 26.25),
    (119.88, 25.92),
    // The Taiwan Strait, west of Penghu; Kinmen cut out, off Xiamen.
    (120.00, 25.40),
    (119.30, 24.75),
    (118.62, 24.45),
    (118.50, 24.515),
    (118.215, 24.53),
    (118.205, 24.38),
    (117.90, 24.10),
    (117.30, 23.50),
    (116.80, 23.05),
    (115.50, 22.55),
    (115.00, 22.45),
    // Hong Kong cut out: its waters, Mirs Bay, the Shenzhen River, Deep Bay.
    (114.52, 22.14),
    (114.50, 22.43),
    (114.32, 22.56),
    (114.22, 22.555),
    (114.14, 22.54),
    (114.08, 22.515),
    (114.03, 22.51),
    (113.96, 22.495),
    (113.89, 22.44),
    (113.82, 22.28),
    (113.82, 22.14),
    // Macau cut out, against Zhuhai (Gongbei) and Hengqin.
    (113.62, 22.10),
    (113.575, 22.215),
    (113.535, 22.215),
    (113.53, 22.16),
    (113.545, 22.10),
    // The coast of Guangdong, Hainan, the Gulf of Tonkin.
    (113.20, 21.85),
    (112.00, 21.50),
    (111.00, 21.20),
    (111.20, 20.20),
    (111.20, 19.50),
    (110.60, 18.50),
    (109.70, 17.95),
    (109.00, 18.00),
    (108.45, 18.50),
    (108.45, 19.50),
    (108.60, 20.90),
    (108.10, 21.47),
    // Vietnam.
    (107.95, 21.53),
    (107.35, 21.60),
    (106.95, 21.85),
    (106.70, 22.00),
    (106.60, 22.60),
    (106.80, 22.80),
    (106.00, 22.98),
    (105.55, 23.15),
    (105.30, 23.30),
    (104.85, 23.10),
    (104.40, 22.75),
    (104.00, 22.50),
    (103.95, 22.50),
    (103.60, 22.78),
    (103.00, 22.55),
    (102.50, 22.75),
    (102.14, 22.40),
    // Laos.
    (101.75, 22.05),
    (101.70, 21.20),
    (101.17, 21.14),
    // Myanmar.
    (100.70, 21.30),
    (100.20, 21.45),
    (99.95, 22.05),
    (99.30, 22.15),
    (99.30, 22.90),
    (99.00, 23.15),
    (98.85, 23.60),
    (98.60, 24.00),
    (97.70, 23.85),
    (97.55, 24.75),
    (97.70, 25.30),
    (98.20, 25.60),
    (98.70, 26.00),
    (98.70, 27.30),
    (98.35, 27.60),
    (98.00, 28.15),
    (97.35, 28.20),
    // India (the line of actual control in the east), Bhutan, Sikkim.
    (96.60, 28.95),
    (96.15, 29.45),
    (95.40, 29.05),
    (94.65, 29.30),
    (94.00, 28.90),
    (93.20, 28.00),
    (92.60, 27.85),
    (91.95, 27.75),
    (91.65, 27.95),
    (90.50, 28.05),
    (89.95, 28.30),
    (89.50, 28.10),
    (89.15, 27.60),
    (89.05, 27.30),
    (88.88, 27.30),
    (88.75, 27.50),
    (88.85, 27.90),
    (88.60, 28.12),
    (88.15, 27.87),
    // Nepal.
    (87.00, 27.95),
    (86.93, 27.99),
    (86.20, 28.10),
    (85.85, 28.30),
    (85.10, 28.35),
    (84.50, 28.75),
    (84.10, 29.25),
    (83.50, 29.20),
    (83.00, 29.60),
    (82.15, 30.10),
    (81.50, 30.35),
    (81.00, 30.25),
    // India (the line of actual control in the west), Pakistan, Afghanistan.
    (80.20, 30.75),
    (79.50, 30.95),
    (79.00, 31.35),
    (78.75, 31.90),
    (78.40, 32.50),
    (79.50, 32.70),
    (78.90, 33.30),
    (78.30, 34.30),
    (78.00, 35.00),
    (78.10, 35.45),
    (77.82, 35.50),
    (77.00, 35.65),
    (76.50, 35.90),
    (76.00, 36.35),
    (75.50, 36.75),
    (75.40, 36.95),
    (74.57, 37.03),
    (74.89, 37.23),
    // Tajikistan, Kyrgyzstan.
    (74.95, 37.60),
    (74.85, 38.40),
    (74.85, 38.95),
    (73.60, 39.45),
    (73.95, 39.70),
    (74.85, 40.45),
    (75.60, 40.65),
    (76.35, 40.35),
    (76.85, 41.00),
    (77.70, 41.00),
    (78.40, 41.40),
    (79.40, 41.85),
    (80.20, 42.05),
    // Kazakhstan, Russia (the Altai).
    (80.25, 42.20),
    (80.15, 42.65),
    (80.50, 42.90),
    (80.35, 44.10),
    (80.80, 45.15),
    (81.95, 45.25),
    (82.60, 45.40),
    (82.30, 45.55),
    (83.05, 47.20),
    (84.80, 46.95),
    (85.55, 47.05),
    (85.75, 48.40),
    (86.60, 48.55),
    (87.00, 49.10),
    (87.80, 49.17),
    // Mongolia.
    (88.15, 48.50),
    (89.20, 47.95),
    (90.10, 47.80),
    (90.80, 46.95),
    (91.00, 46.00),
    (90.75, 45.40),
    (91.50, 45.10),
    (93.50, 44.95),
    (95.35, 44.30),
    (96.40, 42.75),
    (97.20, 42.80),
    (100.00, 42.65),
    (101.80, 42.50),
    (103.80, 41.85),
    (105.00, 41.58),
    (106.80, 42.30),
    (109.30, 42.45),
    (110.40, 42.75),
    (111.90, 43.70),
    (113.70, 44.80),
    (114.50, 45.35),
    (116.00, 45.70),
    (116.70, 46.35),
    (117.50, 46.60),
    (118.30, 46.75),
    (119.70, 46.60),
    (119.90, 46.90),
    (119.10, 47.70),
    (118.50, 47.95),
    (117.80, 47.80),
    (117.30, 47.70),
    (115.55, 47.95),
    (116.20, 49.00),
];

/// Whether `p` (WGS-84 only: a GCJ-02 or BD-09 point lies up to about a kilometre away and
/// may be across the border, so convert it first) lies in mainland China. The even-odd
/// ray-casting test (W. R.
/// Franklin's PNPOLY): a ray from `p` eastwards crosses the outline an odd number of times
/// exactly when `p` is inside.
pub fn contains(p: LatLng) -> bool {
    let (x, y) = (p.lng, p.lat);
    let mut inside = false;
    let mut j = OUTLINE.len() - 1;
    for (i, &(xi, yi)) in OUTLINE.iter().enumerate() {
        let (xj, yj) = OUTLINE[j];
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (name, latitude, longitude) of city centres.
    const MAINLAND: &[(&str, f64, f64)] = &[
        ("Beijing", 39.9042, 116.4074),
        ("Shanghai", 31.2304, 121.4737),
        ("Shenzhen Futian", 22.5431, 114.0579),
        ("Shenzhen Shekou", 22.4846, 113.9166),
        ("Shenzhen Luohu", 22.5484, 114.1315),
        ("Zhuhai", 22.2710, 113.5767),
        ("Xiamen", 24.4798, 118.0894),
        ("Fuzhou", 26.0745, 119.2965),
        ("Dandong", 40.1170, 124.3830),
        ("Hunchun", 42.8690, 130.3650),
        ("Harbin", 45.8038, 126.5350),
        ("Heihe", 50.2450, 127.4880),
        ("Manzhouli", 49.5970, 117.3780),
        ("Erenhot", 43.6530, 111.9770),
        ("Kashgar", 39.4704, 75.9898),
        ("Urumqi", 43.8256, 87.6168),
        ("Lhasa", 29.6520, 91.1721),
        ("Ruili", 24.0130, 97.8510),
        ("Hekou", 22.5290, 103.9390),
        ("Dongxing", 21.5470, 107.9720),
        ("Sanya", 18.2528, 109.5119),
        ("Haikou", 20.0440, 110.1999),
        ("Zhoushan", 29.9853, 122.2072),
    ];

    const OUTSIDE: &[(&str, f64, f64)] = &[
        ("Hong Kong Central", 22.2819, 114.1582),
        ("Kowloon", 22.3193, 114.1694),
        ("Macau", 22.1987, 113.5439),
        ("Taipei", 25.0330, 121.5654),
        ("Kaohsiung", 22.6273, 120.3014),
        ("Kinmen", 24.4360, 118.3180),
        ("Matsu Nangan", 26.1600, 119.9500),
        ("Penghu", 23.5700, 119.5800),
        ("Seoul", 37.5665, 126.9780),
        ("Pyongyang", 39.0392, 125.7625),
        ("Vladivostok", 43.1155, 131.8855),
        ("Hanoi", 21.0278, 105.8342),
        ("Ulaanbaatar", 47.8864, 106.9057),
        ("Almaty", 43.2220, 76.8512),
        ("Bishkek", 42.8746, 74.5698),
        ("Kathmandu", 27.7172, 85.3240),
        ("Thimphu", 27.4728, 89.6390),
        ("Tokyo", 35.6762, 139.6503),
        ("Manila", 14.5995, 120.9842),
        ("London", 51.5074, -0.1278),
    ];

    #[test]
    fn mainland_cities_are_inside_and_their_neighbours_outside() {
        for (name, lat, lng) in MAINLAND {
            assert!(contains(LatLng::new(*lat, *lng)), "{name} should be inside");
        }
        for (name, lat, lng) in OUTSIDE {
            assert!(
                !contains(LatLng::new(*lat, *lng)),
                "{name} should be outside"
            );
        }
    }

    /// Points on a line across the middle of every edge of the outline, `d` metres from it
    /// (positive: outwards, as the outline runs clockwise).
    fn across_every_border(d: f64) -> impl Iterator<Item = LatLng> {
        (0..OUTLINE.len()).map(move |i| {
            let (ax, ay) = OUTLINE[i];
            let (bx, by) = OUTLINE[(i + 1) % OUTLINE.len()];
            let (mx, my) = ((ax + bx) / 2.0, (ay + by) / 2.0);
            let (m_lat, m_lng) = (111_320.0, 111_320.0 * my.to_radians().cos());
            let (ex, ey) = ((bx - ax) * m_lng, (by - ay) * m_lat);
            let len = ex.hypot(ey);
            LatLng::new(my + ex / len * d / m_lat, mx - ey / len * d / m_lng)
        })
    }

    /// Every mainland position round-trips through GCJ-02 and BD-09 to within a metre, however
    /// close to a border (its shifted point often lies across it), and is really shifted.
    /// Outside, a point within the shift (up to ~1.5 km for BD-09) of a border has two
    /// readings and the mainland one wins; beyond that, nothing moves either way.
    #[test]
    fn conversions_round_trip_on_both_sides_of_every_border() {
        use crate::domain::geo::{distance_km, from_wgs84, to_wgs84, Datum};
        for d in [-5000.0, -1000.0, -300.0, -10.0, -1.0, 2000.0, 5000.0] {
            for p in across_every_border(d) {
                let inside = contains(p);
                assert!(inside || d > 0.0, "{p:?} at {d} m should be inside");
                for datum in [Datum::Gcj02, Datum::Bd09] {
                    let shown = from_wgs84(p, datum);
                    let moved_m = 1000.0 * distance_km(p, shown);
                    let back_m = 1000.0 * distance_km(p, to_wgs84(shown, datum));
                    assert!(
                        back_m < 1.0,
                        "{p:?} at {d} m in {datum:?}: {back_m:.1} m off"
                    );
                    if inside {
                        assert!(moved_m > 50.0, "{p:?} {datum:?} moved {moved_m:.1} m");
                    } else {
                        assert_eq!(shown, p, "{p:?} at {d} m in {datum:?}");
                    }
                }
            }
        }
    }
}
